//! DCAP collateral kept in the store (imported with `attestd collateral import`, or fetched from
//! a PCS by [`crate::PcsCollateral`]): [`StoreCollateral`], the SGX / TDX verifiers' source.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use attestd_dcap::PckCa;
use attestd_dcap::quote::TeeType;
use attestd_evidence::EvidenceError;
use attestd_sgx::collateral::{ca_name, store_prefix};
use attestd_sgx::{CollateralFuture, CollateralKey, CollateralSource, SgxCollateral, StaticCollateral};
use attestd_store::Store;

/// How long the list of stored bundles of one FMSPC is trusted before the store is asked again
/// (so that bundles imported while the server runs are picked up).
const RELIST_AFTER: Duration = Duration::from_secs(10);
/// After a miss (no bundle for the FMSPC), the store is asked again sooner: an operator who has just
/// imported the missing bundle retries within seconds.
const RELIST_AFTER_MISS: Duration = Duration::from_secs(1);

type ListKey = (TeeType, [u8; 6], PckCa);

/// DCAP collateral in the store, parsed once and held in memory; the bundles of an FMSPC are
/// listed again at most every ten seconds so that imports made while the server runs are seen.
pub struct StoreCollateral {
    store: Store,
    loaded: StaticCollateral,
    listed: Mutex<HashMap<ListKey, Instant>>,
}

impl std::fmt::Debug for StoreCollateral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollateral")
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl StoreCollateral {
    /// A source over `store`.
    pub fn new(store: Store) -> StoreCollateral {
        StoreCollateral {
            store,
            loaded: StaticCollateral::new(),
            listed: Mutex::new(HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Adds a bundle that was just written to the store (so it is used before the next listing).
    pub fn insert(&self, bundle: SgxCollateral) {
        self.loaded.insert(bundle);
    }

    /// The bundle [`StaticCollateral::select`] picks among those loaded, listing the store first
    /// when due.
    pub async fn select(
        &self,
        key: &CollateralKey,
        now: SystemTime,
    ) -> Result<std::sync::Arc<SgxCollateral>, EvidenceError> {
        let list_key = (key.tee, key.fmspc, key.ca);
        if self.needs_listing(list_key, RELIST_AFTER) {
            self.refresh(key).await?;
        }
        match self.loaded.select(key, now) {
            Err(e) if e.code == "CollateralNotFound" && self.needs_listing(list_key, RELIST_AFTER_MISS) => {
                self.refresh(key).await?;
                self.loaded.select(key, now)
            }
            found => found,
        }
    }

    fn needs_listing(&self, key: ListKey, max_age: Duration) -> bool {
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        match listed.get(&key) {
            Some(at) if at.elapsed() < max_age => false,
            _ => {
                listed.insert(key, Instant::now());
                true
            }
        }
    }

    async fn refresh(&self, key: &CollateralKey) -> Result<(), EvidenceError> {
        let prefix = format!(
            "{}{}/{}/",
            store_prefix(key.tee),
            hex::encode_upper(key.fmspc),
            ca_name(key.ca)
        );
        let keys = self.store.collateral_keys(&prefix).await.map_err(|e| {
            EvidenceError::collateral_unavailable("CollateralStoreUnavailable", format!("listing {prefix}*: {e}"))
        })?;
        for k in keys {
            // Straight from the store: Intel reissues collateral under the same evaluation data
            // number, and a re-import replaces the row that a memory cache would still hold.
            let row = self.store.collateral(&k).await.map_err(|e| {
                EvidenceError::collateral_unavailable("CollateralStoreUnavailable", format!("reading {k}: {e}"))
            })?;
            let Some((body, _)) = row else { continue };
            match SgxCollateral::from_json(&body) {
                Ok(bundle) => self.loaded.insert(bundle),
                Err(e) => tracing::warn!(key = %k, code = %e.code, "stored collateral is unusable: {}", e.message),
            }
        }
        Ok(())
    }
}

impl CollateralSource for StoreCollateral {
    fn collateral<'a>(&'a self, key: &'a CollateralKey, now: SystemTime) -> CollateralFuture<'a> {
        Box::pin(self.select(key, now))
    }
}
