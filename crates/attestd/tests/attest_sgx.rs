//! `POST /attest/SgxEnclave` and `/attest/OpenEnclave` over HTTPS on the real clock, with quotes
//! and collateral of the testkit's test CA: the server trusts the test root
//! (`--insecure-test-sgx-root`) and the collateral is imported with `attestd collateral import`.
//! The token verifies against `/certs` and carries MAA's SGX claims; one negative per check is a
//! 400 with its own code and no token (503 only when no collateral exists for the platform).

use std::path::Path;

use attestd_testkit::TestServer;
use attestd_testkit::dcap::{Break, Enclave, TestCa, TestPlatform};
use attestd_token::b64;
use serde_json::{Value, json};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

async fn attest(server: &TestServer, ty: &str, body: Value) -> (u16, Value) {
    let r = server
        .client()
        .post(format!("{}/attest/{ty}?api-version=2022-08-01", server.url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

struct World {
    server: TestServer,
    dir: tempfile::TempDir,
}

/// A server trusting `ca`'s root, with the bundles of `platforms` imported.
fn world(ca: &TestCa, platforms: &[&TestPlatform]) -> World {
    world_with(ca, platforms, &[])
}

fn world_with(ca: &TestCa, platforms: &[&TestPlatform], extra: &[&str]) -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).expect("write root");
    let mut args = vec!["--offline", "--insecure-test-sgx-root", root.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let server = TestServer::start(Path::new(BIN), &args);
    let mut files = Vec::new();
    for (i, p) in platforms.iter().enumerate() {
        let f = dir.path().join(format!("bundle-{i}.json"));
        std::fs::write(&f, &p.bundle).expect("write bundle");
        files.push(f.to_str().expect("utf-8").to_owned());
    }
    let mut args = vec!["collateral", "import"];
    args.extend(files.iter().map(String::as_str));
    let out = server.run_cli(&args);
    assert_eq!(out.lines().count(), platforms.len(), "{out}");
    World { server, dir }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_ca_quotes_get_tokens_and_every_broken_check_is_a_400() {
    let ca = TestCa::new();
    let runtime = br#"{"jwk":{"kty":"EC","crv":"P-256"}}"#;
    let enclave = Enclave::default().binding(runtime);
    let good = ca.platform([0x30, 0, 0, 0, 0, 1], None);
    // Every failed check is a 400 with its code; only a platform for which the service holds no
    // collateral at all is a 503 (CollateralNotFound: import the bundle, then retry).
    let breaks = [
        (Break::QuoteSignature, "QuoteSignatureInvalid", 400),
        (Break::QeReportSignature, "QeReportSignatureInvalid", 400),
        (Break::QeReportData, "QeReportDataMismatch", 400),
        (Break::PckChain, "PckChainInvalid", 400),
        (Break::PckRevoked, "PckRevoked", 400),
        (Break::TcbInfoSignature, "TcbInfoSignatureInvalid", 400),
        (Break::QeIdentitySignature, "QeIdentitySignatureInvalid", 400),
        (Break::QeIdentityMismatch, "QeIdentityMismatch", 400),
        (Break::ExpiredCollateral, "CollateralExpired", 400),
        // The collateral is filed under the FMSPC its TCB info names, so a quote whose PCK names
        // another one finds none.
        (Break::FmspcMismatch, "CollateralNotFound", 503),
        (Break::TcbNotSupported, "TcbLevelNotSupported", 400),
        (Break::OutOfDate, "TcbStatusNotAccepted", 400),
    ];
    let broken: Vec<(TestPlatform, &str, u16)> = breaks
        .iter()
        .enumerate()
        .map(|(i, (b, code, status))| (ca.platform([0x31, i as u8, 0, 0, 0, 1], Some(*b)), *code, *status))
        .collect();
    let mut all: Vec<&TestPlatform> = vec![&good];
    all.extend(broken.iter().map(|(p, _, _)| p));
    let w = world(&ca, &all);
    let server = &w.server;
    assert!(server.log().contains("INSECURE"), "the test root is announced loudly");

    // SgxEnclave with JSON runtime data.
    let quote = good.quote(&enclave);
    let (status, body) = attest(
        server,
        "SgxEnclave",
        json!({
            "quote": b64::encode_url(&quote),
            "runtimeData": {"data": b64::encode_url(runtime), "dataType": "JSON"},
            "nonce": "sgx-nonce-1",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    let c = common::verify_against_certs(server, token).await.claims;
    assert_eq!(c["x-ms-attestation-type"], "sgx");
    assert_eq!(c["nonce"], "sgx-nonce-1");
    assert_eq!(c["x-ms-sgx-mrenclave"], hex::encode([0xe1; 32]));
    assert_eq!(c["x-ms-sgx-mrsigner"], hex::encode([0x51; 32]));
    assert_eq!(c["x-ms-sgx-product-id"], 3);
    assert_eq!(c["x-ms-sgx-svn"], 7);
    assert_eq!(c["x-ms-sgx-is-debuggable"], false);
    assert_eq!(c["x-ms-sgx-tcb-status"], "UpToDate");
    assert_eq!(c["x-ms-runtime"], json!({"jwk": {"kty": "EC", "crv": "P-256"}}));
    assert!(c.get("x-ms-sgx-ehd").is_none());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &quote);
    assert_eq!(c["x-ms-sgx-collateral"]["quotehash"], hex::encode(digest.as_ref()));

    // Binary runtime data → x-ms-sgx-ehd.
    let (status, body) = attest(
        server,
        "SgxEnclave",
        json!({
            "quote": b64::encode_url(&quote),
            "runtimeData": {"data": b64::encode_url(runtime), "dataType": "Binary"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = common::verify_against_certs(server, body["token"].as_str().expect("token"))
        .await
        .claims;
    assert_eq!(c["x-ms-sgx-ehd"], b64::encode_url(runtime));

    // OpenEnclave: the same quote behind an OE remote-report header.
    let mut report = Vec::new();
    report.extend(1u32.to_le_bytes());
    report.extend(2u32.to_le_bytes());
    report.extend((quote.len() as u64).to_le_bytes());
    report.extend(&quote);
    let (status, body) = attest(server, "OpenEnclave", json!({"report": b64::encode_url(&report)})).await;
    assert_eq!(status, 200, "{body}");
    let c = common::verify_against_certs(server, body["token"].as_str().expect("token"))
        .await
        .claims;
    assert_eq!(c["x-ms-sgx-mrenclave"], hex::encode([0xe1; 32]));

    // Runtime data the enclave did not bind.
    let (status, body) = attest(
        server,
        "SgxEnclave",
        json!({
            "quote": b64::encode_url(&quote),
            "runtimeData": {"data": b64::encode_url(b"something else"), "dataType": "Binary"},
        }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "RuntimeDataMismatch", "{body}");
    assert!(body.get("token").is_none());

    // One negative per check.
    for (p, code, expected) in &broken {
        let (status, body) = attest(
            server,
            "SgxEnclave",
            json!({
                "quote": b64::encode_url(&p.quote(&enclave)),
                "runtimeData": {"data": b64::encode_url(runtime), "dataType": "JSON"},
            }),
        )
        .await;
        assert_eq!(status, *expected, "{code}: {body}");
        assert_eq!(body["error"]["code"], *code, "{body}");
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(body.get("token").is_none(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_tcb_statuses_let_out_of_date_platforms_through() {
    let ca = TestCa::new();
    let old = ca.platform([0x32, 0, 0, 0, 0, 1], Some(Break::OutOfDate));
    let w = world_with(&ca, &[&old], &["--accepted-tcb-statuses", "UpToDate,OutOfDate"]);
    let quote = old.quote(&Enclave::default());
    let (status, body) = attest(&w.server, "SgxEnclave", json!({"quote": b64::encode_url(&quote)})).await;
    assert_eq!(status, 200, "{body}");
    let part = body["token"]
        .as_str()
        .expect("token")
        .split('.')
        .nth(1)
        .unwrap_or_default();
    let c: Value = serde_json::from_slice(&b64::decode_url_strict(part).expect("b64")).expect("json");
    assert_eq!(c["x-ms-sgx-tcb-status"], "OutOfDate");
}

#[tokio::test(flavor = "multi_thread")]
async fn collateral_imported_while_the_server_runs_is_used_on_retry() {
    let ca = TestCa::new();
    let first = ca.platform([0x33, 0, 0, 0, 0, 1], None);
    let later = ca.platform([0x33, 1, 0, 0, 0, 1], None);
    let w = world(&ca, &[&first]);
    let quote = later.quote(&Enclave::default());
    let body = json!({"quote": b64::encode_url(&quote)});
    let (status, answer) = attest(&w.server, "SgxEnclave", body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "CollateralNotFound", "{answer}");
    assert!(answer.get("token").is_none());

    let file = w.dir.path().join("later.json");
    std::fs::write(&file, &later.bundle).expect("write bundle");
    w.server
        .run_cli(&["collateral", "import", file.to_str().expect("utf-8")]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, answer) = attest(&w.server, "SgxEnclave", body).await;
    assert_eq!(status, 200, "{answer}");
}
