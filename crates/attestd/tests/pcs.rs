//! SGX and TDX attestation over HTTPS with DCAP collateral from a mock Intel PCS
//! (`--intel-pcs-url`, `--intel-root-ca-crl-url`): concurrent attestations of one platform fetch
//! each document once, a restarted node without the PCS serves from the store, a tampered PCS
//! answer is a 503 and nothing is kept, `--offline` never asks the PCS, and `attestd collateral
//! import DIR` takes raw PCS responses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use attestd_testkit::TestServer;
use attestd_testkit::dcap::{Enclave, TestCa, TestPlatform, TrustDomain};
use attestd_token::b64;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

use attestd_testkit::url_encode;

/// The raw PCS documents of a test platform's bundle.
struct Docs {
    tcb_info: String,
    qe_identity: String,
    bundle: Value,
}

fn docs(p: &TestPlatform) -> Docs {
    let b: Value = serde_json::from_slice(&p.bundle).unwrap();
    let s = |k: &str| b[k].as_str().unwrap().to_owned();
    Docs {
        tcb_info: format!(
            r#"{{"tcbInfo":{},"signature":"{}"}}"#,
            s("tcb_info"),
            s("tcb_info_signature")
        ),
        qe_identity: format!(
            r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
            s("qe_identity"),
            s("qe_identity_signature")
        ),
        bundle: b,
    }
}

#[derive(Clone)]
struct Mock {
    /// By TEE path segment and FMSPC.
    platforms: Arc<HashMap<(String, String), Arc<Docs>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    tamper: Arc<AtomicBool>,
}

