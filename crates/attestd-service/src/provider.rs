//! Attestation providers (tenants): names, trust models, and the in-memory form the hot path uses.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use std::collections::HashMap;

use attestd_evidence::AttestationType;
use attestd_store::CertificateRecord;
use attestd_token::{Algorithm, JwkSet, TokenSigner};
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::management::auth::{TokenAuthConfig, TokenAuthenticator};
use crate::policy::ActivePolicy;

/// The name of the provider served at the root URL.
pub const DEFAULT_PROVIDER: &str = "default";

/// A valid provider name: 1–63 lower-case ASCII letters, digits and `-`, not starting or ending
/// with `-`, so that it is also a DNS label (`<name>.<base-domain>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(String);

impl ProviderName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, ServiceError> {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if ok {
            Ok(ProviderName(name.to_owned()))
        } else {
            Err(ServiceError::InvalidProviderName(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may change a provider's policies (MAA's trust models; see the tenancy documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustModel {
    /// Built-in default policies, read-only.
    Shared,
    /// Management calls need a bearer JWT from a configured issuer (MAA: AAD).
    Token,
    /// Every change is a JWS signed by a registered policy management certificate.
    Isolated,
}

impl TrustModel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustModel::Shared => "shared",
            TrustModel::Token => "token",
            TrustModel::Isolated => "isolated",
        }
    }
}

impl FromStr for TrustModel {
    type Err = ServiceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "shared" => Ok(TrustModel::Shared),
            "token" | "aad" => Ok(TrustModel::Token),
            "isolated" => Ok(TrustModel::Isolated),
            _ => Err(ServiceError::invalid(format!(
                "trust model '{s}' is not one of shared, token, isolated"
            ))),
        }
    }
}

impl fmt::Display for TrustModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider as the request path sees it: everything precomputed, nothing read from the store.
#[derive(Debug)]
pub struct Provider {
    /// The provider's name.
    pub name: ProviderName,
    /// Its trust model.
    pub trust_model: TrustModel,
    /// Its issuer URL (`iss`, OpenID `issuer`).
    pub issuer: String,
    /// Signs its tokens with its active key.
    pub signer: TokenSigner,
    /// The keys published in its `/certs`: the active key and any retired ones.
    pub jwks: JwkSet,
    /// The serialized `/certs` document.
    pub jwks_json: Arc<[u8]>,
    /// The serialized `/.well-known/openid-configuration` document.
    pub openid_json: Arc<[u8]>,
    /// Settings kept as JSON in the store.
    pub settings: ProviderSettings,
    /// Verifies management bearer tokens (token trust model, or any provider with token auth).
    pub authenticator: Option<Arc<TokenAuthenticator>>,
    /// The effective policy per attestation type: uploaded, else the built-in default.
    pub policies: HashMap<AttestationType, Arc<ActivePolicy>>,
    /// Policy management certificates, oldest first.
    pub certificates: Vec<CertificateRecord>,
    /// The store revision this snapshot was built from.
    pub revision: i64,
}

impl Provider {
    /// The token algorithm.
    pub fn token_alg(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// The effective policy for `t`, if any.
    pub fn policy(&self, t: AttestationType) -> Option<&Arc<ActivePolicy>> {
        self.policies.get(&t)
    }

    /// Whether `thumbprint` is a registered policy management certificate.
    pub fn has_certificate(&self, thumbprint: &str) -> bool {
        self.certificates.iter().any(|c| c.thumbprint == thumbprint)
    }
}

/// Provider settings that are not columns of their own, stored as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Bearer-token authorization of management calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_auth: Option<TokenAuthConfig>,
    /// URL that receives Trusted Launch alerts (POST, JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_dns_labels() {
        for ok in ["default", "t1", "a", "my-tenant-2"] {
            assert!(ProviderName::new(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "a/b", "ü", long.as_str()] {
            assert!(ProviderName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trust_models_parse_case_insensitively() {
        assert_eq!("Isolated".parse::<TrustModel>().ok(), Some(TrustModel::Isolated));
        assert_eq!("AAD".parse::<TrustModel>().ok(), Some(TrustModel::Token));
        assert!("open".parse::<TrustModel>().is_err());
    }
}
