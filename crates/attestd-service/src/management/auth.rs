//! Bearer-token authorization of management calls for providers of the `token` trust model (MAA's
//! AAD mode): a JWT from the provider's configured OIDC issuer, for the provider's audience, with a
//! role claim that maps to reader or contributor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use attestd_token::{JwkSet, KeySet, Validation, verify};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::error::ServiceError;

/// Where a provider's management tokens come from and what they must say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenAuthConfig {
    /// The token issuer (`iss`), exactly.
    pub issuer: String,
    /// The audience the token must name (`aud`, a string or an array containing it).
    pub audience: String,
    /// Where the issuer's JWK Set is published; fetched on first use and when an unknown `kid`
    /// appears (at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The issuer's JWK Set given inline (e.g. imported from a file), instead of `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// The claim holding the caller's roles (an array of strings or a space-separated string).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Role values that grant read access.
    #[serde(default = "default_reader_roles")]
    pub reader_roles: Vec<String>,
    /// Role values that grant read and write access.
    #[serde(default = "default_contributor_roles")]
    pub contributor_roles: Vec<String>,
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_reader_roles() -> Vec<String> {
    vec!["Attestation.Reader".into(), "Attestation Reader".into()]
}

fn default_contributor_roles() -> Vec<String> {
    vec!["Attestation.Contributor".into(), "Attestation Contributor".into()]
}

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Read policies and certificates.
    Read,
    /// Also change them.
    Write,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// `sub` (or `oid`) of the token.
    pub subject: String,
    /// The highest access its roles grant.
    pub access: Access,
}

fn unauthorized(message: impl Into<String>) -> ServiceError {
    ServiceError::Unauthorized(message.into())
}

/// Verifies bearer tokens for one provider, caching the issuer's keys.
#[derive(Debug)]
pub struct TokenAuthenticator {
    config: TokenAuthConfig,
    keys: Mutex<Option<(Arc<KeySet>, Instant)>>,
}

const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

impl TokenAuthenticator {
    /// An authenticator for `config`.
    pub fn new(config: TokenAuthConfig) -> Self {
        TokenAuthenticator {
            config,
            keys: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TokenAuthConfig {
        &self.config
    }

    async fn key_set(&self, force: bool) -> Result<Arc<KeySet>, ServiceError> {
        let mut cached = self.keys.lock().await;
        if let Some((keys, at)) = cached.as_ref()
            && (!force || at.elapsed() < REFETCH_INTERVAL)
        {
            return Ok(Arc::clone(keys));
        }
        let jwks = match (&self.config.jwks, &self.config.jwks_uri) {
            (Some(jwks), _) => jwks.clone(),
            (None, Some(uri)) => fetch_jwks(uri).await?,
            (None, None) => {
                return Err(ServiceError::Config(
                    "token auth has neither 'jwks' nor 'jwks_uri'".into(),
                ));
            }
        };
        let keys = Arc::new(
            KeySet::from_jwks(&jwks).map_err(|e| ServiceError::Config(format!("the token issuer's JWK Set: {e}")))?,
        );
        *cached = Some((Arc::clone(&keys), Instant::now()));
        Ok(keys)
    }

    /// Verifies `bearer` (the token without `Bearer `) and returns the caller.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, ServiceError> {
        let token = bearer.ok_or_else(|| unauthorized("a bearer token is required for this operation"))?;
        let validation = Validation {
            issuer: Some(self.config.issuer.clone()),
            ..Validation::default()
        };
        let keys = self.key_set(false).await?;
        let verified = match verify(token, &keys, &validation) {
            Err(attestd_token::TokenError::UnknownKey(_)) if self.config.jwks.is_none() => {
                // The issuer may have rotated its keys.
                let keys = self.key_set(true).await?;
                verify(token, &keys, &validation)
            }
            other => other,
        }
        .map_err(|e| unauthorized(format!("the bearer token is not valid: {} ({})", e, e.code())))?;
        let aud_ok = match verified.claims.get("aud") {
            Some(serde_json::Value::String(a)) => *a == self.config.audience,
            Some(serde_json::Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.config.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(unauthorized(format!(
                "the bearer token is not for audience '{}'",
                self.config.audience
            )));
        }
        let roles: Vec<String> = match verified.claims.get(&self.config.roles_claim) {
            Some(serde_json::Value::Array(list)) => list.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect(),
            Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let access = if roles.iter().any(|r| self.config.contributor_roles.contains(r)) {
            Access::Write
        } else if roles.iter().any(|r| self.config.reader_roles.contains(r)) {
            Access::Read
        } else {
            return Err(ServiceError::Forbidden {
                code: "Forbidden",
                message: format!(
                    "the bearer token grants no attestation role (claim '{}')",
                    self.config.roles_claim
                ),
            });
        };
        let subject = ["sub", "oid", "appid"]
            .iter()
            .find_map(|c| verified.claims.get(*c).and_then(|v| v.as_str()))
            .unwrap_or("unknown")
            .to_owned();
        Ok(Principal { subject, access })
    }
}

async fn fetch_jwks(uri: &str) -> Result<JwkSet, ServiceError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ServiceError::Internal(format!("HTTP client: {e}")))?;
    let response = client
        .get(uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| ServiceError::Unavailable(format!("fetching the token issuer's keys from {uri}: {e}")))?;
    response
        .json()
        .await
        .map_err(|e| ServiceError::Unavailable(format!("the token issuer's keys at {uri} are not a JWK Set: {e}")))
}
