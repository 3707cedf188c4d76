//! Tenancy and trust models against a running server: the admin API, cross-tenant isolation on
//! every management route, the shared provider's read-only policies, the audit log, and policy
//! writes surviving `kill -9`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_testkit::TestServer;
use attestd_token::{Algorithm, Jwk, JwkSet, SigningKey, b64};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");
const ADMIN: &str = "test-admin-token-0123456789";
const API: &str = "api-version=2022-08-01";

/// An OIDC-like token issuer for token-mode providers.
struct Issuer {
    name: String,
    key: SigningKey,
    jwks: JwkSet,
}

impl Issuer {
    fn new(name: &str) -> Issuer {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec![])
            .expect("params")
            .self_signed(&kp)
            .expect("cert");
        let key = SigningKey::from_pkcs8(Algorithm::ES256, &kp.serialize_der()).expect("pkcs8");
        let jwks = JwkSet {
            keys: vec![Jwk::for_certificates(
                &format!("{name}-key"),
                "EC",
                &[cert.der().to_vec()],
            )],
        };
        Issuer {
            name: name.to_owned(),
            key,
            jwks,
        }
    }

    fn url(&self) -> String {
        format!("https://{}.issuer.test", self.name)
    }

    fn token(&self, audience: &str, roles: &[&str]) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let header = json!({"alg": "ES256", "kid": format!("{}-key", self.name), "typ": "JWT"});
        let body = json!({"iss": self.url(), "aud": audience, "sub": format!("{}-operator", self.name),
                          "iat": now, "nbf": now, "exp": now + 600, "roles": roles});
        let input = format!(
            "{}.{}",
            b64::encode_url(header.to_string().as_bytes()),
            b64::encode_url(body.to_string().as_bytes())
        );
        let sig = self.key.sign(input.as_bytes()).expect("sign");
        format!("{input}.{}", b64::encode_url(&sig))
    }
}

/// A policy management certificate and its key.
struct Signer {
    key: SigningKey,
    der: Vec<u8>,
    pem: String,
}

impl Signer {
    fn new(cn: &str) -> Signer {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&kp).expect("cert");
        Signer {
            key: SigningKey::from_pkcs8(Algorithm::ES256, &kp.serialize_der()).expect("pkcs8"),
            der: cert.der().to_vec(),
            pem: cert.pem(),
        }
    }

    fn jws(&self, payload: &Value) -> String {
        let header = json!({"alg": "ES256", "x5c": [b64::encode_std(&self.der)]});
        let payload = if payload.is_null() {
            String::new()
        } else {
            payload.to_string()
        };
        let input = format!(
            "{}.{}",
            b64::encode_url(header.to_string().as_bytes()),
            b64::encode_url(payload.as_bytes())
        );
        let sig = self.key.sign(input.as_bytes()).expect("sign");
        format!("{input}.{}", b64::encode_url(&sig))
    }

    fn jwk(&self) -> Value {
        json!({"kty": "EC", "x5c": [b64::encode_std(&self.der)]})
    }
}

fn policy_jws_unsigned(text: &str) -> String {
    let payload = json!({"AttestationPolicy": b64::encode_url(text.as_bytes())}).to_string();
    format!("eyJhbGciOiJub25lIn0.{}.", b64::encode_url(payload.as_bytes()))
}

fn policy_payload(text: &str) -> Value {
    json!({"AttestationPolicy": b64::encode_url(text.as_bytes())})
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&b64::decode_url_strict(part).expect("b64")).expect("json")
}

struct Api {
    server: TestServer,
    client: reqwest::Client,
}

/// A management call: method, path under the provider, body.
#[derive(Clone, Copy)]
enum Route {
    GetPolicy,
    SetPolicy,
    ResetPolicy,
    GetCertificates,
    AddCertificate,
    RemoveCertificate,
}

const ROUTES: [Route; 6] = [
    Route::GetPolicy,
    Route::SetPolicy,
    Route::ResetPolicy,
    Route::GetCertificates,
    Route::AddCertificate,
    Route::RemoveCertificate,
];

