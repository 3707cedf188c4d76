//! Cost of verifying one real SEV-SNP report (SNP-TR-1, Milan, MAA JSON evidence): the whole
//! appraisal with a warm chain cache (one P-384 verification), a cold one (plus the RSA-4096 PSS
//! VCEK check), and the parts.
//!
//! `cargo bench -p attestd-snp`

use std::hint::black_box;
use std::time::SystemTime;

use attestd_evidence::{AttestationType, Evidence};
use attestd_snp::{AmdRoots, AttestationReport, SnpVerifier, Vek};
use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("sev-snp").join(path)).expect("vector")
}

fn document(report: &[u8], vcek: &[u8]) -> Vec<u8> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        std.encode(vcek)
    );
    serde_json::json!({ "SnpReport": url.encode(report), "VcekCertChain": url.encode(pem) })
        .to_string()
        .into_bytes()
}

fn bench(c: &mut Criterion) {
    let report = read("trustee/test-report.bin");
    let vcek = read("trustee/test-vcek.der");
    let now: SystemTime = time::macros::datetime!(2025-01-01 00:00 UTC).into();
    let evidence = Evidence {
        attestation_type: AttestationType::SevSnpVm,
        bytes: document(&report, &vcek),
        runtime_data: None,
        init_time_data: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let verifier = SnpVerifier::with_bundled_roots().expect("roots");

    c.bench_function("snp/appraise (cached chain)", |b| {
        b.iter(|| {
            rt.block_on(verifier.appraise(black_box(&evidence), now))
                .expect("verifies")
        })
    });
    c.bench_function("snp/appraise (cold chain)", |b| {
        b.iter(|| {
            let v = SnpVerifier::new(
                std::sync::Arc::new(AmdRoots::bundled().expect("roots")),
                std::sync::Arc::new(attestd_snp::NoVcekSource),
            );
            rt.block_on(v.appraise(black_box(&evidence), now)).expect("verifies")
        })
    });
    let roots = AmdRoots::bundled().expect("roots");
    c.bench_function("snp/parse report", |b| {
        b.iter(|| AttestationReport::parse(black_box(&report)).expect("parses"))
    });
    let parsed = AttestationReport::parse(&report).expect("parses");
    let vek = Vek::parse(&vcek).expect("vcek");
    c.bench_function("snp/report signature (P-384)", |b| {
        b.iter(|| vek.verify_report_signature(black_box(&parsed)).expect("verifies"))
    });
    c.bench_function("snp/VCEK chain (RSA-PSS)", |b| {
        b.iter(|| roots.verify_vek(black_box(&vek), now, &[]).expect("verifies"))
    });
    c.bench_function("snp/load bundled roots", |b| {
        b.iter(|| AmdRoots::bundled().expect("roots"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
