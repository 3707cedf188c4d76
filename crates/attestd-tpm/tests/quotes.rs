//! Real GCE vTPM quotes (../shared/vectors/tpm/go-tpm-tools/*.pb): the attestation key's
//! signature, nonce, PCR digest and event log replay; every tampering fails with its own code.

use std::collections::BTreeMap;

use attestd_tpm::aik::AikRoots;
use attestd_tpm::appraise::{Requirements, TpmEvidence, appraise};
use attestd_tpm::eventlog::{EventLog, HashAlg};
use attestd_tpm::quote::{AkPublic, Quote, Signature};

/// Just enough protobuf to read go-tpm-tools' `attest.Attestation`.
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
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => varint(&mut b).to_le_bytes().to_vec(),
            2 => {
                let n = varint(&mut b) as usize;
                let v = b[..n].to_vec();
                b = &b[n..];
                v
            }
            other => panic!("wire type {other}"),
        };
        out.push((field, value));
    }
    out
}

struct QuoteVector {
    quote: Vec<u8>,
    sig: Vec<u8>,
    bank: HashAlg,
    pcrs: BTreeMap<u32, Vec<u8>>,
}

struct Attestation {
    ak_pub: Vec<u8>,
    quotes: Vec<QuoteVector>,
    event_log: Vec<u8>,
    ak_cert: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
}

