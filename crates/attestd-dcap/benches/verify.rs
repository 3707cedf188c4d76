//! Cost of verifying one real DCAP quote with warm caches (collateral and PCK chain verified
//! once, cached by digest), beside the crypto-only limit measured in the same run: the two P-256
//! verifications a quote brings (QE report by the PCK key, quote by the attestation key) plus one
//! token signature (RS256 and ES256).
//!
//! `cargo bench -p attestd-dcap`

use std::hint::black_box;
use std::time::SystemTime;

use attestd_dcap::quote::Quote;
use attestd_dcap::{Collateral, QuoteVerifier, TrustAnchors};
use attestd_token::{Algorithm, SigningKey};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use criterion::{Criterion, criterion_group, criterion_main};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join(path)).expect("vector")
}

fn at(unix: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(unix)
}

/// The PCK leaf's public key point.
fn pck_point(quote: &Quote<'_>) -> Vec<u8> {
    let chain = quote.pck_chain().expect("PCK chain");
    let leaf = chain.first().expect("PCK leaf");
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).expect("PCK certificate");
    cert.public_key().subject_public_key.data.to_vec()
}

fn bench(c: &mut Criterion) {
    // SGX-ADA-1 (v3, Platform CA) at 2025-08-15T05:45:00Z; TDX-QVL-1 (v4) at 2025-07-01.
    let cases = [
        (
            "sgx_v3",
            read("sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin"),
            read("intel-collateral/composed/sgx_00606A000000_2025-08.json"),
            at(1_755_236_700),
        ),
        (
            "tdx_v4",
            read("tdx/dcap-qvl/tdx_quote"),
            read("tdx/dcap-qvl/tdx_quote_collateral.json"),
            at(1_751_328_000),
        ),
    ];
    let keys: Vec<(Algorithm, SigningKey)> = [Algorithm::RS256, Algorithm::ES256]
        .into_iter()
        .map(|alg| (alg, SigningKey::generate(alg).expect("key").0))
        .collect();
    // A token signing input as long as a typical SGX token's (~2.4 KB of claims).
    let signing_input = vec![b'e'; 3300];
    for (name, bytes, collateral, now) in &cases {
        let collateral = Collateral::from_json(collateral).expect("collateral");
        let verifier = QuoteVerifier::new(TrustAnchors::intel());
        let quote = Quote::parse(bytes).expect("quote");
        verifier.verify(&quote, &collateral, *now).expect("verifies");

        let mut group = c.benchmark_group(format!("dcap/{name}"));
        group.bench_function("parse", |b| b.iter(|| Quote::parse(black_box(bytes)).expect("quote")));
        group.bench_function("parse+verify (warm caches)", |b| {
            b.iter(|| {
                let q = Quote::parse(black_box(bytes)).expect("quote");
                verifier.verify(&q, &collateral, *now).expect("verifies")
            })
        });
        let mut point = vec![0x04];
        point.extend_from_slice(quote.attestation_key());
        let attestation_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
        let pck_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pck_point(&quote));
        let two_verifies = || {
            pck_key
                .verify(quote.qe_report().as_bytes(), quote.qe_report_signature())
                .expect("QE report");
            attestation_key
                .verify(quote.signed_bytes(), quote.signature())
                .expect("quote");
        };
        group.bench_function("crypto limit: 2 x P-256 verify", |b| b.iter(two_verifies));
        for (alg, key) in &keys {
            group.bench_function(format!("crypto limit: 2 x P-256 verify + {alg} sign"), |b| {
                b.iter(|| {
                    two_verifies();
                    key.sign(black_box(&signing_input))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
