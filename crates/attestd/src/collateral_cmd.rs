//! DCAP collateral in the service's state: `attestd collateral import`, and the
//! [`StoreCollateral`] source through which the SGX verifier finds imported bundles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use attestd_dcap::quote::TeeType;
use attestd_dcap::{PckCa, TrustAnchors};
use attestd_evidence::EvidenceError;
use attestd_sgx::collateral::{ca_name, store_prefix};
use attestd_sgx::{
    CollateralFuture, CollateralKey, CollateralSource, SgxCollateral, SgxOptions, SgxVerifier, StaticCollateral,
};
use attestd_store::Store;
use clap::Subcommand;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{CollateralConfig, StateArgs, resolve_state};
use crate::state::{collateral_cache, ensure_data_dir, redact};

/// How long the list of stored bundles of one FMSPC is trusted before the store is asked again
/// (so that bundles imported while the server runs are picked up).
const RELIST_AFTER: Duration = Duration::from_secs(10);
/// After a miss (no bundle for the FMSPC), the store is asked again sooner: an operator who has just
/// imported the missing bundle retries within seconds.
const RELIST_AFTER_MISS: Duration = Duration::from_secs(1);

/// `attestd collateral …`.
#[derive(Subcommand, Debug)]
pub enum CollateralCommand {
    /// Import DCAP collateral bundles (dcap-qvl / QvE JSON: TCB info, QE identity, CRLs and their
    /// issuer chains) into the state, for offline SGX attestation.
    Import {
        /// Bundle files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix(t))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix(t).to_string())
}

/// Reads and parses one bundle file.
pub fn read_bundle(path: &Path) -> anyhow::Result<(SgxCollateral, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle = SgxCollateral::from_json(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", path.display(), e.code, e.message))?;
    Ok((bundle, bytes))
}

/// Runs `attestd collateral …`.
pub async fn run(cmd: CollateralCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CollateralCommand::Import { files, state } => {
            let state = resolve_state(&state)?;
            ensure_data_dir(&state.data_dir)?;
            let store = Store::open(&state.database)
                .await
                .with_context(|| format!("opening the database {}", redact(&state.database)))?;
            let cache = collateral_cache(&store, &state.collateral)?;
            let now = unix(SystemTime::now());
            for path in &files {
                let (bundle, bytes) = read_bundle(path)?;
                let key = bundle.store_key();
                cache
                    .put(&key, &bytes, None, now)
                    .await
                    .with_context(|| format!("storing {key}"))?;
                let c = bundle.collateral();
                println!(
                    "imported {} as {key} (FMSPC {}, PCK {} CA, TCB evaluation data number {}, valid {} .. {})",
                    path.display(),
                    hex::encode_upper(c.fmspc()),
                    ca_name(bundle.pck_ca()),
                    c.tcb_evaluation_data_number(),
                    rfc3339(c.issue_date()),
                    rfc3339(c.next_update()),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The SGX trust anchors of `config`: Intel's root, or (loudly) a test root.
pub fn trust_anchors(config: &CollateralConfig) -> anyhow::Result<TrustAnchors> {
    let Some(path) = &config.insecure_test_sgx_root else {
        return Ok(TrustAnchors::intel());
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = if bytes.starts_with(b"-----BEGIN") {
        CertificateDer::from_pem_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", path.display()))?
            .to_vec()
    } else {
        bytes
    };
    tracing::warn!(
        root = %path.display(),
        "INSECURE: --insecure-test-sgx-root replaces Intel's SGX root; SGX evidence signed by this test root is accepted. Never use this in production."
    );
    Ok(TrustAnchors::insecure_test_roots(vec![der]))
}

/// The SGX / Open Enclave verifier of `config` over `source`.
pub fn sgx_verifier(config: &CollateralConfig, source: Arc<dyn CollateralSource>) -> anyhow::Result<SgxVerifier> {
    Ok(
        SgxVerifier::new(trust_anchors(config)?, source).with_options(SgxOptions {
            accepted_statuses: config.accepted_tcb_statuses,
        }),
    )
}

type ListKey = (TeeType, [u8; 6], PckCa);

/// DCAP collateral imported into the store (`attestd collateral import`), parsed once and held in
/// memory; the bundles of an FMSPC are listed again at most every ten seconds so that imports made
/// while the server runs are seen.
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
        Box::pin(async move {
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
        })
    }
}
