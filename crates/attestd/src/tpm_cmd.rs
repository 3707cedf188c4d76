//! `attestd tpm attest`: runs MAA's TPM protocol against a server with a TPM reached through a
//! TCTI (`swtpm:host=H,port=P`), and prints the attestation token.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use attestd_client::request::{RequestInputs, attestation_request};
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
}

/// Options of `attestd tpm attest`.
#[derive(Args, Debug)]
pub struct AttestArgs {
    /// The provider's base URL, e.g. https://host:8443 or https://host:8443/tenants/NAME.
    #[arg(long)]
    pub server: String,
    /// The TPM: `swtpm:host=H,port=P` (raw TPM command socket).
    #[arg(long)]
    pub tcti: String,
    /// A TCG event log (binary) of the measurements in the PCRs; repeatable, in order.
    #[arg(long = "event-log", value_name = "FILE")]
    pub event_log: Vec<PathBuf>,
    /// The certificate (PEM) of the attestation key (the TPM's primary restricted RSA signing key
    /// under the endorsement hierarchy).
    #[arg(long, value_name = "PEM")]
    pub ak_cert: Option<PathBuf>,
    /// CA certificate (PEM) the server's TLS certificate chains to.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

/// Runs a `tpm` subcommand.
pub async fn run(cmd: TpmCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TpmCommand::Attest(args) => attest(args).await,
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
        .and_then(b64::decode_lenient)
        .context("the answer has no base64url 'data'")?;
    serde_json::from_slice(&data).context("the answer's 'data' is not JSON")
}

async fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let client = crate::token_cmd::http_client(args.ca.as_ref())?;
    let url = format!(
        "{}/attest/Tpm?api-version=2022-08-01",
        args.server.trim_end_matches('/')
    );
    let logs = args
        .event_log
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cert = match &args.ak_cert {
        Some(p) => Some(
            CertificateDer::from_pem_file(p)
                .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", p.display()))?
                .to_vec(),
        ),
        None => None,
    };
    let tcti = args.tcti.clone();
    let mut tpm = tokio::task::spawn_blocking(move || attestd_client::Tpm::connect(&tcti))
        .await?
        .context("connecting to the TPM")?;
    let ak = tpm.create_ak().context("creating the attestation key")?;
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
    .context("quoting")?;
    let _ = tpm.flush(ak.handle);
    let report = round(&client, &url, &request).await?;
    let token = report["report"].as_str().context("the last answer has no 'report'")?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
