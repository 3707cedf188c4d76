//! The collateral cache: memory, then the store, then the vendor's service.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use attestd_store::Store;

use crate::{CollateralError, RateLimit};

/// Entries kept in memory; beyond this the oldest half is dropped (the store still has them).
const MAX_MEMORY_ENTRIES: usize = 4096;
/// The largest body accepted from a vendor service.
const MAX_BODY_BYTES: usize = 1 << 20;

/// One cached document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached {
    /// The body exactly as the service (or the import) gave it.
    pub body: Arc<[u8]>,
    /// When it must be fetched again (Unix seconds); `None` = only the document's own validity
    /// (e.g. a certificate's notAfter, checked by the verifier) limits it.
    pub next_update: Option<i64>,
}

impl Cached {
    fn fresh_at(&self, now: i64) -> bool {
        self.next_update.is_none_or(|n| n > now)
    }
}

/// A fetched response, not yet verified.
#[derive(Clone, Debug)]
pub struct Response {
    /// The body (at most 1 MiB).
    pub body: Vec<u8>,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
}

/// A caller's single-flight turn for one key ([`CollateralCache::single_flight`]); released on drop.
#[derive(Debug)]
pub struct FlightGuard {
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

/// How the cache answered so far (for metrics and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Answers from memory.
    pub memory_hits: u64,
    /// Answers from the store.
    pub store_hits: u64,
    /// HTTP fetches started.
    pub fetches: u64,
}

/// Collateral by key (e.g. `amd/vcek/Milan/<hwid>/<tcb>`), cached in memory and in the store.
pub struct CollateralCache {
    store: Option<Store>,
    http: Option<reqwest::Client>,
    memory: RwLock<HashMap<String, (u64, Arc<Cached>)>>,
    /// One lock per key being fetched: the first caller fetches, the others wait and then find it
    /// in memory.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    inserted: AtomicU64,
    memory_hits: AtomicU64,
    store_hits: AtomicU64,
    fetches: AtomicU64,
}

