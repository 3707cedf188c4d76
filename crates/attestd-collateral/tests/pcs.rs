//! DCAP collateral from a mock Intel PCS (a local HTTP server serving test-CA collateral the way
//! PCS v4 / PCCS do: JSON bodies, CRLs as DER, PEM or hex, issuer chains as URL-encoded PEM
//! headers): URL shapes, one fetch per document for many concurrent attestations, kept in the
//! store across restarts and served without the PCS, refreshed when nextUpdate nears, tampered
//! responses refused and not kept, offline mode never fetching, rate limits and HTTP 429.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use attestd_collateral::{CollateralCache, PcsCollateral, PcsConfig, RateLimit, StoreCollateral};
use attestd_dcap::quote::TeeType;
use attestd_dcap::{PckCa, TrustAnchors};
use attestd_evidence::{AttestationType, ClaimSet, Evidence, EvidenceError};
use attestd_sgx::{CollateralKey, CollateralSource, SgxVerifier};
use attestd_store::Store;
use attestd_testkit::dcap::{Enclave, TestCa, TestPlatform};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How the mock serves CRLs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CrlEncoding {
    Der,
    Pem,
    Hex,
}

#[derive(Clone)]
struct Mock {
    /// TCB info and QE identity bodies with their chains, by TEE and FMSPC (upper-case hex).
    platforms: Arc<HashMap<(&'static str, String), Value>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    uris: Arc<Mutex<Vec<String>>>,
    tamper: Arc<AtomicBool>,
    too_many: Arc<AtomicBool>,
    crl_encoding: CrlEncoding,
    /// Send the TCB info chain under PCS v3's header name.
    legacy_header: bool,
    delay: Duration,
}

use attestd_testkit::url_encode;

fn chain_header(headers: &mut HeaderMap, name: &'static str, pem: &str) {
    headers.insert(name, HeaderValue::from_str(&url_encode(pem)).expect("header"));
}

fn crl_body(hex_der: &str, encoding: CrlEncoding) -> Vec<u8> {
    let der = hex::decode(hex_der).expect("hex CRL");
    match encoding {
        CrlEncoding::Der => der,
        CrlEncoding::Hex => hex_der.as_bytes().to_vec(),
        CrlEncoding::Pem => {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
            format!("-----BEGIN X509 CRL-----\n{b64}\n-----END X509 CRL-----\n").into_bytes()
        }
    }
}

async fn serve(State(m): State<Mock>, OriginalUri(uri): OriginalUri) -> axum::response::Response {
    *m.hits.lock().unwrap().entry(uri.path().to_owned()).or_default() += 1;
    m.uris.lock().unwrap().push(uri.to_string());
    tokio::time::sleep(m.delay).await;
    if m.too_many.load(Ordering::SeqCst) {
        return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "120")]).into_response();
    }
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let path = uri.path();
    let tee = if path.starts_with("/tdx/") { "tdx" } else { "sgx" };
    let any_of_tee = m.platforms.iter().find(|((t, _), _)| *t == tee).map(|(_, b)| b);
    let any = m.platforms.values().next();
    let mut headers = HeaderMap::new();
    let body: Vec<u8> = match path {
        "/sgx/certification/v4/tcb" | "/tdx/certification/v4/tcb" => {
            let fmspc = query.get("fmspc").cloned().unwrap_or_default();
            let Some(b) = m.platforms.get(&(tee, fmspc)) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let mut text = b["tcb_info"].as_str().unwrap().to_owned();
            if m.tamper.load(Ordering::SeqCst) {
                // One byte more inside the signed text: the signature no longer covers it.
                text = text.replacen("\"tcbType\":0", "\"tcbType\": 0", 1);
            }
            let name = if m.legacy_header {
                "SGX-TCB-Info-Issuer-Chain"
            } else {
                "TCB-Info-Issuer-Chain"
            };
            chain_header(&mut headers, name, b["tcb_info_issuer_chain"].as_str().unwrap());
            format!(
                r#"{{"tcbInfo":{text},"signature":"{}"}}"#,
                b["tcb_info_signature"].as_str().unwrap()
            )
            .into_bytes()
        }
        "/sgx/certification/v4/qe/identity" | "/tdx/certification/v4/qe/identity" => {
            let Some(b) = any_of_tee else {
                return StatusCode::NOT_FOUND.into_response();
            };
            chain_header(
                &mut headers,
                "SGX-Enclave-Identity-Issuer-Chain",
                b["qe_identity_issuer_chain"].as_str().unwrap(),
            );
            format!(
                r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
                b["qe_identity"].as_str().unwrap(),
                b["qe_identity_signature"].as_str().unwrap()
            )
            .into_bytes()
        }
        "/sgx/certification/v4/pckcrl" if query.get("ca").map(String::as_str) == Some("processor") => {
            let b = any.unwrap();
            chain_header(
                &mut headers,
                "SGX-PCK-CRL-Issuer-Chain",
                b["pck_crl_issuer_chain"].as_str().unwrap(),
            );
            crl_body(b["pck_crl"].as_str().unwrap(), m.crl_encoding)
        }
        "/sgx/certification/v4/rootcacrl" => crl_body(any.unwrap()["root_ca_crl"].as_str().unwrap(), m.crl_encoding),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (StatusCode::OK, headers, body).into_response()
}

