//! Token issuance: a signing key with its JOSE header encoded once.

use std::sync::Arc;

use serde::Serialize;

use crate::alg::Algorithm;
use crate::b64;
use crate::error::TokenError;
use crate::jws::Header;
use crate::keys::SigningKey;

/// Signs JWTs with one key. The header (`alg`, `jku`, `kid`, `typ: JWT`, in MAA's member order) is
/// encoded at construction, so issuing a token costs one JSON serialization, one base64 pass and one
/// signature.
#[derive(Debug, Clone)]
pub struct TokenSigner {
    key: Arc<SigningKey>,
    header_b64: String,
    unsecured_header_b64: String,
}

impl TokenSigner {
    /// A signer whose tokens name `jku` (the issuer's `/certs` URL) and the key's `kid`.
    pub fn new(key: Arc<SigningKey>, jku: &str) -> Result<Self, TokenError> {
        let header = |alg: &str| -> Result<String, TokenError> {
            let h = Header {
                alg: alg.to_owned(),
                jku: Some(jku.to_owned()),
                kid: Some(key.kid().to_owned()),
                typ: Some("JWT".to_owned()),
                ..Default::default()
            };
            let json = serde_json::to_vec(&h).map_err(|e| TokenError::malformed(e.to_string()))?;
            Ok(b64::encode_url(&json))
        };
        Ok(TokenSigner {
            header_b64: header(key.algorithm().as_str())?,
            unsecured_header_b64: header("none")?,
            key,
        })
    }

    /// The signing key.
    pub fn key(&self) -> &Arc<SigningKey> {
        &self.key
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Signs `claims` (any serializable JSON object) into a compact JWT.
    pub fn sign<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, TokenError> {
        let mut token = self.encode_unsigned(&self.header_b64, claims)?;
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        b64::encode_url_into(&signature, &mut token);
        Ok(token)
    }

    /// Encodes `claims` as an unsecured JWT (`alg: none`, empty signature) that still names `jku`
    /// and `kid`, as MAA does for draft-policy results.
    pub fn unsecured<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, TokenError> {
        let mut token = self.encode_unsigned(&self.unsecured_header_b64, claims)?;
        token.push('.');
        Ok(token)
    }

    fn encode_unsigned<T: Serialize + ?Sized>(&self, header_b64: &str, claims: &T) -> Result<String, TokenError> {
        let payload = serde_json::to_vec(claims).map_err(|e| TokenError::malformed(e.to_string()))?;
        // header '.' payload '.' signature: size the buffer once.
        let sig_len = match self.key.algorithm() {
            Algorithm::RS256 | Algorithm::PS256 => 512,
            Algorithm::ES256 => 64,
            Algorithm::ES384 => 96,
        } * 4
            / 3;
        let mut out = String::with_capacity(header_b64.len() + 2 + payload.len() * 4 / 3 + 4 + sig_len);
        out.push_str(header_b64);
        out.push('.');
        b64::encode_url_into(&payload, &mut out);
        Ok(out)
    }
}
