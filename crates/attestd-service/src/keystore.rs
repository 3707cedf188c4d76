//! Sealing private keys at rest with a master key (AES-256-GCM).

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::ServiceError;

/// How a stored private key is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// PKCS#8 DER as is; the database file is readable by its owner only.
    Plain,
    /// `nonce ‖ AES-256-GCM(PKCS#8)` under the master key, bound to provider and kid.
    SealedV1,
}

impl Protection {
    /// The name stored with the key.
    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Plain => "plain",
            Protection::SealedV1 => "sealed-v1",
        }
    }

    /// Parses a stored protection name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plain" => Some(Protection::Plain),
            "sealed-v1" => Some(Protection::SealedV1),
            _ => None,
        }
    }
}

/// A 256-bit key that seals signing keys in the store.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A master key from 32 bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        MasterKey { key }
    }

    /// Parses base64 (either alphabet) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, ServiceError> {
        let bytes = attestd_evidence::b64::decode_lenient(text.trim())
            .map_err(|_| ServiceError::Config("the master key is not base64".into()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| ServiceError::Config(format!("the master key must be 32 bytes, not {}", b.len())))?;
        Ok(MasterKey { key })
    }

    /// A new random master key, base64-encoded (for `attestd master-key generate`).
    pub fn generate_base64() -> Result<String, ServiceError> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
        Ok(attestd_token::b64::encode_std(&key))
    }

    fn aead(&self) -> Result<LessSafeKey, ServiceError> {
        UnboundKey::new(&AES_256_GCM, &self.key)
            .map(LessSafeKey::new)
            .map_err(|_| ServiceError::Internal("AES key setup failed".into()))
    }

    /// Seals `plaintext`; `context` (provider and kid) is authenticated so that a sealed key cannot
    /// be moved to another row.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ServiceError::Internal("random number generator failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| ServiceError::Internal("sealing failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] produced with the same context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, ServiceError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(ServiceError::Config(format!("sealed key '{context}' is truncated")));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ServiceError::Internal("nonce".into()))?;
        let mut buf = body.to_vec();
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| {
                ServiceError::Config(format!(
                    "the master key does not open the signing key '{context}' (wrong ATTESTD_MASTER_KEY?)"
                ))
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_with_context_binding() -> Result<(), ServiceError> {
        let key = MasterKey::from_base64(&MasterKey::generate_base64()?)?;
        let sealed = key.seal("default/kid1", b"secret")?;
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 6], b"secret");
        assert_eq!(key.open("default/kid1", &sealed)?, b"secret");
        assert!(key.open("other/kid1", &sealed).is_err());
        let other = MasterKey::from_bytes([7; 32]);
        assert!(other.open("default/kid1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open("default/kid1", &tampered).is_err());
        assert!(key.open("default/kid1", &sealed[..10]).is_err());
        Ok(())
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64("AAAA").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }
}
