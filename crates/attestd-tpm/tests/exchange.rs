//! MAA's TPM protocol driven through the verifier's `Exchange`: init → challenge → request →
//! appraisal (and the report), plus the protocol errors: unknown or malformed messages, a
//! request without a challenge, a foreign-provider, tampered or expired context, a challenge
//! that is not the sealed one, a quote over another nonce.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use attestd_evidence::{AttestationType, ClaimSet, Exchange, ExchangeContext, Outcome, Step, Verifier};
use attestd_tpm::aik::AikRoots;
use attestd_tpm::eventlog::HashAlg;
use attestd_tpm::verifier::{CUSTOM_CLAIM_PREFIX, TpmVerifier};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

const SECRET: [u8; 32] = [3u8; 32];

/// Polls a future that never waits (the TPM exchange does no I/O).
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the exchange waited"),
    }
}

fn rsa() -> RsaKeyPair {
    RsaKeyPair::generate(KeySize::Rsa2048).expect("key")
}

fn jwk(k: &RsaKeyPair) -> Value {
    let p = k.public_key();
    json!({"kty": "RSA", "n": B64.encode(p.modulus().big_endian_without_leading_zero()),
           "e": B64.encode(p.exponent().big_endian_without_leading_zero())})
}

fn sign(k: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(alg, &SystemRandom::new(), msg, &mut sig).expect("sign");
    sig
}

/// TPMS_ATTEST over SHA-256 PCRs 0..=23 and its TPMT_SIGNATURE (RSASSA-SHA256) by `ak`.
fn quote(ak: &RsaKeyPair, extra: &[u8], values: &[[u8; 32]; 24]) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::new();
    q.extend(0xff54_4347u32.to_be_bytes());
    q.extend(0x8018u16.to_be_bytes());
    q.extend(2u16.to_be_bytes());
    q.extend([0, 0xb]);
    q.extend((extra.len() as u16).to_be_bytes());
    q.extend(extra);
    q.extend([0u8; 17]);
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

    /// `{"request": attReqV2}` answering `challenge` (the key bound by tpm_quote), quoting `nonce_challenge`.
    fn request(&self, challenge: &str, nonce_challenge: &str, service_context: &str) -> Vec<u8> {
        let key_jwk = jwk(&self.request_key).to_string();
        let nc = B64.decode(nonce_challenge).expect("challenge");
        let extra = HashAlg::Sha256.hash(&[key_jwk.as_bytes(), &[0], &nc]);
        let (q, s) = quote(&self.ak, &extra, &self.pcrs);
        let pcr_values: Vec<_> = self
            .pcrs
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"index": i, "digest": B64.encode(v)}))
            .collect();
        let current = json!({"logs": [], "aik_pub": jwk(&self.ak), "pcrs": [{"algorithm": 11, "values": pcr_values}],
                             "quote": B64.encode(&q), "signature": B64.encode(&s)});
        let payload = format!(
            r#"{{"att_type":"basic","att_data":{{"rp_id":"https://rp.example","rp_data":"{}","challenge":"{challenge}","tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{key_jwk},"info":{{"tpm_quote":{{"hash_alg":"sha-256"}}}}}},"custom_claims":[{{"name":"site","value":"lab","value_type":"String"}}],"service_context":"{service_context}"}}}}"#,
            B64.encode(b"rp")
        );
        let header = B64.encode(br#"{"alg":"PS256","typ":"attReqV2"}"#);
        let input = format!("{header}.{}", B64.encode(payload.as_bytes()));
        let sig = sign(&self.request_key, &signature::RSA_PSS_SHA256, input.as_bytes());
        serde_json::to_vec(&json!({ "request": format!("{input}.{}", B64.encode(sig)) })).expect("json")
    }
}

fn config(require_cert: bool) -> ClaimSet {
    let mut c = ClaimSet::new();
    c.add("require_valid_aik_cert", require_cert);
    c
}

fn ctx<'a>(provider: &'a str, now: SystemTime, configuration: &'a ClaimSet) -> ExchangeContext<'a> {
    ExchangeContext {
        attestation_type: AttestationType::Tpm,
        provider,
        now,
        configuration,
        secret: &SECRET,
        alert_webhook: None,
    }
}

fn verifier() -> TpmVerifier {
    TpmVerifier::new(Arc::new(AikRoots::from_der(&[]).expect("roots")))
}

