//! Token verification for relying parties, tests and the CLI.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::TokenError;
use crate::jwks::{JwkSet, PublicKey};
use crate::jws::{Header, Jws};

/// Trusted verification keys, by `kid`.
#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, PublicKey>,
}

impl KeySet {
    /// Parses every key of a JWK Set. Keys need a `kid`; a key that cannot be parsed is an error,
    /// not silently skipped, so a broken `/certs` is noticed.
    pub fn from_jwks(jwks: &JwkSet) -> Result<KeySet, TokenError> {
        let mut by_kid = HashMap::with_capacity(jwks.keys.len());
        for jwk in &jwks.keys {
            let kid = jwk
                .kid
                .clone()
                .ok_or_else(|| TokenError::InvalidKey("a JWK without 'kid'".into()))?;
            let key = jwk
                .public_key()
                .map_err(|e| TokenError::InvalidKey(format!("key '{kid}': {e}")))?;
            by_kid.insert(kid, key);
        }
        Ok(KeySet { by_kid })
    }

    /// Adds a key under `kid`.
    pub fn insert(&mut self, kid: impl Into<String>, key: PublicKey) {
        self.by_kid.insert(kid.into(), key);
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    fn select(&self, header: &Header) -> Result<(&str, &PublicKey), TokenError> {
        if let Some(kid) = &header.kid {
            return self
                .by_kid
                .get_key_value(kid)
                .map(|(k, v)| (k.as_str(), v))
                .ok_or_else(|| TokenError::UnknownKey(format!("kid '{kid}' is not in the trusted key set")));
        }
        // Without a kid, a header certificate may name the key, but only a key we already trust:
        // an x5c alone proves nothing.
        if let Some(leaf) = header.x5c.as_ref().and_then(|c| c.first()) {
            let der = b64::decode_std(leaf).ok_or_else(|| TokenError::malformed("x5c entry is not base64"))?;
            let presented = PublicKey::from_certificate_der(&der)?;
            return self
                .by_kid
                .iter()
                .find(|(_, k)| k.spki_der() == presented.spki_der())
                .map(|(k, v)| (k.as_str(), v))
                .ok_or_else(|| TokenError::UnknownKey("the x5c certificate's key is not trusted".into()));
        }
        Err(TokenError::UnknownKey(
            "the header names no key (no 'kid' or 'x5c')".into(),
        ))
    }
}

/// What a verification requires besides a valid signature.
#[derive(Clone, Debug)]
pub struct Validation {
    /// When set, `iss` must equal it exactly.
    pub issuer: Option<String>,
    /// Clock tolerance for `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
    /// The verification time (default: now).
    pub now: Option<SystemTime>,
    /// Whether `exp` must be present.
    pub require_exp: bool,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            issuer: None,
            leeway_secs: 30,
            now: None,
            require_exp: true,
            algorithms: Algorithm::ALL.to_vec(),
        }
    }
}

/// A token whose signature, key and time claims were checked.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The JOSE header.
    pub header: Header,
    /// The algorithm the signature was verified with.
    pub algorithm: Algorithm,
    /// The `kid` of the key that verified it.
    pub kid: String,
    /// The claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Verifies a compact JWT against trusted keys: signature (never `alg: none`), key selection by
/// `kid` (or a trusted `x5c`), key type versus `alg`, `exp`/`nbf` with leeway, and `iss`.
pub fn verify(token: &str, keys: &KeySet, validation: &Validation) -> Result<VerifiedToken, TokenError> {
    let jws = Jws::parse(token)?;
    if jws.header.alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::Unsecured);
    }
    let algorithm: Algorithm = jws
        .header
        .alg
        .parse()
        .map_err(|_| TokenError::UnsupportedAlgorithm(jws.header.alg.clone()))?;
    if !validation.algorithms.contains(&algorithm) {
        return Err(TokenError::UnsupportedAlgorithm(jws.header.alg.clone()));
    }
    let (kid, key) = keys.select(&jws.header)?;
    key.verify(algorithm, jws.signing_input.as_bytes(), &jws.signature)
        .ok_or_else(|| TokenError::KeyAlgorithmMismatch {
            kid: kid.to_owned(),
            alg: algorithm.to_string(),
        })??;
    let claims = jws.claims()?;
    check_claims(&claims, validation)?;
    Ok(VerifiedToken {
        kid: kid.to_owned(),
        header: jws.header,
        algorithm,
        claims,
    })
}

fn check_claims(claims: &serde_json::Map<String, serde_json::Value>, v: &Validation) -> Result<(), TokenError> {
    let now = v
        .now
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let number = |name: &'static str| -> Result<Option<i64>, TokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or(TokenError::MissingClaim(name)),
        }
    };
    match number("exp")? {
        Some(exp) if now > exp.saturating_add(v.leeway_secs) => return Err(TokenError::Expired { exp, now }),
        None if v.require_exp => return Err(TokenError::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = number("nbf")?
        && now < nbf.saturating_sub(v.leeway_secs)
    {
        return Err(TokenError::NotYetValid { nbf, now });
    }
    if let Some(expected) = &v.issuer {
        let found = claims
            .get("iss")
            .and_then(|i| i.as_str())
            .ok_or(TokenError::MissingClaim("iss"))?;
        if found != expected {
            return Err(TokenError::IssuerMismatch {
                expected: expected.clone(),
                found: found.to_owned(),
            });
        }
    }
    Ok(())
}
