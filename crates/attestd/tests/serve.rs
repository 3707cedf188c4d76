//! `attestd serve` as a process, over HTTPS: discovery documents, errors, limits, tenants,
//! restarts and crashes.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_testkit::TestServer;
use attestd_token::{JwkSet, KeySet, PublicKey, Validation, maa_kid, verify};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

fn start(extra: &[&str]) -> TestServer {
    TestServer::start(Path::new(BIN), extra)
}

async fn get_json(server: &TestServer, path: &str) -> (u16, Value) {
    let r = server
        .client()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

/// Checks a `/certs` document field by field and returns its kids.
fn check_jwks(jwks: &Value) -> Vec<String> {
    let keys = jwks["keys"].as_array().expect("keys array");
    assert!(!keys.is_empty());
    let mut kids = Vec::new();
    for key in keys {
        let obj = key.as_object().expect("key object");
        let mut members: Vec<&str> = obj.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["kid", "kty", "x5c"], "MAA emits exactly x5c, kid, kty");
        let x5c = obj["x5c"].as_array().expect("x5c");
        assert_eq!(x5c.len(), 1, "one self-signed certificate");
        let der = attestd_token::b64::decode_std(x5c[0].as_str().expect("b64")).expect("standard base64");
        let public = PublicKey::from_certificate_der(&der).expect("certificate with a usable key");
        let kid = obj["kid"].as_str().expect("kid");
        assert_eq!(kid, maa_kid(public.spki_der()), "kid follows MAA's rule");
        assert_eq!(obj["kty"], "RSA");
        kids.push(kid.to_owned());
    }
    kids
}

