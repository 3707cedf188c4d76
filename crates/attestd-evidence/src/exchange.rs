//! Multi-round attestation protocols (MAA's TPM protocol: init → challenge → request → report).
//!
//! A verifier that speaks one returns an [`Exchange`] from [`crate::Verifier::exchange`]. Each
//! round the service hands it the client's message (JSON bytes, already taken out of the
//! transport envelope) and gets a [`Step`] back: either the next message for the client, or an
//! [`Appraisal`] that the service runs through the provider's policy and signs, after which the
//! exchange's [`Finish`] turns the token into the last message. The service keeps no state between
//! rounds: an exchange that needs some seals it into its messages with [`ExchangeContext::secret`].

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use attestd_claims::ClaimSet;

use crate::{Appraisal, AttestationType, EvidenceError};

/// What an exchange round knows besides the client's message.
#[derive(Clone, Copy)]
pub struct ExchangeContext<'a> {
    /// The attestation type of the route.
    pub attestation_type: AttestationType,
    /// The provider (tenant) the client talks to; state sealed into messages should be bound to it.
    pub provider: &'a str,
    /// The verification time.
    pub now: SystemTime,
    /// Property claims of the provider's policy (`configurationrules`).
    pub configuration: &'a ClaimSet,
    /// A 32-byte key the service keeps in its store, the same on every node: for sealing
    /// protocol state into messages (never used for anything else).
    pub secret: &'a [u8; 32],
    /// The provider's URL for out-of-band alerts about its attesters, if it set one.
    pub alert_webhook: Option<&'a str>,
}

impl std::fmt::Debug for ExchangeContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeContext")
            .field("attestation_type", &self.attestation_type)
            .field("provider", &self.provider)
            .field("now", &self.now)
            .field("secret", &"<redacted>")
            .field("alert_webhook", &self.alert_webhook)
            .finish()
    }
}

/// How an attestation that passed the verifier ended in the service.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// The policy permitted it and this token was signed.
    Token(&'a str),
    /// The service refused it (policy denial, signing failure): the error's stable code.
    Failed(&'a str),
}

/// Completes an exchange once the service has judged its appraisal.
pub trait Finish: Send {
    /// Called exactly once with the outcome; returns the last message for the client when a
    /// token was issued (`None` otherwise: the service answers the error).
    fn finish(self: Box<Self>, outcome: Outcome<'_>) -> Result<serde_json::Value, EvidenceError>;
}

/// The result of one round.
pub enum Step {
    /// Send this message to the client and wait for its next one.
    Reply(serde_json::Value),
    /// The evidence is verified: evaluate the policy over `appraisal`, sign the token and pass the
    /// outcome to `finish`.
    Appraised {
        /// The claims for policy and token.
        appraisal: Appraisal,
        /// Builds the last message from the token.
        finish: Box<dyn Finish>,
    },
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Reply(v) => f.debug_tuple("Reply").field(v).finish(),
            Step::Appraised { appraisal, .. } => f.debug_struct("Appraised").field("appraisal", appraisal).finish(),
        }
    }
}

/// The future an exchange round returns.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<Step, EvidenceError>> + Send + 'a>>;

/// A multi-round protocol.
pub trait Exchange: Send + Sync {
    /// Handles one client message (the JSON text inside the transport envelope).
    fn step<'a>(&'a self, message: &'a [u8], ctx: ExchangeContext<'a>) -> StepFuture<'a>;
}
