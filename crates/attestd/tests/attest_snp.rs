//! `POST /attest/SevSnpVm` over HTTPS with MAA's request shape and a real AMD SEV-SNP report
//! (trustee's Milan report and its VCEK, ../shared/vectors/sev-snp): the token verifies against
//! `/certs` and carries MAA's claims; tampering, wrong runtime data and denying policies give a
//! 400 with their code and no token.

mod common;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use attestd_testkit::TestServer;
use attestd_token::b64;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

fn vector(rel: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("sev-snp").join(rel)).expect(rel)
}

fn pem(der: &[u8]) -> String {
    let body = b64::encode_std(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// MAA's `report` member: base64url of `{"SnpReport": b64url(report), "VcekCertChain": b64url(PEM)}`.
fn report_member(report: &[u8]) -> String {
    let doc = json!({
        "SnpReport": b64::encode_url(report),
        "VcekCertChain": b64::encode_url(pem(&vector("trustee/test-vcek.der")).as_bytes()),
    });
    b64::encode_url(doc.to_string().as_bytes())
}

async fn attest(server: &TestServer, body: Value) -> (u16, Value) {
    let r = server
        .client()
        .post(format!("{}/attest/SevSnpVm?api-version=2022-08-01", server.url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&b64::decode_url_strict(part).expect("b64")).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_snp_report_gets_a_token_with_maa_claims() {
    // Offline: a report without its VCEK must not reach out to AMD's KDS from a test. One worker:
    // the single-threaded runtime a one-CPU server gets serves a whole attestation too.
    let server = TestServer::start(Path::new(BIN), &["--offline", "--worker-threads", "1"]);
    let report = vector("trustee/test-report.bin");

    let (status, body) = attest(
        &server,
        json!({"report": report_member(&report), "nonce": "noncesevsnp987"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    let v = common::verify_against_certs(&server, token).await;
    let c = &v.claims;
    assert_eq!(c["x-ms-attestation-type"], "sevsnpvm");
    assert_eq!(c["nonce"], "noncesevsnp987");
    assert_eq!(c["x-ms-ver"], "1.0");
    assert_eq!(
        c["x-ms-policy-hash"],
        attestd_policy::policy_hash(attestd_policy::defaults::CONFIDENTIAL_VM_DEFAULT)
    );
    for name in [
        "x-ms-sevsnpvm-launchmeasurement",
        "x-ms-sevsnpvm-reportdata",
        "x-ms-sevsnpvm-hostdata",
        "x-ms-sevsnpvm-idkeydigest",
        "x-ms-sevsnpvm-familyId",
        "x-ms-sevsnpvm-imageId",
        "x-ms-sevsnpvm-reportid",
    ] {
        assert!(
            c[name]
                .as_str()
                .is_some_and(|h| h.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase())),
            "{name}: {}",
            c[name]
        );
    }
    assert_eq!(c["x-ms-sevsnpvm-launchmeasurement"].as_str().map(str::len), Some(96));
    for name in [
        "x-ms-sevsnpvm-bootloader-svn",
        "x-ms-sevsnpvm-tee-svn",
        "x-ms-sevsnpvm-snpfw-svn",
        "x-ms-sevsnpvm-microcode-svn",
        "x-ms-sevsnpvm-vmpl",
        "x-ms-sevsnpvm-guestsvn",
    ] {
        assert!(c[name].is_i64(), "{name}");
    }
    for name in [
        "x-ms-sevsnpvm-is-debuggable",
        "x-ms-sevsnpvm-migration-allowed",
        "x-ms-sevsnpvm-smt-allowed",
    ] {
        assert!(c[name].is_boolean(), "{name}");
    }

    // A draft policy that pins another measurement denies: 400, MAA's message, no token.
    let deny =
        r#"version=1.0; authorizationrules { [type=="x-ms-sevsnpvm-launchmeasurement", value=="00"] => permit(); };"#;
    let (status, body) = attest(
        &server,
        json!({"report": report_member(&report), "draftPolicyForAttestation": deny}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "PolicyEvaluationError");
    assert!(body.get("token").is_none());
    // One that issues the measurement gives an unsecured token carrying it.
    let issue = r#"version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="m", value=c.value); };"#;
    let (status, body) = attest(
        &server,
        json!({"report": report_member(&report), "draftPolicyForAttestation": issue}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = body["token"].as_str().expect("token");
    assert!(t.ends_with('.'), "alg none: no signature");
    let dc = claims(t);
    assert_eq!(dc["x-ms-policy"]["m"], c["x-ms-sevsnpvm-launchmeasurement"]);

    // Runtime data that the report does not bind.
    let (status, body) = attest(
        &server,
        json!({"report": report_member(&report), "runtimeData": {"data": b64::encode_url(b"not bound"), "dataType": "Binary"}}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RuntimeDataMismatch")),
        "{body}"
    );

    // A flipped bit in the signed body.
    let mut tampered = report.clone();
    tampered[0x50] ^= 1;
    let (status, body) = attest(&server, json!({"report": report_member(&tampered)})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("token").is_none());
    assert!(
        body["error"]["code"]
            .as_str()
            .is_some_and(|c| c.ends_with("Invalid") || c.ends_with("Mismatch")),
        "{body}"
    );

    // A raw report with no VCEK on an offline server with nothing stored (503, retryable).
    let (status, body) = attest(&server, json!({"report": b64::encode_url(&report)})).await;
    assert_eq!(body["error"]["code"], "VcekUnavailable", "{body}");
    assert!(status == 503 || status == 400, "{status}");

    // Every attestation above is counted: two tokens, four refusals.
    let metrics = common::metrics_text(&server).await;
    for (outcome, count) in [("success", " 2"), ("failure", " 4")] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("attestd_attestations_total{")
                    && l.contains("type=\"SevSnpVm\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .unwrap_or_else(|| panic!("no {outcome} counter in\n{metrics}"));
        assert!(line.ends_with(count), "{line}");
    }
}

/// A local stand-in for AMD's KDS that counts its requests.
#[derive(Clone, Default)]
struct MockKds {
    hits: Arc<AtomicUsize>,
}

async fn serve_vcek(
    axum::extract::State(kds): axum::extract::State<MockKds>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    kds.hits.fetch_add(1, Ordering::SeqCst);
    // Slow enough that concurrent attestations overlap while the first fetch is in flight.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    if uri.path().starts_with("/vcek/v1/Milan/") {
        vector("trustee/test-vcek.der").into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_without_its_vcek_is_fetched_once_from_the_kds_and_kept_in_the_store() {
    let kds = MockKds::default();
    let app = axum::Router::new().fallback(serve_vcek).with_state(kds.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let kds_url = format!("http://{}", listener.local_addr().expect("addr"));
    let mock = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut server = TestServer::start(Path::new(BIN), &["--amd-kds-url", &kds_url]);
    let report = vector("trustee/test-report.bin");
    let body = json!({"report": b64::encode_url(&report)});

    // Eight concurrent attestations of one chip and TCB: one KDS request.
    let results = futures_util::future::join_all((0..8).map(|_| attest(&server, body.clone()))).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            claims(body["token"].as_str().expect("token"))["x-ms-attestation-type"],
            "sevsnpvm"
        );
    }
    assert_eq!(kds.hits.load(Ordering::SeqCst), 1, "one fetch for concurrent requests");
    let (status, _) = attest(&server, body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        kds.hits.load(Ordering::SeqCst),
        1,
        "later requests are served from the cache"
    );

    // Without the KDS, a restarted node still has the VCEK: it is in the store.
    mock.abort();
    server.restart();
    let (status, body_back) = attest(&server, body).await;
    assert_eq!(status, 200, "{body_back}");
    assert_eq!(kds.hits.load(Ordering::SeqCst), 1);
}
