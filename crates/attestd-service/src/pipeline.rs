//! The attestation pipeline: evidence → verifier → claims → signed token.

use std::collections::BTreeMap;
use std::time::SystemTime;

use attestd_evidence::{ClaimSet, Evidence, VerifyContext};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::Service;
use crate::error::ServiceError;
use crate::provider::Provider;
use crate::registry::unix_now;

/// Per-request options of an attestation besides the evidence.
#[derive(Clone, Debug, Default)]
pub struct AttestOptions {
    /// Echoed as the `nonce` claim.
    pub nonce: Option<String>,
    /// Policy text to evaluate instead of the provider's policy; the token is then unsecured.
    pub draft_policy: Option<String>,
}

impl Service {
    /// Verifies `evidence` for `provider` and returns the signed attestation token.
    pub async fn attest(
        &self,
        provider: &Provider,
        evidence: &Evidence,
        options: &AttestOptions,
    ) -> Result<String, ServiceError> {
        let verifier = self
            .verifiers()
            .get(evidence.attestation_type)
            .ok_or_else(|| ServiceError::UnsupportedAttestationType(evidence.attestation_type.to_string()))?;
        if options.draft_policy.is_some() {
            return Err(ServiceError::NotImplemented(
                "draftPolicyForAttestation: this server does not evaluate policies yet".into(),
            ));
        }
        let configuration = ClaimSet::new();
        let ctx = VerifyContext {
            now: SystemTime::now(),
            configuration: &configuration,
        };
        let appraisal = verifier.verify(evidence, &ctx).await?;

        let mut claims = appraisal.token_claims;
        let t = unix_now();
        let lifetime = self.config().attestation_token_lifetime.as_secs() as i64;
        let tee = evidence.attestation_type.token_type();
        claims.insert("iss".into(), Value::from(provider.issuer.as_str()));
        claims.insert("iat".into(), Value::from(t));
        claims.insert("nbf".into(), Value::from(t));
        claims.insert("exp".into(), Value::from(t + lifetime));
        claims.insert("jti".into(), Value::from(new_jti()?));
        claims.insert("x-ms-ver".into(), Value::from("1.0"));
        claims.insert("x-ms-attestation-type".into(), Value::from(tee));
        if let Some(nonce) = &options.nonce {
            claims.insert("nonce".into(), Value::from(nonce.as_str()));
        }
        Ok(provider.signer.sign(&claims)?)
    }

    /// Signs a management result (policy and certificate operations) with the provider's key:
    /// `iss`, `iat`, `nbf` and `exp` (one hour, as MAA) are added to `claims`.
    pub fn management_token(
        &self,
        provider: &Provider,
        mut claims: BTreeMap<String, Value>,
    ) -> Result<String, ServiceError> {
        let t = unix_now();
        claims.insert("iss".into(), Value::from(provider.issuer.as_str()));
        claims.insert("iat".into(), Value::from(t));
        claims.insert("nbf".into(), Value::from(t));
        claims.insert(
            "exp".into(),
            Value::from(t + self.config().management_token_lifetime.as_secs() as i64),
        );
        Ok(provider.signer.sign(&claims)?)
    }
}

/// A token id: 32 random bytes as lower-case hex (the shape of MAA's `jti`).
fn new_jti() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
    Ok(hex::encode(bytes))
}