struct Pcs {
    url: String,
    mock: Mock,
    task: tokio::task::JoinHandle<()>,
}

impl Pcs {
    fn hits(&self, path: &str) -> usize {
        self.mock.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.mock.hits.lock().unwrap().values().sum()
    }
}

async fn start_pcs(platforms: &[(&'static str, &TestPlatform)], crl_encoding: CrlEncoding, legacy_header: bool) -> Pcs {
    let map = platforms
        .iter()
        .map(|(tee, p)| {
            (
                (*tee, hex::encode_upper(p.fmspc)),
                serde_json::from_slice::<Value>(&p.bundle).unwrap(),
            )
        })
        .collect();
    let mock = Mock {
        platforms: Arc::new(map),
        hits: Arc::default(),
        uris: Arc::default(),
        tamper: Arc::default(),
        too_many: Arc::default(),
        crl_encoding,
        legacy_header,
        delay: Duration::from_millis(200),
    };
    let app = axum::Router::new().fallback(serve).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Pcs { url, mock, task }
}

fn config(url: &str) -> PcsConfig {
    let mut c = PcsConfig::new(url, None);
    c.limit = RateLimit::new(Duration::from_millis(1), Duration::from_secs(5));
    c.refresh_retry = Duration::from_secs(3600);
    c.miss_retry = Duration::ZERO;
    c
}

struct Node {
    store: Store,
    cache: Arc<CollateralCache>,
    source: Arc<PcsCollateral>,
}

async fn node(db: &std::path::Path, ca: &TestCa, online: bool, config: PcsConfig) -> Node {
    let store = Store::open_sqlite(db).await.unwrap();
    let cache = Arc::new(if online {
        CollateralCache::online(Some(store.clone()), Duration::from_secs(5)).unwrap()
    } else {
        CollateralCache::offline(Some(store.clone()))
    });
    let local = Arc::new(StoreCollateral::new(store.clone()));
    let anchors = TrustAnchors::insecure_test_roots(vec![ca.root_der()]);
    let source = Arc::new(PcsCollateral::new(local, Arc::clone(&cache), anchors, config));
    Node { store, cache, source }
}

async fn attest(ca: &TestCa, source: Arc<PcsCollateral>, quote: &[u8], now: SystemTime) -> Result<(), EvidenceError> {
    let v = SgxVerifier::new(TrustAnchors::insecure_test_roots(vec![ca.root_der()]), source);
    let e = Evidence {
        attestation_type: AttestationType::SgxEnclave,
        bytes: quote.to_vec(),
        runtime_data: None,
        init_time_data: None,
    };
    v.appraise(&e, &ClaimSet::new(), now).await.map(|a| {
        assert_eq!(a.token_claims["x-ms-sgx-tcb-status"], "UpToDate");
    })
}

fn key(tee: TeeType, p: &TestPlatform) -> CollateralKey {
    CollateralKey {
        tee,
        fmspc: p.fmspc,
        ca: PckCa::Processor,
        tcb_evaluation_data_number: None,
    }
}

const DOCS: [&str; 4] = [
    "/sgx/certification/v4/tcb",
    "/sgx/certification/v4/qe/identity",
    "/sgx/certification/v4/pckcrl",
    "/sgx/certification/v4/rootcacrl",
];

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_attestations_fetch_each_document_once_and_a_restarted_node_needs_no_pcs() {
    let ca = TestCa::new();
    let p = ca.platform([0x40, 0x60, 0x6a, 0, 0, 0], None);
    let quote = p.quote(&Enclave::default());
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Der, false).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("attestd.db");
    let n = node(&db, &ca, true, config(&pcs.url)).await;
    let now = SystemTime::now();

    let t0 = std::time::Instant::now();
    let results =
        futures_util::future::join_all((0..16).map(|_| attest(&ca, Arc::clone(&n.source), &quote, now))).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    eprintln!("16 concurrent attestations with a cold cache: {:?}", t0.elapsed());
    for doc in DOCS {
        assert_eq!(pcs.hits(doc), 1, "{doc}: one fetch for 16 concurrent attestations");
    }
    assert_eq!(n.cache.stats().fetches, 4);
    // The PCS v4 URL shapes.
    let uris = pcs.mock.uris.lock().unwrap().clone();
    for expected in [
        "/sgx/certification/v4/tcb?fmspc=40606A000000",
        "/sgx/certification/v4/qe/identity",
        "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
        "/sgx/certification/v4/rootcacrl",
    ] {
        assert!(uris.iter().any(|u| u == expected), "{expected} not in {uris:?}");
    }
    // Later attestations: no fetch.
    attest(&ca, Arc::clone(&n.source), &quote, now).await.unwrap();
    assert_eq!(pcs.total(), 4);

    // Kept in the store as a bundle, with its nextUpdate.
    let stored = n.store.collateral("dcap/sgx/40606A000000/processor/17").await.unwrap();
    let (body, next_update) = stored.expect("the fetched bundle is stored");
    assert!(next_update.is_some());
    assert!(attestd_sgx::SgxCollateral::from_json(&body).is_ok());

    // The PCS goes away; a restarted node serves from the store.
    pcs.task.abort();
    drop(n);
    let n = node(&db, &ca, true, config(&pcs.url)).await;
    attest(&ca, Arc::clone(&n.source), &quote, now).await.unwrap();
    assert_eq!(n.cache.stats().fetches, 0, "nothing fetched after the restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_is_refreshed_when_its_next_update_nears_and_kept_when_the_refresh_fails() {
    let ca = TestCa::new();
    let p = ca.platform([0x41, 0, 0, 0, 0, 1], None);
    let quote = p.quote(&Enclave::default());
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Der, false).await;
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("a.db"), &ca, true, config(&pcs.url)).await;
    let now = SystemTime::now();
    attest(&ca, Arc::clone(&n.source), &quote, now).await.unwrap();
    assert_eq!(pcs.hits(DOCS[0]), 1);
    // The TCB info is valid for 30 days (issued a day ago): not due 20 days on (9 days left, more
    // than a quarter of the window).
    attest(&ca, Arc::clone(&n.source), &quote, now + 20 * DAY)
        .await
        .unwrap();
    assert_eq!(pcs.hits(DOCS[0]), 1, "not due yet");
    // 25 days on, 4 days are left: refreshed (every document: the shared ones are old too).
    let later = now + 25 * DAY;
    attest(&ca, Arc::clone(&n.source), &quote, later).await.unwrap();
    for doc in DOCS {
        assert_eq!(pcs.hits(doc), 2, "{doc} refreshed");
    }
    // The PCS served the same documents, so the bundle is still due; the next refresh attempt waits
    // for refresh_retry (1 h) and the bundle keeps serving.
    attest(&ca, Arc::clone(&n.source), &quote, later + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(pcs.hits(DOCS[0]), 2);
    // A refresh that fails (tampered TCB info) keeps the old bundle in use.
    pcs.mock.tamper.store(true, Ordering::SeqCst);
    attest(
        &ca,
        Arc::clone(&n.source),
        &quote,
        later + 2 * Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(pcs.hits(DOCS[0]), 3);
    // Past nextUpdate, with nothing better from the PCS: the collateral is not used.
    let expired = attest(&ca, Arc::clone(&n.source), &quote, now + 31 * DAY)
        .await
        .unwrap_err();
    assert_eq!(expired.code, "PcsCollateralInvalid", "{expired:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_response_is_refused_and_not_kept() {
    let ca = TestCa::new();
    let p = ca.platform([0x42, 0, 0, 0, 0, 2], None);
    let quote = p.quote(&Enclave::default());
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Hex, false).await;
    pcs.mock.tamper.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("t.db"), &ca, true, config(&pcs.url)).await;
    let now = SystemTime::now();
    let e = attest(&ca, Arc::clone(&n.source), &quote, now).await.unwrap_err();
    assert_eq!(e.code, "PcsCollateralInvalid", "{e:?}");
    assert!(e.message.contains("TcbInfoSignatureInvalid"), "{}", e.message);
    assert_eq!(e.kind, attestd_evidence::ErrorKind::CollateralUnavailable);
    assert!(
        n.store.collateral_keys("dcap/").await.unwrap().is_empty(),
        "nothing kept"
    );
    // A PCS that serves good collateral again (hex CRLs, as older PCCS do) is used.
    pcs.mock.tamper.store(false, Ordering::SeqCst);
    attest(&ca, Arc::clone(&n.source), &quote, now).await.unwrap();
    assert_eq!(n.store.collateral_keys("dcap/").await.unwrap().len(), 1);

    // Collateral under another root (a chain the anchors do not know) is refused too.
    let rogue = TestCa::new();
    let q = rogue.platform([0x42, 0, 0, 0, 0, 3], None);
    let pcs2 = start_pcs(&[("sgx", &q)], CrlEncoding::Der, false).await;
    let n2 = node(&dir.path().join("t2.db"), &ca, true, config(&pcs2.url)).await;
    let e = n2.source.collateral(&key(TeeType::Sgx, &q), now).await.unwrap_err();
    assert_eq!(e.code, "PcsCollateralInvalid", "{e:?}");
    assert!(n2.store.collateral_keys("dcap/").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tdx_collateral_comes_from_the_tdx_paths_with_pem_crls_and_the_v3_header() {
    let ca = TestCa::new();
    let p = ca.tdx_platform([0x43, 0x80, 0x6f, 0, 0, 0], None);
    let pcs = start_pcs(&[("tdx", &p)], CrlEncoding::Pem, true).await;
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("x.db"), &ca, true, config(&pcs.url)).await;
    let bundle = n
        .source
        .collateral(&key(TeeType::Tdx, &p), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(bundle.collateral().tee(), TeeType::Tdx);
    assert_eq!(pcs.hits("/tdx/certification/v4/tcb"), 1);
    assert_eq!(pcs.hits("/tdx/certification/v4/qe/identity"), 1);
    assert_eq!(pcs.hits("/sgx/certification/v4/tcb"), 0);
    assert!(
        n.store
            .collateral("dcap/tdx/43806F000000/processor/17")
            .await
            .unwrap()
            .is_some()
    );
    // An FMSPC the PCS does not know: 503, retryable.
    let mut unknown = key(TeeType::Tdx, &p);
    unknown.fmspc = [0x99; 6];
    let e = n.source.collateral(&unknown, SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code, "PcsCollateralUnavailable", "{e:?}");
    assert!(e.message.contains("404"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_mode_never_fetches() {
    let ca = TestCa::new();
    let p = ca.platform([0x44, 0, 0, 0, 0, 4], None);
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Der, false).await;
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("o.db"), &ca, false, config(&pcs.url)).await;
    let e = attest(
        &ca,
        Arc::clone(&n.source),
        &p.quote(&Enclave::default()),
        SystemTime::now(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "CollateralNotFound", "{e:?}");
    assert_eq!(pcs.total(), 0, "an offline node never asks the PCS");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_429_backs_off_and_the_rate_limit_refuses_long_waits() {
    let ca = TestCa::new();
    let p = ca.platform([0x45, 0, 0, 0, 0, 5], None);
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Der, false).await;
    pcs.mock.too_many.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("r.db"), &ca, true, config(&pcs.url)).await;
    let k = key(TeeType::Sgx, &p);
    let e = n.source.collateral(&k, SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code, "PcsCollateralUnavailable", "{e:?}");
    let after_429 = pcs.total();
    assert!(after_429 >= 1);
    // Retry-After: 120 s, more than the limit lets a request wait (5 s): refused at once, the PCS
    // is not asked.
    pcs.mock.too_many.store(false, Ordering::SeqCst);
    let e = n.source.collateral(&k, SystemTime::now()).await.unwrap_err();
    assert_eq!(e.code, "PcsCollateralUnavailable", "{e:?}");
    assert!(e.message.contains("rate limit"), "{}", e.message);
    assert_eq!(pcs.total(), after_429);

    // A limit of one request per 300 ms spaces the four documents of a bundle.
    let pcs = start_pcs(&[("sgx", &p)], CrlEncoding::Der, false).await;
    let mut c = config(&pcs.url);
    c.limit = RateLimit::new(Duration::from_millis(300), Duration::from_secs(5));
    let n = node(&dir.path().join("r2.db"), &ca, true, c).await;
    let t0 = std::time::Instant::now();
    n.source.collateral(&k, SystemTime::now()).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(900), "{:?}", t0.elapsed());
    assert_eq!(pcs.total(), 4);
}
