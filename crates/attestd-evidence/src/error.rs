//! Verification errors: a stable code, a message, and the kind that decides the HTTP status.

use std::borrow::Cow;
use std::fmt;

/// What went wrong, at the granularity that decides how the caller should react.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The evidence (or data bound to it) is malformed or fails a check: the attester's fault.
    InvalidEvidence,
    /// Collateral needed to decide could not be obtained (fetch failed, nothing cached): retryable.
    CollateralUnavailable,
    /// A bug or an unexpected internal condition.
    Internal,
}

/// A failed verification.
///
/// `code` is stable and documented (e.g. `QuoteSignatureInvalid`); `message` names the field or
/// the check and is meant for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceError {
    /// Stable, machine-readable code.
    pub code: Cow<'static, str>,
    /// Human-readable explanation.
    pub message: String,
    /// The class of failure.
    pub kind: ErrorKind,
    /// The identity the evidence claimed for its attester (see [`crate::Attester`]), when it was
    /// readable before the check failed. Not verified: used only to record the failure in that
    /// attester's history.
    pub attester: Option<String>,
}

impl EvidenceError {
    /// An error of `kind` (the verifier crates map their own error codes through this).
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>, kind: ErrorKind) -> Self {
        EvidenceError {
            code: code.into(),
            message: message.into(),
            kind,
            attester: None,
        }
    }

    /// An error for evidence that is malformed or fails a check.
    pub fn invalid(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        EvidenceError {
            code: code.into(),
            message: message.into(),
            kind: ErrorKind::InvalidEvidence,
            attester: None,
        }
    }

    /// An error for collateral that could not be obtained.
    pub fn collateral_unavailable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        EvidenceError {
            code: code.into(),
            message: message.into(),
            kind: ErrorKind::CollateralUnavailable,
            attester: None,
        }
    }

    /// An internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        EvidenceError {
            code: Cow::Borrowed("InternalError"),
            message: message.into(),
            kind: ErrorKind::Internal,
            attester: None,
        }
    }
}

impl EvidenceError {
    /// The same error, noting which attester the evidence claimed to come from.
    pub fn with_attester(mut self, id: impl Into<String>) -> Self {
        self.attester = Some(id.into());
        self
    }
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EvidenceError {}
