//! DCAP collateral in the service's state: `attestd collateral import` (QvE JSON bundles, or
//! directories of raw PCS responses), and the sources through which the SGX and TDX verifiers find
//! it (`attestd_collateral::StoreCollateral`, and `PcsCollateral` when a PCS is configured).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use attestd_dcap::{Collateral, CollateralParts, TrustAnchors};
use attestd_sgx::collateral::ca_name;
use attestd_sgx::{CollateralSource, SgxCollateral, SgxOptions, SgxVerifier};
use attestd_store::Store;
use clap::Subcommand;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{CollateralConfig, StateArgs, resolve_state};
use crate::state::{collateral_cache, ensure_data_dir, redact};

/// The files of a directory of raw PCS responses, by file stem (any extension), in
/// `CollateralParts` order. `qe_identity_issuer_chain` may be left out when it is the TCB info's
/// (Intel signs both with the TCB Signing certificate).
pub const PCS_PARTS: [&str; 7] = [
    "tcb_info",
    "tcb_info_issuer_chain",
    "qe_identity",
    "qe_identity_issuer_chain",
    "pck_crl",
    "pck_crl_issuer_chain",
    "root_ca_crl",
];

/// `attestd collateral …`.
#[derive(Subcommand, Debug)]
pub enum CollateralCommand {
    /// Import DCAP collateral into the state, for offline SGX / TDX attestation: bundle files
    /// (dcap-qvl / QvE JSON: TCB info, QE identity, CRLs and their issuer chains) or directories
    /// of raw PCS responses (files named tcb_info, tcb_info_issuer_chain, qe_identity,
    /// [qe_identity_issuer_chain], pck_crl, pck_crl_issuer_chain, root_ca_crl, any extension:
    /// the JSON bodies as PCS serves them, CRLs DER/PEM/hex, chains PEM or URL-encoded PEM as in
    /// the response headers).
    Import {
        /// Bundle files or directories of raw PCS responses.
        #[arg(required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix(t))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix(t).to_string())
}

/// Reads and parses one bundle: a QvE JSON file, or a directory of raw PCS responses
/// ([`PCS_PARTS`]). Returns it with the bytes to store (QvE JSON).
pub fn read_bundle(path: &Path) -> anyhow::Result<(SgxCollateral, Vec<u8>)> {
    let fail = |e: attestd_evidence::EvidenceError| anyhow::anyhow!("{}: {}: {}", path.display(), e.code, e.message);
    if path.is_dir() {
        let bundle = read_pcs_dir(path)?;
        let json = bundle.to_json();
        return Ok((bundle, json));
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle = SgxCollateral::from_json(&bytes).map_err(fail)?;
    Ok((bundle, bytes))
}

/// A directory of raw PCS responses as one bundle.
fn read_pcs_dir(dir: &Path) -> anyhow::Result<SgxCollateral> {
    let mut found: [Option<Vec<u8>>; 7] = Default::default();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let Some(i) = PCS_PARTS.iter().position(|p| *p == stem) else {
            continue;
        };
        if found[i].is_some() {
            anyhow::bail!("{}: two files for '{stem}'", dir.display());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        found[i] = Some(if stem.ends_with("issuer_chain") {
            issuer_chain_file(&bytes).with_context(|| format!("{}", path.display()))?
        } else {
            bytes
        });
    }
    if found[3].is_none() {
        found[3] = found[1].clone();
    }
    let part = |i: usize| -> anyhow::Result<&[u8]> {
        found[i].as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no '{}' file (of {})",
                dir.display(),
                PCS_PARTS[i],
                PCS_PARTS.join(", ")
            )
        })
    };
    let parts = CollateralParts {
        tcb_info: part(0)?,
        tcb_info_issuer_chain: part(1)?,
        qe_identity: part(2)?,
        qe_identity_issuer_chain: part(3)?,
        pck_crl: part(4)?,
        pck_crl_issuer_chain: part(5)?,
        root_ca_crl: part(6)?,
    };
    let collateral =
        Collateral::from_parts(parts).map_err(|e| anyhow::anyhow!("{}: {}: {}", dir.display(), e.code, e.message))?;
    SgxCollateral::from_collateral(collateral)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", dir.display(), e.code, e.message))
}

/// An issuer chain file: PEM or DER as is, or the URL-encoded PEM of a PCS response header.
fn issuer_chain_file(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    // Percent-encoding keeps the dashes, so "-----BEGIN%20CERTIFICATE" is still encoded.
    if trimmed.starts_with("-----BEGIN ") || bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    attestd_collateral::pcs::decode_issuer_chain(trimmed.as_bytes())
        .map(String::into_bytes)
        .map_err(|e| anyhow::anyhow!("not a PEM chain: {e}"))
}

/// Runs `attestd collateral …`.
pub async fn run(cmd: CollateralCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCommand::Import { files, state } => {
            let state = resolve_state(&state)?;
            ensure_data_dir(&state.data_dir)?;
            let store = Store::open(&state.database)
                .await
                .with_context(|| format!("opening the database {}", redact(&state.database)))?;
            let cache = collateral_cache(&store, &state.collateral)?;
            let now = unix(SystemTime::now());
            for path in &files {
                let (bundle, bytes) = read_bundle(path)?;
                let key = bundle.store_key();
                cache
                    .put(&key, &bytes, None, now)
                    .await
                    .with_context(|| format!("storing {key}"))?;
                let c = bundle.collateral();
                println!(
                    "imported {} as {key} (FMSPC {}, PCK {} CA, TCB evaluation data number {}, valid {} .. {})",
                    path.display(),
                    hex::encode_upper(c.fmspc()),
                    ca_name(bundle.pck_ca()),
                    c.tcb_evaluation_data_number(),
                    rfc3339(c.issue_date()),
                    rfc3339(c.next_update()),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The SGX trust anchors of `config`: Intel's root, or (loudly) a test root.
pub fn trust_anchors(config: &CollateralConfig) -> anyhow::Result<TrustAnchors> {
    let Some(path) = &config.insecure_test_sgx_root else {
        return Ok(TrustAnchors::intel());
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        CertificateDer::from_pem_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", path.display()))?
            .to_vec()
    } else {
        bytes
    };
    tracing::warn!(
        root = %path.display(),
        "INSECURE: --insecure-test-sgx-root replaces Intel's SGX root; SGX evidence signed by this test root is accepted. Never use this in production."
    );
    Ok(TrustAnchors::insecure_test_roots(vec![der]))
}

/// The SGX / Open Enclave verifier of `config` over `source`.
pub fn sgx_verifier(config: &CollateralConfig, source: Arc<dyn CollateralSource>) -> anyhow::Result<SgxVerifier> {
    Ok(
        SgxVerifier::new(trust_anchors(config)?, source).with_options(SgxOptions {
            accepted_statuses: config.accepted_tcb_statuses,
        }),
    )
}
