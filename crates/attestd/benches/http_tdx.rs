//! Load generator: TDX attestations (`/attest/TdxVm`, a test-CA TDX quote v4 with JSON runtime
//! data and collateral valid now, imported with `attestd collateral import`) over HTTPS against a
//! running `attestd serve --insecure-test-sgx-root`, beside the crypto-only limit measured in the
//! same run (two P-256 verifications + one token signature per attestation), for RS256 and ES256
//! tokens; layouts and settings in `common`.
//!
//! `cargo bench -p attestd --bench http_tdx`

mod common;
#[path = "common/dcap.rs"]
mod dcap;

use attestd_testkit::dcap::{TestCa, TrustDomain};

fn main() {
    let ca = TestCa::new();
    let platform = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 0, 0], None);
    let runtime = br#"{"pub":"td-key"}"#;
    let quote = platform.td_quote(&TrustDomain::default().binding(runtime));
    let dir = tempfile::tempdir().expect("tmp");
    common::run(&dcap::target(
        "TDX (TdxVm)",
        "/attest/TdxVm?api-version=2025-06-01",
        &ca,
        &platform,
        &quote,
        runtime,
        dir.path(),
    ));
}
