//! Service errors: each has a stable code and a class that decides the HTTP status.

use attestd_evidence::{ErrorKind, EvidenceError};
use attestd_store::StoreError;
use attestd_token::TokenError;
use thiserror::Error;

/// A failed service operation.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A request field is missing or malformed; the message names the field.
    #[error("{message}")]
    InvalidParameter {
        /// Stable code (MAA's `InvalidParameter` unless something more precise exists).
        code: &'static str,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The evidence failed verification.
    #[error("{0}")]
    Evidence(#[from] EvidenceError),
    /// No such provider.
    #[error("attestation provider '{0}' does not exist")]
    ProviderNotFound(String),
    /// The provider exists already.
    #[error("attestation provider '{0}' already exists")]
    ProviderExists(String),
    /// A provider name that cannot be used.
    #[error(
        "invalid provider name '{0}': use 1-63 lower-case letters, digits and '-', starting with a letter or digit"
    )]
    InvalidProviderName(String),
    /// The attestation type has no verifier in this build.
    #[error("attestation type '{0}' is not supported by this server")]
    UnsupportedAttestationType(String),
    /// A feature this server does not implement.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// The caller is not authenticated (no, or an invalid, bearer token).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is authenticated but may not do this, or the provider does not allow it.
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// A dependency (token issuer, collateral service) did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// A configuration problem (bad master key, unusable stored key).
    #[error("configuration error: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Making a token failed.
    #[error("token error: {0}")]
    Token(#[from] TokenError),
    /// Anything else that is our fault.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How a caller should treat an error; the HTTP layer maps it to a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 400: the request is wrong.
    BadRequest,
    /// 401: not authenticated.
    Unauthorized,
    /// 403: not allowed.
    Forbidden,
    /// 404: the addressed thing does not exist.
    NotFound,
    /// 409: it exists already.
    Conflict,
    /// 501: the server does not implement it.
    NotImplemented,
    /// 503: try again later.
    Unavailable,
    /// 500: our fault.
    Internal,
}

impl ServiceError {
    /// A missing or malformed request field.
    pub fn invalid(message: impl Into<String>) -> Self {
        ServiceError::InvalidParameter {
            code: "InvalidParameter",
            message: message.into(),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &str {
        match self {
            ServiceError::InvalidParameter { code, .. } => code,
            ServiceError::Evidence(e) => &e.code,
            ServiceError::ProviderNotFound(_) => "ProviderNotFound",
            ServiceError::ProviderExists(_) => "ProviderExists",
            ServiceError::InvalidProviderName(_) => "InvalidProviderName",
            ServiceError::UnsupportedAttestationType(_) => "UnsupportedAttestationType",
            ServiceError::NotImplemented(_) => "NotImplemented",
            ServiceError::Unauthorized(_) => "Unauthorized",
            ServiceError::Forbidden { code, .. } => code,
            ServiceError::Unavailable(_) => "ServiceUnavailable",
            ServiceError::Config(_) => "ConfigurationError",
            ServiceError::Store(_) => "StoreUnavailable",
            ServiceError::Token(_) | ServiceError::Internal(_) => "InternalError",
        }
    }

    /// The error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            ServiceError::InvalidParameter { .. } | ServiceError::InvalidProviderName(_) => ErrorClass::BadRequest,
            ServiceError::Evidence(e) => match e.kind {
                ErrorKind::InvalidEvidence => ErrorClass::BadRequest,
                ErrorKind::CollateralUnavailable => ErrorClass::Unavailable,
                ErrorKind::Internal => ErrorClass::Internal,
            },
            ServiceError::ProviderNotFound(_) => ErrorClass::NotFound,
            ServiceError::Unauthorized(_) => ErrorClass::Unauthorized,
            ServiceError::Forbidden { .. } => ErrorClass::Forbidden,
            ServiceError::Unavailable(_) => ErrorClass::Unavailable,
            ServiceError::ProviderExists(_) => ErrorClass::Conflict,
            ServiceError::UnsupportedAttestationType(_) | ServiceError::NotImplemented(_) => ErrorClass::NotImplemented,
            ServiceError::Store(_) => ErrorClass::Unavailable,
            ServiceError::Config(_) | ServiceError::Token(_) | ServiceError::Internal(_) => ErrorClass::Internal,
        }
    }
}
