//! The evidence-verifier interface.
//!
//! Every evidence type (SGX quotes, Open Enclave reports, SEV-SNP reports, TDX quotes, TPM quotes,
//! Azure guest evidence) is one implementation of [`Verifier`]. A verifier takes the decoded evidence
//! and the data the attester bound to it, checks it up to the vendor's root, and returns an
//! [`Appraisal`]: the incoming claims the policy sees and the claims the token carries. Nothing
//! type-specific exists outside the verifier: the pipeline and the HTTP layer only see this trait.

#![forbid(unsafe_code)]

pub mod b64;
mod error;
mod exchange;
pub mod json;
pub mod pem;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

pub use attestd_claims::{Claim, ClaimIssuer, ClaimSet, ClaimValue};
pub use error::{ErrorKind, EvidenceError};
pub use exchange::{Exchange, ExchangeContext, Finish, Outcome, Step, StepFuture};
pub use types::{AttestationType, BoundData, DataType, UnknownAttestationType};

/// The future a verifier returns; verifiers may await collateral fetches.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Appraisal, EvidenceError>> + Send + 'a>>;

/// Evidence as received from an attester, decoded from its transport encoding.
#[derive(Clone, Debug)]
pub struct Evidence {
    /// Which verifier this evidence is for.
    pub attestation_type: AttestationType,
    /// The evidence bytes exactly as sent (after base64url decoding): a quote, a report, or a
    /// type-specific JSON document.
    pub bytes: Vec<u8>,
    /// Data whose hash the TEE bound into the evidence at run time (MAA: `runtimeData`).
    pub runtime_data: Option<BoundData>,
    /// Data bound into the evidence at launch (MAA: `initTimeData`).
    pub init_time_data: Option<BoundData>,
}

/// What a verifier needs besides the evidence.
#[derive(Clone, Debug)]
pub struct VerifyContext<'a> {
    /// The verification time: collateral and certificates must be valid at this instant. The server
    /// uses the real clock; the offline CLI can replay old evidence with `--at`.
    pub now: SystemTime,
    /// Property claims set by the policy's `configurationrules` (e.g. `x-ms-sgx-tcbidentifier`,
    /// `required_pcr_mask`), which change how evidence is appraised.
    pub configuration: &'a ClaimSet,
}

/// The result of a successful verification.
#[derive(Clone, Debug, Default)]
pub struct Appraisal {
    /// Incoming claims for the policy, with MAA's names (including `$`-prefixed aliases).
    pub incoming: ClaimSet,
    /// Claims the attestation token carries whatever the policy issues (e.g. `x-ms-sgx-mrenclave`,
    /// `x-ms-sgx-collateral`, `x-ms-runtime`), in MAA's names and JSON shapes. Sorted by name, as
    /// MAA emits them.
    pub token_claims: BTreeMap<String, serde_json::Value>,
    /// How the issued token is to be wrapped before it is returned, when the evidence asks for
    /// it (MAA's AzureGuest answer is sealed to a key of the attester's TPM); `None` returns
    /// the token as it is.
    pub seal: Option<std::sync::Arc<dyn SealToken>>,
    /// Which machine attested and what it measured, for evidence that identifies its attester
    /// durably (a TPM's attestation key): the service keeps each attester's history and alerts
    /// when its measurements change or it starts failing.
    pub attester: Option<Attester>,
}

/// A durably identified attester and the measurements whose change is worth an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attester {
    /// Stable identity of the machine, unique within its attestation type (TPM: `aikPubHash`).
    pub id: String,
    /// The measurements, by name (TPM: `"PCR0"`…`"PCR7"` → hex digest). Two attestations of one
    /// attester whose maps differ mean its boot path changed.
    pub measurements: BTreeMap<String, String>,
}

/// Wraps an issued token for the attester (e.g. encrypts it to a key only the attester's TPM
/// can use). Runs after the policy permitted and the token was signed.
pub trait SealToken: Send + Sync + std::fmt::Debug {
    /// The value the response carries instead of the token.
    fn seal(&self, token: &str) -> Result<String, EvidenceError>;
}

/// Verifies one or more attestation types.
///
/// Implementations are built once (trust anchors parsed, caches created) and shared by every
/// request, so `verify` must not do per-call setup that could be done at construction.
pub trait Verifier: Send + Sync + 'static {
    /// The attestation types this verifier accepts.
    fn attestation_types(&self) -> &'static [AttestationType];

    /// Verifies `evidence` and returns its claims, or the first check that failed.
    fn verify<'a>(&'a self, evidence: &'a Evidence, ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a>;

    /// The multi-round protocol this verifier speaks on `/attest/{type}` instead of MAA's
    /// single-request body, if any (MAA's TPM protocol). The HTTP layer then carries each round
    /// as `{"data": base64url(message)}` and the service drives the [`Exchange`].
    fn exchange(&self) -> Option<&dyn Exchange> {
        None
    }
}

/// The verifiers a service knows, by attestation type.
#[derive(Clone, Default)]
pub struct VerifierRegistry {
    by_type: HashMap<AttestationType, Arc<dyn Verifier>>,
}

impl VerifierRegistry {
    /// A registry without verifiers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `verifier` for every type it accepts, replacing earlier registrations.
    pub fn register(&mut self, verifier: Arc<dyn Verifier>) {
        for t in verifier.attestation_types() {
            self.by_type.insert(*t, Arc::clone(&verifier));
        }
    }

    /// The verifier for `t`, if one is registered.
    pub fn get(&self, t: AttestationType) -> Option<&Arc<dyn Verifier>> {
        self.by_type.get(&t)
    }

    /// The registered types, sorted by name.
    pub fn types(&self) -> Vec<AttestationType> {
        let mut v: Vec<_> = self.by_type.keys().copied().collect();
        v.sort_by_key(|t| t.as_str());
        v
    }
}

impl std::fmt::Debug for VerifierRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.types()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Verifier for Fixed {
        fn attestation_types(&self) -> &'static [AttestationType] {
            &[AttestationType::SgxEnclave, AttestationType::OpenEnclave]
        }

        fn verify<'a>(&'a self, evidence: &'a Evidence, _ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
            Box::pin(async move {
                if evidence.bytes.is_empty() {
                    return Err(EvidenceError::invalid("EmptyEvidence", "the evidence is empty"));
                }
                let mut appraisal = Appraisal::default();
                appraisal.incoming.add("len", evidence.bytes.len() as i64);
                Ok(appraisal)
            })
        }
    }

    #[test]
    fn registry_maps_every_declared_type() {
        let mut reg = VerifierRegistry::new();
        reg.register(Arc::new(Fixed));
        assert!(reg.get(AttestationType::OpenEnclave).is_some());
        assert!(reg.get(AttestationType::SgxEnclave).is_some());
        assert!(reg.get(AttestationType::Tpm).is_none());
        assert_eq!(
            reg.types(),
            vec![AttestationType::OpenEnclave, AttestationType::SgxEnclave]
        );
    }
}
