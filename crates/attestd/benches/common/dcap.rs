//! What the DCAP load generators (`http_sgx`, `http_tdx`) share: a server trusting a test CA with
//! its platform's collateral imported, and the two P-256 verifications every quote brings.

use std::path::Path;
use std::sync::Arc;

use attestd_dcap::quote::Quote;
use attestd_testkit::TestServer;
use attestd_testkit::dcap::{TestCa, TestPlatform};
use attestd_token::b64;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::json;

use crate::common::{Check, Target};

/// The load target of one test-CA `quote` at `path`: MAA's request with JSON `runtime` data, a
/// server trusting `ca` (its root written into `dir`, which must outlive the run) with
/// `platform`'s collateral imported, and the quote's signature checks as the crypto limit.
pub fn target(
    title: &'static str,
    path: &'static str,
    ca: &TestCa,
    platform: &TestPlatform,
    quote: &[u8],
    runtime: &[u8],
    dir: &Path,
) -> Target {
    let body = json!({
        "quote": b64::encode_url(quote),
        "runtimeData": {"data": b64::encode_url(runtime), "dataType": "JSON"},
        "nonce": "load",
    });
    Target {
        title,
        path,
        body: body.to_string().into_bytes(),
        server_args: server_args(ca, dir),
        setup: Box::new(import(platform, dir)),
        verify: signature_checks(quote),
        crypto: "2 × P-256 verify",
        warm_verify: Some((quote_signature_check(quote), "1 × P-256 verify (quote)")),
    }
}

/// `attestd serve` arguments trusting `ca` (its root written into `dir`, which must outlive the
/// servers).
fn server_args(ca: &TestCa, dir: &Path) -> Vec<String> {
    let root = dir.join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).expect("write root");
    vec![
        "--offline".to_owned(),
        "--insecure-test-sgx-root".to_owned(),
        root.to_str().expect("utf-8").to_owned(),
    ]
}

/// Imports `platform`'s collateral bundle into a started server (`attestd collateral import`).
fn import(platform: &TestPlatform, dir: &Path) -> impl Fn(&TestServer) + 'static {
    let bundle = dir.join("bundle.json");
    std::fs::write(&bundle, &platform.bundle).expect("write bundle");
    let bundle = bundle.to_str().expect("utf-8").to_owned();
    move |server: &TestServer| {
        let out = server.run_cli(&["collateral", "import", &bundle]);
        assert_eq!(out.lines().count(), 1, "{out}");
    }
}

/// The signature checks of one quote: the QE report by the PCK leaf key and the quote by the
/// attestation key (P-256 each); parsing and caches excluded.
fn signature_checks(quote: &[u8]) -> Check {
    let q = Quote::parse(quote).expect("quote");
    let chain = q.pck_chain().expect("PCK chain");
    let leaf = chain.first().expect("PCK leaf");
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).expect("PCK certificate");
    let pck = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        cert.public_key().subject_public_key.data.to_vec(),
    );
    let mut point = vec![0x04];
    point.extend_from_slice(q.attestation_key());
    let attestation_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let qe_report = q.qe_report().as_bytes().to_vec();
    let qe_signature = q.qe_report_signature().to_vec();
    let signed = q.signed_bytes().to_vec();
    let signature = q.signature().to_vec();
    Arc::new(move || {
        pck.verify(&qe_report, &qe_signature).expect("QE report");
        attestation_key.verify(&signed, &signature).expect("quote");
    })
}

/// The one signature check of a quote whose QE report the server has verified before (same
/// attestation key): the quote by the attestation key.
fn quote_signature_check(quote: &[u8]) -> Check {
    let q = Quote::parse(quote).expect("quote");
    let mut point = vec![0x04];
    point.extend_from_slice(q.attestation_key());
    let attestation_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let signed = q.signed_bytes().to_vec();
    let signature = q.signature().to_vec();
    Arc::new(move || attestation_key.verify(&signed, &signature).expect("quote"))
}
