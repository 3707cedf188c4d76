//! Load generator: SGX attestations (`/attest/SgxEnclave`, a test-CA quote v3 with JSON runtime
//! data and collateral valid now, imported with `attestd collateral import`) over HTTPS against a
//! running `attestd serve --insecure-test-sgx-root`, beside the crypto-only limit measured in the
//! same run (two P-256 verifications + one token signature per attestation), for RS256 and ES256
//! tokens; layouts and settings in `common`.
//!
//! `cargo bench -p attestd --bench http_sgx`

mod common;
#[path = "common/dcap.rs"]
mod dcap;

use attestd_testkit::dcap::{Enclave, TestCa};

fn main() {
    let ca = TestCa::new();
    let platform = ca.platform([0x30, 0, 0, 0, 0, 1], None);
    let runtime = br#"{"jwk":{"kty":"EC","crv":"P-256"}}"#;
    let quote = platform.quote(&Enclave::default().binding(runtime));
    let dir = tempfile::tempdir().expect("tmp");
    common::run(&dcap::target(
        "SGX (SgxEnclave)",
        "/attest/SgxEnclave?api-version=2022-08-01",
        &ca,
        &platform,
        &quote,
        runtime,
        dir.path(),
    ));
}