fn check_metadata(md: &Value, issuer: &str) {
    let obj = md.as_object().expect("object");
    let members: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        members,
        [
            "claims_supported",
            "id_token_signing_alg_values_supported",
            "issuer",
            "jwks_uri",
            "response_types_supported",
            "revocation_endpoint"
        ]
    );
    assert_eq!(md["issuer"], issuer);
    assert_eq!(md["jwks_uri"], format!("{issuer}/certs"));
    assert_eq!(md["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(md["response_types_supported"], json!(["token", "none"]));
    assert_eq!(md["id_token_signing_alg_values_supported"], json!(["RS256"]));
    let claims = md["claims_supported"].as_array().expect("claims");
    for c in [
        "nonce",
        "x-ms-ver",
        "x-ms-attestation-type",
        "x-ms-policy-hash",
        "x-ms-sgx-mrenclave",
        "tee",
    ] {
        assert!(claims.iter().any(|v| v == c), "{c} advertised");
    }
}

#[tokio::test]
async fn discovery_documents_in_maas_shape() {
    let server = start(&[]);
    let (status, jwks) = get_json(&server, "/certs").await;
    assert_eq!(status, 200);
    assert_eq!(check_jwks(&jwks).len(), 1);
    let (status, md) = get_json(&server, "/.well-known/openid-configuration").await;
    assert_eq!(status, 200);
    check_metadata(&md, server.url());
    // The certificate's subject is the issuer URL.
    let r = server
        .client()
        .get(format!("{}/certs", server.url()))
        .send()
        .await
        .expect("certs");
    assert_eq!(
        r.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
}

#[tokio::test]
async fn tokens_signed_with_the_service_key_verify_and_tampered_ones_do_not() {
    let server = start(&[]);
    let (_, jwks_value) = get_json(&server, "/certs").await;
    let jwks: JwkSet = serde_json::from_value(jwks_value).expect("jwks");
    let keys = KeySet::from_jwks(&jwks).expect("keys");

    // Sign with the key the server stores, through the service core on the same data directory.
    let store = attestd_store::Store::open_sqlite(&server.data_dir().join("attestd.db"))
        .await
        .expect("store");
    let service = attestd_service::Service::new(
        attestd_service::ServiceConfig::new(server.url()),
        store,
        attestd_evidence::VerifierRegistry::new(),
    )
    .await
    .expect("service");
    let provider = service.providers().get("default").await.expect("default provider");
    let mut claims = std::collections::BTreeMap::new();
    claims.insert("x-ms-policy-result".to_owned(), json!("Updated"));
    let token = service.management_token(&provider, claims).expect("token");
    let v = Validation {
        issuer: Some(server.url().to_owned()),
        ..Validation::default()
    };
    let ok = verify(&token, &keys, &v).expect("the service's token verifies against its /certs");
    assert_eq!(
        ok.header.jku.as_deref(),
        Some(format!("{}/certs", server.url()).as_str())
    );
    assert_eq!(
        ok.claims["exp"].as_i64().expect("exp") - ok.claims["iat"].as_i64().expect("iat"),
        3600
    );

    let parts: Vec<&str> = token.split('.').collect();
    let b64 = attestd_token::b64::encode_url;
    let mut payload: Value =
        serde_json::from_slice(&attestd_token::b64::decode_url_strict(parts[1]).expect("b64")).expect("json");
    payload["x-ms-policy-result"] = json!("Removed");
    let tampered_payload = format!("{}.{}.{}", parts[0], b64(payload.to_string().as_bytes()), parts[2]);
    assert_eq!(
        verify(&tampered_payload, &keys, &v).expect_err("payload").code(),
        "InvalidSignature"
    );

    let mut sig = attestd_token::b64::decode_url_strict(parts[2]).expect("sig");
    sig[0] ^= 0x80;
    let tampered_sig = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(
        verify(&tampered_sig, &keys, &v).expect_err("signature").code(),
        "InvalidSignature"
    );

    let none_header = json!({"alg": "none", "jku": format!("{}/certs", server.url()), "kid": ok.kid, "typ": "JWT"});
    let alg_none = format!("{}.{}.", b64(none_header.to_string().as_bytes()), parts[1]);
    assert_eq!(
        verify(&alg_none, &keys, &v).expect_err("alg none").code(),
        "UnsecuredToken"
    );

    let wrong_kid_header = json!({"alg": "RS256", "kid": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "typ": "JWT"});
    let wrong_kid = format!(
        "{}.{}.{}",
        b64(wrong_kid_header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        verify(&wrong_kid, &keys, &v).expect_err("kid").code(),
        "UnknownSigningKey"
    );

    let later = Validation {
        now: Some(SystemTime::now() + Duration::from_secs(2 * 3600)),
        ..v.clone()
    };
    assert_eq!(
        verify(&token, &keys, &later).expect_err("expired").code(),
        "TokenExpired"
    );

    // The CLI agrees, online (OpenID metadata + JWKS over HTTPS) and offline.
    let cli = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(args)
            .output()
            .expect("run attestd token verify")
    };
    let ca = server.ca_pem();
    let ca = ca.to_str().expect("utf8");
    let out = cli(&["token", "verify", &token, "--issuer", server.url(), "--ca", ca]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(printed["valid"], true);
    assert_eq!(printed["claims"]["x-ms-policy-result"], "Updated");
    let out = cli(&[
        "token",
        "verify",
        &tampered_payload,
        "--issuer",
        server.url(),
        "--ca",
        ca,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidSignature"));
    let jwks_file = server.data_dir().join("../saved-certs.json");
    std::fs::write(&jwks_file, serde_json::to_vec(&jwks).expect("json")).expect("save");
    let jwks_path = jwks_file.to_str().expect("utf8");
    let out = cli(&["token", "verify", &token, "--jwks", jwks_path]);
    assert!(out.status.success());
    let out = cli(&["token", "verify", &alg_none, "--jwks", jwks_path]);
    assert_eq!(out.status.code(), Some(1));
    let out = cli(&[
        "token",
        "verify",
        &token,
        "--jwks",
        jwks_path,
        "--issuer",
        "https://other.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let at = time::OffsetDateTime::from_unix_timestamp(
        (SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() + 7200) as i64,
    )
    .expect("time")
    .format(&time::format_description::well_known::Rfc3339)
    .expect("format");
    let out = cli(&["token", "verify", &token, "--jwks", jwks_path, "--at", &at]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TokenExpired"));
}

#[tokio::test]
async fn every_error_has_the_envelope() {
    let server = start(&["--max-body-bytes", "2048"]);
    let client = server.client();
    let url = server.url();
    let check = |status: u16, body: &Value, code: &str| {
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(body["error"]["code"], code, "{body}");
        let _ = status;
    };

    let r = client.get(format!("{url}/no/such/route")).send().await.expect("404");
    assert_eq!(r.status(), 404);
    check(404, &r.json().await.expect("json"), "NotFound");

    let r = client.delete(format!("{url}/certs")).send().await.expect("405");
    assert_eq!(r.status(), 405);
    check(405, &r.json().await.expect("json"), "MethodNotAllowed");

    let big = vec![b'a'; 10_000];
    let r = client
        .post(format!("{url}/attest/SgxEnclave?api-version=2020-10-01"))
        .body(big)
        .send()
        .await
        .expect("413");
    assert_eq!(r.status(), 413);
    check(413, &r.json().await.expect("json"), "PayloadTooLarge");

    let r = client
        .post(format!("{url}/attest/SgxEnclave"))
        .body("{}")
        .send()
        .await
        .expect("no version");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    check(400, &body, "MissingApiVersion");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("2020-10-01")
    );

    let r = client
        .post(format!("{url}/attest/SgxEnclave?api-version=2019-01-01"))
        .body("{}")
        .send()
        .await
        .expect("bad version");
    assert_eq!(r.status(), 400);
    check(400, &r.json().await.expect("json"), "UnsupportedApiVersion");

    let r = client
        .post(format!("{url}/attest/NoSuchType?api-version=2020-10-01"))
        .body("{}")
        .send()
        .await
        .expect("bad type");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    check(400, &body, "InvalidParameter");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NoSuchType")
    );

    let r = client
        .post(format!("{url}/attest/SgxEnclave?api-version=2020-10-01"))
        .body("{\"quote\": 7}")
        .send()
        .await
        .expect("bad field");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    check(400, &body, "InvalidParameter");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("'quote'")
    );

    // Evidence that cannot be a quote: the verifier's own code in the envelope, never a token.
    let r = client
        .post(format!("{url}/attest/SgxEnclave?api-version=2020-10-01"))
        .body("{\"quote\": \"AQID\"}")
        .send()
        .await
        .expect("short quote");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    check(400, &body, "QuoteTooShort");
    assert!(body.get("token").is_none());

    let r = client
        .get(format!("{url}/tenants/nobody/certs"))
        .send()
        .await
        .expect("unknown tenant");
    assert_eq!(r.status(), 404);
    check(404, &r.json().await.expect("json"), "ProviderNotFound");
}

#[tokio::test]
async fn a_bearer_token_on_anonymous_endpoints_is_ignored() {
    let server = start(&[]);
    for path in ["/certs", "/.well-known/openid-configuration", "/healthz"] {
        let r = server
            .client()
            .get(format!("{}{path}", server.url()))
            .bearer_auth("not-a-valid-token")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = start(&[]);
    assert_eq!(get_json(&server, "/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(get_json(&server, "/readyz").await, (200, json!({"status": "ready"})));
    // Three times: the handles are cached after the first, and every request must still count.
    for _ in 0..3 {
        let _ = get_json(&server, "/certs").await;
    }
    let _ = server.client().get(format!("{}/nope", server.url())).send().await;
    let text = common::metrics_text(&server).await;
    assert!(
        text.lines().any(|l| l.starts_with("attestd_http_requests_total{")
            && l.contains("route=\"/certs\"")
            && l.contains("status=\"200\"")
            && l.ends_with(" 3")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("route=\"unmatched\"") && l.contains("status=\"404\""))
    );
    assert!(text.contains("attestd_http_request_duration_seconds_bucket{"));
}

#[tokio::test]
async fn tenants_by_path_each_with_their_own_issuer_and_key() {
    let server = start(&[]);
    server.run_cli(&["provider", "create", "t1", "--public-url", server.url()]);
    let (status, jwks) = get_json(&server, "/tenants/t1/certs").await;
    assert_eq!(status, 200);
    let t1_kids = check_jwks(&jwks);
    let (_, root) = get_json(&server, "/certs").await;
    assert_ne!(t1_kids, check_jwks(&root), "tenants have their own keys");
    let (_, md) = get_json(&server, "/tenants/t1/.well-known/openid-configuration").await;
    check_metadata(&md, &format!("{}/tenants/t1", server.url()));
    // The certificate names the tenant's issuer.
    let der = attestd_token::b64::decode_std(jwks["keys"][0]["x5c"][0].as_str().expect("x5c")).expect("der");
    let needle = format!("{}/tenants/t1", server.url());
    assert!(
        der.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "CN is the issuer URL"
    );
}

#[tokio::test]
async fn tenants_by_host_under_the_base_domain() {
    // Plain HTTP so that the client can address tenant hosts that the self-signed certificate
    // does not name.
    let server = TestServer::start(Path::new(BIN), &["--insecure-http", "--base-domain", "attest.test"]);
    server.run_cli(&[
        "provider",
        "create",
        "t2",
        "--base-domain",
        "attest.test",
        "--public-url",
        server.url(),
    ]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.port()).parse().expect("addr");
    let client = attestd_testkit::client_builder()
        .resolve("t2.attest.test", addr)
        .resolve("attest.test", addr)
        .build()
        .expect("client");
    let port = server.port();
    let md: Value = client
        .get(format!("http://t2.attest.test:{port}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(md["issuer"], format!("http://t2.attest.test:{port}"));
    let t2 = client
        .get(format!("http://t2.attest.test:{port}/certs"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    let by_path = client
        .get(format!("http://attest.test:{port}/tenants/t2/certs"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert_eq!(t2, by_path, "host and path reach the same provider");
    let root: Value = client
        .get(format!("http://attest.test:{port}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(root["issuer"], server.url());
}

#[tokio::test]
async fn restart_and_kill_keep_every_key_and_provider() {
    let mut server = start(&[]);
    let (_, before) = get_json(&server, "/certs").await;
    server.run_cli(&["provider", "create", "crash1", "--public-url", server.url()]);
    server.run_cli(&[
        "provider",
        "create",
        "crash2",
        "--token-alg",
        "RS256",
        "--public-url",
        server.url(),
    ]);
    let (_, t_before) = get_json(&server, "/tenants/crash1/certs").await;

    server.restart();
    assert_eq!(
        get_json(&server, "/certs").await.1,
        before,
        "same keys after a clean restart"
    );

    // SIGKILL: no shutdown code runs; everything acknowledged must still be there.
    server.kill();
    server.restart();
    assert_eq!(get_json(&server, "/certs").await.1, before, "same keys after kill -9");
    assert_eq!(get_json(&server, "/tenants/crash1/certs").await.1, t_before);
    assert_eq!(get_json(&server, "/tenants/crash2/certs").await.0, 200);
}

#[tokio::test]
async fn sealed_keys_need_the_master_key_to_start() {
    let key = "Ab3J2xhWq7yNf0uO0H0Jx8x0mJm9WQ3r3tqvZz5m0e0=";
    let mut server = TestServer::start_with_env(Path::new(BIN), &[], &[("ATTESTD_MASTER_KEY", key)]);
    let (_, before) = get_json(&server, "/certs").await;
    server.restart();
    assert_eq!(get_json(&server, "/certs").await.1, before);
    server.kill();
    // The same data directory without the master key refuses to start and says why.
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(server.data_dir())
        .env_remove("ATTESTD_MASTER_KEY")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sealed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn nodes_sharing_postgres_serve_the_same_keys_and_survive_the_loss_of_one() {
    let db = attestd_testkit::postgres_schema("serve").await;
    let public = "https://attest.example";
    let a = start(&["--database", &db.url, "--public-url", public]);
    let mut b = start(&["--database", &db.url, "--public-url", public]);
    let (_, certs_a) = get_json(&a, "/certs").await;
    let (_, certs_b) = get_json(&b, "/certs").await;
    assert_eq!(certs_a, certs_b);
    a.run_cli(&[
        "provider",
        "create",
        "pg1",
        "--database",
        &db.url,
        "--public-url",
        public,
    ]);
    assert_eq!(
        get_json(&b, "/tenants/pg1/certs").await.0,
        200,
        "a provider created via one node is seen by the other"
    );
    b.kill();
    let (status, certs) = get_json(&a, "/tenants/pg1/certs").await;
    assert_eq!(status, 200);
    assert_eq!(get_json(&a, "/readyz").await.0, 200);
    b.restart();
    assert_eq!(get_json(&b, "/tenants/pg1/certs").await.1, certs);
}
