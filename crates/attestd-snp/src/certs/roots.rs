//! The AMD root (ARK) and signing keys (ASK for VCEKs, ASVK for VLEKs) of each generation, and
//! the VCEK/VLEK chain check against them.

use std::time::SystemTime;

use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::crl::AmdCrl;
use super::sig::{RsaPssKey, check_amd_pss};
use super::vek::{Vek, VekKind};
use super::{common_name, unix_seconds, validity};
use crate::error::{ErrorCode, Result, SnpError};
use crate::generation::Generation;

const MILAN_PEM: &str = include_str!("../../roots/milan_ask_ark_asvk.pem");
const GENOA_PEM: &str = include_str!("../../roots/genoa_ask_ark_asvk.pem");
const TURIN_PEM: &str = include_str!("../../roots/turin_ask_ark_asvk.pem");

/// The role of an AMD CA certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AmdCaRole {
    /// AMD Root Key, self-signed.
    Ark,
    /// AMD SEV Signing Key: issues VCEKs.
    Ask,
    /// AMD SEV VLEK Signing Key: issues VLEKs.
    Asvk,
}

impl AmdCaRole {
    /// `ARK`, `ASK` or `ASVK`.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdCaRole::Ark => "ARK",
            AmdCaRole::Ask => "ASK",
            AmdCaRole::Asvk => "ASVK",
        }
    }
}

/// One AMD CA certificate (ARK, ASK or ASVK) whose signature has been checked.
#[derive(Debug)]
pub struct AmdCa {
    der: Vec<u8>,
    subject: Vec<u8>,
    key: RsaPssKey,
    /// Its role.
    role: AmdCaRole,
    /// Its subject common name, e.g. `SEV-Milan`.
    name: String,
    /// Its serial number (big-endian bytes as encoded).
    serial: Vec<u8>,
    /// notBefore, Unix seconds.
    not_before: i64,
    /// notAfter, Unix seconds.
    not_after: i64,
}

impl AmdCa {
    /// Its role.
    pub fn role(&self) -> AmdCaRole {
        self.role
    }

    /// Its subject common name, e.g. `SEV-Milan`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its serial number (big-endian bytes as encoded).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub(crate) fn subject_raw(&self) -> &[u8] {
        &self.subject
    }

    pub(crate) fn key(&self) -> &RsaPssKey {
        &self.key
    }

    fn check_time(&self, now: i64, generation: Generation) -> Result<()> {
        if now < self.not_before || now > self.not_after {
            return Err(SnpError::new(
                ErrorCode::AmdCertificateExpired,
                format!(
                    "the {generation} {} '{}' is valid from {} to {} (Unix seconds), not at {now}",
                    self.role.as_str(),
                    self.name,
                    self.not_before,
                    self.not_after
                ),
            ));
        }
        Ok(())
    }
}

/// A certificate of a bundle, parsed but not yet checked.
struct Candidate {
    der: Vec<u8>,
    name: String,
}

fn malformed_ca(message: String) -> SnpError {
    SnpError::new(ErrorCode::AmdCertificateMalformed, message)
}

/// Checks `der` as a CA certificate issued by `issuer` (itself when `None`) and returns it.
fn check_ca(der: &[u8], role: AmdCaRole, issuer: Option<&AmdCa>) -> Result<AmdCa> {
    let what = role.as_str();
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| malformed_ca(format!("{what}: not valid DER X.509: {e}")))?;
    if !rest.is_empty() {
        return Err(malformed_ca(format!(
            "{what}: {} stray bytes after the certificate",
            rest.len()
        )));
    }
    check_amd_pss(&cert.signature_algorithm, what)?;
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(malformed_ca(format!(
            "{what}: inner and outer signature algorithms differ"
        )));
    }
    if !cert.is_ca() {
        return Err(malformed_ca(format!("{what}: basicConstraints does not make it a CA")));
    }
    let name = common_name(cert.subject()).ok_or_else(|| malformed_ca(format!("{what}: no subject common name")))?;
    let key = RsaPssKey::from_spki(cert.public_key(), what)?;
    let issuer_subject = issuer.map_or(cert.subject().as_raw(), AmdCa::subject_raw);
    if cert.issuer().as_raw() != issuer_subject {
        return Err(SnpError::new(
            ErrorCode::AmdSignatureInvalid,
            format!("{what} '{name}' is not issued by the expected AMD key"),
        ));
    }
    let signer = issuer.map_or(&key, AmdCa::key);
    if !signer.verifies(cert.tbs_certificate.as_ref(), &cert.signature_value.data) {
        return Err(SnpError::new(
            ErrorCode::AmdSignatureInvalid,
            format!("{what} '{name}': signature does not verify under its issuer"),
        ));
    }
    let (not_before, not_after) = validity(&cert);
    Ok(AmdCa {
        der: der.to_vec(),
        subject: cert.subject().as_raw().to_vec(),
        key,
        role,
        name,
        serial: cert.raw_serial().to_vec(),
        not_before,
        not_after,
    })
}

