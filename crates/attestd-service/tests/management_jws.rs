//! Management JWS checks: each way a signed request can be wrong has its own code.

use std::time::{Duration, SystemTime};

use attestd_service::management::jws::ManagementJws;
use attestd_token::{Algorithm, SigningKey, b64};
use serde_json::{Value, json};

struct Signer {
    key: SigningKey,
    der: Vec<u8>,
}

fn signer(alg: &'static rcgen::SignatureAlgorithm, key_alg: Algorithm, days_from_now: (i64, i64)) -> Signer {
    let kp = rcgen::KeyPair::generate_for(alg).expect("key");
    let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "policy signer");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(days_from_now.0);
    params.not_after = now + time::Duration::days(days_from_now.1);
    let cert = params.self_signed(&kp).expect("cert");
    Signer {
        key: SigningKey::from_pkcs8(key_alg, &kp.serialize_der()).expect("pkcs8"),
        der: cert.der().to_vec(),
    }
}

fn sign(s: &Signer, header: Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        b64::encode_url(payload.to_string().as_bytes())
    );
    let sig = s.key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64::encode_url(&sig))
}

fn code(text: &str) -> String {
    match ManagementJws::parse(text, SystemTime::now()) {
        Ok(_) => "accepted".into(),
        Err(e) => e.code().to_owned(),
    }
}

fn payload() -> Value {
    json!({"AttestationPolicy": b64::encode_url(b"version=1.0; authorizationrules{=> permit();};")})
}

#[test]
fn each_defect_has_its_own_code() {
    let good = signer(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256, (-1, 30));
    let x5c = json!([b64::encode_std(&good.der)]);
    let ok = sign(&good, json!({"alg": "ES256", "x5c": x5c}), &payload());
    assert_eq!(code(&ok), "accepted");
    // The SDK's form: the certificate inside a jwk.
    assert_eq!(
        code(&sign(&good, json!({"alg": "ES256", "jwk": {"x5c": x5c}}), &payload())),
        "accepted"
    );

    // Tampered payload and tampered signature.
    let mut parts: Vec<String> = ok.split('.').map(str::to_owned).collect();
    let original = parts[1].clone();
    parts[1] = b64::encode_url(json!({"AttestationPolicy": "dmVyc2lvbj0xLjA7"}).to_string().as_bytes());
    assert_eq!(code(&parts.join(".")), "JwsSignatureInvalid");
    parts[1] = original;
    let mut sig = b64::decode_url_strict(&parts[2]).expect("sig");
    sig[10] ^= 1;
    parts[2] = b64::encode_url(&sig);
    assert_eq!(code(&parts.join(".")), "JwsSignatureInvalid");

    // Wrong algorithms: one we never accept, and one that does not match the key.
    assert_eq!(
        code(&sign(&good, json!({"alg": "HS256", "x5c": x5c}), &payload())),
        "UnsupportedAlgorithm"
    );
    let confused = code(&sign(&good, json!({"alg": "RS256", "x5c": x5c}), &payload()));
    assert!(
        confused == "JwsSignatureInvalid" || confused == "UnsupportedAlgorithm",
        "{confused}"
    );

    // Signer certificates outside their validity.
    let expired = signer(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256, (-30, -1));
    let h = json!({"alg": "ES256", "x5c": [b64::encode_std(&expired.der)]});
    assert_eq!(code(&sign(&expired, h, &payload())), "SignerCertificateExpired");
    let future = signer(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256, (1, 30));
    let h = json!({"alg": "ES256", "x5c": [b64::encode_std(&future.der)]});
    assert_eq!(code(&sign(&future, h, &payload())), "SignerCertificateNotYetValid");
    // … judged at the given time.
    let h = json!({"alg": "ES256", "x5c": [b64::encode_std(&future.der)]});
    let later = sign(&future, h, &payload());
    assert!(ManagementJws::parse(&later, SystemTime::now() + Duration::from_secs(2 * 86_400)).is_ok());

    // Not a JWS at all.
    assert_eq!(code("not a jws"), "InvalidJws");
    assert_eq!(code("a.b"), "InvalidJws");
}

#[test]
fn the_python_sdk_rsa256_spelling_is_rs256() {
    let rsa = signer(&rcgen::PKCS_RSA_SHA256, Algorithm::RS256, (-1, 30));
    let x5c = json!([b64::encode_std(&rsa.der)]);
    let jws = sign(&rsa, json!({"alg": "RSA256", "jwk": {"x5c": x5c}}), &payload());
    let parsed = ManagementJws::parse(&jws, SystemTime::now()).expect("accepted");
    assert!(parsed.signer.is_some());
}
