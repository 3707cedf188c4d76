//! `attestd verify sgx|oe`: verifies SGX or Open Enclave evidence offline against collateral
//! files, at the real time or a given one, and prints the incoming claims a policy would see
//! (MAA's names, `$`-aliases included) as one JSON object.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use attestd_dcap::tcb::{AcceptedStatuses, TcbStatus};
use attestd_evidence::{AttestationType, BoundData, ClaimSet, DataType, Evidence, Verifier, VerifyContext};
use attestd_sgx::StaticCollateral;
use attestd_snp::SnpVerifier;
use clap::{Args, ValueEnum};

use crate::collateral_cmd::{read_bundle, sgx_verifier, trust_anchors};
use crate::config::CollateralConfig;

/// Which evidence is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A raw SGX quote, as sent to /attest/SgxEnclave.
    Sgx,
    /// An Open Enclave report or evidence, as sent to /attest/OpenEnclave.
    Oe,
    /// A TDX quote (v4/v5), as sent to /attest/TdxVm.
    Tdx,
    /// An SEV-SNP report: the raw 1184 bytes, or MAA's JSON with `SnpReport` and `VcekCertChain`.
    Snp,
    /// Azure CVM guest evidence: MAA's `AttestationInfo` JSON, as sent to /attest/AzureGuest.
    AzureGuest,
}

/// How the runtime data is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeDataType {
    /// Opaque bytes: the claims carry `x-ms-sgx-ehd`.
    Binary,
    /// JSON: the claims carry `x-ms-runtime`.
    Json,
}

/// Arguments of `attestd verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The evidence type.
    #[arg(value_enum)]
    pub kind: Kind,
    /// The evidence file (binary, exactly the bytes an SDK would base64url-encode).
    #[arg(value_name = "EVIDENCE")]
    pub evidence: PathBuf,
    /// Collateral bundle files (dcap-qvl / QvE JSON); the one matching the quote's FMSPC is used.
    /// Required for sgx, oe and tdx; azure-guest uses them for TDX guests' TD quotes.
    #[arg(long, value_name = "FILE")]
    pub collateral: Vec<PathBuf>,
    /// snp: the VCEK or VLEK, optionally followed by its chain, as PEM or DER (ARK, ASK and
    /// ASVK are bundled).
    #[arg(long, value_name = "FILE")]
    pub certs: Option<PathBuf>,
    /// Runtime data whose SHA-256 the enclave put in REPORTDATA[0..32].
    #[arg(long, value_name = "FILE")]
    pub runtime_data: Option<PathBuf>,
    /// How the runtime data is interpreted.
    #[arg(long, value_enum, default_value = "binary", requires = "runtime_data")]
    pub runtime_data_type: RuntimeDataType,
    /// Verify at this time (RFC 3339) instead of now, e.g. to replay old evidence.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Converged TCB statuses that pass, comma-separated [default: UpToDate,SWHardeningNeeded].
    #[arg(long, value_name = "LIST")]
    pub accepted_tcb_statuses: Option<String>,
    /// INSECURE, for tests only: trust this certificate (PEM or DER) as the SGX root instead of Intel's.
    #[arg(long, value_name = "FILE")]
    pub insecure_test_sgx_root: Option<PathBuf>,
}

/// Parses a comma-separated list of Intel TCB status names; `Revoked` is refused.
pub fn parse_statuses(text: &str) -> anyhow::Result<AcceptedStatuses> {
    let mut statuses = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(status) = TcbStatus::parse(name) else {
            let known: Vec<&str> = TcbStatus::ALL.iter().map(|s| s.as_str()).collect();
            bail!("accepted TCB statuses: '{name}' is not one of {}", known.join(", "));
        };
        if status == TcbStatus::Revoked {
            bail!("accepted TCB statuses: Revoked can never be accepted");
        }
        statuses.push(status);
    }
    if statuses.is_empty() {
        bail!("accepted TCB statuses: the list is empty");
    }
    Ok(AcceptedStatuses::only(&statuses))
}

/// MAA's SevSnpVm JSON for a raw report and a VCEK (optionally with its chain) in PEM or DER.
fn snp_document(report: &[u8], certs: &[u8]) -> anyhow::Result<Vec<u8>> {
    use attestd_token::b64;
    if report.first() == Some(&b'{') {
        bail!("--certs is for a raw report; this evidence is JSON and carries its own 'VcekCertChain'");
    }
    let pem = if certs.starts_with(b"-----BEGIN") {
        certs.to_vec()
    } else {
        let body = b64::encode_std(certs);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
        .into_bytes()
    };
    let doc = serde_json::json!({"SnpReport": b64::encode_url(report), "VcekCertChain": b64::encode_url(&pem)});
    Ok(doc.to_string().into_bytes())
}