impl std::fmt::Debug for CollateralCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollateralCache")
            .field("store", &self.store.is_some())
            .field("online", &self.http.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

impl CollateralCache {
    /// A cache over `store` (or memory only) that fetches missing collateral over HTTP.
    pub fn online(store: Option<Store>, timeout: Duration) -> Result<CollateralCache, CollateralError> {
        // reqwest is built without a default TLS provider; a second install is a harmless no-op.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("attestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CollateralError::Fetch {
                url: String::new(),
                reason: format!("HTTP client: {e}"),
            })?;
        Ok(CollateralCache::with_client(store, Some(http)))
    }

    /// A cache that never fetches: only imported or previously stored collateral is used.
    pub fn offline(store: Option<Store>) -> CollateralCache {
        CollateralCache::with_client(store, None)
    }

    fn with_client(store: Option<Store>, http: Option<reqwest::Client>) -> CollateralCache {
        CollateralCache {
            store,
            http,
            memory: RwLock::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            inserted: AtomicU64::new(0),
            memory_hits: AtomicU64::new(0),
            store_hits: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// Whether this cache may fetch.
    pub fn is_online(&self) -> bool {
        self.http.is_some()
    }

    /// The counters so far.
    pub fn stats(&self) -> FetchStats {
        FetchStats {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            store_hits: self.store_hits.load(Ordering::Relaxed),
            fetches: self.fetches.load(Ordering::Relaxed),
        }
    }

    /// The cached document for `key` that is still fresh at `now` (Unix seconds), from memory or
    /// the store.
    pub async fn lookup(&self, key: &str, now: i64) -> Result<Option<Arc<Cached>>, CollateralError> {
        if let Some(hit) = self.memory_entry(key, now) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(hit));
        }
        let Some(store) = &self.store else { return Ok(None) };
        let row = store
            .collateral(key)
            .await
            .map_err(|e| CollateralError::Store(e.to_string()))?;
        let Some((body, next_update)) = row else {
            return Ok(None);
        };
        let cached = Arc::new(Cached {
            body: body.into(),
            next_update,
        });
        if !cached.fresh_at(now) {
            return Ok(None);
        }
        self.store_hits.fetch_add(1, Ordering::Relaxed);
        self.remember(key, Arc::clone(&cached));
        Ok(Some(cached))
    }

    /// Stores `body` under `key` (an offline import, or a fetched document).
    pub async fn put(
        &self,
        key: &str,
        body: &[u8],
        next_update: Option<i64>,
        now: i64,
    ) -> Result<Arc<Cached>, CollateralError> {
        if let Some(store) = &self.store {
            store
                .put_collateral(key, body, now, next_update)
                .await
                .map_err(|e| CollateralError::Store(e.to_string()))?;
        }
        let cached = Arc::new(Cached {
            body: body.into(),
            next_update,
        });
        self.remember(key, Arc::clone(&cached));
        Ok(cached)
    }

    /// The document for `key`, fetched from `url` when nothing fresh is cached. Concurrent callers
    /// for one key share one fetch; fetches are spaced by `limit`. `next_update` tells from the body
    /// when it must be fetched again.
    pub async fn get_or_fetch(
        &self,
        key: &str,
        url: &str,
        limit: &RateLimit,
        now: i64,
        next_update: impl FnOnce(&[u8]) -> Option<i64>,
    ) -> Result<Arc<Cached>, CollateralError> {
        if let Some(hit) = self.lookup(key, now).await? {
            return Ok(hit);
        }
        let Some(http) = &self.http else {
            return Err(CollateralError::NotCached { key: key.to_owned() });
        };
        let flight = self.flight(key);
        let _turn = flight.lock().await;
        // Whoever held the lock before us may have fetched it.
        if let Some(hit) = self.memory_entry(key, now) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let result = self.fetch(http, url, limit).await;
        let outcome = match result {
            Ok(body) => {
                let next = next_update(&body);
                self.put(key, &body, next, now).await
            }
            Err(e) => Err(e),
        };
        self.flights.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        outcome
    }

    async fn fetch(&self, http: &reqwest::Client, url: &str, limit: &RateLimit) -> Result<Vec<u8>, CollateralError> {
        Ok(self.fetch_with(http, url, limit).await?.body)
    }

    /// One GET of `url` with its response headers (e.g. the issuer chains Intel's PCS sends in
    /// them), under the same rules as [`CollateralCache::get_or_fetch`]: spaced by `limit`,
    /// HTTP 429 `Retry-After` honoured, the body capped at 1 MiB, the client's timeout. Nothing
    /// is cached: the caller verifies the response first and then [`CollateralCache::put`]s what
    /// it derives from it.
    pub async fn fetch_response(&self, url: &str, limit: &RateLimit) -> Result<Response, CollateralError> {
        let Some(http) = &self.http else {
            return Err(CollateralError::NotCached { key: url.to_owned() });
        };
        self.fetch_with(http, url, limit).await
    }

    /// Takes the single-flight turn for `key`, waiting while another caller holds it. Callers
    /// check what is cached after getting it: the one before them may have fetched it.
    pub async fn single_flight(&self, key: &str) -> FlightGuard {
        FlightGuard {
            _turn: self.flight(key).lock_owned().await,
        }
    }

    /// Takes the single-flight turn for `key` only if nobody holds it (for refreshes that need not
    /// wait: the caller still has usable collateral).
    pub fn try_single_flight(&self, key: &str) -> Option<FlightGuard> {
        self.flight(key)
            .try_lock_owned()
            .ok()
            .map(|turn| FlightGuard { _turn: turn })
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(flights.entry(key.to_owned()).or_default())
    }

    async fn fetch_with(
        &self,
        http: &reqwest::Client,
        url: &str,
        limit: &RateLimit,
    ) -> Result<Response, CollateralError> {
        limit.acquire().await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::info!(url, "fetching collateral");
        let fail = |reason: String| CollateralError::Fetch {
            url: url.to_owned(),
            reason,
        };
        let response = http.get(url).send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(CollateralError::NotFound { url: url.to_owned() });
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(60), Duration::from_secs);
            limit.back_off(retry_after).await;
            return Err(CollateralError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}")));
        }
        if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(fail(format!("the body is larger than {MAX_BODY_BYTES} bytes")));
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| fail(e.to_string()))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(fail(format!("the body is larger than {MAX_BODY_BYTES} bytes")));
        }
        Ok(Response {
            body: body.to_vec(),
            headers,
        })
    }

    fn memory_entry(&self, key: &str, now: i64) -> Option<Arc<Cached>> {
        let memory = self.memory.read().unwrap_or_else(|e| e.into_inner());
        memory.get(key).map(|(_, c)| c).filter(|c| c.fresh_at(now)).cloned()
    }

    fn remember(&self, key: &str, cached: Arc<Cached>) {
        let seq = self.inserted.fetch_add(1, Ordering::Relaxed);
        let mut memory = self.memory.write().unwrap_or_else(|e| e.into_inner());
        if memory.len() >= MAX_MEMORY_ENTRIES && !memory.contains_key(key) {
            // Drop the older half; they remain in the store.
            let mut seqs: Vec<u64> = memory.values().map(|(s, _)| *s).collect();
            seqs.sort_unstable();
            let cutoff = seqs.get(seqs.len() / 2).copied().unwrap_or(u64::MAX);
            memory.retain(|_, (s, _)| *s >= cutoff);
        }
        memory.insert(key.to_owned(), (seq, cached));
    }
}
