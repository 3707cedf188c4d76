//! The attestation pipeline: evidence → verifier → claims → signed token.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use attestd_evidence::{Appraisal, AttestationType, ClaimSet, Evidence, VerifyContext};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::Service;
use attestd_store::AuditRecord;
use attestd_token::HeaderForm;

use crate::error::ServiceError;
use crate::policy::ActivePolicy;
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
    /// Verifies `evidence` for `provider`, evaluates the provider's policy (or the request's draft
    /// policy) and returns the attestation token: signed, or unsecured (`alg: none`) for a draft.
    pub async fn attest(
        &self,
        provider: &Provider,
        evidence: &Evidence,
        options: &AttestOptions,
    ) -> Result<String, ServiceError> {
        let started = std::time::Instant::now();
        let mut policy_hash = None;
        let result = self.attest_inner(provider, evidence, options, &mut policy_hash).await;
        self.record_attestation(
            provider,
            evidence.attestation_type,
            options.draft_policy.is_some(),
            result.as_ref().err().map(ServiceError::code),
            policy_hash,
            &evidence.bytes,
            started.elapsed(),
        );
        result
    }

    /// Counts an attestation in the metrics and queues its audit record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_attestation(
        &self,
        provider: &Provider,
        t: AttestationType,
        draft: bool,
        error_code: Option<&str>,
        policy_hash: Option<String>,
        evidence: &[u8],
        elapsed: std::time::Duration,
    ) {
        let outcome = if error_code.is_none() { "success" } else { "failure" };
        let handles = TYPE_METRICS[t as usize].get_or_init(|| TypeMetrics {
            success: metrics::counter!("attestd_attestations_total", "type" => t.as_str(), "outcome" => "success"),
            failure: metrics::counter!("attestd_attestations_total", "type" => t.as_str(), "outcome" => "failure"),
            duration: metrics::histogram!("attestd_attestation_duration_seconds", "type" => t.as_str()),
        });
        if error_code.is_none() {
            &handles.success
        } else {
            &handles.failure
        }
        .increment(1);
        handles.duration.record(elapsed.as_secs_f64());
        self.audit.record(AuditRecord {
            at: unix_now(),
            provider: provider.name.to_string(),
            kind: "attestation".into(),
            operation: if draft { "attest.draft" } else { "attest" }.into(),
            attestation_type: Some(t.to_string()),
            outcome: outcome.into(),
            error_code: error_code.map(str::to_owned),
            policy_hash,
            evidence_digest: Some(hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                evidence,
            ))),
            duration_us: Some(elapsed.as_micros() as i64),
            ..AuditRecord::default()
        });
    }

    async fn attest_inner(
        &self,
        provider: &Provider,
        evidence: &Evidence,
        options: &AttestOptions,
        policy_hash: &mut Option<String>,
    ) -> Result<String, ServiceError> {
        let t = evidence.attestation_type;
        let verifier = self
            .verifiers()
            .get(t)
            .ok_or_else(|| ServiceError::UnsupportedAttestationType(t.to_string()))?;
        let policy: Arc<ActivePolicy> = match &options.draft_policy {
            Some(text) => Arc::new(ActivePolicy::draft(text)?),
            None => provider
                .policy(t)
                .cloned()
                .ok_or_else(|| ServiceError::InvalidParameter {
                    code: "PolicyNotConfigured",
                    message: format!(
                        "attestation provider '{}' has no {t} policy; set one with PUT /policies/{t}",
                        provider.name
                    ),
                })?,
        };
        *policy_hash = Some(policy.policy.hash().to_owned());
        let ctx = VerifyContext {
            now: SystemTime::now(),
            configuration: &policy.configuration,
        };
        let appraisal = verifier
            .verify(evidence, &ctx)
            .await
            .map_err(|e| self.note_failed_evidence(provider, t, e, options))?;
        let seal = appraisal.seal.clone();
        let token = self.issue_noted(provider, t, &policy, appraisal, options)?;
        match seal {
            Some(s) => Ok(s.seal(&token)?),
            None => Ok(token),
        }
    }

    /// Evaluates `policy` over a verified `appraisal` and signs the token (unsecured for a draft).
    pub(crate) fn issue(
        &self,
        provider: &Provider,
        t: AttestationType,
        policy: &ActivePolicy,
        appraisal: Appraisal,
        options: &AttestOptions,
    ) -> Result<String, ServiceError> {
        let evaluation = policy.policy.evaluate(&appraisal.incoming)?;

        let mut claims = appraisal.token_claims;
        let t_now = unix_now();
        // A policy may set the token's lifetime (property claim, bounded by the policy crate).
        let lifetime = evaluation
            .properties
            .value("report_validity_in_minutes")
            .and_then(|v| v.as_i64())
            .map_or(self.config().attestation_token_lifetime.as_secs() as i64, |m| m * 60);
        claims.insert("iss".into(), Value::from(provider.issuer.as_str()));
        claims.insert("iat".into(), Value::from(t_now));
        claims.insert("nbf".into(), Value::from(t_now));
        claims.insert("exp".into(), Value::from(t_now + lifetime));
        claims.insert("jti".into(), Value::from(new_jti()?));
        claims.insert("x-ms-ver".into(), Value::from("1.0"));
        claims.insert("x-ms-attestation-type".into(), Value::from(t.token_type()));
        claims.insert("x-ms-policy-hash".into(), Value::from(policy.policy.hash()));
        if let Some(signer) = &policy.signer {
            claims.insert("x-ms-policy-signer".into(), signer.clone());
        }
        if let Some(nonce) = &options.nonce {
            claims.insert("nonce".into(), Value::from(nonce.as_str()));
        }
        let issued = sorted_object(&evaluation.issued);
        if matches!(t, AttestationType::SgxEnclave | AttestationType::OpenEnclave) {
            // MAA also places policy-issued SGX claims at the top level; claims the service set win.
            for (name, value) in &issued {
                claims.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        claims.insert("x-ms-policy".into(), Value::Object(issued.into_iter().collect()));
        let form = header_form(t, evaluation.properties.value("omit_x5c").and_then(|v| v.as_bool()));
        let token = if options.draft_policy.is_some() {
            provider.signer.unsecured_with(&claims, form)?
        } else {
            provider.signer.sign_with(&claims, form)?
        };
        Ok(token)
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

/// The token's JOSE header for the policy's `omit_x5c` property claim (reference B.6, C.1): true
/// sends the certificate's thumbprint (`x5t`) instead of the chain, false sends the chain (`x5c`);
/// unset, TPM reports carry `x5c` and the other types MAA's plain header.
fn header_form(t: AttestationType, omit_x5c: Option<bool>) -> HeaderForm {
    match omit_x5c {
        Some(true) => HeaderForm::X5t,
        Some(false) => HeaderForm::X5c,
        None if t == AttestationType::Tpm => HeaderForm::X5c,
        None => HeaderForm::Plain,
    }
}

/// Policy-issued claims as a sorted map; a repeated name keeps its last value, as MAA's tokens show
/// one value per claim.
fn sorted_object(claims: &ClaimSet) -> BTreeMap<String, Value> {
    claims.iter().map(|c| (c.name.to_string(), c.value.to_json())).collect()
}

/// The attestation metrics of one type. The macros look a metric up in the recorder's registry
/// (hashing its name and labels) on every call; the handles are looked up once per process, after
/// the recorder is installed (`attestd serve` installs it before it listens).
struct TypeMetrics {
    success: metrics::Counter,
    failure: metrics::Counter,
    duration: metrics::Histogram,
}

static TYPE_METRICS: [OnceLock<TypeMetrics>; AttestationType::ALL.len()] =
    [const { OnceLock::new() }; AttestationType::ALL.len()];

const JTI_LEN: usize = 32;
/// Token ids drawn per call into the random number generator.
const JTI_BATCH: usize = 64;

/// Random bytes for the next token ids. aws-lc's generator reseeds from the CPU on every call (1 µs
/// on the hosts of docs/performance.md), so ids are drawn 64 at a time.
struct JtiPool {
    bytes: [u8; JTI_LEN * JTI_BATCH],
    next: usize,
}

static JTI_POOL: Mutex<JtiPool> = Mutex::new(JtiPool {
    bytes: [0; JTI_LEN * JTI_BATCH],
    next: JTI_LEN * JTI_BATCH,
});

/// A token id: 32 random bytes as lower-case hex (the shape of MAA's `jti`), each id used once.
fn new_jti() -> Result<String, ServiceError> {
    let mut pool = JTI_POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.next == pool.bytes.len() {
        SystemRandom::new()
            .fill(&mut pool.bytes)
            .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
        pool.next = 0;
    }
    let at = pool.next;
    pool.next += JTI_LEN;
    Ok(hex::encode(&pool.bytes[at..at + JTI_LEN]))
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn every_type_has_its_own_metrics_slot() {
        for (i, t) in AttestationType::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i, "{t}");
        }
    }

    #[test]
    fn token_ids_are_never_repeated_across_refills() {
        let ids: std::collections::HashSet<String> = (0..JTI_BATCH * 3 + 5).map(|_| new_jti().expect("jti")).collect();
        assert_eq!(ids.len(), JTI_BATCH * 3 + 5);
        assert!(
            ids.iter()
                .all(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn omit_x5c_decides_the_header_for_every_type() {
        for t in AttestationType::ALL {
            assert_eq!(header_form(t, Some(true)), HeaderForm::X5t, "{t}");
            assert_eq!(header_form(t, Some(false)), HeaderForm::X5c, "{t}");
            let default = if t == AttestationType::Tpm {
                HeaderForm::X5c
            } else {
                HeaderForm::Plain
            };
            assert_eq!(header_form(t, None), default, "{t}");
        }
    }
}
