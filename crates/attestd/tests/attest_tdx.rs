//! `POST /attest/TdxVm` over HTTPS on the real clock with MAA's request (`quote`, `runtimeData`,
//! `nonce`; reference A.5), a TDX v4 quote and collateral (TDX TCB info with its TDX module,
//! TD_QE identity) of the testkit's test CA, the root trusted with `--insecure-test-sgx-root` and
//! the bundle imported with `attestd collateral import`: the token verifies against `/certs` with
//! MAA's `tdx_*` claims; broken checks, unbound runtime data and a denying draft policy are 400s
//! with their codes and no token.

mod common;
use std::path::Path;

use attestd_testkit::TestServer;
use attestd_testkit::dcap::{Break, TestCa, TestPlatform, TrustDomain};
use attestd_token::b64;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

async fn attest(server: &TestServer, body: Value) -> (u16, Value) {
    let r = server
        .client()
        .post(format!("{}/attest/TdxVm?api-version=2025-06-01", server.url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn start(ca: &TestCa, platforms: &[&TestPlatform]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).expect("root");
    let server = TestServer::start(
        Path::new(BIN),
        &["--offline", "--insecure-test-sgx-root", root.to_str().expect("utf-8")],
    );
    let mut args = vec!["collateral".to_owned(), "import".to_owned()];
    for (i, p) in platforms.iter().enumerate() {
        let f = dir.path().join(format!("tdx-{i}.json"));
        std::fs::write(&f, &p.bundle).expect("bundle");
        args.push(f.to_str().expect("utf-8").to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.run_cli(&args);
    (server, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_td_gets_a_tdxvm_token_and_broken_checks_are_400s() {
    let ca = TestCa::new();
    let runtime = br#"{"pub":"td-key"}"#;
    let td = TrustDomain::default().binding(runtime);
    let good = ca.tdx_platform([0x90, 0xc0, 0x6f, 0, 0, 0], None);
    let breaks = [
        (Break::QuoteSignature, "QuoteSignatureInvalid"),
        (Break::QeReportSignature, "QeReportSignatureInvalid"),
        (Break::QeReportData, "QeReportDataMismatch"),
        (Break::PckChain, "PckChainInvalid"),
        (Break::TcbInfoSignature, "TcbInfoSignatureInvalid"),
        (Break::QeIdentityMismatch, "QeIdentityMismatch"),
        (Break::ExpiredCollateral, "CollateralExpired"),
        (Break::TcbNotSupported, "TcbLevelNotSupported"),
        (Break::OutOfDate, "TcbStatusNotAccepted"),
    ];
    let broken: Vec<(TestPlatform, &str)> = breaks
        .iter()
        .enumerate()
        .map(|(i, (b, code))| (ca.tdx_platform([0x91, 0, 0, 0, 0, i as u8], Some(*b)), *code))
        .collect();
    let mut all: Vec<&TestPlatform> = vec![&good];
    all.extend(broken.iter().map(|(p, _)| p));
    let (server, _dir) = start(&ca, &all);

    let quote = b64::encode_url(&good.td_quote(&td));
    let (status, body) = attest(
        &server,
        json!({"quote": quote, "runtimeData": {"data": b64::encode_url(runtime), "dataType": "JSON"}, "nonce": "tdx-nonce"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v = common::verify_against_certs(&server, body["token"].as_str().expect("token")).await;
    let c = &v.claims;
    assert_eq!(c["x-ms-attestation-type"], "tdxvm");
    assert_eq!(c["nonce"], "tdx-nonce");
    assert_eq!(c["tdx_mrtd"], hex::encode([0x7d; 48]));
    assert_eq!(c["tdx_rtmr1"], hex::encode([0x22; 48]));
    assert_eq!(c["tdx_tee_tcb_svn"], "03000500000000000000000000000000");
    assert_eq!(c["tdx_seamsvn"], 3);
    assert_eq!(c["tdx_td_attributes_debug"], false);
    assert_eq!(c["tdx_td_attributes_septve_disable"], true);
    assert_eq!(c["attester_tcb_status"], "UpToDate");
    assert_eq!(c["x-ms-runtime"], json!({"pub": "td-key"}));

    for (platform, code) in &broken {
        let (status, body) = attest(&server, json!({"quote": b64::encode_url(&platform.td_quote(&td))})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(*code)), "{body}");
        assert!(body.get("token").is_none());
    }
    // Runtime data the TD did not bind.
    let (status, body) = attest(
        &server,
        json!({"quote": quote, "runtimeData": {"data": b64::encode_url(b"{}"), "dataType": "JSON"}}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RuntimeDataMismatch")),
        "{body}"
    );
    // An SGX quote sent to the TDX route.
    let sgx = ca.platform([0x92, 0, 0, 0, 0, 0], None);
    let (status, body) = attest(
        &server,
        json!({"quote": b64::encode_url(&sgx.quote(&attestd_testkit::dcap::Enclave::default()))}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("NotATdxQuote")),
        "{body}"
    );
    // A denying draft policy.
    let deny = r#"version=1.0; authorizationrules { [type=="tdx_td_attributes_debug", value==true] => permit(); };"#;
    let (status, body) = attest(&server, json!({"quote": quote, "draftPolicyForAttestation": deny})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("PolicyEvaluationError")),
        "{body}"
    );
}
