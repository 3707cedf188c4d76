//! Issuance and verification of tokens, and every way a tampered token must fail.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_token::{
    Algorithm, HeaderForm, Jwk, JwkSet, KeySet, SigningKey, TokenError, TokenSigner, Validation, b64, maa_kid,
    self_signed_certificate, verify,
};
use serde_json::json;

const ISSUER: &str = "https://attestd.example";

struct Fixture {
    signer: TokenSigner,
    keys: KeySet,
}

fn fixture(alg: Algorithm) -> Fixture {
    let (key, pkcs8) = SigningKey::generate(alg).expect("key");
    let cert = self_signed_certificate(alg, &pkcs8.0, ISSUER, time::OffsetDateTime::now_utc()).expect("cert");
    let jwks = JwkSet {
        keys: vec![Jwk::for_certificates(key.kid(), alg.kty(), &[cert])],
    };
    let signer = TokenSigner::new(Arc::new(key), &format!("{ISSUER}/certs")).expect("signer");
    Fixture {
        signer,
        keys: KeySet::from_jwks(&jwks).expect("keys"),
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn claims() -> serde_json::Value {
    let t = now();
    json!({"iss": ISSUER, "iat": t, "nbf": t, "exp": t + 600, "x-ms-ver": "1.0"})
}

fn validation() -> Validation {
    Validation {
        issuer: Some(ISSUER.to_owned()),
        ..Validation::default()
    }
}

#[test]
fn every_algorithm_signs_and_verifies_with_maa_header() {
    for alg in Algorithm::ALL {
        let f = fixture(alg);
        let token = f.signer.sign(&claims()).expect("sign");
        let v = verify(&token, &f.keys, &validation()).expect("verify");
        assert_eq!(v.algorithm, alg);
        assert_eq!(v.header.alg, alg.as_str());
        assert_eq!(v.header.typ.as_deref(), Some("JWT"));
        assert_eq!(v.header.jku.as_deref(), Some("https://attestd.example/certs"));
        assert_eq!(v.header.kid.as_deref(), Some(f.signer.key().kid()));
        assert_eq!(v.claims["x-ms-ver"], "1.0");
        // The header members appear in MAA's order.
        let header_json = b64::decode_url_strict(token.split('.').next().expect("header")).expect("b64");
        let text = String::from_utf8(header_json).expect("utf8");
        assert!(text.starts_with(&format!("{{\"alg\":\"{alg}\",\"jku\":")), "{text}");
        assert!(text.ends_with("\"typ\":\"JWT\"}"), "{text}");
    }
}

fn tamper_payload(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64::decode_url_strict(&parts[1]).expect("b64")).expect("json");
    claims["x-ms-ver"] = json!("2.0");
    parts[1] = b64::encode_url(&serde_json::to_vec(&claims).expect("json"));
    parts.join(".")
}

#[test]
fn tampered_payload_fails() {
    for alg in Algorithm::ALL {
        let f = fixture(alg);
        let token = f.signer.sign(&claims()).expect("sign");
        let err = verify(&tamper_payload(&token), &f.keys, &validation()).expect_err("tampered");
        assert_eq!(err, TokenError::InvalidSignature, "{alg}");
    }
}

#[test]
fn tampered_signature_fails() {
    let f = fixture(Algorithm::RS256);
    let token = f.signer.sign(&claims()).expect("sign");
    let (rest, sig) = token.rsplit_once('.').expect("parts");
    let mut sig = b64::decode_url_strict(sig).expect("b64");
    sig[10] ^= 0x01;
    let bad = format!("{rest}.{}", b64::encode_url(&sig));
    assert_eq!(
        verify(&bad, &f.keys, &validation()).expect_err("bad sig"),
        TokenError::InvalidSignature
    );
    // A truncated signature fails too.
    let short = format!("{rest}.{}", b64::encode_url(&sig[..100]));
    assert_eq!(
        verify(&short, &f.keys, &validation()).expect_err("short"),
        TokenError::InvalidSignature
    );
}

#[test]
fn alg_swapped_to_none_fails() {
    let f = fixture(Algorithm::RS256);
    let unsecured = f.signer.unsecured(&claims()).expect("unsecured");
    assert!(unsecured.ends_with('.'));
    assert_eq!(
        verify(&unsecured, &f.keys, &validation()).expect_err("none"),
        TokenError::Unsecured
    );
    // Re-labelling a signed token's header as none (keeping the signature) fails as well.
    let token = f.signer.sign(&claims()).expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let header = json!({"alg": "NONE", "kid": f.signer.key().kid(), "typ": "JWT"});
    let relabelled = format!(
        "{}.{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        verify(&relabelled, &f.keys, &validation()).expect_err("relabel"),
        TokenError::Unsecured
    );
}

#[test]
fn alg_confusion_is_rejected() {
    // An ES256 header over a key that is RSA: the key cannot verify ES256.
    let f = fixture(Algorithm::RS256);
    let token = f.signer.sign(&claims()).expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let header = json!({"alg": "ES256", "kid": f.signer.key().kid()});
    let swapped = format!(
        "{}.{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        verify(&swapped, &f.keys, &validation()),
        Err(TokenError::KeyAlgorithmMismatch { .. })
    ));
    // HS256 is not an algorithm we accept at all.
    let header = json!({"alg": "HS256", "kid": f.signer.key().kid()});
    let hs = format!(
        "{}.{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        verify(&hs, &f.keys, &validation()),
        Err(TokenError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn wrong_kid_fails() {
    let f = fixture(Algorithm::ES256);
    let other = fixture(Algorithm::ES256);
    let token = other.signer.sign(&claims()).expect("sign");
    assert!(matches!(
        verify(&token, &f.keys, &validation()),
        Err(TokenError::UnknownKey(_))
    ));
}

#[test]
fn expired_and_not_yet_valid_fail_outside_leeway() {
    let f = fixture(Algorithm::ES256);
    let t = now();
    let expired = f
        .signer
        .sign(&json!({"iss": ISSUER, "iat": t - 7200, "nbf": t - 7200, "exp": t - 3600}))
        .expect("sign");
    assert!(matches!(
        verify(&expired, &f.keys, &validation()),
        Err(TokenError::Expired { .. })
    ));
    let future = f
        .signer
        .sign(&json!({"iss": ISSUER, "iat": t, "nbf": t + 3600, "exp": t + 7200}))
        .expect("sign");
    assert!(matches!(
        verify(&future, &f.keys, &validation()),
        Err(TokenError::NotYetValid { .. })
    ));
    // Within the 30 s leeway both are fine.
    let edge = f
        .signer
        .sign(&json!({"iss": ISSUER, "nbf": t + 10, "exp": t - 10}))
        .expect("sign");
    verify(&edge, &f.keys, &validation()).expect("within leeway");
    // A verification time in the past makes the expired token valid again.
    let past = Validation {
        now: Some(SystemTime::now() - Duration::from_secs(5000)),
        ..validation()
    };
    verify(&expired, &f.keys, &past).expect("valid at its time");
}

#[test]
fn wrong_issuer_and_missing_exp_fail() {
    let f = fixture(Algorithm::PS256);
    let t = now();
    let other = f
        .signer
        .sign(&json!({"iss": "https://evil.example", "exp": t + 60}))
        .expect("sign");
    assert!(matches!(
        verify(&other, &f.keys, &validation()),
        Err(TokenError::IssuerMismatch { .. })
    ));
    let no_exp = f.signer.sign(&json!({"iss": ISSUER})).expect("sign");
    assert_eq!(
        verify(&no_exp, &f.keys, &validation()).expect_err("no exp"),
        TokenError::MissingClaim("exp")
    );
    let bad_exp = f.signer.sign(&json!({"iss": ISSUER, "exp": "soon"})).expect("sign");
    assert_eq!(
        verify(&bad_exp, &f.keys, &validation()).expect_err("bad exp"),
        TokenError::MissingClaim("exp")
    );
}

#[test]
fn kid_rule_reproduces_real_maa_kid() {
    // The JWKS that MAA's instance pylarryoattestationiso served in the Python SDK's recordings.
    let path = attestd_testkit::vectors_dir().join("azure-sdk/py-sdk-1.0.0/certs/06e637e909453561.json");
    let jwks: JwkSet = serde_json::from_slice(&std::fs::read(&path).expect("read JWKS")).expect("JWKS");
    let jwk = jwks
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some("rPtBGRWTlPmzs5u35L0QRD9WdymeKPRxteTeTlwN0Ec="))
        .expect("the recorded kid is present");
    let cert = jwk.leaf_certificate_der().expect("x5c").expect("leaf");
    let key = attestd_token::PublicKey::from_certificate_der(&cert).expect("key");
    assert_eq!(maa_kid(key.spki_der()), "rPtBGRWTlPmzs5u35L0QRD9WdymeKPRxteTeTlwN0Ec=");
}

#[test]
fn recorded_maa_tokens_verify_against_recorded_certs() {
    // A real MAA attestation token and the /certs of the same instance, from the SDK recordings.
    let dir = attestd_testkit::vectors_dir().join("azure-sdk/py-sdk-1.0.0");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json")).expect("json");
    let mut verified = 0;
    for line in std::fs::read_to_string(dir.join("exchanges.jsonl"))
        .expect("exchanges")
        .lines()
    {
        let ex: serde_json::Value = serde_json::from_str(line).expect("json line");
        let uri = ex["uri"].as_str().unwrap_or_default();
        if !uri.contains("/attest/SgxEnclave") && !uri.contains("/attest/OpenEnclave") {
            continue;
        }
        // Response bodies are recorded as JSON text.
        let body: serde_json::Value = match &ex["response_body"] {
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
            other => other.clone(),
        };
        let Some(token) = body["token"].as_str() else { continue };
        let jws = attestd_token::Jws::parse(token).expect("jws");
        if jws.header.alg == "none" {
            // Draft-policy results are unsecured; a relying party must refuse them.
            assert_eq!(
                verify(token, &KeySet::default(), &Validation::default()).expect_err("none"),
                TokenError::Unsecured
            );
            continue;
        }
        let kid = jws.header.kid.clone().expect("kid");
        // Find a recorded /certs document that has this kid.
        let certs_dir = dir.join("certs");
        let mut keys = None;
        for entry in std::fs::read_dir(&certs_dir).expect("certs dir") {
            let jwks: JwkSet =
                serde_json::from_slice(&std::fs::read(entry.expect("entry").path()).expect("read")).expect("jwks");
            if jwks.keys.iter().any(|k| k.kid.as_deref() == Some(kid.as_str())) {
                let only: Vec<Jwk> = jwks
                    .keys
                    .into_iter()
                    .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .collect();
                keys = Some(KeySet::from_jwks(&JwkSet { keys: only }).expect("keyset"));
                break;
            }
        }
        let keys = keys.expect("a recorded /certs has the token's kid");
        let iat = jws.claims().expect("claims")["iat"].as_i64().expect("iat");
        let at = Validation {
            now: Some(UNIX_EPOCH + Duration::from_secs(iat as u64 + 60)),
            ..Validation::default()
        };
        let v = verify(token, &keys, &at).expect("real MAA token verifies");
        assert_eq!(v.algorithm, Algorithm::RS256);
        // Tampering with a real token is caught.
        assert_eq!(
            verify(&tamper_payload(token), &keys, &at).expect_err("tampered"),
            TokenError::InvalidSignature
        );
        verified += 1;
    }
    // Every recorded attestation token whose signature the vectors' own check confirmed.
    let confirmed = expected["tokens"]
        .as_array()
        .expect("tokens table")
        .iter()
        .filter(|t| t["request"].as_str().is_some_and(|r| r.contains("/attest/")))
        .filter(|t| t["alg"] == "RS256" && t["signature_verifies_against_recorded_certs"] == true)
        .count();
    assert!(verified >= 10, "only {verified} recorded attestation tokens found");
    assert_eq!(verified, confirmed);
}

/// The header of `token` as parsed JSON and as its exact text.
fn header_of(token: &str) -> (serde_json::Value, String) {
    let bytes = b64::decode_url_strict(token.split('.').next().expect("header")).expect("b64");
    let text = String::from_utf8(bytes).expect("utf8");
    (serde_json::from_str(&text).expect("json"), text)
}

#[test]
fn certificate_header_forms_carry_x5c_or_x5t_and_still_verify_by_kid() {
    for alg in Algorithm::ALL {
        let (key, pkcs8) = SigningKey::generate(alg).expect("key");
        let cert = self_signed_certificate(alg, &pkcs8.0, ISSUER, time::OffsetDateTime::now_utc()).expect("cert");
        let jwks = JwkSet {
            keys: vec![Jwk::for_certificates(key.kid(), alg.kty(), std::slice::from_ref(&cert))],
        };
        let keys = KeySet::from_jwks(&jwks).expect("keys");
        let signer =
            TokenSigner::with_certificate_chain(Arc::new(key), &format!("{ISSUER}/certs"), std::slice::from_ref(&cert))
                .expect("signer");
        assert!(signer.has_certificates());

        // Plain: exactly MAA's instance header, as `sign` gives.
        let plain = signer.sign_with(&claims(), HeaderForm::Plain).expect("plain");
        let (h, text) = header_of(&plain);
        assert_eq!(h.as_object().expect("object").len(), 4, "{text}");
        assert_eq!(header_of(&signer.sign(&claims()).expect("sign")).1, text);

        // X5c: the chain in standard base64, after MAA's members; verifies by kid.
        let with = signer.sign_with(&claims(), HeaderForm::X5c).expect("x5c");
        let v = verify(&with, &keys, &validation()).expect("x5c token verifies");
        assert_eq!(v.header.x5c, Some(vec![b64::encode_std(&cert)]), "{alg}");
        assert_eq!(v.header.x5t, None);
        let (_, text) = header_of(&with);
        assert!(text.starts_with(&format!("{{\"alg\":\"{alg}\",\"jku\":")), "{text}");
        assert!(text.contains("\"typ\":\"JWT\",\"x5c\":["), "{text}");

        // X5t: no chain, the leaf's SHA-1 thumbprint (base64url); verifies by kid too.
        let thumb = signer.sign_with(&claims(), HeaderForm::X5t).expect("x5t");
        let v = verify(&thumb, &keys, &validation()).expect("x5t token verifies");
        assert_eq!(v.header.x5c, None, "{alg}");
        let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        assert_eq!(v.header.x5t.as_deref(), Some(b64::encode_url(sha1.as_ref()).as_str()));
        assert!(!header_of(&thumb).1.contains("x5c"));

        // Unsecured results take the same forms and stay refused.
        let draft = signer
            .unsecured_with(&claims(), HeaderForm::X5c)
            .expect("unsecured x5c");
        assert_eq!(header_of(&draft).0["alg"], "none");
        assert!(header_of(&draft).0["x5c"].is_array());
        assert_eq!(
            verify(&draft, &keys, &validation()).expect_err("none"),
            TokenError::Unsecured
        );
    }
}

#[test]
fn certificate_forms_need_a_chain_for_the_signing_key() {
    let f = fixture(Algorithm::ES256);
    assert!(!f.signer.has_certificates());
    for form in [HeaderForm::X5c, HeaderForm::X5t] {
        let err = f.signer.sign_with(&claims(), form).expect_err("no chain");
        assert_eq!(err.code(), "KeyError", "{form:?}");
        assert!(f.signer.unsecured_with(&claims(), form).is_err());
    }
    // A leaf certificate of another key is refused at construction.
    let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
    let (_, other) = SigningKey::generate(Algorithm::ES256).expect("other");
    let foreign =
        self_signed_certificate(Algorithm::ES256, &other.0, ISSUER, time::OffsetDateTime::now_utc()).expect("cert");
    let err = TokenSigner::with_certificate_chain(Arc::new(key), ISSUER, &[foreign]).expect_err("foreign leaf");
    assert_eq!(err.code(), "InvalidKey");
    // Garbage instead of a certificate too.
    let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
    let err =
        TokenSigner::with_certificate_chain(Arc::new(key), ISSUER, &[vec![0x30, 0x03, 1, 2, 3]]).expect_err("not DER");
    assert_eq!(err.code(), "InvalidKey");
}
