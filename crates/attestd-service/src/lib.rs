//! The attestd service core, independent of HTTP: configuration, providers and their signing keys,
//! and the attestation pipeline (evidence → verifier → claims → token).
//!
//! The HTTP layer and the CLI are thin shells around [`Service`].

#![forbid(unsafe_code)]

mod audit;
mod config;
mod error;
mod exchange;
mod keystore;
pub mod management;
mod metadata;
pub mod monitor;
mod pipeline;
pub mod policy;
mod provider;
mod registry;

use std::sync::Arc;

use attestd_evidence::VerifierRegistry;
use attestd_store::Store;

pub use config::ServiceConfig;
pub use error::{ErrorClass, ServiceError};
pub use keystore::{MasterKey, Protection};
pub use metadata::{CLAIMS_SUPPORTED, OpenIdMetadata};
pub use pipeline::AttestOptions;
pub use provider::{DEFAULT_PROVIDER, Provider, ProviderName, ProviderSettings, TrustModel};
pub use registry::Providers;

/// The running service: configuration, store, providers and verifiers, shared by every request.
pub struct Service {
    config: Arc<ServiceConfig>,
    store: Store,
    providers: Providers,
    verifiers: VerifierRegistry,
    audit: audit::AuditSink,
    /// Attester histories and alerts (see `monitor`).
    monitor: monitor::Monitor,
    /// Seals the state of multi-round protocols (see `exchange`).
    exchange_secret: exchange::ExchangeSecret,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("public_url", &self.config.public_url)
            .field("providers", &self.providers)
            .field("verifiers", &self.verifiers)
            .finish()
    }
}

impl Service {
    /// Starts the service on `store`: creates the default provider and its signing key on first
    /// start, and loads it.
    pub async fn new(
        config: ServiceConfig,
        store: Store,
        verifiers: VerifierRegistry,
    ) -> Result<Service, ServiceError> {
        let config = Arc::new(config);
        let providers = Providers::new(store.clone(), Arc::clone(&config));
        providers.ensure_default().await?;
        let exchange_secret = exchange::ExchangeSecret::load_or_create(&store, config.master_key.as_ref()).await?;
        let audit = audit::AuditSink::start(store.clone());
        let monitor = monitor::Monitor::start(store.clone());
        Ok(Service {
            config,
            store,
            providers,
            verifiers,
            audit,
            monitor,
            exchange_secret,
        })
    }

    /// Starts the periodic work of a running server: reloading providers changed by other nodes
    /// (every `refresh_interval`) and pruning the audit log to its retention (hourly).
    pub fn spawn_maintenance(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut refresh = tokio::time::interval(service.config.refresh_interval);
            let mut prune = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = refresh.tick() => {
                        if let Err(e) = service.providers.refresh().await {
                            tracing::warn!(error = %e, "refreshing providers failed");
                        }
                    }
                    _ = prune.tick() => {
                        let before = registry::unix_now() - service.config.audit_retention.as_secs() as i64;
                        match service.store.prune_audit(before).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(removed = n, "pruned the audit log"),
                            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
                        }
                        match service.store.prune_attester_events(before).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(removed = n, "pruned attester histories"),
                            Err(e) => tracing::warn!(error = %e, "pruning attester histories failed"),
                        }
                    }
                }
            }
        })
    }

    /// Waits until every queued attestation audit record is written.
    pub async fn flush_audit(&self) {
        self.audit.flush().await;
    }

    /// Waits until every attestation observed so far is in its attester's history.
    pub async fn flush_monitor(&self) {
        self.monitor.flush().await;
    }

    /// The attesters of `provider` (all providers when `None`) that attestd has seen, most
    /// recently seen first.
    pub async fn attesters(
        &self,
        provider: Option<&str>,
        limit: i64,
    ) -> Result<Vec<attestd_store::AttesterRecord>, ServiceError> {
        Ok(self.store.attesters(provider, limit).await?)
    }

    /// The history of attester `id` (of `provider`, or any provider when `None`), newest first.
    pub async fn attester_history(
        &self,
        provider: Option<&str>,
        id: &str,
        limit: i64,
    ) -> Result<Vec<attestd_store::AttesterEvent>, ServiceError> {
        Ok(self.store.attester_events(provider, id, limit).await?)
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The providers.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// The verifiers.
    pub fn verifiers(&self) -> &VerifierRegistry {
        &self.verifiers
    }
}
