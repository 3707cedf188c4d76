//! Multi-round attestation protocols (`Verifier::exchange`), type-agnostic: the service hands each
//! client message to the verifier's exchange, and when the exchange has appraised the evidence it
//! runs the provider's policy and signs the token exactly as for single-request attestation.
//!
//! Exchanges keep their state in the messages, sealed with a service-wide key that is made on
//! first start and kept in the store (`service_meta`), sealed under the master key when one is
//! configured, so that every node of a cluster can continue a protocol another node began.

use std::time::{Instant, SystemTime};

use attestd_evidence::{AttestationType, ExchangeContext, Outcome, Step};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::Service;
use crate::error::ServiceError;
use crate::keystore::MasterKey;
use crate::pipeline::AttestOptions;
use crate::provider::Provider;

/// The `service_meta` key of the exchange key.
const META_KEY: &str = "exchange-context-key";

/// The service-wide key that exchanges seal their state with.
#[derive(Clone)]
pub(crate) struct ExchangeSecret([u8; 32]);

impl std::fmt::Debug for ExchangeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExchangeSecret(<redacted>)")
    }
}

impl ExchangeSecret {
    /// Loads the key from the store, creating it on first start. Two nodes racing to create it
    /// converge on the one the database kept. Stored as `plain:<b64>` or, under a master key,
    /// `sealed-v1:<b64>` bound to its meta key.
    pub(crate) async fn load_or_create(
        store: &attestd_store::Store,
        master: Option<&MasterKey>,
    ) -> Result<ExchangeSecret, ServiceError> {
        let stored = match store.meta(META_KEY).await? {
            Some(v) => v,
            None => {
                let mut key = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
                let value = match master {
                    Some(m) => format!("sealed-v1:{}", attestd_token::b64::encode_std(&m.seal(META_KEY, &key)?)),
                    None => format!("plain:{}", attestd_token::b64::encode_std(&key)),
                };
                store.init_meta(META_KEY, &value).await?
            }
        };
        Self::decode(&stored, master)
    }

    fn decode(stored: &str, master: Option<&MasterKey>) -> Result<ExchangeSecret, ServiceError> {
        let bad = |m: &str| ServiceError::Config(format!("the stored exchange key is unusable: {m}"));
        let (kind, data) = stored.split_once(':').ok_or_else(|| bad("no protection prefix"))?;
        let bytes = attestd_evidence::b64::decode_lenient(data).map_err(|_| bad("not base64"))?;
        let plain = match kind {
            "plain" => bytes,
            "sealed-v1" => {
                let m = master.ok_or_else(|| {
                    ServiceError::Config(
                        "the exchange key is sealed under a master key: configure ATTESTD_MASTER_KEY".into(),
                    )
                })?;
                m.open(META_KEY, &bytes)?
            }
            other => return Err(bad(&format!("unknown protection '{other}'"))),
        };
        let key: [u8; 32] = plain.try_into().map_err(|_| bad("not 32 bytes"))?;
        Ok(ExchangeSecret(key))
    }
}

impl Service {
    /// Whether attestation type `t` is served by a multi-round protocol (see
    /// [`attestd_evidence::Verifier::exchange`]) rather than one request.
    pub fn is_exchange(&self, t: AttestationType) -> bool {
        self.verifiers().get(t).is_some_and(|v| v.exchange().is_some())
    }

    /// Runs one round of the multi-round protocol of `t` for `provider`: `message` is the client's
    /// JSON message; the result is the reply (a challenge, or the final message carrying the
    /// token). A round that completes an attestation is counted and audited like
    /// [`Service::attest`].
    pub async fn exchange(
        &self,
        provider: &Provider,
        t: AttestationType,
        message: &[u8],
    ) -> Result<Value, ServiceError> {
        let started = Instant::now();
        let mut policy_hash = None;
        let result = self.exchange_inner(provider, t, message, &mut policy_hash).await;
        match &result {
            // An intermediate round: nothing was attested yet.
            Ok((_, false)) => {}
            Ok((_, true)) => self.record_attestation(provider, t, false, None, policy_hash, message, started.elapsed()),
            Err(e) => self.record_attestation(
                provider,
                t,
                false,
                Some(e.code()),
                policy_hash,
                message,
                started.elapsed(),
            ),
        }
        result.map(|(reply, _)| reply)
    }

    /// The reply and whether this round issued a token.
    async fn exchange_inner(
        &self,
        provider: &Provider,
        t: AttestationType,
        message: &[u8],
        policy_hash: &mut Option<String>,
    ) -> Result<(Value, bool), ServiceError> {
        let verifier = self
            .verifiers()
            .get(t)
            .ok_or_else(|| ServiceError::UnsupportedAttestationType(t.to_string()))?;
        let exchange = verifier.exchange().ok_or_else(|| ServiceError::InvalidParameter {
            code: "ProtocolNotSupported",
            message: format!("{t} attestation is a single request, not a multi-round protocol"),
        })?;
        let policy = provider
            .policy(t)
            .cloned()
            .ok_or_else(|| ServiceError::InvalidParameter {
                code: "PolicyNotConfigured",
                message: format!(
                    "attestation provider '{}' has no {t} policy; set one with PUT /policies/{t}",
                    provider.name
                ),
            })?;
        *policy_hash = Some(policy.policy.hash().to_owned());
        let ctx = ExchangeContext {
            attestation_type: t,
            provider: provider.name.as_str(),
            now: SystemTime::now(),
            configuration: &policy.configuration,
            secret: &self.exchange_secret.0,
            alert_webhook: provider.settings.webhook_url.as_deref(),
        };
        let options = AttestOptions::default();
        let step = exchange
            .step(message, ctx)
            .await
            .map_err(|e| self.note_failed_evidence(provider, t, e, &options))?;
        match step {
            Step::Reply(reply) => Ok((reply, false)),
            Step::Appraised { appraisal, finish } => {
                match self.issue_noted(provider, t, &policy, appraisal, &options) {
                    Ok(token) => Ok((finish.finish(Outcome::Token(&token))?, true)),
                    Err(e) => {
                        // The exchange learns the verdict (e.g. to track machines); the error wins.
                        let _ = finish.finish(Outcome::Failed(e.code()));
                        Err(e)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_decode_plain_and_sealed() {
        let plain = format!("plain:{}", attestd_token::b64::encode_std(&[5u8; 32]));
        assert_eq!(ExchangeSecret::decode(&plain, None).map(|k| k.0).ok(), Some([5u8; 32]));
        let m = MasterKey::from_bytes([1; 32]);
        let sealed = format!(
            "sealed-v1:{}",
            attestd_token::b64::encode_std(&m.seal(META_KEY, &[6u8; 32]).expect("seal"))
        );
        assert_eq!(
            ExchangeSecret::decode(&sealed, Some(&m)).map(|k| k.0).ok(),
            Some([6u8; 32])
        );
        assert!(ExchangeSecret::decode(&sealed, None).is_err());
        assert!(ExchangeSecret::decode(&sealed, Some(&MasterKey::from_bytes([2; 32]))).is_err());
        assert!(ExchangeSecret::decode("plain:AAAA", None).is_err());
        assert!(ExchangeSecret::decode("other:AAAA", None).is_err());
    }
}
