//! The discovery documents relying parties read: OpenID metadata and the JWK Set.

use serde::Serialize;

/// The claims MAA advertises in `claims_supported` (reference A.7), in MAA's order.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "cnf",
    "nonce",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-policy-hash",
    "x-ms-policy-signer",
    "x-ms-sgx-is-debuggable",
    "x-ms-sgx-mrenclave",
    "x-ms-sgx-mrsigner",
    "x-ms-sgx-svn",
    "x-ms-sgx-ehd",
    "x-ms-sgx-collateral",
    "is-debuggable",
    "sgx-mrsigner",
    "sgx-mrenclave",
    "product-id",
    "svn",
    "tee",
];

/// `/.well-known/openid-configuration` with MAA's members in MAA's order.
#[derive(Serialize)]
pub struct OpenIdMetadata<'a> {
    response_types_supported: [&'static str; 2],
    id_token_signing_alg_values_supported: [&'a str; 1],
    revocation_endpoint: String,
    issuer: &'a str,
    jwks_uri: String,
    claims_supported: &'static [&'static str],
}

impl<'a> OpenIdMetadata<'a> {
    /// The metadata of an issuer that signs with `alg`.
    pub fn new(issuer: &'a str, alg: &'a str) -> Self {
        OpenIdMetadata {
            response_types_supported: ["token", "none"],
            id_token_signing_alg_values_supported: [alg],
            revocation_endpoint: format!("{issuer}/revoke"),
            issuer,
            jwks_uri: format!("{issuer}/certs"),
            claims_supported: CLAIMS_SUPPORTED,
        }
    }
}