/// The ARK, ASK and ASVK of one generation, with every signature among them checked.
#[derive(Debug)]
pub struct GenerationRoots {
    /// The generation.
    generation: Generation,
    /// `ARK-<Gen>`.
    ark: AmdCa,
    /// `SEV-<Gen>`: issues VCEKs.
    ask: AmdCa,
    /// `SEV-VLEK-<Gen>`: issues VLEKs; absent from bundles without one.
    asvk: Option<AmdCa>,
}

impl GenerationRoots {
    /// Reads the certificates of `generation` from PEM text, in any order, recognized by their
    /// common names (`ARK-<Gen>`, `SEV-<Gen>`, `SEV-VLEK-<Gen>`); the ARK must be self-signed
    /// and the ASK/ASVK signed by it.
    pub fn from_pem(generation: Generation, pem: &str) -> Result<GenerationRoots> {
        let mut candidates = Vec::new();
        for p in Pem::iter_from_buffer(pem.as_bytes()) {
            let p = p.map_err(|e| malformed_ca(format!("{generation} roots: bad PEM: {e}")))?;
            let (_, cert) = X509Certificate::from_der(&p.contents)
                .map_err(|e| malformed_ca(format!("{generation} roots: not valid DER X.509: {e}")))?;
            let name = common_name(cert.subject()).unwrap_or_default();
            candidates.push(Candidate {
                der: p.contents.clone(),
                name,
            });
        }
        let find = |name: String| candidates.iter().find(|c| c.name == name).map(|c| c.der.as_slice());
        let g = generation.as_str();
        let ark_der = find(format!("ARK-{g}")).ok_or_else(|| malformed_ca(format!("no ARK-{g} in the {g} roots")))?;
        let ark = check_ca(ark_der, AmdCaRole::Ark, None)?;
        let ask_der = find(format!("SEV-{g}")).ok_or_else(|| malformed_ca(format!("no SEV-{g} in the {g} roots")))?;
        let ask = check_ca(ask_der, AmdCaRole::Ask, Some(&ark))?;
        let asvk = find(format!("SEV-VLEK-{g}"))
            .map(|der| check_ca(der, AmdCaRole::Asvk, Some(&ark)))
            .transpose()?;
        Ok(GenerationRoots {
            generation,
            ark,
            ask,
            asvk,
        })
    }

    /// The generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// `ARK-<Gen>`, self-signed.
    pub fn ark(&self) -> &AmdCa {
        &self.ark
    }

    /// `SEV-<Gen>`: issues VCEKs.
    pub fn ask(&self) -> &AmdCa {
        &self.ask
    }

    /// `SEV-VLEK-<Gen>`: issues VLEKs; absent from bundles without one.
    pub fn asvk(&self) -> Option<&AmdCa> {
        self.asvk.as_ref()
    }

    /// The CA that issues keys of `kind`.
    pub fn issuer_of(&self, kind: VekKind) -> Option<&AmdCa> {
        match kind {
            VekKind::Vcek => Some(&self.ask),
            VekKind::Vlek => self.asvk.as_ref(),
        }
    }

    /// Whether `der` is one of this generation's certificates.
    pub fn contains(&self, der: &[u8]) -> bool {
        self.ark.der() == der || self.ask.der() == der || self.asvk.as_ref().is_some_and(|c| c.der() == der)
    }
}

/// The AMD roots of every supported generation.
#[derive(Debug)]
pub struct AmdRoots {
    generations: Vec<GenerationRoots>,
}

