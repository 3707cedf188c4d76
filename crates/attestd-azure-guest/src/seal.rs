//! MAA's sealed AzureGuest answer: the JWT encrypted with AES-256-GCM under a fresh key
//! (additional data: ASCII `Transport Key`), that key encrypted with RSAES-PKCS1-v1_5 to the
//! attester's certified TPM encryption key, all in a JSON envelope that the response carries
//! base64url-encoded as `token`. Only the attester's vTPM, in the PCR state its key is bound to,
//! can open it.

use attestd_evidence::{EvidenceError, SealToken};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::RsaPublicKey;

/// The additional authenticated data of the JWT's encryption.
pub const AAD: &[u8] = b"Transport Key";

/// Seals tokens to one certified TPM encryption key.
#[derive(Debug)]
pub struct TransportSeal {
    key: RsaPublicKey,
}

impl TransportSeal {
    /// A sealer for `key` (certified by the attestation key: see `GuestVerifier::verify_info`).
    pub fn new(key: RsaPublicKey) -> TransportSeal {
        TransportSeal { key }
    }
}

fn failed(what: &str) -> EvidenceError {
    EvidenceError::internal(format!("sealing the token: {what}"))
}

impl SealToken for TransportSeal {
    fn seal(&self, token: &str) -> Result<String, EvidenceError> {
        let rng = SystemRandom::new();
        let mut inner = [0u8; 32];
        let mut iv = [0u8; 12];
        rng.fill(&mut inner).map_err(|_| failed("no randomness"))?;
        rng.fill(&mut iv).map_err(|_| failed("no randomness"))?;
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &inner).map_err(|_| failed("AES key"))?);
        let mut jwt = token.as_bytes().to_vec();
        let tag = aead
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(AAD), &mut jwt)
            .map_err(|_| failed("AES-GCM"))?;
        let rsa = PublicEncryptingKey::from_der(&self.key.spki)
            .ok()
            .and_then(|k| Pkcs1PublicEncryptingKey::new(k).ok())
            .ok_or_else(|| failed("the TPM encryption key is not a usable RSA key"))?;
        let mut wrapped = vec![0u8; rsa.ciphertext_size()];
        let wrapped = rsa
            .encrypt(&inner, &mut wrapped)
            .map_err(|_| failed("RSA encryption"))?;
        let envelope = json!({
            "Jwt": STANDARD.encode(&jwt),
            "EncryptedInnerKey": STANDARD.encode(wrapped),
            "EncryptionParams": {
                "BlockMode": "ChainingModeGCM",
                "BlockPadding": "PKCS7",
                "Cipher": "AES",
                "KeySizeInBits": 256,
                "Iv": STANDARD.encode(iv),
            },
            "AuthenticationData": STANDARD.encode(tag.as_ref()),
        });
        Ok(URL_SAFE_NO_PAD.encode(envelope.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{KeyPair, KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey, PublicKeyComponents};
    use aws_lc_rs::signature::KeyPair as _;

    #[test]
    fn a_sealed_token_opens_with_the_tpm_key_only() {
        let tpm_key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let parts: PublicKeyComponents<Vec<u8>> = tpm_key.public_key().into();
        let enc = attestd_testkit::azure::tpm2b_public(&parts.n);
        let key = crate::enc_key::rsa_key(&crate::enc_key::tpmt_public(&enc, "k").unwrap(), "k").unwrap();
        let sealed = TransportSeal::new(key).seal("header.payload.signature").unwrap();

        let envelope: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&sealed).unwrap()).unwrap();
        assert_eq!(envelope["EncryptionParams"]["BlockMode"], "ChainingModeGCM");
        assert_eq!(envelope["EncryptionParams"]["KeySizeInBits"], 256);
        let b = |k: &str| STANDARD.decode(envelope[k].as_str().unwrap()).unwrap();
        let decrypting =
            Pkcs1PrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&tpm_key_pkcs8(&tpm_key)).unwrap())
                .unwrap();
        let mut inner = vec![0u8; 256];
        let inner = decrypting
            .decrypt(&b("EncryptedInnerKey"), &mut inner)
            .unwrap()
            .to_vec();
        let iv: [u8; 12] = STANDARD
            .decode(envelope["EncryptionParams"]["Iv"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &inner).unwrap());
        let mut data = b("Jwt");
        data.extend(b("AuthenticationData"));
        let plain = aead
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(AAD), &mut data)
            .unwrap();
        assert_eq!(plain, b"header.payload.signature");
        // Other additional data does not open it.
        let mut data = b("Jwt");
        data.extend(b("AuthenticationData"));
        assert!(
            aead.open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(b"other"), &mut data)
                .is_err()
        );
    }

    fn tpm_key_pkcs8(k: &KeyPair) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        k.as_der().unwrap().as_ref().to_vec()
    }
}
