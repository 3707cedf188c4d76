//! The bridge to the policy language: compiled policies as a provider holds them, MAA's default
//! policies, and the JWS form policies are stored and returned in.

use std::sync::{Arc, OnceLock};

use attestd_evidence::{AttestationType, ClaimSet};
use attestd_policy::{Policy, PolicyEvaluationError, PolicyParsingError};
use attestd_token::b64;
use serde_json::Value;

use crate::error::ServiceError;

/// A provider's policy for one attestation type, ready to evaluate.
#[derive(Debug)]
pub struct ActivePolicy {
    /// The compiled policy.
    pub policy: Arc<Policy>,
    /// The policy as a JWS, returned by `GET /policies/{type}` as `x-ms-policy`: as uploaded, or an
    /// unsigned JWS for built-in defaults.
    pub jws: String,
    /// `x-ms-policy-signer`: the signer as a JWK, when the policy was signed.
    pub signer: Option<Value>,
    /// Whether this is a built-in default rather than an uploaded policy.
    pub is_default: bool,
    /// The property claims of its `configurationrules`, evaluated once.
    pub configuration: ClaimSet,
}

impl From<PolicyParsingError> for ServiceError {
    fn from(e: PolicyParsingError) -> Self {
        ServiceError::InvalidParameter {
            code: "PolicyParsingError",
            message: e.to_string(),
        }
    }
}

impl From<PolicyEvaluationError> for ServiceError {
    fn from(e: PolicyEvaluationError) -> Self {
        ServiceError::InvalidParameter {
            code: "PolicyEvaluationError",
            message: e.to_string(),
        }
    }
}

/// The unsigned JWS (`alg: none`) of MAA's `StoredAttestationPolicy` for `text`.
pub fn unsigned_policy_jws(text: &str) -> String {
    let payload = serde_json::json!({ "AttestationPolicy": b64::encode_url(text.as_bytes()) });
    format!(
        "eyJhbGciOiJub25lIn0.{}.",
        b64::encode_url(payload.to_string().as_bytes())
    )
}

/// `x-ms-policy` for a type that has no policy at all (MAA's empty unsecured JWS).
pub const NO_POLICY_JWS: &str = "eyJhbGciOiJub25lIn0..";

impl ActivePolicy {
    /// Compiles `text` (stored or uploaded).
    pub fn compile(
        text: &str,
        jws: String,
        signer: Option<Value>,
        is_default: bool,
    ) -> Result<ActivePolicy, ServiceError> {
        let compiled = Policy::compile(text)?;
        let configuration = compiled.policy.configuration()?;
        Ok(ActivePolicy {
            policy: Arc::new(compiled.policy),
            jws,
            signer,
            is_default,
            configuration,
        })
    }

    /// A draft policy sent with an attestation request (`draftPolicyForAttestation`).
    pub fn draft(text: &str) -> Result<ActivePolicy, ServiceError> {
        Self::compile(text, unsigned_policy_jws(text), None, false)
    }

    /// The built-in default of `t`: MAA's legacy shared default (SGX, Open Enclave) on the shared
    /// provider, MAA's current SGX default on other providers, the policy crate's choice for the VM
    /// types, none for TPM. Compiled once per process.
    pub fn default_for(shared: bool, t: AttestationType) -> Option<Arc<ActivePolicy>> {
        static SHARED: OnceLock<Vec<(AttestationType, Arc<ActivePolicy>)>> = OnceLock::new();
        static CUSTOM: OnceLock<Vec<(AttestationType, Arc<ActivePolicy>)>> = OnceLock::new();
        let table = if shared { &SHARED } else { &CUSTOM };
        table
            .get_or_init(|| {
                AttestationType::ALL
                    .into_iter()
                    .filter_map(|t| {
                        let text = match t {
                            AttestationType::SgxEnclave | AttestationType::OpenEnclave if shared => {
                                attestd_policy::defaults::SHARED_LEGACY
                            }
                            AttestationType::SgxEnclave | AttestationType::OpenEnclave => {
                                attestd_policy::defaults::SGX_DEFAULT
                            }
                            other => attestd_policy::defaults::for_type(other.as_str())?,
                        };
                        match ActivePolicy::compile(text, unsigned_policy_jws(text), None, true) {
                            Ok(p) => Some((t, Arc::new(p))),
                            Err(e) => {
                                tracing::error!(%t, error = %e, "a built-in default policy does not compile");
                                None
                            }
                        }
                    })
                    .collect()
            })
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, p)| Arc::clone(p))
    }
}
