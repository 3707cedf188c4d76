//! Token signing keys: generation, loading, signing, MAA's `kid` rule and the self-signed
//! certificate that publishes each key in `/certs`.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair};

use crate::alg::{Algorithm, KeyKind};
use crate::b64;
use crate::error::TokenError;

/// A PKCS#8 v1 private key in DER. Kept only as long as it takes to store it.
pub struct Pkcs8Der(pub Vec<u8>);

impl fmt::Debug for Pkcs8Der {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs8Der(<redacted>)")
    }
}

enum KeyPairKind {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A parsed private key with everything derived from it that signing needs: the key is parsed once
/// and reused for every token (parsing an RSA key costs as much as signing with it).
pub struct SigningKey {
    alg: Algorithm,
    pair: KeyPairKind,
    spki_der: Vec<u8>,
    kid: String,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA-2048, P-256 or P-384) and returns it with its PKCS#8
    /// encoding for storage.
    pub fn generate(alg: Algorithm) -> Result<(SigningKey, Pkcs8Der), TokenError> {
        let pkcs8 = match alg.key_kind() {
            KeyKind::Rsa => {
                let pair =
                    RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| TokenError::key("RSA key generation failed"))?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| TokenError::key("RSA key encoding failed"))?;
                der.as_ref().to_vec()
            }
            KeyKind::P256 | KeyKind::P384 => {
                let signing = alg
                    .ecdsa_signing()
                    .ok_or_else(|| TokenError::key("not an ECDSA algorithm"))?;
                let pair = EcdsaKeyPair::generate(signing).map_err(|_| TokenError::key("EC key generation failed"))?;
                let doc = pair
                    .to_pkcs8v1()
                    .map_err(|_| TokenError::key("EC key encoding failed"))?;
                doc.as_ref().to_vec()
            }
        };
        let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
        Ok((key, Pkcs8Der(pkcs8)))
    }

    /// Loads a PKCS#8 private key for `alg`. The key type must fit the algorithm.
    pub fn from_pkcs8(alg: Algorithm, pkcs8: &[u8]) -> Result<SigningKey, TokenError> {
        let (pair, spki_der) = match alg.key_kind() {
            KeyKind::Rsa => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8)
                    .map_err(|e| TokenError::key(format!("not an RSA PKCS#8 key for {alg}: {e}")))?;
                let spki: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| TokenError::key("RSA public key encoding failed"))?;
                let spki = spki.as_ref().to_vec();
                (KeyPairKind::Rsa(pair), spki)
            }
            KeyKind::P256 | KeyKind::P384 => {
                let signing = alg
                    .ecdsa_signing()
                    .ok_or_else(|| TokenError::key("not an ECDSA algorithm"))?;
                let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8)
                    .map_err(|e| TokenError::key(format!("not a PKCS#8 key for {alg}: {e}")))?;
                let spki: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| TokenError::key("EC public key encoding failed"))?;
                let spki = spki.as_ref().to_vec();
                (KeyPairKind::Ec(pair), spki)
            }
        };
        let kid = maa_kid(&spki_der);
        Ok(SigningKey {
            alg,
            pair,
            spki_der,
            kid,
            rng: SystemRandom::new(),
        })
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, by MAA's rule (see [`maa_kid`]).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Signs `message` and returns the JWS signature bytes (r‖s for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        match &self.pair {
            KeyPairKind::Rsa(pair) => {
                let encoding = self
                    .alg
                    .rsa_encoding()
                    .ok_or_else(|| TokenError::key("not an RSA algorithm"))?;
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(encoding, &self.rng, message, &mut sig)
                    .map_err(|_| TokenError::key("RSA signing failed"))?;
                Ok(sig)
            }
            KeyPairKind::Ec(pair) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| TokenError::key("ECDSA signing failed")),
        }
    }
}

/// PEM of a DER SubjectPublicKeyInfo: `BEGIN PUBLIC KEY`, 64-character lines, LF endings, final LF.
pub fn spki_pem(spki_der: &[u8]) -> String {
    let body = b64::encode_std(spki_der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

/// MAA's `kid` for an instance signing key: standard, padded base64 of
/// SHA-256(PEM(SubjectPublicKeyInfo) ‖ 0x00).
///
/// MAA hashes the NUL-terminated PEM text because the same digest goes into the report data of the
/// TEE evidence that binds the key; relying parties only ever compare it, so we reproduce it exactly.
pub fn maa_kid(spki_der: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(spki_pem(spki_der).as_bytes());
    ctx.update(&[0u8]);
    b64::encode_std(ctx.finish().as_ref())
}

/// Makes the self-signed certificate that publishes a signing key: subject and issuer
/// `CN=<issuer URL>`, serial 1, not a CA, valid from `not_before` to the end of 2050 (MAA's shape).
pub fn self_signed_certificate(
    alg: Algorithm,
    pkcs8: &[u8],
    issuer_url: &str,
    not_before: time::OffsetDateTime,
) -> Result<Vec<u8>, TokenError> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber};
    let sig_alg = match alg.key_kind() {
        KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8);
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&der, sig_alg)
        .map_err(|e| TokenError::key(format!("certificate key: {e}")))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, issuer_url);
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(&[1]));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = not_before;
    params.not_after = rcgen::date_time_ymd(2050, 12, 31)
        .replace_time(time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT));
    params.use_authority_key_identifier_extension = false;
    let cert = params
        .self_signed(&key)
        .map_err(|e| TokenError::key(format!("certificate: {e}")))?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_have_stable_kids() -> Result<(), TokenError> {
        for alg in Algorithm::ALL {
            let (key, pkcs8) = SigningKey::generate(alg)?;
            let again = SigningKey::from_pkcs8(alg, &pkcs8.0)?;
            assert_eq!(key.kid(), again.kid(), "{alg}");
            assert_eq!(key.kid().len(), 44, "padded base64 of 32 bytes");
            let sig = key.sign(b"message")?;
            let public = aws_lc_rs::signature::UnparsedPublicKey::new(alg.verification(), key.spki_der());
            // The SPKI DER is accepted directly by aws-lc-rs for every key type.
            public
                .verify(b"message", &sig)
                .map_err(|_| TokenError::key(format!("{alg} signature did not verify")))?;
        }
        Ok(())
    }

    #[test]
    fn wrong_key_type_for_algorithm_is_rejected() -> Result<(), TokenError> {
        let (_, ec) = SigningKey::generate(Algorithm::ES256)?;
        assert!(SigningKey::from_pkcs8(Algorithm::RS256, &ec.0).is_err());
        assert!(SigningKey::from_pkcs8(Algorithm::ES384, &ec.0).is_err());
        Ok(())
    }

    #[test]
    fn pem_has_64_character_lines() {
        let pem = spki_pem(&[0u8; 100]);
        let lines: Vec<_> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END PUBLIC KEY-----"));
        assert!(pem.ends_with("-----\n"));
    }
}
