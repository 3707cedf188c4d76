//! The attestd service core, independent of HTTP: configuration, providers and their signing keys,
//! and the attestation pipeline (evidence → verifier → claims → token).
//!
//! The HTTP layer and the CLI are thin shells around [`Service`].

#![forbid(unsafe_code)]

mod config;
mod error;
mod keystore;
mod metadata;
mod pipeline;
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
pub use provider::{DEFAULT_PROVIDER, Provider, ProviderName, TrustModel};
pub use registry::Providers;

/// The running service: configuration, store, providers and verifiers, shared by every request.
pub struct Service {
    config: Arc<ServiceConfig>,
    store: Store,
    providers: Providers,
    verifiers: VerifierRegistry,
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
        Ok(Service {
            config,
            store,
            providers,
            verifiers,
        })
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
