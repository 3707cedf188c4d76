//! VCEK and VLEK certificates: the P-384 key that signs reports, and the AMD extensions that say
//! which chip, processor generation and TCB it was derived for.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, ParsedPublicKey};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der;
use super::sig::check_amd_pss;
use super::{common_name, validity};
use crate::error::{ErrorCode, Result, SnpError};
use crate::generation::{Generation, TcbLevels};
use crate::report::{AttestationReport, SigningKey};

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const SECP384R1: &str = "1.3.132.0.34";

const OID_STRUCT_VERSION: &str = "1.3.6.1.4.1.3704.1.1";
const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID: &str = "1.3.6.1.4.1.3704.1.4";
const OID_CSP_ID: &str = "1.3.6.1.4.1.3704.1.5";

/// Which endorsement key a certificate carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VekKind {
    /// Versioned Chip Endorsement Key, issued by the ASK for one chip.
    Vcek,
    /// Versioned Loaded Endorsement Key, issued by the ASVK for a cloud provider.
    Vlek,
}

impl VekKind {
    /// `VCEK` or `VLEK`.
    pub fn as_str(self) -> &'static str {
        match self {
            VekKind::Vcek => "VCEK",
            VekKind::Vlek => "VLEK",
        }
    }

    /// The report SIGNING_KEY value that names this kind.
    pub fn signing_key(self) -> SigningKey {
        match self {
            VekKind::Vcek => SigningKey::Vcek,
            VekKind::Vlek => SigningKey::Vlek,
        }
    }
}

/// A parsed VCEK or VLEK certificate. Parsing checks its shape, not its signature: see
/// [`AmdRoots::verify_vek`](super::AmdRoots::verify_vek).
pub struct Vek {
    der: Vec<u8>,
    digest: [u8; 32],
    tbs: Vec<u8>,
    signature: Vec<u8>,
    issuer: Vec<u8>,
    key: ParsedPublicKey,
    /// VCEK or VLEK (subject `SEV-VCEK` / `SEV-VLEK`).
    kind: VekKind,
    /// The generation named by the product name (and the issuer).
    generation: Generation,
    /// The `productName` extension, e.g. `Milan-B0`.
    product_name: String,
    /// The TCB the key was derived for (blSPL, teeSPL, snpSPL, ucodeSPL, Turin: fmcSPL).
    tcb: TcbLevels,
    /// The `hwID` extension: the chip id (64 bytes; 8 from Turin on). VCEK only.
    hw_id: Option<Vec<u8>>,
    /// The `csp_id` extension: the cloud provider a VLEK was issued to.
    csp_id: Option<String>,
    /// The certificate serial number (big-endian bytes as encoded).
    serial: Vec<u8>,
    /// notBefore, Unix seconds.
    not_before: i64,
    /// notAfter, Unix seconds.
    not_after: i64,
}

impl std::fmt::Debug for Vek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vek")
            .field("kind", &self.kind)
            .field("generation", &self.generation)
            .field("product_name", &self.product_name)
            .field("tcb", &self.tcb)
            .field("hw_id", &self.hw_id.as_ref().map(hex::encode))
            .field("csp_id", &self.csp_id)
            .finish_non_exhaustive()
    }
}

fn malformed(message: String) -> SnpError {
    SnpError::new(ErrorCode::VekMalformed, message)
}

