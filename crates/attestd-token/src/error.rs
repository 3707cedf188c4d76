//! Token errors, each with a stable code.

use thiserror::Error;

/// Why a token could not be made, parsed or verified.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a compact JWS, bad base64url, or a header/payload that is not the JSON it must be.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg: none` where a signature is required.
    #[error("the token is unsecured (alg 'none'); a signed token is required")]
    Unsecured,
    /// An `alg` this verifier does not accept.
    #[error("unsupported or disallowed algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    /// No trusted key matches the header's `kid` / `x5c`.
    #[error("no trusted key matches the token: {0}")]
    UnknownKey(String),
    /// The key found cannot produce signatures of the header's `alg` (e.g. an EC key with RS256).
    #[error("key '{kid}' cannot verify {alg} signatures")]
    KeyAlgorithmMismatch {
        /// The key id.
        kid: String,
        /// The header's algorithm.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verification time.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verification time.
        now: i64,
    },
    /// A claim the verifier requires is absent or of the wrong type.
    #[error("claim '{0}' is missing or not of the required type")]
    MissingClaim(&'static str),
    /// `iss` differs from the expected issuer.
    #[error("issuer '{found}' is not the expected '{expected}'")]
    IssuerMismatch {
        /// The expected issuer.
        expected: String,
        /// The token's issuer.
        found: String,
    },
    /// A certificate or public key in a JWK or header could not be used.
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    /// Generating, loading or using a private key failed.
    #[error("signing key error: {0}")]
    Key(String),
}

impl TokenError {
    pub(crate) fn key(msg: impl Into<String>) -> Self {
        TokenError::Key(msg.into())
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        TokenError::Malformed(msg.into())
    }

    /// The stable error code, e.g. `TokenExpired`.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "MalformedToken",
            TokenError::Unsecured => "UnsecuredToken",
            TokenError::UnsupportedAlgorithm(_) => "UnsupportedAlgorithm",
            TokenError::UnknownKey(_) => "UnknownSigningKey",
            TokenError::KeyAlgorithmMismatch { .. } => "KeyAlgorithmMismatch",
            TokenError::InvalidSignature => "InvalidSignature",
            TokenError::Expired { .. } => "TokenExpired",
            TokenError::NotYetValid { .. } => "TokenNotYetValid",
            TokenError::MissingClaim(_) => "MissingClaim",
            TokenError::IssuerMismatch { .. } => "IssuerMismatch",
            TokenError::InvalidKey(_) => "InvalidKey",
            TokenError::Key(_) => "KeyError",
        }
    }
}
