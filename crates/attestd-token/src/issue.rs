//! Token issuance: a signing key with its JOSE header encoded once.

use std::sync::Arc;

use aws_lc_rs::digest;
use serde::Serialize;

use crate::alg::Algorithm;
use crate::b64;
use crate::error::TokenError;
use crate::jwks::PublicKey;
use crate::jws::Header;
use crate::keys::SigningKey;

/// Which certificate member a token's JOSE header carries besides `jku` and `kid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HeaderForm {
    /// `{"alg","jku","kid","typ"}`: MAA's header for SGX, SEV-SNP, TDX, Azure guest and management
    /// tokens.
    #[default]
    Plain,
    /// Also `x5c` (the signing certificate chain, standard base64 DER): MAA's TPM report header.
    X5c,
    /// Also `x5t` (base64url SHA-1 thumbprint of the leaf) instead of the chain: what MAA sends
    /// when the policy's property claim `omit_x5c` is true.
    X5t,
}

impl HeaderForm {
    const ALL: [HeaderForm; 3] = [HeaderForm::Plain, HeaderForm::X5c, HeaderForm::X5t];

    fn index(self) -> usize {
        match self {
            HeaderForm::Plain => 0,
            HeaderForm::X5c => 1,
            HeaderForm::X5t => 2,
        }
    }
}

/// Signs JWTs with one key. Every header form (`alg`, `jku`, `kid`, `typ: JWT` in MAA's member
/// order, optionally `x5c` or `x5t`) is encoded at construction, signed and unsecured, so issuing a
/// token costs one JSON serialization, one base64 pass and one signature whatever the form.
#[derive(Debug, Clone)]
pub struct TokenSigner {
    key: Arc<SigningKey>,
    /// Indexed by [`HeaderForm::index`]; `None` for a certificate form when no chain was given.
    headers_b64: [Option<String>; 3],
    unsecured_headers_b64: [Option<String>; 3],
}

impl TokenSigner {
    /// A signer whose tokens name `jku` (the issuer's `/certs` URL) and the key's `kid`; it has no
    /// certificate, so only [`HeaderForm::Plain`] is available.
    pub fn new(key: Arc<SigningKey>, jku: &str) -> Result<Self, TokenError> {
        Self::with_certificate_chain(key, jku, &[])
    }

    /// A signer that can also put `chain` (DER, leaf first; the leaf must certify `key`) into the
    /// header as `x5c`, or its leaf's thumbprint as `x5t`. An empty chain is [`TokenSigner::new`].
    pub fn with_certificate_chain(key: Arc<SigningKey>, jku: &str, chain: &[Vec<u8>]) -> Result<Self, TokenError> {
        let cert_members = match chain.first() {
            None => None,
            Some(leaf) => {
                // A header certificate for another key would mislead relying parties that use it.
                if PublicKey::from_certificate_der(leaf)?.spki_der() != key.spki_der() {
                    return Err(TokenError::InvalidKey(
                        "the x5c leaf certificate is not for the signing key".into(),
                    ));
                }
                let x5c: Vec<String> = chain.iter().map(|c| b64::encode_std(c)).collect();
                let x5t = b64::encode_url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, leaf).as_ref());
                Some((x5c, x5t))
            }
        };
        let header = |alg: &str, form: HeaderForm| -> Result<Option<String>, TokenError> {
            let (x5c, x5t) = match (form, &cert_members) {
                (HeaderForm::Plain, _) => (None, None),
                (_, None) => return Ok(None),
                (HeaderForm::X5c, Some((c, _))) => (Some(c.clone()), None),
                (HeaderForm::X5t, Some((_, t))) => (None, Some(t.clone())),
            };
            let h = Header {
                alg: alg.to_owned(),
                jku: Some(jku.to_owned()),
                kid: Some(key.kid().to_owned()),
                typ: Some("JWT".to_owned()),
                x5c,
                x5t,
                ..Default::default()
            };
            let json = serde_json::to_vec(&h).map_err(|e| TokenError::malformed(e.to_string()))?;
            Ok(Some(b64::encode_url(&json)))
        };
        let mut headers_b64 = [None, None, None];
        let mut unsecured_headers_b64 = [None, None, None];
        for form in HeaderForm::ALL {
            headers_b64[form.index()] = header(key.algorithm().as_str(), form)?;
            unsecured_headers_b64[form.index()] = header("none", form)?;
        }
        Ok(TokenSigner {
            key,
            headers_b64,
            unsecured_headers_b64,
        })
    }

    /// Whether this signer has a certificate chain for [`HeaderForm::X5c`] and [`HeaderForm::X5t`].
    pub fn has_certificates(&self) -> bool {
        self.headers_b64[HeaderForm::X5c.index()].is_some()
    }

    /// The signing key.
    pub fn key(&self) -> &Arc<SigningKey> {
        &self.key
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Signs `claims` (any serializable JSON object) into a compact JWT with MAA's plain header.
    pub fn sign<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, TokenError> {
        self.sign_with(claims, HeaderForm::Plain)
    }

    /// Signs `claims` into a compact JWT whose header has `form`. A certificate form on a signer
    /// without certificates is an error, not a silently plain header.
    pub fn sign_with<T: Serialize + ?Sized>(&self, claims: &T, form: HeaderForm) -> Result<String, TokenError> {
        let header = Self::pick(&self.headers_b64, form)?;
        let mut token = self.encode_unsigned(header, claims)?;
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        b64::encode_url_into(&signature, &mut token);
        Ok(token)
    }

    /// Encodes `claims` as an unsecured JWT (`alg: none`, empty signature) that still names `jku`
    /// and `kid`, as MAA does for draft-policy results.
    pub fn unsecured<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, TokenError> {
        self.unsecured_with(claims, HeaderForm::Plain)
    }

    /// [`TokenSigner::unsecured`] with a header of `form`.
    pub fn unsecured_with<T: Serialize + ?Sized>(&self, claims: &T, form: HeaderForm) -> Result<String, TokenError> {
        let header = Self::pick(&self.unsecured_headers_b64, form)?;
        let mut token = self.encode_unsigned(header, claims)?;
        token.push('.');
        Ok(token)
    }

    fn pick(headers: &[Option<String>; 3], form: HeaderForm) -> Result<&str, TokenError> {
        headers[form.index()]
            .as_deref()
            .ok_or_else(|| TokenError::key(format!("this signer has no certificate for a {form:?} header")))
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
