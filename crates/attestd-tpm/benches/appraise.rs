//! Cost of appraising one real TPM attestation (GCE vTPM, 45-event log, 24 PCRs, RSA-2048 AK):
//! parse + signature + PCR digest + AK chain + log replay + claims, beside its parts.
//!
//! `cargo bench -p attestd-tpm`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use attestd_tpm::aik::AikRoots;
use attestd_tpm::appraise::{Requirements, TpmEvidence, appraise};
use attestd_tpm::eventlog::{EventLog, HashAlg};
use attestd_tpm::quote::{AkPublic, Quote, Signature};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/common/gce.rs"]
#[allow(dead_code)]
mod gce;

fn evidence() -> (TpmEvidence, Vec<u8>) {
    let a = gce::load("gce-cos-85-nonce9009.pb");
    let q = a
        .quotes
        .iter()
        .find(|q| q.bank == HashAlg::Sha256)
        .expect("SHA-256 quote");
    let ev = TpmEvidence {
        logs: vec![a.event_log.clone()],
        aik_cert: Some(a.ak_cert.clone()),
        aik_intermediates: vec![gce::ca("tpm_ek_intermediate_2.crt")],
        aik_pub: Some(AkPublic::parse(&a.ak_pub).expect("ak").key),
        pcrs: vec![(HashAlg::Sha256, q.pcrs.iter().map(|(i, v)| (*i, v.clone())).collect())],
        quote: q.quote.clone(),
        signature: q.sig.clone(),
        ..TpmEvidence::default()
    };
    (ev, gce::ca("tpm_ek_root_1.cer"))
}

fn bench(c: &mut Criterion) {
    let (ev, root) = evidence();
    let roots = AikRoots::from_der(&[root]).expect("roots");
    let req = Requirements {
        qualifying_data: &[0x90, 0x09],
        required_pcr_mask: 0xFF_FFFF,
        require_valid_aik_cert: true,
        roots: &roots,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600),
    };
    appraise(&ev, &req).expect("the vector appraises");
    let ak = ev.aik_pub.clone().expect("ak");
    let quote = Quote::parse(&ev.quote).expect("quote");
    let sig = Signature::parse(&ev.signature).expect("sig");

    c.bench_function("appraise/whole", |b| b.iter(|| appraise(black_box(&ev), &req)));
    c.bench_function("appraise/quote_signature_only", |b| {
        b.iter(|| ak.verify(black_box(&quote.raw), &sig))
    });
    c.bench_function("appraise/ak_chain_only", |b| {
        b.iter(|| {
            roots.verify(
                black_box(ev.aik_cert.as_deref().unwrap_or_default()),
                &ev.aik_intermediates,
                &ak,
                req.now,
            )
        })
    });
    c.bench_function("appraise/eventlog_parse_replay", |b| {
        b.iter(|| EventLog::parse(black_box(&ev.logs[0])).map(|l| l.replay()))
    });
    c.bench_function("appraise/eventlog_claim", |b| {
        let log = EventLog::parse(&ev.logs[0]).expect("log");
        b.iter(|| black_box(&log).to_claim())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