impl Api {
    fn start() -> Api {
        let server = TestServer::start(Path::new(BIN), &["--admin-token", ADMIN]);
        let client = server.client();
        Api { server, client }
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.server.url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls `route` on provider `tenant` with an optional bearer token and JWS.
    async fn call(&self, tenant: &str, route: Route, bearer: Option<&str>, jws: Option<String>) -> (u16, Value) {
        let base = format!("{}/tenants/{tenant}", self.server.url());
        let (method, url, body): (reqwest::Method, String, Option<String>) = match route {
            Route::GetPolicy => (reqwest::Method::GET, format!("{base}/policies/SgxEnclave?{API}"), None),
            Route::SetPolicy => (reqwest::Method::PUT, format!("{base}/policies/SgxEnclave?{API}"), jws),
            Route::ResetPolicy => (
                reqwest::Method::POST,
                format!("{base}/policies/SgxEnclave:reset?{API}"),
                jws,
            ),
            Route::GetCertificates => (reqwest::Method::GET, format!("{base}/certificates?{API}"), None),
            Route::AddCertificate => (
                reqwest::Method::POST,
                format!("{base}/certificates:add?{API}"),
                jws.map(|j| Value::String(j).to_string()),
            ),
            Route::RemoveCertificate => (
                reqwest::Method::POST,
                format!("{base}/certificates:remove?{API}"),
                jws.map(|j| Value::String(j).to_string()),
            ),
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            let ct = if matches!(route, Route::AddCertificate | Route::RemoveCertificate) {
                "application/json"
            } else {
                "text/plain"
            };
            req = req.header("content-type", ct).body(b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn policy_hash(&self, tenant: &str, bearer: Option<&str>) -> String {
        let (status, body) = self.call(tenant, Route::GetPolicy, bearer, None).await;
        assert_eq!(status, 200, "{body}");
        let c = claims(body["token"].as_str().expect("token"));
        c["x-ms-policy"].as_str().expect("x-ms-policy").to_owned()
    }
}

fn create_spec(name: &str, trust: &str, issuer: Option<&Issuer>, signers: &[&Signer]) -> Value {
    let mut spec = json!({"name": name, "trust_model": trust});
    if let Some(i) = issuer {
        spec["token_auth"] = json!({"issuer": i.url(), "audience": format!("aud-{name}"), "jwks": i.jwks});
    }
    if !signers.is_empty() {
        spec["signer_certificates"] = Value::Array(signers.iter().map(|s| Value::String(s.pem.clone())).collect());
    }
    spec
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_cannot_reach_each_other_and_everything_is_audited() {
    let api = Api::start();
    let (ia_iss, ib_iss) = (Issuer::new("a"), Issuer::new("b"));
    let (sa, sb) = (Signer::new("signer-a"), Signer::new("signer-b"));

    // The admin API is never anonymous.
    assert_eq!(
        api.admin(reqwest::Method::GET, "/admin/providers", None, None).await.0,
        401
    );
    assert_eq!(
        api.admin(reqwest::Method::GET, "/admin/providers", None, Some("wrong"))
            .await
            .0,
        401
    );
    for spec in [
        create_spec("ta", "token", Some(&ia_iss), &[]),
        create_spec("tb", "token", Some(&ib_iss), &[]),
        create_spec("ia", "isolated", None, &[&sa]),
        create_spec("ib", "isolated", None, &[&sb]),
        create_spec("sh", "shared", None, &[]),
    ] {
        let (status, body) = api
            .admin(reqwest::Method::POST, "/admin/providers", Some(spec), Some(ADMIN))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = api
        .admin(
            reqwest::Method::POST,
            "/admin/providers",
            Some(create_spec("ic", "isolated", None, &[])),
            Some(ADMIN),
        )
        .await;
    assert_eq!(status, 400, "an isolated provider needs a certificate: {body}");

    let a_token = ia_iss.token("aud-ta", &["Attestation.Contributor"]);
    let a_token_for_b_audience = ia_iss.token("aud-tb", &["Attestation.Contributor"]);
    let b_token = ib_iss.token("aud-tb", &["Attestation.Contributor"]);
    let policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";
    let stranger = Signer::new("stranger");

    // Token mode: A's credentials (its own audience, or B's audience) never work on B.
    let tb_before = api.policy_hash("tb", Some(&b_token)).await;
    for route in ROUTES {
        let jws = match route {
            Route::SetPolicy => Some(policy_jws_unsigned(policy)),
            Route::ResetPolicy => Some("eyJhbGciOiJub25lIn0..".to_owned()),
            Route::AddCertificate | Route::RemoveCertificate => {
                Some(sa.jws(&json!({"policyCertificate": stranger.jwk()})))
            }
            _ => None,
        };
        for bearer in [&a_token, &a_token_for_b_audience] {
            let (status, body) = api.call("tb", route, Some(bearer), jws.clone()).await;
            assert_eq!(status, 401, "A's token on B: {body}");
            assert_eq!(body["error"]["code"], "Unauthorized");
        }
        let (status, _) = api.call("tb", route, None, jws.clone()).await;
        assert_eq!(status, 401, "no token on a token-mode provider");
    }
    assert_eq!(api.policy_hash("tb", Some(&b_token)).await, tb_before, "B unchanged");
    // … while A's token works on A.
    let (status, body) = api
        .call(
            "ta",
            Route::SetPolicy,
            Some(&a_token),
            Some(policy_jws_unsigned(policy)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api
        .call(
            "ta",
            Route::GetPolicy,
            Some(&ia_iss.token("aud-ta", &["Attestation.Reader"])),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = api
        .call(
            "ta",
            Route::SetPolicy,
            Some(&ia_iss.token("aud-ta", &["Attestation.Reader"])),
            Some(policy_jws_unsigned(policy)),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Forbidden")),
        "reader cannot write"
    );

    // Isolated: A's certificate never changes B (reads are public, as in MAA).
    let ib_before = api.policy_hash("ib", None).await;
    for route in [
        Route::SetPolicy,
        Route::ResetPolicy,
        Route::AddCertificate,
        Route::RemoveCertificate,
    ] {
        let payload = match route {
            Route::SetPolicy => policy_payload(policy),
            Route::ResetPolicy => Value::Null,
            Route::AddCertificate => json!({"policyCertificate": sa.jwk()}),
            _ => json!({"policyCertificate": sb.jwk()}),
        };
        let (status, body) = api.call("ib", route, None, Some(sa.jws(&payload))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("SignerNotAuthorized")),
            "{body}"
        );
        // B's own token-less unsigned request is refused too.
        if matches!(route, Route::SetPolicy) {
            let (status, body) = api.call("ib", route, None, Some(policy_jws_unsigned(policy))).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("UnsignedRequestRejected"))
            );
        }
    }
    assert_eq!(api.policy_hash("ib", None).await, ib_before, "B unchanged");
    let (status, body) = api.call("ib", Route::GetCertificates, None, None).await;
    assert_eq!(status, 200);
    let keys = claims(body["token"].as_str().expect("token"))["x-ms-policy-certificates"]["keys"].clone();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "only B's certificate: {keys}");
    assert_eq!(keys[0]["x5c"][0], b64::encode_std(&sb.der));
    // B's certificate works on B; a signed write is accepted once.
    let set = sb.jws(&policy_payload(policy));
    let (status, body) = api.call("ib", Route::SetPolicy, None, Some(set.clone())).await;
    assert_eq!(status, 200, "{body}");
    let result = claims(body["token"].as_str().expect("token"));
    assert_eq!(result["x-ms-policy-result"], "Updated");
    assert!(result["x-ms-policy-signer"].is_object());
    let (status, body) = api
        .call("ib", Route::ResetPolicy, None, Some(sb.jws(&Value::Null)))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.call("ib", Route::SetPolicy, None, Some(set)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ReplayedRequest")),
        "{body}"
    );
    // The last certificate cannot be removed.
    let (status, body) = api
        .call(
            "ib",
            Route::RemoveCertificate,
            None,
            Some(sb.jws(&json!({"policyCertificate": sb.jwk()}))),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidOperation")),
        "{body}"
    );

    // The shared provider refuses every write.
    for route in [
        Route::SetPolicy,
        Route::ResetPolicy,
        Route::AddCertificate,
        Route::RemoveCertificate,
    ] {
        let jws = match route {
            Route::SetPolicy => policy_jws_unsigned(policy),
            Route::ResetPolicy => "eyJhbGciOiJub25lIn0..".to_owned(),
            _ => sa.jws(&json!({"policyCertificate": sa.jwk()})),
        };
        let (status, body) = api.call("sh", route, None, Some(jws)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("ReadOnlyProvider")),
            "{body}"
        );
    }

    // The audit log has each of them, with the right outcome; it is admin-only.
    assert_eq!(api.admin(reqwest::Method::GET, "/admin/audit", None, None).await.0, 401);
    let audit = |q: &'static str| {
        let api = &api;
        async move {
            let (status, body) = api
                .admin(reqwest::Method::GET, &format!("/admin/audit?{q}"), None, Some(ADMIN))
                .await;
            assert_eq!(status, 200, "{body}");
            body.as_array().cloned().unwrap_or_default()
        }
    };
    let ib = audit("provider=ib&kind=management&limit=1000").await;
    let count = |rows: &[Value], op: &str, outcome: &str, code: Option<&str>| {
        rows.iter()
            .filter(|r| r["operation"] == op && r["outcome"] == outcome && code.is_none_or(|c| r["error_code"] == c))
            .count()
    };
    assert_eq!(
        count(&ib, "policy.set", "failure", Some("SignerNotAuthorized")),
        1,
        "{ib:?}"
    );
    assert_eq!(count(&ib, "policy.set", "failure", Some("UnsignedRequestRejected")), 1);
    assert_eq!(count(&ib, "policy.set", "failure", Some("ReplayedRequest")), 1);
    assert_eq!(count(&ib, "policy.set", "success", None), 1);
    assert_eq!(count(&ib, "policy.reset", "success", None), 1);
    assert!(count(&ib, "certificates.remove", "failure", Some("InvalidOperation")) == 1);
    let ok = ib
        .iter()
        .find(|r| r["operation"] == "policy.set" && r["outcome"] == "success")
        .expect("row");
    assert_eq!(ok["after_hash"], attestd_policy::policy_hash(policy), "{ok}");
    let tb = audit("provider=tb&outcome=failure&limit=1000").await;
    assert!(tb.len() >= 18, "every refused call on tb is audited: {}", tb.len());
    assert!(tb.iter().all(|r| r["error_code"] == "Unauthorized"));
    let sh = audit("provider=sh").await;
    assert_eq!(count(&sh, "policy.set", "failure", Some("ReadOnlyProvider")), 1);
    let admin_ops = audit("operation=provider.create").await;
    assert!(admin_ops.len() >= 5, "{admin_ops:?}");
}

/// Policy writes in flight when the server is killed: every acknowledged write is there after the
/// restart, and what is stored is a whole policy (never torn).
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_policy_writes_survive_kill_9() {
    let mut api = Api::start();
    let issuer = Issuer::new("d");
    const TENANTS: usize = 4;
    for i in 0..TENANTS {
        let spec = create_spec(&format!("d{i}"), "token", Some(&issuer), &[]);
        let spec = {
            let mut s = spec;
            s["token_auth"]["audience"] = json!("aud-d");
            s
        };
        let (status, body) = api
            .admin(reqwest::Method::POST, "/admin/providers", Some(spec), Some(ADMIN))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let token = Arc::new(issuer.token("aud-d", &["Attestation.Contributor"]));
    let policy = |tenant: usize, seq: u64| {
        format!(
            "version=1.0; authorizationrules{{=> permit();}}; issuancerules{{=> issue(type=\"w\", value=\"{tenant}-{seq}\");}};"
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let url = api.server.url().to_owned();
    let mut writers = Vec::new();
    for tenant in 0..TENANTS {
        let (client, token, stop, url) = (api.client.clone(), Arc::clone(&token), Arc::clone(&stop), url.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let r = client
                    .put(format!("{url}/tenants/d{tenant}/policies/SgxEnclave?{API}"))
                    .bearer_auth(&*token)
                    .header("content-type", "text/plain")
                    .body(policy_jws_unsigned(&policy(tenant, seq)))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => acknowledged = seq,
                    Ok(r) => panic!("unexpected answer {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
            (acknowledged, seq)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    api.server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    for w in writers {
        results.push(w.await.expect("writer"));
    }
    api.server.restart();
    let total: u64 = results.iter().map(|(a, _)| a).sum();
    eprintln!("acknowledged/attempted per tenant before kill -9: {results:?}");
    assert!(
        total >= 8,
        "too few writes acknowledged before the kill ({total}); the test proves nothing"
    );
    for (tenant, (acknowledged, attempted)) in results.iter().enumerate() {
        let (status, body) = api
            .call(&format!("d{tenant}"), Route::GetPolicy, Some(&token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let stored = claims(body["token"].as_str().expect("token"))["x-ms-policy"]
            .as_str()
            .expect("jws")
            .to_owned();
        let payload: Value =
            serde_json::from_slice(&b64::decode_url_strict(stored.split('.').nth(1).expect("payload")).expect("b64"))
                .expect("json");
        let text = String::from_utf8(
            b64::decode_url_strict(payload["AttestationPolicy"].as_str().expect("policy")).expect("b64"),
        )
        .expect("utf-8");
        attestd_policy::Policy::compile(&text).expect("a whole policy");
        // The last acknowledged write, or the one in flight when the server died.
        let candidates: Vec<String> = (*acknowledged..=*attempted).map(|s| policy(tenant, s)).collect();
        assert!(
            candidates.contains(&text),
            "d{tenant}: stored {text:?}, acknowledged up to {acknowledged}, attempted {attempted}"
        );
    }
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .output()
        .expect("run attestd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `attestd provider …` and `attestd audit` against a running server through the admin API.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_manages_providers_on_a_running_server() {
    let api = Api::start();
    let url = api.server.url().to_owned();
    let ca = api.server.ca_pem();
    let ca = ca.to_str().expect("utf-8");
    let dir = tempfile::tempdir().expect("tmp");
    let signer = Signer::new("cli-signer");
    let pem = dir.path().join("signer.pem");
    std::fs::write(&pem, &signer.pem).expect("write");
    let remote = ["--server", url.as_str(), "--admin-token", ADMIN, "--ca", ca];

    let mut create = vec![
        "provider",
        "create",
        "remote-iso",
        "--trust-model",
        "isolated",
        "--signer-cert",
    ];
    create.push(pem.to_str().expect("utf-8"));
    create.extend(remote);
    let (ok, out, err) = cli(&create);
    assert!(ok, "{out}{err}");
    // The server serves it at once, with the registered certificate.
    let (status, body) = api.call("remote-iso", Route::GetCertificates, None, None).await;
    assert_eq!(status, 200, "{body}");
    let keys = claims(body["token"].as_str().expect("token"))["x-ms-policy-certificates"]["keys"].clone();
    assert_eq!(keys[0]["x5c"][0], b64::encode_std(&signer.der));

    let (ok, out, _) = cli(&[&["provider", "list"][..], &remote].concat());
    assert!(ok && out.contains("remote-iso") && out.contains("isolated"), "{out}");
    let (ok, out, _) = cli(&[&["provider", "show", "remote-iso"][..], &remote].concat());
    assert!(ok && out.contains("remote-iso"), "{out}");
    // Wrong admin token: refused.
    let (ok, _, err) = cli(&[
        "provider",
        "list",
        "--server",
        url.as_str(),
        "--admin-token",
        "wrong",
        "--ca",
        ca,
    ]);
    assert!(!ok && err.contains("Unauthorized"), "{err}");
    let (ok, out, err) = cli(&[&["provider", "delete", "remote-iso"][..], &remote].concat());
    assert!(ok, "{out}{err}");
    let (status, _) = api.call("remote-iso", Route::GetCertificates, None, None).await;
    assert_eq!(status, 404);
    let (ok, out, err) = cli(&[&["audit", "--provider", "remote-iso"][..], &remote].concat());
    assert!(ok, "{err}");
    assert!(
        out.contains("provider.create") && out.contains("provider.delete"),
        "{out}"
    );
}
