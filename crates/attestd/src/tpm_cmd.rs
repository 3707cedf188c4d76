//! `attestd tpm attest`: runs MAA's TPM protocol against a server with a TPM reached through a
//! TCTI (`device[:PATH]`, `swtpm:host=H,port=P`, `mssim:host=H,port=P`, or `TPM2TOOLS_TCTI` /
//! `TCTI`), and prints the attestation token. `attestd tpm create-ak` makes the attestation key
//! persistent and prints its public key for a CA to certify.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use attestd_client::request::{RequestInputs, attestation_request};
use attestd_client::{Tcti, Tpm};
use attestd_token::b64;
use clap::{Args, Subcommand};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

/// TPM attester commands.
#[derive(Subcommand, Debug)]
pub enum TpmCommand {
    /// Attest this TPM to a server (init → challenge → request → report) and print the token.
    Attest(AttestArgs),
    /// Create the attestation key, make it persistent, and print its public key (PEM) for a CA.
    CreateAk(CreateAkArgs),
}

/// The TPM a command uses.
#[derive(Args, Debug)]
pub struct TctiArg {
    /// The TPM, as tpm2-tools names it: `device[:PATH]` (default /dev/tpmrm0, else /dev/tpm0),
    /// `swtpm:host=H,port=P` (swtpm's raw socket) or `mssim:host=H,port=P` (the reference
    /// simulator). Default: $TPM2TOOLS_TCTI, else $TCTI, else `device`.
    #[arg(long)]
    pub tcti: Option<String>,
}

/// Options of `attestd tpm attest`.
#[derive(Args, Debug)]
pub struct AttestArgs {
    /// The provider's base URL, e.g. https://host:8443 or https://host:8443/tenants/NAME.
    #[arg(long)]
    pub server: String,
    #[command(flatten)]
    pub tcti: TctiArg,
    /// A TCG event log (binary) of the measurements in the PCRs; repeatable, in order. Default on
    /// a device TCTI: the kernel's /sys/kernel/security/tpmN/binary_bios_measurements, if present.
    #[arg(long = "event-log", value_name = "FILE")]
    pub event_log: Vec<PathBuf>,
    /// The certificate (PEM) of the attestation key (the TPM's primary restricted RSA signing key
    /// under the endorsement hierarchy, or the key at --ak-handle).
    #[arg(long, value_name = "PEM")]
    pub ak_cert: Option<PathBuf>,
    /// Use the persistent attestation key at this handle (e.g. 0x81010002, made by `attestd tpm
    /// create-ak --persist`) instead of creating a transient one.
    #[arg(long, value_name = "HANDLE", value_parser = parse_handle)]
    pub ak_handle: Option<u32>,
    /// CA certificate (PEM) the server's TLS certificate chains to.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

/// Options of `attestd tpm create-ak`.
#[derive(Args, Debug)]
pub struct CreateAkArgs {
    #[command(flatten)]
    pub tcti: TctiArg,
    /// The owner persistent handle to keep the key at (0x81000000-0x817fffff), e.g. 0x81010002.
    #[arg(long, value_name = "HANDLE", value_parser = parse_handle)]
    pub persist: u32,
    /// Also write the public key (PEM SubjectPublicKeyInfo) to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A TPM handle: hexadecimal with `0x`, or decimal.
fn parse_handle(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("'{s}' is not a TPM handle (e.g. 0x81010002)"))
}

/// Where the kernel publishes the firmware's event log of the TPM at `device` (/dev/tpmrmN and
/// /dev/tpmN both log to tpmN).
fn kernel_event_log(device: &Path) -> Option<PathBuf> {
    let name = device.file_name()?.to_str()?;
    let n = name.strip_prefix("tpmrm").or_else(|| name.strip_prefix("tpm"))?;
    n.parse::<u32>().ok()?;
    Some(PathBuf::from(format!(
        "/sys/kernel/security/tpm{n}/binary_bios_measurements"
    )))
}

/// The event logs to send: the given ones, else (on a device TCTI) the kernel's if it exists.
fn event_logs(tcti: &Tcti, given: &[PathBuf], exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given.to_vec();
    }
    tcti.device_path()
        .and_then(|d| kernel_event_log(&d))
        .filter(|p| exists(p))
        .into_iter()
        .collect()
}

fn resolve_tcti(arg: &TctiArg) -> anyhow::Result<Tcti> {
    Tcti::resolve(arg.tcti.as_deref()).map_err(|e| anyhow::anyhow!("{}: --tcti: {e}", e.code()))
}

async fn open_tpm(tcti: &Tcti) -> anyhow::Result<Tpm> {
    let t = tcti.clone();
    tokio::task::spawn_blocking(move || Tpm::open(&t))
        .await?
        .map_err(|e| anyhow::anyhow!("{}: connecting to the TPM at {tcti}: {e}", e.code()))
}

/// Runs a `tpm` subcommand.
pub async fn run(cmd: TpmCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TpmCommand::Attest(args) => attest(args).await,
        TpmCommand::CreateAk(args) => create_ak(args).await,
    }
}

