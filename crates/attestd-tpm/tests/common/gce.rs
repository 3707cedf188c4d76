//! go-tpm-tools' `attest.Attestation` protobuf (the GCE vTPM vectors), read with just enough
//! protobuf: ak_pub (1), quotes (2: quote 1, raw_sig 2, pcrs 3 {hash 1, map 2 {key 1, value 2}}),
//! event_log (3), ak_cert (6), intermediate_certs (7). Shared by the tests and the benchmark.

use std::collections::BTreeMap;

use attestd_tpm::eventlog::HashAlg;

/// The fields of a protobuf message, in order: (field number, varint as 8 LE bytes or the bytes).
pub fn fields(mut b: &[u8]) -> Vec<(u64, Vec<u8>)> {
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
        let value = match key & 7 {
            0 => varint(&mut b).to_le_bytes().to_vec(),
            2 => {
                let n = varint(&mut b) as usize;
                let v = b[..n].to_vec();
                b = &b[n..];
                v
            }
            other => panic!("wire type {other}"),
        };
        out.push((key >> 3, value));
    }
    out
}

fn varint_value(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("varint"))
}

/// One quote of an attestation.
pub struct QuoteVector {
    pub quote: Vec<u8>,
    pub sig: Vec<u8>,
    pub bank: HashAlg,
    pub pcrs: BTreeMap<u32, Vec<u8>>,
}

/// An attestation.
pub struct Attestation {
    pub ak_pub: Vec<u8>,
    pub quotes: Vec<QuoteVector>,
    pub event_log: Vec<u8>,
    pub ak_cert: Vec<u8>,
    pub intermediates: Vec<Vec<u8>>,
}

/// Reads `tpm/go-tpm-tools/<file>` from the vectors.
pub fn load(file: &str) -> Attestation {
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
                                if pf == 1 {
                                    q.bank = HashAlg::from_id(varint_value(&pv) as u16).expect("bank");
                                } else if pf == 2 {
                                    let entry = fields(&pv);
                                    let index = entry
                                        .iter()
                                        .find(|(k, _)| *k == 1)
                                        .map_or(0, |(_, v)| varint_value(v) as u32);
                                    let value = entry
                                        .iter()
                                        .find(|(k, _)| *k == 2)
                                        .map(|(_, v)| v.clone())
                                        .expect("value");
                                    q.pcrs.insert(index, value);
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

/// A certificate from `tpm/go-tpm-tools/ca-certs/` as DER (the files mix PEM and DER).
pub fn ca(name: &str) -> Vec<u8> {
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