fn load(file: &str) -> Attestation {
    let bytes = std::fs::read(attestd_testkit::vectors_dir().join("tpm/go-tpm-tools").join(file)).expect(file);
    let mut a = Attestation {
        ak_pub: vec![],
        quotes: vec![],
        event_log: vec![],
        ak_cert: vec![],
        intermediates: vec![],
    };
    for (f, v) in fields(&bytes) {
        match f {
            1 => a.ak_pub = v,
            2 => {
                let mut q = QuoteVector {
                    quote: vec![],
                    sig: vec![],
                    bank: HashAlg::Sha1,
                    pcrs: BTreeMap::new(),
                };
                for (qf, qv) in fields(&v) {
                    match qf {
                        1 => q.quote = qv,
                        2 => q.sig = qv,
                        3 => {
                            for (pf, pv) in fields(&qv) {
                                match pf {
                                    1 => {
                                        q.bank =
                                            HashAlg::from_id(u64::from_le_bytes(pv.try_into().expect("u64")) as u16)
                                                .expect("bank")
                                    }
                                    2 => {
                                        let entry = fields(&pv);
                                        let index = entry.iter().find(|(k, _)| *k == 1).map_or(0, |(_, v)| {
                                            u64::from_le_bytes(v.clone().try_into().expect("u64")) as u32
                                        });
                                        let value = entry
                                            .iter()
                                            .find(|(k, _)| *k == 2)
                                            .map(|(_, v)| v.clone())
                                            .expect("value");
                                        q.pcrs.insert(index, value);
                                    }
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                a.quotes.push(q);
            }
            3 => a.event_log = v,
            6 => a.ak_cert = v,
            7 => a.intermediates.push(v),
            _ => {}
        }
    }
    a
}

#[test]
fn gce_quotes_verify_and_their_log_replays() {
    for (file, nonce) in [
        ("gce-cos-85-no-nonce.pb", &b""[..]),
        ("gce-cos-85-nonce9009.pb", &[0x90u8, 0x09][..]),
    ] {
        let a = load(file);
        let ak = AkPublic::parse(&a.ak_pub).expect("TPMT_PUBLIC");
        assert_eq!(
            hex::encode(&ak.name),
            "000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4",
            "{file}"
        );
        assert_eq!(a.quotes.len(), 3, "{file}: SHA-1, SHA-256 and SHA-384 banks");
        let log = EventLog::parse(&a.event_log).expect("event log");
        assert_eq!(log.events.len(), 45, "{file}");
        let replayed = log.replay();
        for q in &a.quotes {
            let quote = Quote::parse(&q.quote).expect("TPMS_ATTEST");
            let sig = Signature::parse(&q.sig).expect("TPMT_SIGNATURE");
            assert!(matches!(
                sig,
                Signature::RsaSsa {
                    hash: HashAlg::Sha256,
                    ..
                }
            ));
            ak.verify(&quote.raw, &sig)
                .unwrap_or_else(|e| panic!("{file} {:?}: {e}", q.bank));
            quote.check_nonce(nonce).expect("nonce");
            assert_eq!(
                quote.check_nonce(b"9009x").expect_err("wrong nonce").code,
                "QuoteNonceMismatch"
            );
            let pcrs = q.pcrs.clone();
            let bank = q.bank;
            quote
                .check_pcrs(sig.hash(), &|b, i| (b == bank).then(|| pcrs.get(&i).cloned()).flatten())
                .expect("pcrDigest");
            assert_eq!(quote.pcr_select[0].1.len(), 24, "all PCRs 0-23 quoted");
            assert_eq!(quote.firmware_version, 0x2016_0511_0016_2800);
            // The log reproduces the quoted values of every PCR it extends (SHA-1 and SHA-256).
            if let Some((_, values)) = replayed.iter().find(|(b, _)| *b == q.bank) {
                for (i, v) in values {
                    assert_eq!(Some(v), q.pcrs.get(i), "{file} {} PCR {i}", q.bank.name());
                }
            }
        }
    }
}

#[test]
fn tampering_fails_with_its_own_code() {
    let a = load("gce-cos-85-nonce9009.pb");
    let ak = AkPublic::parse(&a.ak_pub).expect("ak");
    let q = &a.quotes[1];
    let sig = Signature::parse(&q.sig).expect("sig");
    // A flipped bit in pcrDigest (signed).
    let mut raw = q.quote.clone();
    let at = raw.len() - 1;
    raw[at] ^= 1;
    let tampered = Quote::parse(&raw).expect("still parses");
    assert_eq!(
        ak.verify(&tampered.raw, &sig).expect_err("tampered").code,
        "QuoteSignatureInvalid"
    );
    // A changed PCR value.
    let quote = Quote::parse(&q.quote).expect("quote");
    let mut pcrs = q.pcrs.clone();
    if let Some(v) = pcrs.get_mut(&7) {
        v[0] ^= 1;
    }
    let bank = q.bank;
    let err = quote
        .check_pcrs(sig.hash(), &|b, i| (b == bank).then(|| pcrs.get(&i).cloned()).flatten())
        .expect_err("pcr");
    assert_eq!(err.code, "PcrDigestMismatch");
    let err = quote.check_pcrs(sig.hash(), &|_, _| None).expect_err("missing");
    assert_eq!(err.code, "PcrValueMissing");
    // Not a quote / not generated by a TPM.
    let mut other = q.quote.clone();
    other[0] = 0;
    assert_eq!(Quote::parse(&other).expect_err("magic").code, "QuoteNotTpmGenerated");
    let mut other = q.quote.clone();
    other[5] = 0x17;
    assert_eq!(Quote::parse(&other).expect_err("type").code, "QuoteWrongType");
    // Another key: the quote does not verify.
    let mut other_pub = a.ak_pub.clone();
    let last = other_pub.len() - 1;
    other_pub[last] ^= 1;
    let other_ak = AkPublic::parse(&other_pub).expect("ak");
    assert_eq!(
        other_ak.verify(&quote.raw, &sig).expect_err("other key").code,
        "QuoteSignatureInvalid"
    );
    // Every truncation of every structure fails cleanly.
    for cut in 0..q.quote.len() {
        assert!(Quote::parse(&q.quote[..cut]).is_err());
    }
    for cut in 0..q.sig.len() {
        assert!(Signature::parse(&q.sig[..cut]).is_err());
    }
    for cut in 0..a.ak_pub.len() {
        assert!(AkPublic::parse(&a.ak_pub[..cut]).is_err());
    }
    assert!(!a.ak_cert.is_empty(), "the vector carries an AK certificate");
}

fn ca(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(
        attestd_testkit::vectors_dir()
            .join("tpm/go-tpm-tools/ca-certs")
            .join(name),
    )
    .expect(name);
    if bytes.starts_with(b"-----BEGIN") {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(&bytes)
            .expect("PEM")
            .to_vec()
    } else {
        bytes
    }
}

fn at(rfc3339: &str) -> std::time::SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("time");
    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.unix_timestamp() as u64)
}

#[test]
fn gce_ak_certificate_chains_to_the_gce_roots() {
    let a = load("gce-cos-85-nonce9009.pb");
    let ak = AkPublic::parse(&a.ak_pub).expect("ak");
    let roots = AikRoots::from_der(&[ca("tpm_ek_root_1.cer")]).expect("roots");
    let intermediates = vec![ca("tpm_ek_intermediate_2.crt")];
    roots
        .verify(&a.ak_cert, &intermediates, &ak.key, at("2025-01-01T00:00:00Z"))
        .expect("chains");
    // Without the intermediate, or with other roots: untrusted.
    let e = roots
        .verify(&a.ak_cert, &[], &ak.key, at("2025-01-01T00:00:00Z"))
        .expect_err("no path");
    assert_eq!(e.code, "AikCertificateUntrusted");
    let other = AikRoots::from_der(&[ca("gcp_ek_ak_ca_root.crt")]).expect("roots");
    let e = other
        .verify(&a.ak_cert, &intermediates, &ak.key, at("2025-01-01T00:00:00Z"))
        .expect_err("other root");
    assert_eq!(e.code, "AikCertificateUntrusted");
    // Before the certificate's validity.
    let e = roots
        .verify(&a.ak_cert, &intermediates, &ak.key, at("2020-01-01T00:00:00Z"))
        .expect_err("not yet valid");
    assert!(
        matches!(e.code, "AikCertificateNotYetValid" | "AikCertificateUntrusted"),
        "{e}"
    );
    // A certificate for another key (the quote's AK with one bit changed).
    let mut other_pub = a.ak_pub.clone();
    let last = other_pub.len() - 1;
    other_pub[last] ^= 1;
    let other_ak = AkPublic::parse(&other_pub).expect("ak");
    let e = roots
        .verify(&a.ak_cert, &intermediates, &other_ak.key, at("2025-01-01T00:00:00Z"))
        .expect_err("other key");
    assert_eq!(e.code, "AikKeyMismatch");
}

#[test]
fn the_spki_of_the_ak_is_the_certificate_s() {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let a = load("gce-cos-85-nonce9009.pb");
    let ak = AkPublic::parse(&a.ak_pub).expect("ak");
    let (_, cert) = X509Certificate::from_der(&a.ak_cert).expect("cert");
    assert_eq!(
        ak.key.spki_der(),
        cert.public_key().raw,
        "our DER SubjectPublicKeyInfo encoding"
    );
}

fn evidence(a: &Attestation, bank: HashAlg) -> TpmEvidence {
    let q = a.quotes.iter().find(|q| q.bank == bank).expect("bank");
    TpmEvidence {
        logs: vec![a.event_log.clone()],
        aik_cert: Some(a.ak_cert.clone()),
        aik_intermediates: vec![ca("tpm_ek_intermediate_2.crt")],
        aik_pub: Some(AkPublic::parse(&a.ak_pub).expect("ak").key),
        pcrs: vec![(bank, q.pcrs.iter().map(|(i, v)| (*i, v.clone())).collect())],
        quote: q.quote.clone(),
        signature: q.sig.clone(),
    }
}

#[test]
fn a_whole_attestation_is_appraised_into_claims() {
    let a = load("gce-cos-85-nonce9009.pb");
    let roots = AikRoots::from_der(&[ca("tpm_ek_root_1.cer")]).expect("roots");
    let req = Requirements {
        qualifying_data: &[0x90, 0x09],
        required_pcr_mask: 0xFF_FFFF,
        require_valid_aik_cert: true,
        roots: &roots,
        now: at("2025-01-01T00:00:00Z"),
    };
    for bank in [HashAlg::Sha1, HashAlg::Sha256] {
        let ok = appraise(&evidence(&a, bank), &req).unwrap_or_else(|e| panic!("{e}"));
        let c = &ok.claims;
        assert_eq!(c.value("aikValidated").and_then(|v| v.as_bool()), Some(true));
        assert_eq!(c.value("tpmVersion").and_then(|v| v.as_i64()), Some(2));
        assert!(
            c.value("aikPubHash")
                .and_then(|v| v.as_str())
                .is_some_and(|h| h.len() == 44)
        );
        let events = c.value("events").map(|v| v.to_json()).expect("events");
        assert_eq!(events["Events"].as_array().map(Vec::len), Some(45));
        let pcrs = c.value("pcrs").map(|v| v.to_json()).expect("pcrs");
        assert_eq!(pcrs["PCRs"].as_array().map(Vec::len), Some(24));
        assert!(pcrs["PCRs"][0]["Digests"][bank.name()].is_string());
    }
    // Each failure has its own code.
    let e = appraise(
        &evidence(&a, HashAlg::Sha256),
        &Requirements {
            qualifying_data: b"other",
            ..req
        },
    )
    .expect_err("nonce");
    assert_eq!(e.code, "QuoteNonceMismatch");
    let mut no_cert = evidence(&a, HashAlg::Sha256);
    no_cert.aik_cert = None;
    assert_eq!(
        appraise(&no_cert, &req).expect_err("cert required").code,
        "AikCertificateRequired"
    );
    let ok = appraise(
        &no_cert,
        &Requirements {
            require_valid_aik_cert: false,
            ..req
        },
    )
    .expect("allowed without cert");
    assert_eq!(ok.claims.value("aikValidated").and_then(|v| v.as_bool()), Some(false));
    let mut other_log = evidence(&a, HashAlg::Sha256);
    other_log.logs = vec![
        std::fs::read(attestd_testkit::vectors_dir().join("tpm/go-tpm-tools/eventlogs/rhel8-uefi.bin")).expect("log"),
    ];
    assert_eq!(
        appraise(&other_log, &req).expect_err("other machine's log").code,
        "EventLogPcrMismatch"
    );
    let mut truncated = evidence(&a, HashAlg::Sha256);
    let cut = truncated.logs[0].len() / 2;
    truncated.logs[0].truncate(cut);
    let e = appraise(&truncated, &req).expect_err("truncated log");
    assert!(matches!(e.code, "EventLogTruncated" | "EventLogMalformed"), "{e}");
    let untrusted = AikRoots::from_der(&[ca("gcp_ek_ak_ca_root.crt")]).expect("roots");
    let e = appraise(
        &evidence(&a, HashAlg::Sha256),
        &Requirements {
            roots: &untrusted,
            ..req
        },
    )
    .expect_err("untrusted");
    assert_eq!(e.code, "AikCertificateUntrusted");
    let mut changed_pcr = evidence(&a, HashAlg::Sha256);
    changed_pcr.pcrs[0].1[3].1[0] ^= 1;
    assert_eq!(appraise(&changed_pcr, &req).expect_err("pcr").code, "PcrDigestMismatch");
}
