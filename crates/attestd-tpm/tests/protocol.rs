//! MAA's TPM protocol messages with a software "TPM": an RSA attestation key signs TPMS_ATTEST
//! quotes built here, a request key signs the attReqV2 JWS. Checks the request's signature, the
//! challenge round trip through the sealed service context, the qualifying data and appraisal.

use std::time::SystemTime;

use attestd_tpm::aik::AikRoots;
use attestd_tpm::appraise::{Requirements, appraise};
use attestd_tpm::eventlog::HashAlg;
use attestd_tpm::protocol::ContextSealer;
use attestd_tpm::request::{parse, qualifying_data};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;

fn rsa() -> RsaKeyPair {
    RsaKeyPair::generate(KeySize::Rsa2048).expect("key")
}

fn jwk(k: &RsaKeyPair) -> serde_json::Value {
    let p = k.public_key();
    json!({"kty": "RSA", "n": B64.encode(p.modulus().big_endian_without_leading_zero()),
           "e": B64.encode(p.exponent().big_endian_without_leading_zero())})
}

fn sign(k: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(alg, &SystemRandom::new(), msg, &mut sig).expect("sign");
    sig
}

/// A TPMS_ATTEST quote over SHA-256 PCRs 0..=23 with `values`, and its TPMT_SIGNATURE by `ak`.
fn quote(ak: &RsaKeyPair, extra: &[u8], values: &[[u8; 32]; 24]) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::new();
    q.extend(0xff54_4347u32.to_be_bytes());
    q.extend(0x8018u16.to_be_bytes());
    q.extend(2u16.to_be_bytes());
    q.extend([0, 0xb]);
    q.extend((extra.len() as u16).to_be_bytes());
    q.extend(extra);
    q.extend([0u8; 17]); // clockInfo
    q.extend(0x2016_0511_0016_2800u64.to_be_bytes());
    q.extend(1u32.to_be_bytes());
    q.extend(0x000bu16.to_be_bytes());
    q.extend([3, 0xff, 0xff, 0xff]);
    let digest = HashAlg::Sha256.hash(&values.iter().map(|v| &v[..]).collect::<Vec<_>>());
    q.extend((digest.len() as u16).to_be_bytes());
    q.extend(digest);
    let sig = sign(ak, &signature::RSA_PKCS1_SHA256, &q);
    let mut t = Vec::new();
    t.extend(0x0014u16.to_be_bytes());
    t.extend(0x000bu16.to_be_bytes());
    t.extend((sig.len() as u16).to_be_bytes());
    t.extend(sig);
    (q, t)
}

struct Client {
    ak: RsaKeyPair,
    request_key: RsaKeyPair,
    pcrs: [[u8; 32]; 24],
}

impl Client {
    fn new() -> Client {
        let mut pcrs = [[0u8; 32]; 24];
        for (i, p) in pcrs.iter_mut().enumerate() {
            p[0] = i as u8;
        }
        Client {
            ak: rsa(),
            request_key: rsa(),
            pcrs,
        }
    }

    /// An attReqV2 request answering `challenge`; `bind_key` binds the request key by tpm_quote.
    fn request(&self, challenge: &str, service_context: &str, bind_key: bool) -> String {
        let key_jwk = jwk(&self.request_key).to_string();
        let challenge_bytes = B64.decode(challenge).expect("challenge");
        let extra = if bind_key {
            HashAlg::Sha256.hash(&[key_jwk.as_bytes(), &[0], &challenge_bytes])
        } else {
            challenge_bytes.clone()
        };
        let (q, s) = quote(&self.ak, &extra, &self.pcrs);
        let info = if bind_key {
            r#","info":{"tpm_quote":{"hash_alg":"sha-256"}}"#
        } else {
            ""
        };
        let pcr_values: Vec<_> = self
            .pcrs
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"index": i, "digest": B64.encode(v)}))
            .collect();
        let current = json!({"logs": [], "aik_pub": jwk(&self.ak), "pcrs": [{"algorithm": 11, "values": pcr_values}],
                             "quote": B64.encode(&q), "signature": B64.encode(&s)});
        // Built by hand so that the request key's JSON text is exactly `key_jwk`.
        let payload = format!(
            r#"{{"att_type":"basic","att_data":{{"rp_id":"https://rp.example","rp_data":"{}","challenge":"{challenge}","tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{key_jwk}{info}}},"custom_claims":[{{"name":"site","value":"lab","value_type":"String"}}],"service_context":"{service_context}"}}}}"#,
            B64.encode(b"rp")
        );
        let header = B64.encode(br#"{"alg":"PS256","typ":"attReqV2"}"#);
        let input = format!("{header}.{}", B64.encode(payload.as_bytes()));
        let sig = sign(&self.request_key, &signature::RSA_PSS_SHA256, input.as_bytes());
        format!("{input}.{}", B64.encode(sig))
    }
}

