//! The providers a service knows, loaded once from the store and then served from memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use attestd_store::{ProviderRecord, SigningKeyRecord, Store};
use attestd_token::{Algorithm, Jwk, JwkSet, SigningKey, TokenSigner, self_signed_certificate};

use crate::config::ServiceConfig;
use crate::error::ServiceError;
use crate::keystore::Protection;
use crate::management::auth::TokenAuthenticator;
use crate::metadata::OpenIdMetadata;
use crate::policy::ActivePolicy;
use crate::provider::{DEFAULT_PROVIDER, Provider, ProviderName, ProviderSettings, TrustModel};

/// Providers by name. Lookups of loaded providers take no lock and touch no database; a provider
/// created elsewhere (the CLI, another node) is loaded on its first request.
pub struct Providers {
    store: Store,
    config: Arc<ServiceConfig>,
    loaded: ArcSwap<HashMap<String, Arc<Provider>>>,
    load_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.loaded.load().keys()).finish()
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Providers {
    pub(crate) fn new(store: Store, config: Arc<ServiceConfig>) -> Self {
        Providers {
            store,
            config,
            loaded: ArcSwap::from_pointee(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The provider named `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Provider>, ServiceError> {
        if let Some(p) = self.loaded.load().get(name) {
            return Ok(Arc::clone(p));
        }
        // Names that cannot exist never reach the database.
        let valid = ProviderName::new(name).map_err(|_| ServiceError::ProviderNotFound(name.to_owned()))?;
        let _guard = self.load_lock.lock().await;
        if let Some(p) = self.loaded.load().get(name) {
            return Ok(Arc::clone(p));
        }
        let record = self
            .store
            .provider(valid.as_str())
            .await?
            .ok_or_else(|| ServiceError::ProviderNotFound(name.to_owned()))?;
        self.load(record).await
    }

    /// Creates a provider with a fresh signing key.
    pub async fn create(
        &self,
        name: &ProviderName,
        trust_model: TrustModel,
        token_alg: Option<Algorithm>,
        settings: &str,
    ) -> Result<Arc<Provider>, ServiceError> {
        let record = ProviderRecord {
            name: name.as_str().to_owned(),
            trust_model: trust_model.as_str().to_owned(),
            token_alg: token_alg.unwrap_or(self.config.default_token_alg).as_str().to_owned(),
            created_at: unix_now(),
            settings: settings.to_owned(),
            revision: 0,
        };
        if !self.store.insert_provider(&record).await? {
            return Err(ServiceError::ProviderExists(name.to_string()));
        }
        let _guard = self.load_lock.lock().await;
        self.load(record).await
    }

    /// Creates the default provider (shared trust model) unless it exists, and loads it.
    pub async fn ensure_default(&self) -> Result<Arc<Provider>, ServiceError> {
        let record = ProviderRecord {
            name: DEFAULT_PROVIDER.to_owned(),
            trust_model: TrustModel::Shared.as_str().to_owned(),
            token_alg: self.config.default_token_alg.as_str().to_owned(),
            created_at: unix_now(),
            settings: "{}".to_owned(),
            revision: 0,
        };
        self.store.insert_provider(&record).await?;
        self.get(DEFAULT_PROVIDER).await
    }

    /// Rebuilds a provider from the store after a change (here or on another node). A provider that
    /// no longer exists is forgotten.
    pub async fn reload(&self, name: &str) -> Result<Arc<Provider>, ServiceError> {
        let _guard = self.load_lock.lock().await;
        match self.store.provider(name).await? {
            Some(record) => self.load(record).await,
            None => {
                self.forget(name);
                Err(ServiceError::ProviderNotFound(name.to_owned()))
            }
        }
    }

    /// Drops a provider from memory.
    pub fn forget(&self, name: &str) {
        let mut map = HashMap::clone(&self.loaded.load());
        if map.remove(name).is_some() {
            self.loaded.store(Arc::new(map));
        }
    }

    /// Reloads every loaded provider whose revision in the store differs from the one in memory and
    /// forgets deleted ones; returns how many changed. Nodes sharing a database call this
    /// periodically, so a policy changed through one node is enforced by all within the interval.
    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        let revisions: HashMap<String, i64> = self.store.provider_revisions().await?.into_iter().collect();
        let loaded = self.loaded.load_full();
        let mut changed = 0;
        for (name, provider) in loaded.iter() {
            match revisions.get(name) {
                Some(rev) if *rev == provider.revision => {}
                Some(_) => {
                    changed += 1;
                    if let Err(e) = self.reload(name).await {
                        tracing::warn!(provider = %name, error = %e, "reloading a changed provider failed");
                    }
                }
                None => {
                    changed += 1;
                    self.forget(name);
                }
            }
        }
        Ok(changed)
    }

    /// Every provider in the store.
    pub async fn list(&self) -> Result<Vec<ProviderRecord>, ServiceError> {
        Ok(self.store.providers().await?)
    }

    /// Builds the in-memory provider, creating its first signing key if it has none. Callers hold
    /// `load_lock`.
    async fn load(&self, record: ProviderRecord) -> Result<Arc<Provider>, ServiceError> {
        let name = ProviderName::new(&record.name)?;
        let trust_model: TrustModel = record.trust_model.parse()?;
        let alg: Algorithm = record
            .token_alg
            .parse()
            .map_err(|e| ServiceError::Config(format!("provider '{name}': {e}")))?;
        let issuer = self.config.issuer_for(name.as_str());

        let mut keys = self.store.signing_keys(name.as_str()).await?;
        if !keys.first().is_some_and(|k| k.active) {
            let new = self.new_signing_key(&name, alg, &issuer)?;
            // Another node may win the race for the first key; either way, use what is stored.
            self.store.insert_signing_key(&new).await?;
            keys = self.store.signing_keys(name.as_str()).await?;
        }
        let active = keys
            .first_mut()
            .filter(|k| k.active)
            .ok_or_else(|| ServiceError::Internal(format!("provider '{name}' has no active signing key")))?;
        let key = self.open_signing_key(active)?;
        if certificate_subject_cn(&active.certificate).as_deref() != Some(issuer.as_str()) {
            // The issuer URL changed (new public URL or base domain): same key and kid, new certificate.
            let pkcs8 = self.private_key_bytes(active)?;
            let cert = self_signed_certificate(key.algorithm(), &pkcs8, &issuer, cert_not_before())?;
            self.store
                .set_signing_certificate(name.as_str(), &active.kid, &cert)
                .await?;
            tracing::info!(provider = %name, kid = %active.kid, %issuer, "re-issued the signing certificate for a new issuer URL");
            active.certificate = cert;
        }
        let certificate = active.certificate.clone();

        let jwks = JwkSet {
            keys: keys
                .iter()
                .map(|k| {
                    let kty = k.alg.parse::<Algorithm>().map(Algorithm::kty).unwrap_or("RSA");
                    Jwk::for_certificates(&k.kid, kty, std::slice::from_ref(&k.certificate))
                })
                .collect(),
        };
        let jwks_json: Arc<[u8]> = serde_json::to_vec(&jwks)
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .into();
        let openid_json: Arc<[u8]> = serde_json::to_vec(&OpenIdMetadata::new(&issuer, key.algorithm().as_str()))
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .into();
        let signer = TokenSigner::with_certificate_chain(
            Arc::new(key),
            &format!("{issuer}/certs"),
            std::slice::from_ref(&certificate),
        )?;
        let settings: ProviderSettings = serde_json::from_str(&record.settings)
            .map_err(|e| ServiceError::Config(format!("provider '{name}': settings: {e}")))?;
        let authenticator = settings
            .token_auth
            .clone()
            .map(|c| Arc::new(TokenAuthenticator::new(c)));
        let shared = trust_model == TrustModel::Shared;
        let mut policies = HashMap::new();
        for t in attestd_evidence::AttestationType::ALL {
            if let Some(p) = ActivePolicy::default_for(shared, t) {
                policies.insert(t, p);
            }
        }
        for stored in self.store.policies(name.as_str()).await? {
            let Ok(t) = stored.attestation_type.parse::<attestd_evidence::AttestationType>() else {
                tracing::warn!(provider = %name, attestation_type = %stored.attestation_type, "ignoring a policy of an unknown type");
                continue;
            };
            let signer = stored.signer.as_deref().map(crate::management::jws::certificate_jwk);
            match ActivePolicy::compile(&stored.policy_text, stored.policy_jws.clone(), signer, false) {
                Ok(p) => {
                    policies.insert(t, Arc::new(p));
                }
                Err(e) => {
                    // Fail closed: a stored policy that no longer compiles must not fall back to the default.
                    policies.remove(&t);
                    tracing::error!(provider = %name, %t, error = %e, "a stored policy does not compile; attestations of this type fail");
                }
            }
        }
        let certificates = self.store.policy_certificates(name.as_str()).await?;
        let provider = Arc::new(Provider {
            name,
            trust_model,
            issuer,
            signer,
            jwks,
            jwks_json,
            openid_json,
            settings,
            authenticator,
            policies,
            certificates,
            revision: record.revision,
        });
        let mut map = HashMap::clone(&self.loaded.load());
        map.insert(provider.name.to_string(), Arc::clone(&provider));
        self.loaded.store(Arc::new(map));
        Ok(provider)
    }

    fn new_signing_key(
        &self,
        name: &ProviderName,
        alg: Algorithm,
        issuer: &str,
    ) -> Result<SigningKeyRecord, ServiceError> {
        let (key, pkcs8) = SigningKey::generate(alg)?;
        let certificate = self_signed_certificate(alg, &pkcs8.0, issuer, cert_not_before())?;
        let (protection, private_key) = match &self.config.master_key {
            Some(master) => (
                Protection::SealedV1,
                master.seal(&seal_context(name.as_str(), key.kid()), &pkcs8.0)?,
            ),
            None => (Protection::Plain, pkcs8.0),
        };
        tracing::info!(provider = %name, kid = key.kid(), %alg, sealed = protection == Protection::SealedV1, "created a token signing key");
        Ok(SigningKeyRecord {
            provider: name.to_string(),
            kid: key.kid().to_owned(),
            alg: alg.as_str().to_owned(),
            protection: protection.as_str().to_owned(),
            private_key,
            certificate,
            created_at: unix_now(),
            active: true,
        })
    }

    fn private_key_bytes(&self, record: &SigningKeyRecord) -> Result<Vec<u8>, ServiceError> {
        match Protection::parse(&record.protection) {
            Some(Protection::Plain) => Ok(record.private_key.clone()),
            Some(Protection::SealedV1) => {
                let master = self.config.master_key.as_ref().ok_or_else(|| {
                    ServiceError::Config(format!(
                        "signing key '{}' of provider '{}' is sealed but no master key is configured (ATTESTD_MASTER_KEY)",
                        record.kid, record.provider
                    ))
                })?;
                master.open(&seal_context(&record.provider, &record.kid), &record.private_key)
            }
            None => Err(ServiceError::Config(format!(
                "signing key '{}' has unknown protection '{}'",
                record.kid, record.protection
            ))),
        }
    }

    fn open_signing_key(&self, record: &SigningKeyRecord) -> Result<SigningKey, ServiceError> {
        let alg: Algorithm = record
            .alg
            .parse()
            .map_err(|e| ServiceError::Config(format!("signing key '{}': {e}", record.kid)))?;
        let key = SigningKey::from_pkcs8(alg, &self.private_key_bytes(record)?)?;
        if key.kid() != record.kid {
            return Err(ServiceError::Config(format!(
                "stored signing key '{}' of provider '{}' does not match its kid",
                record.kid, record.provider
            )));
        }
        if record.protection == Protection::Plain.as_str() && self.config.master_key.is_some() {
            tracing::warn!(provider = %record.provider, kid = %record.kid, "signing key is stored unsealed although a master key is configured");
        }
        Ok(key)
    }
}

fn seal_context(provider: &str, kid: &str) -> String {
    format!("attestd/signing-key/v1/{provider}/{kid}")
}

/// Certificates start an hour in the past so that relying parties with a slow clock accept them.
fn cert_not_before() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() - time::Duration::hours(1)
}

fn certificate_subject_cn(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_owned();
    Some(cn)
}
