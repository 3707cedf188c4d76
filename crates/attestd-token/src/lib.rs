//! JWS, JWT and JWKS for attestd, on aws-lc-rs.
//!
//! - [`SigningKey`]: a parsed private key (RS256, PS256, ES256, ES384) with MAA's `kid`.
//! - [`TokenSigner`]: issues JWTs with pre-encoded headers ([`HeaderForm`]: plain, `x5c` or `x5t`);
//!   unsecured (`alg: none`) results too.
//! - [`Jwk`]/[`JwkSet`]: the `/certs` document; [`PublicKey`] parses the keys they carry.
//! - [`verify`]: the relying-party check (signature, key, `exp`/`nbf`, `iss`).
//!
//! The layer is our own because no JOSE crate combines aws-lc-rs, cached parsed keys, `x5c` and
//! unsecured tokens; cryptography itself is aws-lc-rs throughout.

#![forbid(unsafe_code)]

mod alg;
pub mod b64;
mod error;
mod issue;
mod jwks;
mod jws;
mod keys;
mod verify;

pub use alg::{Algorithm, KeyKind, UnsupportedAlgorithm};
pub use error::TokenError;
pub use issue::{HeaderForm, TokenSigner};
pub use jwks::{Jwk, JwkSet, PublicKey};
pub use jws::{Header, Jws, encode_unsecured};
pub use keys::{Pkcs8Der, SigningKey, maa_kid, self_signed_certificate, spki_pem};
pub use verify::{KeySet, Validation, VerifiedToken, verify};