impl Vek {
    /// Parses a DER VCEK or VLEK certificate.
    pub fn parse(der: &[u8]) -> Result<Vek> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| malformed(format!("the VCEK/VLEK certificate is not valid DER X.509: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "the VCEK/VLEK certificate is followed by {} stray bytes",
                rest.len()
            )));
        }
        check_amd_pss(&cert.signature_algorithm, "VCEK/VLEK certificate")?;
        if cert.signature_algorithm != cert.tbs_certificate.signature {
            return Err(malformed(
                "the VCEK/VLEK certificate's inner and outer signature algorithms differ".into(),
            ));
        }

        let subject = common_name(cert.subject())
            .ok_or_else(|| malformed("the VCEK/VLEK certificate has no subject common name".into()))?;
        let kind = match subject.as_str() {
            "SEV-VCEK" => VekKind::Vcek,
            "SEV-VLEK" => VekKind::Vlek,
            other => {
                return Err(malformed(format!(
                    "the certificate subject is '{other}', not SEV-VCEK or SEV-VLEK"
                )));
            }
        };

        let spki = cert.public_key();
        let (alg, curve) = (
            spki.algorithm.algorithm.to_id_string(),
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string()),
        );
        if alg != ID_EC_PUBLIC_KEY || curve.as_deref() != Some(SECP384R1) {
            return Err(SnpError::new(
                ErrorCode::VekKeyInvalid,
                format!("{} public key is {alg} on {curve:?}, not ECDSA P-384", kind.as_str()),
            ));
        }
        let key =
            ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, spki.subject_public_key.data.as_ref()).map_err(|e| {
                SnpError::new(
                    ErrorCode::VekKeyInvalid,
                    format!("{} public key is not a P-384 point ({e})", kind.as_str()),
                )
            })?;

        let ext = Extensions::read(&cert, kind)?;
        let product_name = ext.string(OID_PRODUCT_NAME, "productName")?;
        let generation = Generation::from_product_name(&product_name).ok_or_else(|| {
            SnpError::new(
                ErrorCode::UnknownProductName,
                format!(
                    "{} productName is '{product_name}', not Milan, Genoa or Turin",
                    kind.as_str()
                ),
            )
        })?;
        check_issuer_name(&cert, kind, generation)?;

        let tcb = TcbLevels {
            fmc: if generation.has_fmc() {
                Some(ext.spl(OID_FMC_SPL, "fmcSPL")?)
            } else {
                None
            },
            bootloader: ext.spl(OID_BL_SPL, "blSPL")?,
            tee: ext.spl(OID_TEE_SPL, "teeSPL")?,
            snp: ext.spl(OID_SNP_SPL, "snpSPL")?,
            microcode: ext.spl(OID_UCODE_SPL, "ucodeSPL")?,
        };
        if let Some(v) = ext.get(OID_STRUCT_VERSION) {
            der::small_uint(v).ok_or_else(|| ext.malformed("structVersion"))?;
        }
        let (hw_id, csp_id) = match kind {
            VekKind::Vcek => (Some(ext.hw_id(generation)?), None),
            VekKind::Vlek => (None, Some(ext.string(OID_CSP_ID, "csp_id")?)),
        };

        let (not_before, not_after) = validity(&cert);
        Ok(Vek {
            digest: sha256(der),
            der: der.to_vec(),
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature: cert.signature_value.data.to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            key,
            kind,
            generation,
            product_name,
            tcb,
            hw_id,
            csp_id,
            serial: cert.raw_serial().to_vec(),
            not_before,
            not_after,
        })
    }

    /// VCEK or VLEK (subject `SEV-VCEK` / `SEV-VLEK`).
    pub fn kind(&self) -> VekKind {
        self.kind
    }

    /// The generation named by the product name (and the issuer).
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The `productName` extension, e.g. `Milan-B0`.
    pub fn product_name(&self) -> &str {
        &self.product_name
    }

    /// The TCB the key was derived for (blSPL, teeSPL, snpSPL, ucodeSPL, Turin: fmcSPL).
    pub fn tcb(&self) -> TcbLevels {
        self.tcb
    }

    /// The `hwID` extension: the chip id (64 bytes; 8 from Turin on). VCEK only.
    pub fn hw_id(&self) -> Option<&[u8]> {
        self.hw_id.as_deref()
    }

    /// The `csp_id` extension: the cloud provider a VLEK was issued to.
    pub fn csp_id(&self) -> Option<&str> {
        self.csp_id.as_deref()
    }

    /// The certificate serial number (big-endian bytes as encoded).
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

    /// SHA-256 of the DER, the key of the verified-chain cache.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    pub(crate) fn tbs(&self) -> &[u8] {
        &self.tbs
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }

    pub(crate) fn issuer_raw(&self) -> &[u8] {
        &self.issuer
    }

    /// Checks that `report` is bound to this key: the signing key kind, the processor generation
    /// (from the report's CPUID), the TCB the key was derived for, and the chip id (VCEK).
    pub fn check_binding(&self, report: &AttestationReport) -> Result<()> {
        match report.key_info.signing_key {
            SigningKey::None => {
                return Err(SnpError::new(
                    ErrorCode::ReportNotSigned,
                    "report field SIGNING_KEY is 7: the firmware did not sign this report",
                ));
            }
            k if k != self.kind.signing_key() => {
                return Err(SnpError::new(
                    ErrorCode::SigningKeyMismatch,
                    format!(
                        "report field SIGNING_KEY names {k:?} but the certificate is a {}",
                        self.kind.as_str()
                    ),
                ));
            }
            _ => {}
        }
        if let Some(g) = report.cpuid_generation()?
            && g != self.generation
        {
            return Err(SnpError::new(
                ErrorCode::WrongGeneration,
                format!(
                    "report CPUID names a {g} processor but the {} is for {}",
                    self.kind.as_str(),
                    self.generation
                ),
            ));
        }
        let reported = report.reported_tcb.levels(self.generation);
        if reported != self.tcb {
            return Err(SnpError::new(
                ErrorCode::VcekTcbMismatch,
                format!(
                    "report field REPORTED_TCB is {reported} but the {} was issued for {}",
                    self.kind.as_str(),
                    self.tcb
                ),
            ));
        }
        if let Some(hw_id) = &self.hw_id {
            let masked = report.key_info.mask_chip_key && report.chip_id.iter().all(|b| *b == 0);
            if !masked && report.chip_id.get(..hw_id.len()) != Some(hw_id.as_slice()) {
                return Err(SnpError::new(
                    ErrorCode::ChipIdMismatch,
                    format!(
                        "report field CHIP_ID {} is not the VCEK hwID {}",
                        hex::encode(report.chip_id),
                        hex::encode(hw_id)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Verifies the report's ECDSA P-384 SHA-384 signature over bytes 0..0x2A0 with this key.
    pub fn verify_report_signature(&self, report: &AttestationReport) -> Result<()> {
        let signature = report.signature.to_fixed()?;
        self.key.verify_sig(report.signed_bytes(), &signature).map_err(|_| {
            SnpError::new(
                ErrorCode::ReportSignatureInvalid,
                format!(
                    "report SIGNATURE does not verify under the {} (report bytes 0..0x2A0)",
                    self.kind.as_str()
                ),
            )
        })
    }
}

/// The issuer must be the AMD signing key of the certificate's kind and generation:
/// `SEV-<Gen>` (ASK) for a VCEK, `SEV-VLEK-<Gen>` (ASVK) for a VLEK.
fn check_issuer_name(cert: &X509Certificate<'_>, kind: VekKind, generation: Generation) -> Result<()> {
    let issuer = common_name(cert.issuer())
        .ok_or_else(|| malformed(format!("the {} has no issuer common name", kind.as_str())))?;
    let (issuer_kind, issuer_gen) = match issuer.strip_prefix("SEV-VLEK-") {
        Some(g) => (VekKind::Vlek, Generation::from_name(g)),
        None => (
            VekKind::Vcek,
            issuer.strip_prefix("SEV-").and_then(Generation::from_name),
        ),
    };
    let issuer_gen = issuer_gen.ok_or_else(|| {
        SnpError::new(
            ErrorCode::VekIssuerMismatch,
            format!("the {} issuer is '{issuer}', not an AMD signing key", kind.as_str()),
        )
    })?;
    if issuer_kind != kind {
        return Err(SnpError::new(
            ErrorCode::VekIssuerMismatch,
            format!("a {} issued by '{issuer}'", kind.as_str()),
        ));
    }
    if issuer_gen != generation {
        return Err(SnpError::new(
            ErrorCode::WrongGeneration,
            format!(
                "the {} productName names {generation} but its issuer is '{issuer}'",
                kind.as_str()
            ),
        ));
    }
    Ok(())
}

/// The AMD extensions of one certificate, looked up by OID.
struct Extensions<'c> {
    kind: VekKind,
    values: Vec<(String, &'c [u8])>,
}

impl<'c> Extensions<'c> {
    fn read(cert: &'c X509Certificate<'_>, kind: VekKind) -> Result<Extensions<'c>> {
        let mut values: Vec<(String, &'c [u8])> = Vec::new();
        for e in cert.extensions() {
            let oid = e.oid.to_id_string();
            if values.iter().any(|(o, _)| *o == oid) {
                return Err(SnpError::new(
                    ErrorCode::VekExtensionMalformed,
                    format!("the {} repeats extension {oid}", kind.as_str()),
                ));
            }
            values.push((oid, e.value));
        }
        Ok(Extensions { kind, values })
    }

    fn get(&self, oid: &str) -> Option<&'c [u8]> {
        self.values.iter().find(|(o, _)| o == oid).map(|(_, v)| *v)
    }

    fn require(&self, oid: &str, name: &str) -> Result<&'c [u8]> {
        self.get(oid).ok_or_else(|| {
            SnpError::new(
                ErrorCode::VekExtensionMissing,
                format!("the {} has no {name} extension ({oid})", self.kind.as_str()),
            )
        })
    }

    fn malformed(&self, name: &str) -> SnpError {
        SnpError::new(
            ErrorCode::VekExtensionMalformed,
            format!(
                "the {} {name} extension is not encoded as AMD specifies",
                self.kind.as_str()
            ),
        )
    }

    fn spl(&self, oid: &str, name: &str) -> Result<u8> {
        der::small_uint(self.require(oid, name)?).ok_or_else(|| self.malformed(name))
    }

    fn string(&self, oid: &str, name: &str) -> Result<String> {
        der::ia5_string(self.require(oid, name)?)
            .map(str::to_owned)
            .ok_or_else(|| self.malformed(name))
    }

    /// hwID: older VCEKs carry the raw chip id as the extension value, newer ones wrap it in an
    /// OCTET STRING; the length tells them apart.
    fn hw_id(&self, generation: Generation) -> Result<Vec<u8>> {
        let v = self.require(OID_HW_ID, "hwID")?;
        let len = generation.hw_id_len();
        if v.len() == len {
            return Ok(v.to_vec());
        }
        match der::octet_string(v) {
            Some(inner) if inner.len() == len => Ok(inner.to_vec()),
            _ => Err(SnpError::new(
                ErrorCode::VekExtensionMalformed,
                format!(
                    "the VCEK hwID extension has {} bytes; a {generation} chip id has {len}",
                    v.len()
                ),
            )),
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}