fn parse_time(text: &str) -> anyhow::Result<SystemTime> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at '{text}' is not an RFC 3339 time"))?;
    let secs = u64::try_from(t.unix_timestamp()).with_context(|| format!("--at '{text}' is before 1970"))?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Runs `attestd verify`: the incoming claims on stdout and exit 0, or `error: CODE: message` on stderr
/// and exit 1.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let config = CollateralConfig {
        amd_kds_url: attestd_collateral::AMD_KDS.to_owned(),
        intel_pcs_url: None,
        intel_root_ca_crl_url: None,
        offline: true,
        accepted_tcb_statuses: args
            .accepted_tcb_statuses
            .as_deref()
            .map(parse_statuses)
            .transpose()?
            .unwrap_or_default(),
        insecure_test_sgx_root: args.insecure_test_sgx_root.clone(),
    };
    let bytes = std::fs::read(&args.evidence).with_context(|| format!("reading {}", args.evidence.display()))?;
    let runtime_data = args
        .runtime_data
        .as_ref()
        .map(|p| {
            std::fs::read(p)
                .with_context(|| format!("reading {}", p.display()))
                .map(|bytes| BoundData {
                    bytes,
                    data_type: match args.runtime_data_type {
                        RuntimeDataType::Binary => DataType::Binary,
                        RuntimeDataType::Json => DataType::Json,
                    },
                })
        })
        .transpose()?;
    let (attestation_type, verifier, bytes): (AttestationType, Box<dyn Verifier>, Vec<u8>) = match args.kind {
        Kind::Sgx | Kind::Oe | Kind::Tdx => {
            if args.collateral.is_empty() {
                bail!("--collateral FILE is required to verify {:?} evidence", args.kind);
            }
            let source = StaticCollateral::new();
            for path in &args.collateral {
                source.insert(read_bundle(path)?.0);
            }
            let source = Arc::new(source);
            match args.kind {
                Kind::Tdx => (
                    AttestationType::TdxVm,
                    Box::new(
                        attestd_tdx::TdxVerifier::new(trust_anchors(&config)?, source).with_options(
                            attestd_tdx::TdxOptions {
                                accepted_statuses: config.accepted_tcb_statuses,
                            },
                        ),
                    ),
                    bytes,
                ),
                Kind::Oe => (
                    AttestationType::OpenEnclave,
                    Box::new(sgx_verifier(&config, source)?),
                    bytes,
                ),
                _ => (
                    AttestationType::SgxEnclave,
                    Box::new(sgx_verifier(&config, source)?),
                    bytes,
                ),
            }
        }
        Kind::Snp => {
            let bytes = match &args.certs {
                None => bytes,
                Some(path) => snp_document(
                    &bytes,
                    &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                )?,
            };
            (
                AttestationType::SevSnpVm,
                Box::new(SnpVerifier::with_bundled_roots()?),
                bytes,
            )
        }
        Kind::AzureGuest => {
            let snp = Arc::new(SnpVerifier::with_bundled_roots()?);
            // TDX guests' TD quotes need DCAP collateral: the bundles given with --collateral
            // (none: TDX documents fail with CollateralNotFound).
            let source = StaticCollateral::new();
            for path in &args.collateral {
                source.insert(read_bundle(path)?.0);
            }
            let tdx = attestd_tdx::TdxVerifier::new(trust_anchors(&config)?, Arc::new(source)).with_options(
                attestd_tdx::TdxOptions {
                    accepted_statuses: config.accepted_tcb_statuses,
                },
            );
            let guest = attestd_azure_guest::AzureGuestVerifier::new(
                attestd_azure_guest::GuestVerifier::new(snp).with_tdx(Arc::new(tdx)),
            );
            (AttestationType::AzureGuest, Box::new(guest), bytes)
        }
    };
    let evidence = Evidence {
        attestation_type,
        bytes,
        runtime_data,
        init_time_data: None,
    };
    let now = match &args.at {
        Some(t) => parse_time(t)?,
        None => SystemTime::now(),
    };
    let configuration = ClaimSet::new();
    let ctx = VerifyContext {
        now,
        configuration: &configuration,
    };
    match verifier.verify(&evidence, &ctx).await {
        Ok(appraisal) => {
            let claims =
                serde_json::to_string_pretty(&appraisal.incoming.to_json_object()).context("encoding the claims")?;
            println!("{claims}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {}", e.code, e.message);
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_parse_and_revoked_is_refused() -> anyhow::Result<()> {
        let s = parse_statuses("UpToDate, OutOfDate")?;
        assert!(s.contains(TcbStatus::OutOfDate));
        assert!(s.contains(TcbStatus::UpToDate));
        assert!(!s.contains(TcbStatus::SWHardeningNeeded));
        assert!(parse_statuses("Revoked").is_err());
        assert!(parse_statuses("uptodate").is_err());
        assert!(parse_statuses(" , ").is_err());
        Ok(())
    }
}
