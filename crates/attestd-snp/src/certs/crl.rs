//! AMD's certificate revocation list: signed by the ARK of a generation, listing revoked ASKs and
//! ASVKs. Its signature is checked once, when it is loaded; a verification then only compares
//! serial numbers and the update times.

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::roots::{AmdCa, AmdRoots};
use super::sig::check_amd_pss;
use crate::error::{ErrorCode, Result, SnpError};
use crate::generation::Generation;

/// A CRL whose ARK signature has been verified.
#[derive(Clone, Debug)]
pub struct AmdCrl {
    /// The generation whose ARK signed it.
    generation: Generation,
    /// thisUpdate, Unix seconds.
    this_update: i64,
    /// nextUpdate, Unix seconds.
    next_update: i64,
    revoked: Vec<Vec<u8>>,
}

fn malformed(message: String) -> SnpError {
    SnpError::new(ErrorCode::CrlMalformed, message)
}

impl AmdCrl {
    /// Parses a DER CRL and verifies it under the ARK of the generation it names as issuer.
    pub fn parse(der: &[u8], roots: &AmdRoots) -> Result<AmdCrl> {
        let (rest, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| malformed(format!("the AMD CRL is not valid DER: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "the AMD CRL is followed by {} stray bytes",
                rest.len()
            )));
        }
        check_amd_pss(&crl.signature_algorithm, "AMD CRL")?;
        if crl.signature_algorithm != crl.tbs_cert_list.signature {
            return Err(malformed(
                "the AMD CRL's inner and outer signature algorithms differ".into(),
            ));
        }
        let issuer = crl.issuer().as_raw();
        let roots = Generation::ALL
            .into_iter()
            .filter_map(|g| roots.generation(g))
            .find(|r| r.ark().subject_raw() == issuer)
            .ok_or_else(|| {
                SnpError::new(
                    ErrorCode::CrlSignatureInvalid,
                    format!("the AMD CRL issuer '{}' is not a configured ARK", crl.issuer()),
                )
            })?;
        if !roots
            .ark()
            .key()
            .verifies(crl.tbs_cert_list.as_ref(), &crl.signature_value.data)
        {
            return Err(SnpError::new(
                ErrorCode::CrlSignatureInvalid,
                format!("the AMD CRL signature does not verify under ARK-{}", roots.generation()),
            ));
        }
        let next_update = crl
            .next_update()
            .ok_or_else(|| malformed("the AMD CRL has no nextUpdate".into()))?
            .timestamp();
        Ok(AmdCrl {
            generation: roots.generation(),
            this_update: crl.last_update().timestamp(),
            next_update,
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| r.raw_serial().to_vec())
                .collect(),
        })
    }

    /// The generation whose ARK signed it.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// thisUpdate, Unix seconds.
    pub fn this_update(&self) -> i64 {
        self.this_update
    }

    /// nextUpdate, Unix seconds.
    pub fn next_update(&self) -> i64 {
        self.next_update
    }

    /// Whether the certificate with this serial number (as encoded) is listed.
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.revoked.iter().any(|s| s == serial)
    }

    /// The number of listed certificates.
    pub fn revoked_count(&self) -> usize {
        self.revoked.len()
    }

    /// Checks, for a chain of `generation`, that this CRL is current at `now` and does not list
    /// `ca`. A CRL of another generation says nothing about the chain and passes.
    pub(crate) fn check(&self, ca: &AmdCa, generation: Generation, now: i64) -> Result<()> {
        if generation != self.generation {
            return Ok(());
        }
        if now < self.this_update || now > self.next_update {
            return Err(SnpError::new(
                ErrorCode::CrlExpired,
                format!(
                    "the ARK-{generation} CRL is current from {} to {} (Unix seconds), not at {now}",
                    self.this_update, self.next_update
                ),
            ));
        }
        if self.is_revoked(ca.serial()) {
            return Err(SnpError::new(
                ErrorCode::AmdCertificateRevoked,
                format!(
                    "{} '{}' (serial {}) is revoked by the ARK-{generation} CRL",
                    ca.role().as_str(),
                    ca.name(),
                    hex::encode(ca.serial())
                ),
            ));
        }
        Ok(())
    }
}