impl AmdRoots {
    /// AMD's published ARK, ASK and ASVK for Milan, Genoa and Turin, shipped with attestd.
    pub fn bundled() -> Result<AmdRoots> {
        AmdRoots::new(vec![
            GenerationRoots::from_pem(Generation::Milan, MILAN_PEM)?,
            GenerationRoots::from_pem(Generation::Genoa, GENOA_PEM)?,
            GenerationRoots::from_pem(Generation::Turin, TURIN_PEM)?,
        ])
    }

    /// Roots from explicit per-generation bundles (at most one per generation).
    pub fn new(generations: Vec<GenerationRoots>) -> Result<AmdRoots> {
        for (i, g) in generations.iter().enumerate() {
            if generations[..i].iter().any(|o| o.generation == g.generation) {
                return Err(malformed_ca(format!("two root bundles for {}", g.generation)));
            }
        }
        Ok(AmdRoots { generations })
    }

    /// The roots of `generation`, if configured.
    pub fn generation(&self, generation: Generation) -> Option<&GenerationRoots> {
        self.generations.iter().find(|g| g.generation == generation)
    }

    /// The generation whose bundle holds `der`, if any.
    pub fn generation_of_certificate(&self, der: &[u8]) -> Option<Generation> {
        self.generations.iter().find(|g| g.contains(der)).map(|g| g.generation)
    }

    /// Checks that `vek` is signed by the ASK (VCEK) or ASVK (VLEK) of its generation: names
    /// chain and the RSA-PSS signature verifies. Time-independent, so the result can be cached.
    pub fn verify_vek_signature(&self, vek: &Vek) -> Result<&GenerationRoots> {
        let roots = self.generation(vek.generation()).ok_or_else(|| {
            SnpError::new(
                ErrorCode::WrongGeneration,
                format!("no AMD roots are configured for {}", vek.generation()),
            )
        })?;
        let issuer = roots.issuer_of(vek.kind()).ok_or_else(|| {
            SnpError::new(
                ErrorCode::VekIssuerMismatch,
                format!("no {} ASVK is configured to check a VLEK", vek.generation()),
            )
        })?;
        if vek.issuer_raw() != issuer.subject_raw() {
            return Err(SnpError::new(
                ErrorCode::VekIssuerMismatch,
                format!(
                    "the {} issuer name is not the subject of {} '{}'",
                    vek.kind().as_str(),
                    issuer.role.as_str(),
                    issuer.name
                ),
            ));
        }
        if !issuer.key().verifies(vek.tbs(), vek.signature()) {
            return Err(SnpError::new(
                ErrorCode::VekSignatureInvalid,
                format!(
                    "the {} signature does not verify under {} '{}'",
                    vek.kind().as_str(),
                    issuer.role.as_str(),
                    issuer.name
                ),
            ));
        }
        Ok(roots)
    }

    /// The whole chain check at `now`: [`verify_vek_signature`](Self::verify_vek_signature),
    /// every certificate's validity, and, for each CRL of the generation in `crls`, that it is
    /// current and does not list the ASK/ASVK.
    pub fn verify_vek(&self, vek: &Vek, now: SystemTime, crls: &[AmdCrl]) -> Result<()> {
        let roots = self.verify_vek_signature(vek)?;
        check_chain_time(roots, vek, unix_seconds(now)?, crls)
    }
}

/// The time-dependent part of the chain check.
pub(crate) fn check_chain_time(roots: &GenerationRoots, vek: &Vek, now: i64, crls: &[AmdCrl]) -> Result<()> {
    if now < vek.not_before() || now > vek.not_after() {
        return Err(SnpError::new(
            ErrorCode::VekExpired,
            format!(
                "the {} is valid from {} to {} (Unix seconds), not at {now}",
                vek.kind().as_str(),
                vek.not_before(),
                vek.not_after()
            ),
        ));
    }
    let issuer = roots.issuer_of(vek.kind()).ok_or_else(|| {
        SnpError::new(
            ErrorCode::VekIssuerMismatch,
            format!("no {} signing key for a {}", roots.generation, vek.kind().as_str()),
        )
    })?;
    issuer.check_time(now, roots.generation)?;
    roots.ark.check_time(now, roots.generation)?;
    for crl in crls {
        crl.check(issuer, roots.generation, now)?;
    }
    Ok(())
}
