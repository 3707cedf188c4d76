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

/// Just enough protobuf to read go-tpm-tools' `attest.Attestation` (fields 1, 2, 3, 6).
fn fields(mut b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let value = if key & 7 == 0 {
            varint(&mut b).to_le_bytes().to_vec()
        } else {
            let n = varint(&mut b) as usize;
            let v = b[..n].to_vec();
            b = &b[n..];
            v
        };
        out.push((key >> 3, value));
    }
    out
}

fn evidence() -> (TpmEvidence, Vec<u8>) {
    let dir = attestd_testkit::vectors_dir().join("tpm/go-tpm-tools");
    let bytes = std::fs::read(dir.join("gce-cos-85-nonce9009.pb")).expect("vector");
    let mut ev = TpmEvidence::default();
    for (f, v) in fields(&bytes) {
        match f {
            1 => ev.aik_pub = Some(AkPublic::parse(&v).expect("ak").key),
            2 => {
                let q = fields(&v);
                let quote = q
                    .iter()
                    .find(|(k, _)| *k == 1)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                if Quote::parse(&quote)
                    .map(|p| p.pcr_select[0].0 == HashAlg::Sha256)
                    .unwrap_or(false)
                {
                    ev.quote = quote;
                    ev.signature = q
                        .iter()
                        .find(|(k, _)| *k == 2)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    let pcrs = q
                        .iter()
                        .find(|(k, _)| *k == 3)
                        .map(|(_, v)| fields(v))
                        .unwrap_or_default();
                    let values = pcrs
                        .iter()
                        .filter(|(k, _)| *k == 2)
                        .map(|(_, e)| {
                            let e = fields(e);
                            let i = e.iter().find(|(k, _)| *k == 1).map_or(0, |(_, v)| v[0] as u32);
                            (
                                i,
                                e.iter()
                                    .find(|(k, _)| *k == 2)
                                    .map(|(_, v)| v.clone())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect();
                    ev.pcrs = vec![(HashAlg::Sha256, values)];
                }
            }
            3 => ev.logs = vec![v],
            6 => ev.aik_cert = Some(v),
            _ => {}
        }
    }
    let intermediate = std::fs::read(dir.join("ca-certs/tpm_ek_intermediate_2.crt")).expect("intermediate");
    ev.aik_intermediates = vec![pem_or_der(&intermediate)];
    (
        ev,
        pem_or_der(&std::fs::read(dir.join("ca-certs/tpm_ek_root_1.cer")).expect("root")),
    )
}

fn pem_or_der(b: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    if b.starts_with(b"-----BEGIN") {
        rustls_pki_types::CertificateDer::from_pem_slice(b)
            .expect("pem")
            .to_vec()
    } else {
        b.to_vec()
    }
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
