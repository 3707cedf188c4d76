//! The admin credential and provider administration (the `/admin` API and the CLI).

use attestd_evidence::AttestationType;
use attestd_store::{AuditFilter, AuditRecord, CertificateRecord};
use attestd_token::{Algorithm, PublicKey, b64};
use aws_lc_rs::constant_time;
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::Service;
use crate::error::ServiceError;
use crate::management::auth::TokenAuthConfig;
use crate::management::jws::thumbprint;
use crate::provider::{DEFAULT_PROVIDER, ProviderName, ProviderSettings, TrustModel};
use crate::registry::unix_now;

const ADMIN_HASH_KEY: &str = "admin_token_sha256";

fn sha256_hex(text: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, text.as_bytes()))
}

/// What to create: the body of `POST /admin/providers` and the arguments of
/// `attestd provider create`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// Provider name (a DNS label).
    pub name: String,
    /// `shared`, `token` or `isolated`.
    pub trust_model: String,
    /// Token algorithm; default: the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_alg: Option<String>,
    /// Initial policy management certificates (PEM); at least one for `isolated`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signer_certificates: Vec<String>,
    /// Bearer-token authorization (required for `token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_auth: Option<TokenAuthConfig>,
    /// An `http(s)://` URL that receives the provider's attester alerts as JSON POSTs (see
    /// `crate::monitor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
}

/// A provider as the admin API and the CLI show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// Name.
    pub name: String,
    /// Trust model.
    pub trust_model: String,
    /// Token algorithm.
    pub token_alg: String,
    /// Issuer URL.
    pub issuer: String,
    /// Key id of the active signing key.
    pub kid: String,
    /// Thumbprints of the policy management certificates.
    pub certificates: Vec<String>,
    /// Attestation types with an uploaded (not default) policy.
    pub custom_policies: Vec<String>,
    /// Whether bearer-token authorization is configured.
    pub token_auth: bool,
    /// Where the provider's attester alerts are posted, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
}

fn pem_certificates(pems: &[String]) -> Result<Vec<Vec<u8>>, ServiceError> {
    let mut out = Vec::new();
    for pem in pems {
        let mut found = false;
        for block in pem.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let body = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<String>();
            let der =
                b64::decode_std(&body).ok_or_else(|| ServiceError::invalid("a signer certificate is not valid PEM"))?;
            PublicKey::from_certificate_der(&der)
                .map_err(|e| ServiceError::invalid(format!("a signer certificate is unusable: {e}")))?;
            out.push(der);
            found = true;
        }
        if !found {
            return Err(ServiceError::invalid(
                "'signer_certificates' entries must be PEM certificates",
            ));
        }
    }
    Ok(out)
}

/// An alert webhook must be an absolute `http` or `https` URL with a host.
fn check_webhook(url: &str) -> Result<String, ServiceError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ServiceError::invalid(format!("'alert_webhook' is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ServiceError::invalid(
            "'alert_webhook' must be an http:// or https:// URL",
        ));
    }
    Ok(url.to_owned())
}