#[test]
fn a_v2_request_round_trips_and_appraises() {
    let sealer = ContextSealer::new(&[9u8; 32]).expect("sealer");
    let now = SystemTime::now();
    let roots = AikRoots::from_der(&[]).expect("no roots");
    let client = Client::new();
    for bind in [false, true] {
        let c = sealer.challenge("tenant", now).expect("challenge");
        let req = parse(&client.request(&c.challenge, &c.service_context, bind)).expect("request");
        assert_eq!(req.version, 2);
        assert_eq!(req.rp_data.as_deref(), Some(&b"rp"[..]));
        assert_eq!(
            req.custom_claims,
            vec![("site".to_owned(), "lab".to_owned(), "String".to_owned())]
        );
        let ctx = sealer.open("tenant", &req.service_context, now).expect("context");
        assert_eq!(ctx.challenge, req.challenge, "the challenge answered is the one sealed");
        let nonce = qualifying_data(&req).expect("qualifying data");
        let ok = appraise(
            &req.evidence,
            &Requirements {
                qualifying_data: &nonce,
                required_pcr_mask: 0xFF_FFFF,
                require_valid_aik_cert: false,
                roots: &roots,
                now,
            },
        )
        .expect("appraises");
        assert_eq!(ok.claims.value("aikValidated").and_then(|v| v.as_bool()), Some(false));
        // A request answering with the plain challenge while claiming a bound key fails the nonce.
        if bind {
            let unbound = parse(&client.request(&c.challenge, &c.service_context, false)).expect("request");
            let wrong = attestd_tpm::request::AttestRequest {
                request_key: req.request_key.clone(),
                ..unbound
            };
            let nonce = qualifying_data(&wrong).expect("qd");
            let e = appraise(
                &wrong.evidence,
                &Requirements {
                    qualifying_data: &nonce,
                    required_pcr_mask: 0xFF_FFFF,
                    require_valid_aik_cert: false,
                    roots: &roots,
                    now,
                },
            )
            .expect_err("nonce");
            assert_eq!(e.code, "QuoteNonceMismatch");
        }
    }
}

#[test]
fn bad_requests_fail_with_their_codes() {
    let sealer = ContextSealer::new(&[9u8; 32]).expect("sealer");
    let c = sealer.challenge("tenant", SystemTime::now()).expect("challenge");
    let client = Client::new();
    let good = client.request(&c.challenge, &c.service_context, true);
    // Signature by another key than the one carried.
    let parts: Vec<&str> = good.split('.').collect();
    let other = rsa();
    let forged_sig = sign(
        &other,
        &signature::RSA_PSS_SHA256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
    );
    let forged = format!("{}.{}.{}", parts[0], parts[1], B64.encode(forged_sig));
    assert_eq!(parse(&forged).expect_err("forged").code, "RequestSignatureInvalid");
    // Tampered payload.
    let mut payload = B64.decode(parts[1]).expect("payload");
    let at = payload.len() / 2;
    payload[at] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(payload), parts[2]);
    assert!(parse(&tampered).is_err());
    // Wrong typ / alg / shape.
    let header = B64.encode(br#"{"alg":"PS256","typ":"JWT"}"#);
    assert_eq!(
        parse(&format!("{header}.{}.{}", parts[1], parts[2]))
            .expect_err("typ")
            .code,
        "InvalidRequest"
    );
    let header = B64.encode(br#"{"alg":"none","typ":"attReqV2"}"#);
    assert_eq!(
        parse(&format!("{header}.{}.{}", parts[1], parts[2]))
            .expect_err("alg")
            .code,
        "UnsupportedAlgorithm"
    );
    assert_eq!(parse("a.b").expect_err("shape").code, "InvalidRequest");
    // The context of another provider.
    let req = parse(&good).expect("good");
    assert_eq!(
        sealer
            .open("other", &req.service_context, SystemTime::now())
            .expect_err("ctx")
            .code,
        "ServiceContextInvalid"
    );
}
