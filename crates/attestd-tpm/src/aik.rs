//! Attestation key certificates: the chain to the configured TPM / AIK CA roots, and that the
//! certificate's key is the key that signed the quote (MAA's `aikValidated`, `aikPubHash`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use aws_lc_rs::digest;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey as X509Key;

use crate::quote::{PublicKey, QuoteError};

/// tcg-kp-AIKCertificate (2.23.133.8.3), DER-encoded OID value.
const TCG_KP_AIK_CERTIFICATE: &[u8] = &[0x67, 0x81, 0x05, 0x08, 0x03];
/// tcg-kp-EKCertificate (2.23.133.8.1): Google Cloud issues its vTPM AK certificates with it.
const TCG_KP_EK_CERTIFICATE: &[u8] = &[0x67, 0x81, 0x05, 0x08, 0x01];

/// A certificate with an extended key usage must name a TCG TPM key purpose (AIK, or EK as GCE
/// uses for AK certificates); one without is accepted. Certifying an EK purpose cannot make a
/// quote verify: EKs are restricted decryption keys that cannot sign TPM quotes.
struct TpmKeyPurpose;

impl webpki::ExtendedKeyUsageValidator for TpmKeyPurpose {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let accepted = [
            webpki::KeyPurposeId::new(TCG_KP_AIK_CERTIFICATE),
            webpki::KeyPurposeId::new(TCG_KP_EK_CERTIFICATE),
        ];
        let mut present = Vec::new();
        for id in iter {
            let id = id?;
            if accepted.contains(&id) {
                return Ok(());
            }
            present.push(id.to_decoded_oid());
        }
        if present.is_empty() {
            return Ok(());
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(
            webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::required(TCG_KP_AIK_CERTIFICATE),
                present,
            },
        ))
    }
}

/// The roots AK certificates must chain to, and the chains already verified.
#[derive(Debug)]
pub struct AikRoots {
    anchors: Vec<TrustAnchor<'static>>,
    /// SHA-256 of (certificate ‖ intermediates) → the validity window of the verified path, so
    /// that a machine attesting again costs no chain verification.
    verified: Mutex<HashMap<[u8; 32], (SystemTime, SystemTime)>>,
}

/// Verified chains kept at most (a cache, not a registry: cleared when full).
const MAX_CACHED_CHAINS: usize = 10_000;

impl AikRoots {
    /// Trust anchors from DER certificates (TPM vendor EK/AK CAs, a cloud's vTPM CA, or the
    /// organisation's own AIK CA).
    pub fn from_der(roots: &[Vec<u8>]) -> Result<AikRoots, QuoteError> {
        let mut anchors = Vec::with_capacity(roots.len());
        for (i, der) in roots.iter().enumerate() {
            let cert = CertificateDer::from(der.clone());
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| QuoteError::new("AikRootInvalid", format!("AIK root {}: {e}", i + 1)))?
                .to_owned();
            anchors.push(anchor);
        }
        Ok(AikRoots {
            anchors,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Verifies `cert` (DER) through `intermediates` to a root at `now`, and that its public key
    /// is `ak`.
    pub fn verify(
        &self,
        cert: &[u8],
        intermediates: &[Vec<u8>],
        ak: &PublicKey,
        now: SystemTime,
    ) -> Result<(), QuoteError> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(cert);
        for i in intermediates {
            ctx.update(&(i.len() as u64).to_be_bytes());
            ctx.update(i);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        let cached = self
            .verified
            .lock()
            .map(|m| m.get(&key).is_some_and(|(from, until)| *from <= now && now <= *until))
            .unwrap_or(false);
        if !cached {
            let window = self.verify_chain(cert, intermediates, now)?;
            if let Ok(mut m) = self.verified.lock() {
                if m.len() >= MAX_CACHED_CHAINS {
                    m.clear();
                }
                m.insert(key, window);
            }
        }
        check_key(cert, ak)
    }

    /// The chain check proper; returns the window in which every certificate of the path is valid.
    fn verify_chain(
        &self,
        cert: &[u8],
        intermediates: &[Vec<u8>],
        now: SystemTime,
    ) -> Result<(SystemTime, SystemTime), QuoteError> {
        let leaf = CertificateDer::from(cert);
        let ee = webpki::EndEntityCert::try_from(&leaf)
            .map_err(|e| QuoteError::new("AikCertificateMalformed", format!("AK certificate: {e}")))?;
        let chain: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        let time = UnixTime::since_unix_epoch(now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &chain,
            time,
            TpmKeyPurpose,
            None,
            None,
        )
        .map_err(|e| match e {
            webpki::Error::CertExpired { .. } => {
                QuoteError::new("AikCertificateExpired", format!("AK certificate: {e}"))
            }
            webpki::Error::CertNotValidYet { .. } => {
                QuoteError::new("AikCertificateNotYetValid", format!("AK certificate: {e}"))
            }
            other => QuoteError::new(
                "AikCertificateUntrusted",
                format!("the AK certificate does not chain to a configured AIK root: {other}"),
            ),
        })?;
        // The cache may reuse this result while every certificate of the chain sent is valid.
        let mut from = SystemTime::UNIX_EPOCH;
        let mut until = now + std::time::Duration::from_secs(100 * 365 * 86_400);
        for der in std::iter::once(cert).chain(intermediates.iter().map(Vec::as_slice)) {
            if let Ok((_, c)) = X509Certificate::from_der(der) {
                let v = c.validity();
                let to_time = |t: i64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64);
                from = from.max(to_time(v.not_before.timestamp()));
                until = until.min(to_time(v.not_after.timestamp()));
            }
        }
        Ok((from, until))
    }
}

/// The certificate's subject public key must be the attestation key.
fn check_key(cert: &[u8], ak: &PublicKey) -> Result<(), QuoteError> {
    let mismatch = || {
        QuoteError::new(
            "AikKeyMismatch",
            "the AK certificate certifies another key than the one that signed the quote",
        )
    };
    let (_, parsed) = X509Certificate::from_der(cert)
        .map_err(|e| QuoteError::new("AikCertificateMalformed", format!("AK certificate: {e}")))?;
    let key = parsed
        .public_key()
        .parsed()
        .map_err(|e| QuoteError::new("AikCertificateMalformed", format!("AK certificate key: {e}")))?;
    let strip = |v: &[u8]| -> Vec<u8> { v[v.iter().position(|&b| b != 0).unwrap_or(v.len())..].to_vec() };
    match (ak, key) {
        (PublicKey::Rsa { n, e }, X509Key::RSA(rsa)) => {
            let exponent = rsa.try_exponent().map_err(|_| mismatch())?;
            if strip(rsa.modulus) == strip(n) && exponent == u64::from(*e) {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        (PublicKey::Ecc { x, y, .. }, X509Key::EC(point)) => {
            let data = point.data();
            let half = data.len().saturating_sub(1) / 2;
            if data.first() == Some(&4) && strip(&data[1..1 + half]) == strip(x) && strip(&data[1 + half..]) == strip(y)
            {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
        _ => Err(mismatch()),
    }
}