impl Service {
    /// Checks an admin bearer token against the stored credential hash (constant time).
    pub async fn check_admin(&self, bearer: Option<&str>) -> Result<(), ServiceError> {
        let token =
            bearer.ok_or_else(|| ServiceError::Unauthorized("the admin API needs the admin bearer token".into()))?;
        let expected = self
            .store()
            .meta(ADMIN_HASH_KEY)
            .await?
            .ok_or_else(|| ServiceError::Unauthorized("no admin credential is configured".into()))?;
        let given = sha256_hex(token);
        constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes())
            .map_err(|_| ServiceError::Unauthorized("the admin bearer token is not valid".into()))
    }

    /// Makes sure an admin credential exists. With `configured`, that token becomes the credential.
    /// Otherwise, on first start, a new random token is made and returned (to be saved for the
    /// operator); `None` when a credential already existed.
    pub async fn ensure_admin_credential(&self, configured: Option<&str>) -> Result<Option<String>, ServiceError> {
        if let Some(token) = configured {
            self.store().set_meta(ADMIN_HASH_KEY, &sha256_hex(token)).await?;
            return Ok(None);
        }
        if self.store().meta(ADMIN_HASH_KEY).await?.is_some() {
            return Ok(None);
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
        let token = b64::encode_url(&bytes);
        let stored = self.store().init_meta(ADMIN_HASH_KEY, &sha256_hex(&token)).await?;
        // Another node may have won the race; then its token is the credential.
        Ok((stored == sha256_hex(&token)).then_some(token))
    }

    /// Creates a provider from `spec` (validating the combination of trust model, certificates and
    /// token auth) and records it in the audit log.
    pub async fn create_provider(&self, spec: &ProviderSpec, actor: &str) -> Result<ProviderInfo, ServiceError> {
        let name = ProviderName::new(&spec.name)?;
        let trust: TrustModel = spec.trust_model.parse()?;
        let alg = spec
            .token_alg
            .as_deref()
            .map(str::parse::<Algorithm>)
            .transpose()
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let certificates = pem_certificates(&spec.signer_certificates)?;
        if trust == TrustModel::Isolated && certificates.is_empty() {
            return Err(ServiceError::invalid(
                "an isolated provider needs at least one policy management certificate ('signer_certificates')",
            ));
        }
        if trust == TrustModel::Token && spec.token_auth.is_none() {
            return Err(ServiceError::invalid(
                "a token provider needs 'token_auth' (issuer, audience, JWKS)",
            ));
        }
        if let Some(auth) = &spec.token_auth
            && auth.jwks.is_none()
            && auth.jwks_uri.is_none()
        {
            return Err(ServiceError::invalid("'token_auth' needs 'jwks' or 'jwks_uri'"));
        }
        let webhook_url = spec.alert_webhook.as_deref().map(check_webhook).transpose()?;
        let settings = ProviderSettings {
            token_auth: spec.token_auth.clone(),
            webhook_url,
        };
        let settings_json = serde_json::to_string(&settings).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.providers().create(&name, trust, alg, &settings_json).await?;
        let now = unix_now();
        for der in certificates {
            let record = CertificateRecord {
                provider: name.to_string(),
                thumbprint: thumbprint(&der),
                certificate: der,
                added_at: now,
            };
            let audit = AuditRecord {
                at: now,
                provider: name.to_string(),
                kind: "management".into(),
                operation: "certificates.add".into(),
                actor: Some(actor.into()),
                outcome: "success".into(),
                detail: Some(format!("initial certificate {}", record.thumbprint)),
                ..AuditRecord::default()
            };
            self.store().add_policy_certificate(&record, None, audit).await?;
        }
        self.providers().reload(name.as_str()).await?;
        self.record_management(name.as_str(), "provider.create", actor, None)
            .await;
        self.provider_info(name.as_str()).await
    }

    /// Deletes a provider (not the default one) with its keys, policies and certificates.
    pub async fn delete_provider(&self, name: &str, actor: &str) -> Result<(), ServiceError> {
        if name == DEFAULT_PROVIDER {
            return Err(ServiceError::Forbidden {
                code: "InvalidOperation",
                message: "the default provider cannot be deleted".into(),
            });
        }
        if !self.store().delete_provider(name).await? {
            return Err(ServiceError::ProviderNotFound(name.to_owned()));
        }
        self.providers().forget(name);
        self.record_management(name, "provider.delete", actor, None).await;
        Ok(())
    }

    /// A provider's summary.
    pub async fn provider_info(&self, name: &str) -> Result<ProviderInfo, ServiceError> {
        let p = self.providers().get(name).await?;
        let mut custom: Vec<String> = AttestationType::ALL
            .into_iter()
            .filter(|t| p.policy(*t).is_some_and(|x| !x.is_default))
            .map(|t| t.to_string())
            .collect();
        custom.sort();
        Ok(ProviderInfo {
            name: p.name.to_string(),
            trust_model: p.trust_model.to_string(),
            token_alg: p.token_alg().to_string(),
            issuer: p.issuer.clone(),
            kid: p.signer.key().kid().to_owned(),
            certificates: p.certificates.iter().map(|c| c.thumbprint.clone()).collect(),
            custom_policies: custom,
            token_auth: p.authenticator.is_some(),
            alert_webhook: p.settings.webhook_url.clone(),
        })
    }

    /// Every provider's summary.
    pub async fn list_providers(&self) -> Result<Vec<ProviderInfo>, ServiceError> {
        let mut out = Vec::new();
        for record in self.providers().list().await? {
            out.push(self.provider_info(&record.name).await?);
        }
        Ok(out)
    }

    /// Audit entries matching `filter`.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, ServiceError> {
        self.flush_audit().await;
        Ok(self.store().audit(filter).await?)
    }

    /// Records a management operation that has no transaction of its own.
    pub(crate) async fn record_management(&self, provider: &str, operation: &str, actor: &str, detail: Option<String>) {
        let record = AuditRecord {
            at: unix_now(),
            provider: provider.into(),
            kind: "management".into(),
            operation: operation.into(),
            actor: Some(actor.into()),
            outcome: "success".into(),
            detail,
            ..AuditRecord::default()
        };
        if let Err(e) = self.store().insert_audit(&[record]).await {
            tracing::warn!(error = %e, "could not write an audit entry");
        }
    }
}
