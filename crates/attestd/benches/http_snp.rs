//! Load generator: SEV-SNP attestations (`/attest/SevSnpVm`, a real Milan report and its VCEK)
//! over HTTPS against a running `attestd serve`, beside the crypto-only limit measured in the same
//! run (one P-384 report verification + one token signature per attestation), for RS256 and ES256
//! tokens; layouts and settings in `common`.
//!
//! `cargo bench -p attestd --bench http_snp`

mod common;

use std::sync::Arc;

use attestd_snp::{AttestationReport, Vek};
use attestd_token::b64;
use serde_json::json;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("sev-snp").join(path)).expect("vector")
}

fn main() {
    let report = read("trustee/test-report.bin");
    let vcek = read("trustee/test-vcek.der");
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        b64::encode_std(&vcek)
    );
    let doc = json!({"SnpReport": b64::encode_url(&report), "VcekCertChain": b64::encode_url(pem.as_bytes())});
    let body = json!({"report": b64::encode_url(doc.to_string().as_bytes()), "nonce": "load"});
    let parsed = AttestationReport::parse(&report).expect("report");
    let vek = Vek::parse(&vcek).expect("vcek");
    common::run(&common::Target {
        title: "SEV-SNP (SevSnpVm)",
        path: "/attest/SevSnpVm?api-version=2022-08-01",
        body: body.to_string().into_bytes(),
        server_args: vec!["--offline".to_owned()],
        setup: Box::new(|_| {}),
        verify: Arc::new(move || vek.verify_report_signature(&parsed).expect("verifies")),
        crypto: "P-384 report verify",
        warm_verify: None,
    });
}