async fn round(client: &reqwest::Client, url: &str, message: &Value) -> anyhow::Result<Value> {
    let r = client
        .post(url)
        .json(&json!({ "data": b64::encode_url(message.to_string().as_bytes()) }))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{}: {}",
            body["error"]["code"].as_str().unwrap_or("HTTP error"),
            body["error"]["message"].as_str().unwrap_or(status.as_str())
        );
    }
    let data = body["data"]
        .as_str()
        .and_then(|d| attestd_evidence::b64::decode_lenient(d).ok())
        .context("the answer has no base64url 'data'")?;
    serde_json::from_slice(&data).context("the answer's 'data' is not JSON")
}

async fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let client = crate::token_cmd::http_client(args.ca.as_ref())?;
    let url = format!(
        "{}/attest/Tpm?api-version=2022-08-01",
        args.server.trim_end_matches('/')
    );
    let tcti = resolve_tcti(&args.tcti)?;
    let logs = event_logs(&tcti, &args.event_log, Path::exists)
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading the event log {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cert = match &args.ak_cert {
        Some(p) => Some(
            CertificateDer::from_pem_file(p)
                .map_err(|e| anyhow::anyhow!("--ak-cert {}: not a PEM certificate: {e}", p.display()))?
                .to_vec(),
        ),
        None => None,
    };
    let mut tpm = open_tpm(&tcti).await?;
    let ak = match args.ak_handle {
        Some(h) => tpm
            .load_ak(h)
            .map_err(|e| anyhow::anyhow!("{}: --ak-handle {h:#010x}: {e}", e.code()))?,
        None => tpm
            .create_ak()
            .map_err(|e| anyhow::anyhow!("{}: creating the attestation key: {e}", e.code()))?,
    };
    let challenge = round(&client, &url, &json!({"type": "aikcert"})).await?;
    let (Some(ch), Some(sc)) = (challenge["challenge"].as_str(), challenge["service_context"].as_str()) else {
        bail!("the server's challenge has no challenge/service_context");
    };
    let request = attestation_request(
        &mut tpm,
        &ak,
        ch,
        sc,
        &RequestInputs {
            aik_cert: cert.as_deref(),
            logs: &logs,
            rp_id: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("{}: quoting: {e}", e.code()))?;
    if !ak.is_persistent() {
        let _ = tpm.flush(ak.handle);
    }
    let report = round(&client, &url, &request).await?;
    let token = report["report"].as_str().context("the last answer has no 'report'")?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

async fn create_ak(args: CreateAkArgs) -> anyhow::Result<ExitCode> {
    let tcti = resolve_tcti(&args.tcti)?;
    let mut tpm = open_tpm(&tcti).await?;
    let fail = |what: &str, e: attestd_client::TpmError| anyhow::anyhow!("{}: {what}: {e}", e.code());
    let transient = tpm.create_ak().map_err(|e| fail("creating the attestation key", e))?;
    let persisted = tpm.persist_ak(&transient, args.persist);
    let _ = tpm.flush(transient.handle);
    let ak = persisted.map_err(|e| fail(&format!("--persist {:#010x}", args.persist), e))?;
    let pem = ak.spki_pem();
    if let Some(out) = &args.out {
        std::fs::write(out, &pem).with_context(|| format!("writing {}", out.display()))?;
    }
    eprintln!("attestation key persistent at {:#010x}", ak.handle);
    print!("{pem}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_in_hex_or_decimal() {
        assert_eq!(parse_handle("0x81010002"), Ok(0x8101_0002));
        assert_eq!(parse_handle("0X81000001"), Ok(0x8100_0001));
        assert_eq!(parse_handle("2164326402"), Ok(0x8101_0002));
        assert!(parse_handle("0xZZ").is_err_and(|e| e.contains("'0xZZ'")));
        assert!(parse_handle("").is_err());
    }

    #[test]
    fn a_device_tcti_defaults_to_the_kernel_event_log() {
        let dev = |p: &str| Tcti::Device(Some(PathBuf::from(p)));
        let sys0 = PathBuf::from("/sys/kernel/security/tpm0/binary_bios_measurements");
        assert_eq!(event_logs(&dev("/dev/tpmrm0"), &[], |_| true), vec![sys0.clone()]);
        assert_eq!(event_logs(&dev("/dev/tpm0"), &[], |_| true), vec![sys0]);
        assert_eq!(
            event_logs(&dev("/dev/tpmrm1"), &[], |_| true),
            vec![PathBuf::from("/sys/kernel/security/tpm1/binary_bios_measurements")]
        );
        // Absent (no securityfs, a VM without a log): none, not an error.
        assert!(event_logs(&dev("/dev/tpmrm0"), &[], |_| false).is_empty());
        // Given logs win; socket TCTIs and odd device names have no default.
        let given = [PathBuf::from("my.log")];
        assert_eq!(event_logs(&dev("/dev/tpmrm0"), &given, |_| true), given.to_vec());
        let swtpm = Tcti::parse("swtpm:port=2321").expect("tcti");
        assert!(event_logs(&swtpm, &[], |_| true).is_empty());
        assert!(event_logs(&dev("/tmp/sock"), &[], |_| true).is_empty());
    }
}
