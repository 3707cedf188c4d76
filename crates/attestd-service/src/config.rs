//! Service configuration: what the HTTP layer and the CLI both need to know.

use std::time::Duration;

use attestd_token::Algorithm;

use crate::keystore::MasterKey;

/// How the service names itself and issues tokens.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The public base URL without a trailing slash, e.g. `https://localhost:8443`. It is the
    /// default provider's issuer (`iss`) and the base of every `jku` and `jwks_uri`.
    pub public_url: String,
    /// When set, provider `p` is also `https://p.<base_domain>` and that is its issuer; otherwise
    /// its issuer is `<public_url>/tenants/p`.
    pub base_domain: Option<String>,
    /// Token algorithm for providers created without one.
    pub default_token_alg: Algorithm,
    /// Lifetime of attestation tokens (MAA: 8 hours).
    pub attestation_token_lifetime: Duration,
    /// Lifetime of management result tokens (MAA: 1 hour).
    pub management_token_lifetime: Duration,
    /// Key that seals private keys at rest; `None` stores them unsealed (file mode 0600).
    pub master_key: Option<MasterKey>,
    /// How often providers changed in the store (by other nodes or the CLI) are reloaded.
    pub refresh_interval: Duration,
    /// How long audit entries are kept.
    pub audit_retention: Duration,
}

impl ServiceConfig {
    /// A configuration with MAA's defaults for the given public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        ServiceConfig {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            base_domain: None,
            default_token_alg: Algorithm::RS256,
            attestation_token_lifetime: Duration::from_secs(8 * 3600),
            management_token_lifetime: Duration::from_secs(3600),
            master_key: None,
            refresh_interval: Duration::from_secs(2),
            audit_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }

    /// The issuer URL of a provider (see [`ServiceConfig::base_domain`]).
    pub fn issuer_for(&self, provider: &str) -> String {
        if provider == crate::DEFAULT_PROVIDER {
            return self.public_url.clone();
        }
        match &self.base_domain {
            Some(domain) => {
                let (scheme, rest) = self.public_url.split_once("://").unwrap_or(("https", &self.public_url));
                // Keep an explicit port of the public URL: tenants are served by the same listener.
                let host = rest.split('/').next().unwrap_or_default();
                let port = host
                    .rsplit_once(':')
                    .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(']'))
                    .map(|(_, p)| format!(":{p}"))
                    .unwrap_or_default();
                format!("{scheme}://{provider}.{domain}{port}")
            }
            None => format!("{}/tenants/{provider}", self.public_url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_follow_the_routing_rules() {
        let mut c = ServiceConfig::new("https://localhost:8443/");
        assert_eq!(c.issuer_for("default"), "https://localhost:8443");
        assert_eq!(c.issuer_for("t1"), "https://localhost:8443/tenants/t1");
        c.base_domain = Some("attest.example".into());
        assert_eq!(c.issuer_for("t1"), "https://t1.attest.example:8443");
        c.public_url = "https://attest.example".into();
        assert_eq!(c.issuer_for("t1"), "https://t1.attest.example");
    }
}