fn challenge(v: &TpmVerifier, provider: &str, now: SystemTime, c: &ClaimSet) -> (String, String) {
    match ready(v.step(br#"{"type":"aikcert"}"#, ctx(provider, now, c))).expect("init") {
        Step::Reply(r) => (
            r["challenge"].as_str().expect("challenge").to_owned(),
            r["service_context"].as_str().expect("context").to_owned(),
        ),
        Step::Appraised { .. } => panic!("init must answer a challenge"),
    }
}

fn code(r: Result<Step, attestd_evidence::EvidenceError>) -> String {
    match r {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e.code.into_owned(),
    }
}

#[test]
fn the_rounds_end_in_a_report_with_tpm_claims() {
    let v = verifier();
    assert!(v.exchange().is_some(), "the TPM verifier speaks a protocol");
    let c = config(false);
    let now = SystemTime::now();
    let client = Client::new();
    // MAA's SDK envelope `{"payload": …}` is accepted too.
    let (ch, sc) = match ready(v.step(br#"{"payload":{"type":"aikcert"}}"#, ctx("p1", now, &c))).expect("init") {
        Step::Reply(r) => (
            r["challenge"].as_str().expect("c").to_owned(),
            r["service_context"].as_str().expect("s").to_owned(),
        ),
        Step::Appraised { .. } => panic!("init"),
    };
    let step = ready(v.step(&client.request(&ch, &ch, &sc), ctx("p1", now, &c))).expect("request");
    let Step::Appraised { appraisal, finish } = step else {
        panic!("the request must be appraised")
    };
    let inc = &appraisal.incoming;
    assert_eq!(inc.value("aikValidated").and_then(|v| v.as_bool()), Some(false));
    assert_eq!(inc.value("tpmVersion").and_then(|v| v.as_i64()), Some(2));
    assert!(inc.value("aikPubHash").is_some());
    assert!(inc.value("pcrs").is_some() && inc.value("events").is_some());
    assert!(inc.value("x-ms-tpm-request-key").is_some());
    assert_eq!(
        inc.value(&format!("{CUSTOM_CLAIM_PREFIX}site"))
            .and_then(|v| v.as_str()),
        Some("lab")
    );
    let tc = &appraisal.token_claims;
    assert_eq!(tc["rp_data"], json!(B64.encode(b"rp")));
    assert_eq!(tc["cnf"]["jwk"], jwk(&client.request_key));
    assert_eq!(tc["x-ms-tpm-request-key"]["info"]["tpm_quote"]["hash_alg"], "sha-256");
    assert_eq!(
        finish.finish(Outcome::Token("a.b.c")).expect("report"),
        json!({"report": "a.b.c"})
    );
}

#[test]
fn protocol_errors_have_their_codes() {
    let v = verifier();
    let c = config(false);
    let now = SystemTime::now();
    let client = Client::new();
    let (ch, sc) = challenge(&v, "p1", now, &c);
    let good = client.request(&ch, &ch, &sc);
    // Unknown / malformed messages.
    assert_eq!(
        code(ready(v.step(br#"{"hello":1}"#, ctx("p1", now, &c)))),
        "UnknownMessage"
    );
    assert_eq!(
        code(ready(v.step(br#"{"type":"pluton"}"#, ctx("p1", now, &c)))),
        "UnsupportedInitType"
    );
    assert_eq!(code(ready(v.step(b"not json", ctx("p1", now, &c)))), "InvalidMessage");
    assert_eq!(code(ready(v.step(br#"[1]"#, ctx("p1", now, &c)))), "InvalidMessage");
    // Out of order: a request before any challenge carries no valid context.
    let before = client.request(&ch, &ch, "AAAA");
    assert_eq!(
        code(ready(v.step(&before, ctx("p1", now, &c)))),
        "ServiceContextInvalid"
    );
    // Another provider's context, an expired one, another node's key.
    assert_eq!(code(ready(v.step(&good, ctx("p2", now, &c)))), "ServiceContextInvalid");
    let late = now + Duration::from_secs(301);
    assert_eq!(code(ready(v.step(&good, ctx("p1", late, &c)))), "ChallengeExpired");
    let other_key = [4u8; 32];
    let foreign = ExchangeContext {
        secret: &other_key,
        ..ctx("p1", now, &c)
    };
    assert_eq!(code(ready(v.step(&good, foreign))), "ServiceContextInvalid");
    // A challenge that is not the sealed one (with a quote over it).
    let (ch2, _) = challenge(&v, "p1", now, &c);
    assert_eq!(
        code(ready(v.step(&client.request(&ch2, &ch2, &sc), ctx("p1", now, &c)))),
        "ChallengeMismatch"
    );
    // The quote over another nonce than the challenge.
    assert_eq!(
        code(ready(v.step(&client.request(&ch, &ch2, &sc), ctx("p1", now, &c)))),
        "QuoteNonceMismatch"
    );
    // The default policy configuration requires an AIK certificate.
    let strict = ClaimSet::new();
    assert_eq!(
        code(ready(v.step(&good, ctx("p1", now, &strict)))),
        "AikCertificateRequired"
    );
    assert!(
        ready(v.step(&good, ctx("p1", now, &c))).is_ok(),
        "the good request still passes"
    );
    // The single-request route is refused with its own code.
    let evidence = attestd_evidence::Evidence {
        attestation_type: AttestationType::Tpm,
        bytes: good,
        runtime_data: None,
        init_time_data: None,
    };
    let vc = attestd_evidence::VerifyContext { now, configuration: &c };
    let e = ready(v.verify(&evidence, &vc)).expect_err("single request");
    assert_eq!(e.code, "ProtocolRequired");
}
