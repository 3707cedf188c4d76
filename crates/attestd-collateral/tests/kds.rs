//! VCEK fetching against a mock KDS (a local HTTP server): the right URL, one fetch for many
//! concurrent requests for one chip, the store keeps it across restarts and serves it offline,
//! and every failure is a retryable `VcekUnavailable`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_collateral::{CollateralCache, KdsVcekSource, RateLimit, vcek_url};
use attestd_evidence::{AttestationType, ErrorKind, Evidence, Verifier, VerifyContext};
use attestd_snp::{AmdRoots, AttestationReport, Generation, SnpVerifier};
use attestd_store::Store;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

fn vector(rel: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("sev-snp").join(rel)).expect(rel)
}

/// 2025-01-01T00:00:00Z: trustee's Milan report and its VCEK are valid then.
fn when() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

#[derive(Clone, Default)]
struct Kds {
    hits: Arc<AtomicUsize>,
    uris: Arc<Mutex<Vec<String>>>,
    /// Respond after this long, so concurrent callers overlap.
    delay: Duration,
}

async fn serve_vcek(State(kds): State<Kds>, OriginalUri(uri): OriginalUri) -> impl IntoResponse {
    kds.hits.fetch_add(1, Ordering::SeqCst);
    kds.uris.lock().expect("lock").push(uri.to_string());
    tokio::time::sleep(kds.delay).await;
    if uri.path().starts_with("/vcek/v1/Milan/") {
        (StatusCode::OK, vector("trustee/test-vcek.der")).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn start_kds(delay: Duration) -> (String, Kds) {
    let kds = Kds {
        delay,
        ..Kds::default()
    };
    let app = axum::Router::new().fallback(serve_vcek).with_state(kds.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), kds)
}

fn verifier(cache: Arc<CollateralCache>, url: &str, limit: RateLimit) -> SnpVerifier {
    let roots = Arc::new(AmdRoots::bundled().expect("roots"));
    SnpVerifier::new(roots, Arc::new(KdsVcekSource::new(cache, url, limit)))
}

/// A raw report (no VCEK in the evidence), as MAA's `report` member may carry it.
fn evidence(report: &[u8]) -> Evidence {
    Evidence {
        attestation_type: AttestationType::SevSnpVm,
        bytes: report.to_vec(),
        runtime_data: None,
        init_time_data: None,
    }
}

async fn verify(v: &SnpVerifier, e: &Evidence) -> Result<(), attestd_evidence::EvidenceError> {
    let config = attestd_evidence::ClaimSet::default();
    let ctx = VerifyContext {
        now: when(),
        configuration: &config,
    };
    v.verify(e, &ctx).await.map(|_| ())
}

fn fast() -> RateLimit {
    RateLimit::new(Duration::from_millis(1), Duration::from_secs(5))
}

#[tokio::test]
async fn url_names_the_chip_and_tcb() {
    let report = AttestationReport::parse(&vector("trustee/test-report.bin")).expect("report");
    let url = vcek_url("https://kds.example/", Generation::Milan, &report);
    let tcb = report.reported_tcb.levels(Generation::Milan);
    assert_eq!(
        url,
        format!(
            "https://kds.example/vcek/v1/Milan/{}?blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            hex::encode(report.chip_id),
            tcb.bootloader,
            tcb.tee,
            tcb.snp,
            tcb.microcode
        )
    );
    // Turin: the 8-byte hwID and the FMC level first.
    let turin = vcek_url("https://kds.example", Generation::Turin, &report);
    assert!(
        turin.contains(&format!("/Turin/{}?fmcSPL=", hex::encode(&report.chip_id[..8]))),
        "{turin}"
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_chip_fetch_once_and_the_store_keeps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("c.db");
    let (url, kds) = start_kds(Duration::from_millis(300)).await;
    let store = Store::open_sqlite(&db).await.expect("store");
    let cache = Arc::new(CollateralCache::online(Some(store), Duration::from_secs(10)).expect("cache"));
    let v = Arc::new(verifier(Arc::clone(&cache), &url, fast()));
    let e = Arc::new(evidence(&vector("trustee/test-report.bin")));

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (v, e) = (Arc::clone(&v), Arc::clone(&e));
            tokio::spawn(async move { verify(&v, &e).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("verifies with the fetched VCEK");
    }
    assert_eq!(kds.hits.load(Ordering::SeqCst), 1, "16 concurrent requests → 1 fetch");
    assert_eq!(cache.stats().fetches, 1);
    let uris = kds.uris.lock().expect("lock").clone();
    assert!(uris[0].starts_with("/vcek/v1/Milan/"), "{uris:?}");
    assert!(uris[0].contains("blSPL=") && uris[0].contains("ucodeSPL="), "{uris:?}");

    // A restarted node (new cache, same store) and an offline node find it in the store.
    for online in [true, false] {
        let store = Store::open_sqlite(&db).await.expect("store");
        let cache = Arc::new(if online {
            CollateralCache::online(Some(store), Duration::from_secs(10)).expect("cache")
        } else {
            CollateralCache::offline(Some(store))
        });
        let v = verifier(Arc::clone(&cache), &url, fast());
        verify(&v, &e).await.expect("verifies from the store");
        assert_eq!(cache.stats().fetches, 0);
        assert_eq!(cache.stats().store_hits, 1);
    }
    assert_eq!(kds.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failures_are_retryable_and_name_the_cause() {
    let (url, kds) = start_kds(Duration::ZERO).await;
    let report = vector("trustee/test-report.bin");

    // Offline with nothing stored.
    let v = verifier(Arc::new(CollateralCache::offline(None)), &url, fast());
    let err = verify(&v, &evidence(&report)).await.expect_err("nothing cached");
    assert_eq!(
        (err.code.as_ref(), err.kind),
        ("VcekUnavailable", ErrorKind::CollateralUnavailable)
    );
    assert!(err.message.contains("fetching is disabled"), "{}", err.message);

    // A KDS that does not know the chip (the mock answers 404 for Genoa; force Genoa by asking a
    // base URL whose Milan path also 404s).
    let online = || Arc::new(CollateralCache::online(None, Duration::from_secs(5)).expect("cache"));
    let v = verifier(online(), &format!("{url}/nowhere"), fast());
    let err = verify(&v, &evidence(&report)).await.expect_err("404");
    assert_eq!(err.code, "VcekUnavailable");
    assert!(err.message.contains("HTTP 404"), "{}", err.message);

    // A VLEK-signed report is never looked up.
    let before = kds.hits.load(Ordering::SeqCst);
    let v = verifier(online(), &url, fast());
    let err = verify(&v, &evidence(&vector("trustee/test-vlek-report.bin")))
        .await
        .expect_err("VLEK");
    assert_eq!(err.code, "VcekUnavailable");
    assert!(err.message.contains("VLEK"), "{}", err.message);
    assert_eq!(kds.hits.load(Ordering::SeqCst), before);

    // An unreachable KDS.
    let v = verifier(online(), "http://127.0.0.1:9", fast());
    let err = verify(&v, &evidence(&report)).await.expect_err("unreachable");
    assert_eq!(err.code, "VcekUnavailable");

    // The rate limit: a second chip lookup right after the first must wait 10 s; with a 1 s
    // maximum wait it is refused at once instead of holding the request.
    let v = verifier(
        online(),
        &format!("{url}/nowhere"),
        RateLimit::new(Duration::from_secs(10), Duration::from_secs(1)),
    );
    let started = std::time::Instant::now();
    let err = verify(&v, &evidence(&report)).await.expect_err("rate limited");
    assert!(err.message.contains("rate limit"), "{}", err.message);
    assert!(started.elapsed() < Duration::from_secs(5));
}
