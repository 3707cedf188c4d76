//! Helpers the TPM integration tests share: a token-mode tenant with an operator's bearer token,
//! policy writes through MAA's policy API, and an RSA public key for rcgen to certify a TPM AK.
#![allow(dead_code)]

use attestd_testkit::TestServer;
use attestd_token::{Algorithm, Jwk, JwkSet, SigningKey, b64};
use serde_json::json;

/// Creates tenant `name` (token trust model, alerts posted to `webhook` if given) through the
/// admin API with `admin`, and returns a contributor's bearer token for its management API.
pub async fn token_tenant(server: &TestServer, admin: &str, name: &str, webhook: Option<&str>) -> String {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec![])
        .expect("params")
        .self_signed(&kp)
        .expect("cert");
    let key = SigningKey::from_pkcs8(Algorithm::ES256, &kp.serialize_der()).expect("pkcs8");
    let jwks = JwkSet {
        keys: vec![Jwk::for_certificates("op-key", "EC", &[cert.der().to_vec()])],
    };
    let audience = format!("aud-{name}");
    let mut spec = json!({"name": name, "trust_model": "token",
        "token_auth": {"issuer": "https://op.issuer.test", "audience": audience, "jwks": jwks}});
    if let Some(url) = webhook {
        spec["alert_webhook"] = json!(url);
    }
    let r = server
        .client()
        .post(format!("{}/admin/providers", server.url()))
        .bearer_auth(admin)
        .json(&spec)
        .send()
        .await
        .expect("create provider");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = json!({"alg": "ES256", "kid": "op-key", "typ": "JWT"});
    let body = json!({"iss": "https://op.issuer.test", "aud": audience, "sub": "operator",
                      "iat": now, "nbf": now, "exp": now + 600, "roles": ["Attestation.Contributor"]});
    let input = format!(
        "{}.{}",
        b64::encode_url(header.to_string().as_bytes()),
        b64::encode_url(body.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64::encode_url(&sig))
}

/// Sets `policy` (text) for attestation type `t` of tenant `name` as an unsigned policy JWS.
pub async fn set_policy(server: &TestServer, name: &str, t: &str, bearer: &str, policy: &str) {
    let payload = json!({"AttestationPolicy": b64::encode_url(policy.as_bytes())}).to_string();
    let r = server
        .client()
        .put(format!(
            "{}/tenants/{name}/policies/{t}?api-version=2022-08-01",
            server.url()
        ))
        .bearer_auth(bearer)
        .header("content-type", "text/plain")
        .body(format!("eyJhbGciOiJub25lIn0.{}.", b64::encode_url(payload.as_bytes())))
        .send()
        .await
        .expect("set policy");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
}

/// The PKCS#1 `RSAPublicKey` DER of a TPM AK (modulus, exponent 65537), for rcgen to certify.
pub struct RsaPublic(Vec<u8>);

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
}

fn der_uint(v: &[u8], out: &mut Vec<u8>) {
    let mut v = v.to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    out.push(0x02);
    der_len(v.len(), out);
    out.extend(v);
}

impl RsaPublic {
    /// The key of `modulus` (big-endian) with exponent 65537.
    pub fn new(modulus: &[u8]) -> RsaPublic {
        let mut inner = Vec::new();
        der_uint(modulus, &mut inner);
        der_uint(&[1, 0, 1], &mut inner);
        let mut der = vec![0x30];
        der_len(inner.len(), &mut der);
        der.extend(inner);
        RsaPublic(der)
    }
}

impl rcgen::PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Verifies `token` as a relying party would: with the keys the server publishes at `/certs` and
/// its URL as the issuer. Panics (the test fails) when it does not verify.
pub async fn verify_against_certs(server: &TestServer, token: &str) -> attestd_token::VerifiedToken {
    let jwks: JwkSet = server
        .client()
        .get(format!("{}/certs", server.url()))
        .send()
        .await
        .expect("certs")
        .json()
        .await
        .expect("jwks");
    attestd_token::verify(
        token,
        &attestd_token::KeySet::from_jwks(&jwks).expect("keys"),
        &attestd_token::Validation {
            issuer: Some(server.url().to_owned()),
            ..attestd_token::Validation::default()
        },
    )
    .expect("the token verifies against /certs")
}

/// The server's Prometheus text (`GET /metrics`).
pub async fn metrics_text(server: &TestServer) -> String {
    server
        .client()
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}