async fn serve(State(m): State<Mock>, OriginalUri(uri): OriginalUri) -> axum::response::Response {
    *m.hits.lock().unwrap().entry(uri.path().to_owned()).or_default() += 1;
    // Slow enough that concurrent attestations overlap while the first fetch is in flight.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let tee = uri.path().split('/').nth(1).unwrap_or_default().to_owned();
    let fmspc = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("fmspc=")))
        .unwrap_or_default()
        .to_owned();
    let of_tee = m
        .platforms
        .iter()
        .find(|((t, _), _)| *t == tee)
        .map(|(_, d)| Arc::clone(d));
    let Some(any) = m.platforms.values().next().cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let chain = |name: &'static str, key: &str| {
        let mut h = HeaderMap::new();
        let pem = any.bundle[key].as_str().unwrap();
        h.insert(name, HeaderValue::from_str(&url_encode(pem)).unwrap());
        h
    };
    match uri.path() {
        "/sgx/certification/v4/tcb" | "/tdx/certification/v4/tcb" => match m.platforms.get(&(tee, fmspc)) {
            Some(d) => {
                let mut body = d.tcb_info.clone();
                if m.tamper.load(Ordering::SeqCst) {
                    body = body.replacen("\"pceId\":\"0000\"", "\"pceId\": \"0000\"", 1);
                }
                (chain("TCB-Info-Issuer-Chain", "tcb_info_issuer_chain"), body).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        "/sgx/certification/v4/qe/identity" | "/tdx/certification/v4/qe/identity" => match of_tee {
            Some(d) => (
                chain("SGX-Enclave-Identity-Issuer-Chain", "qe_identity_issuer_chain"),
                d.qe_identity.clone(),
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        "/sgx/certification/v4/pckcrl" => (
            chain("SGX-PCK-CRL-Issuer-Chain", "pck_crl_issuer_chain"),
            hex::decode(any.bundle["pck_crl"].as_str().unwrap()).unwrap(),
        )
            .into_response(),
        // Served at a custom path: the server is told with --intel-root-ca-crl-url.
        "/crl/IntelSGXRootCA.der" => hex::decode(any.bundle["root_ca_crl"].as_str().unwrap())
            .unwrap()
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Pcs {
    url: String,
    mock: Mock,
    task: tokio::task::JoinHandle<()>,
}

impl Pcs {
    fn hits(&self) -> HashMap<String, usize> {
        self.mock.hits.lock().unwrap().clone()
    }

    fn total(&self) -> usize {
        self.hits().values().sum()
    }
}

async fn start_pcs(platforms: &[(&str, &TestPlatform)]) -> Pcs {
    let mock = Mock {
        platforms: Arc::new(
            platforms
                .iter()
                .map(|(tee, p)| (((*tee).to_owned(), hex::encode_upper(p.fmspc)), Arc::new(docs(p))))
                .collect(),
        ),
        hits: Arc::default(),
        tamper: Arc::default(),
    };
    let app = axum::Router::new().fallback(serve).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Pcs { url, mock, task }
}

fn server(ca: &TestCa, dir: &Path, pcs_url: &str, extra: &[&str]) -> TestServer {
    let root = dir.join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).unwrap();
    let crl_url = format!("{pcs_url}/crl/IntelSGXRootCA.der");
    let mut args = vec![
        "--insecure-test-sgx-root",
        root.to_str().unwrap(),
        "--intel-pcs-url",
        pcs_url,
        "--intel-root-ca-crl-url",
        &crl_url,
    ];
    args.extend_from_slice(extra);
    TestServer::start(Path::new(BIN), &args)
}

async fn attest(server: &TestServer, ty: &str, quote: &[u8]) -> (u16, Value) {
    let r = server
        .client()
        .post(format!("{}/attest/{ty}?api-version=2022-08-01", server.url()))
        .json(&json!({"quote": b64::encode_url(quote)}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn collateral_is_fetched_once_for_concurrent_attestations_and_kept_across_a_restart() {
    let ca = TestCa::new();
    let sgx = ca.platform([0x50, 0x60, 0x6a, 0, 0, 0], None);
    let tdx = ca.tdx_platform([0x50, 0x80, 0x6f, 0, 0, 0], None);
    let pcs = start_pcs(&[("sgx", &sgx), ("tdx", &tdx)]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = server(&ca, dir.path(), &pcs.url, &[]);
    let quote = sgx.quote(&Enclave::default());

    let results = futures_util::future::join_all((0..8).map(|_| attest(&server, "SgxEnclave", &quote))).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert!(body["token"].is_string());
    }
    let hits = pcs.hits();
    for doc in [
        "/sgx/certification/v4/tcb",
        "/sgx/certification/v4/qe/identity",
        "/sgx/certification/v4/pckcrl",
        "/crl/IntelSGXRootCA.der",
    ] {
        assert_eq!(hits.get(doc), Some(&1), "{doc}: {hits:?}");
    }
    // A TDX quote of the same service: its own TCB info and TD QE identity; the CRLs fetched for
    // the SGX platform are reused.
    let (status, body) = attest(&server, "TdxVm", &tdx.td_quote(&TrustDomain::default())).await;
    assert_eq!(status, 200, "{body}");
    let hits = pcs.hits();
    assert_eq!(hits.get("/tdx/certification/v4/tcb"), Some(&1), "{hits:?}");
    assert_eq!(hits.get("/tdx/certification/v4/qe/identity"), Some(&1), "{hits:?}");
    assert_eq!(pcs.total(), 6, "{hits:?}");

    // Without the PCS, a restarted node serves both from the store.
    pcs.task.abort();
    server.restart();
    let (status, body) = attest(&server, "SgxEnclave", &quote).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = attest(&server, "TdxVm", &tdx.td_quote(&TrustDomain::default())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(pcs.total(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_pcs_answer_is_a_503_without_token_and_offline_mode_never_asks() {
    let ca = TestCa::new();
    let sgx = ca.platform([0x51, 0, 0, 0, 0, 1], None);
    let pcs = start_pcs(&[("sgx", &sgx)]).await;
    pcs.mock.tamper.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let mut server = server(&ca, dir.path(), &pcs.url, &[]);
    let quote = sgx.quote(&Enclave::default());
    let (status, body) = attest(&server, "SgxEnclave", &quote).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("PcsCollateralInvalid")),
        "{body}"
    );
    assert!(body.get("token").is_none());
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("TcbInfoSignatureInvalid")),
        "{body}"
    );
    server.kill();

    // Offline, with the PCS configured and working: never asked, nothing stored.
    pcs.mock.tamper.store(false, Ordering::SeqCst);
    let before = pcs.total();
    let offline_dir = tempfile::tempdir().unwrap();
    let offline = self::server(&ca, offline_dir.path(), &pcs.url, &["--offline"]);
    let (status, body) = attest(&offline, "SgxEnclave", &quote).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("CollateralNotFound")),
        "{body}"
    );
    assert_eq!(pcs.total(), before, "an offline server never asks the PCS");

    // The restarted online server kept nothing of the tampered answer and fetches again.
    server.restart();
    let (status, body) = attest(&server, "SgxEnclave", &quote).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_pcs_responses_are_imported_from_a_directory() {
    let ca = TestCa::new();
    let sgx = ca.platform([0x52, 0, 0, 0, 0, 2], None);
    let d = docs(&sgx);
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("pcs-520000000002");
    std::fs::create_dir(&raw).unwrap();
    let b = &d.bundle;
    std::fs::write(raw.join("tcb_info.json"), &d.tcb_info).unwrap();
    // The chain as the response header carries it (URL-encoded PEM); the QE identity's is left
    // out (the same TCB signing chain).
    std::fs::write(
        raw.join("tcb_info_issuer_chain.txt"),
        url_encode(b["tcb_info_issuer_chain"].as_str().unwrap()),
    )
    .unwrap();
    std::fs::write(raw.join("qe_identity.json"), &d.qe_identity).unwrap();
    std::fs::write(
        raw.join("pck_crl.der"),
        hex::decode(b["pck_crl"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        raw.join("pck_crl_issuer_chain.pem"),
        b["pck_crl_issuer_chain"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(raw.join("root_ca_crl.hex"), b["root_ca_crl"].as_str().unwrap()).unwrap();
    std::fs::write(raw.join("README"), "ignored").unwrap();

    let root = dir.path().join("test-root.pem");
    std::fs::write(&root, ca.root_pem()).unwrap();
    let server = TestServer::start(
        Path::new(BIN),
        &["--offline", "--insecure-test-sgx-root", root.to_str().unwrap()],
    );
    let out = server.run_cli(&["collateral", "import", raw.to_str().unwrap()]);
    assert!(out.contains("as dcap/sgx/520000000002/processor/17"), "{out}");
    let (status, body) = attest(&server, "SgxEnclave", &sgx.quote(&Enclave::default())).await;
    assert_eq!(status, 200, "{body}");

    // A directory without one of the documents names it.
    std::fs::remove_file(raw.join("pck_crl.der")).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["collateral", "import", raw.to_str().unwrap(), "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no 'pck_crl' file"), "{err}");
}
