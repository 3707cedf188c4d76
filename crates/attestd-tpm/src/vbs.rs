//! VBS enclave attestation reports (`EnclaveGetAttestationReport`, Windows SDK `ntenclv.h` /
//! `winnt.h`): `VBS_ENCLAVE_REPORT_PKG_HEADER`, the signed statement (`VBS_ENCLAVE_REPORT` with
//! `ENCLAVE_IDENTITY`, then variable data blocks) and the signature, little-endian.
//!
//! The report binds the request: `EnclaveData` is SHA-512 of the exact UTF-8 text of
//! `report_signed` as received (reference E.2). Its signature is checked with a VSM identity key
//! that the TCG log measures (SIPA `VSM_IDKS_INFO` / `VSM_IDK_INFO`), so the quote and the log
//! replay tie the key — and through it the enclave — to the TPM.

use attestd_claims::ClaimSet;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::eventlog::sipa::IdkInfo;
use crate::quote::QuoteError;

/// `VBS_ENCLAVE_REPORT_PKG_HEADER_VERSION_CURRENT`.
const PKG_VERSION: u32 = 1;
/// `VBS_ENCLAVE_REPORT_SIGNATURE_SCHEME_SHA256_RSA_PSS_SHA256`.
const SCHEME_RSA_PSS_SHA256: u32 = 1;
/// `VBS_ENCLAVE_REPORT_VERSION_CURRENT`.
const REPORT_VERSION: u32 = 1;
/// `VBS_ENCLAVE_VARDATA_MODULE`.
const VARDATA_MODULE: u32 = 1;

const PKG_HEADER_LEN: usize = 24;
/// ReportSize, ReportVersion, EnclaveData[64], ENCLAVE_IDENTITY (32+32+32+16+16 + 6×4).
const REPORT_LEN: usize = 8 + 64 + 152;

/// What a VBS attestation request carries: the report and the text its `EnclaveData` hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VbsEvidence {
    /// The report package (`vsm_report`, decoded).
    pub report: Vec<u8>,
    /// `report_signed` exactly as received (its JSON text).
    pub report_signed: String,
}

/// `ENCLAVE_IDENTITY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnclaveIdentity {
    /// `OwnerId`.
    pub owner_id: [u8; 32],
    /// `UniqueId` (the enclave's measurement).
    pub unique_id: [u8; 32],
    /// `AuthorId`.
    pub author_id: [u8; 32],
    /// `FamilyId`.
    pub family_id: [u8; 16],
    /// `ImageId`.
    pub image_id: [u8; 16],
    /// `EnclaveSvn`.
    pub enclave_svn: u32,
    /// `SecureKernelSvn`.
    pub secure_kernel_svn: u32,
    /// `PlatformSvn`.
    pub platform_svn: u32,
    /// `Flags` (`ENCLAVE_FLAG_*`: 1 full debug, 2 dynamic debug enabled, 4 dynamic debug active).
    pub flags: u32,
    /// `SigningLevel`.
    pub signing_level: u32,
    /// `EnclaveType` (0x10 = `ENCLAVE_TYPE_VBS`).
    pub enclave_type: u32,
}

/// A module of the enclave (`VBS_ENCLAVE_REPORT_MODULE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnclaveModule {
    /// `UniqueId`.
    pub unique_id: [u8; 32],
    /// `AuthorId`.
    pub author_id: [u8; 32],
    /// `FamilyId`.
    pub family_id: [u8; 16],
    /// `ImageId`.
    pub image_id: [u8; 16],
    /// `Svn`.
    pub svn: u32,
    /// `ModuleName` (UTF-16).
    pub name: String,
}

/// A parsed report package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VbsReport {
    /// `EnclaveData`.
    pub enclave_data: [u8; 64],
    /// The primary module's identity.
    pub identity: EnclaveIdentity,
    /// The module variable-data blocks.
    pub modules: Vec<EnclaveModule>,
    /// The signed statement (what the signature covers).
    pub signed: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

fn malformed(message: impl Into<String>) -> QuoteError {
    QuoteError::new("VbsReportMalformed", format!("vsm_report: {}", message.into()))
}

fn u32_at(b: &[u8], at: usize, field: &str) -> Result<u32, QuoteError> {
    let s = b
        .get(at..at + 4)
        .ok_or_else(|| malformed(format!("truncated in {field}")))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn array<const N: usize>(b: &[u8], at: usize, field: &str) -> Result<[u8; N], QuoteError> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed(format!("truncated in {field}")))
}

impl VbsReport {
    /// Parses a report package; sizes must add up exactly.
    pub fn parse(b: &[u8]) -> Result<VbsReport, QuoteError> {
        let package_size = u32_at(b, 0, "PackageSize")? as usize;
        let version = u32_at(b, 4, "Version")?;
        let scheme = u32_at(b, 8, "SignatureScheme")?;
        let signed_size = u32_at(b, 12, "SignedStatementSize")? as usize;
        let signature_size = u32_at(b, 16, "SignatureSize")? as usize;
        if version != PKG_VERSION {
            return Err(QuoteError::new(
                "VbsReportUnsupported",
                format!("vsm_report: package header version {version} (only 1 is defined)"),
            ));
        }
        if scheme != SCHEME_RSA_PSS_SHA256 {
            return Err(QuoteError::new(
                "VbsReportUnsupported",
                format!("vsm_report: signature scheme {scheme} (only 1, SHA256_RSA_PSS_SHA256, is defined)"),
            ));
        }
        let total = PKG_HEADER_LEN
            .checked_add(signed_size)
            .and_then(|n| n.checked_add(signature_size));
        if package_size != b.len() || total != Some(b.len()) {
            return Err(malformed(format!(
                "PackageSize {package_size}, SignedStatementSize {signed_size} and SignatureSize {signature_size} \
                 do not add up to the {} bytes received",
                b.len()
            )));
        }
        let signed = &b[PKG_HEADER_LEN..PKG_HEADER_LEN + signed_size];
        let signature = b[PKG_HEADER_LEN + signed_size..].to_vec();
        if signed.len() < REPORT_LEN {
            return Err(malformed(format!(
                "SignedStatementSize {signed_size} is shorter than VBS_ENCLAVE_REPORT"
            )));
        }
        let report_size = u32_at(signed, 0, "ReportSize")? as usize;
        if report_size != signed.len() {
            return Err(malformed(format!(
                "ReportSize {report_size} is not SignedStatementSize {signed_size}"
            )));
        }
        let report_version = u32_at(signed, 4, "ReportVersion")?;
        if report_version != REPORT_VERSION {
            return Err(QuoteError::new(
                "VbsReportUnsupported",
                format!("vsm_report: ReportVersion {report_version} (only 1 is defined)"),
            ));
        }
        let enclave_data = array::<64>(signed, 8, "EnclaveData")?;
        let id = 72;
        let identity = EnclaveIdentity {
            owner_id: array(signed, id, "OwnerId")?,
            unique_id: array(signed, id + 32, "UniqueId")?,
            author_id: array(signed, id + 64, "AuthorId")?,
            family_id: array(signed, id + 96, "FamilyId")?,
            image_id: array(signed, id + 112, "ImageId")?,
            enclave_svn: u32_at(signed, id + 128, "EnclaveSvn")?,
            secure_kernel_svn: u32_at(signed, id + 132, "SecureKernelSvn")?,
            platform_svn: u32_at(signed, id + 136, "PlatformSvn")?,
            flags: u32_at(signed, id + 140, "Flags")?,
            signing_level: u32_at(signed, id + 144, "SigningLevel")?,
            enclave_type: u32_at(signed, id + 148, "EnclaveType")?,
        };
        let mut modules = Vec::new();
        let mut at = REPORT_LEN;
        while at < signed.len() {
            let kind = u32_at(signed, at, "VBS_ENCLAVE_REPORT_VARDATA_HEADER.DataType")?;
            let size = u32_at(signed, at + 4, "VBS_ENCLAVE_REPORT_VARDATA_HEADER.Size")? as usize;
            // Size counts the header itself.
            let end = at
                .checked_add(size)
                .filter(|&e| size >= 8 && e <= signed.len())
                .ok_or_else(|| malformed(format!("variable data block at {at}: Size {size}")))?;
            let block = &signed[at..end];
            if kind == VARDATA_MODULE {
                modules.push(module(block)?);
            }
            at = end;
        }
        Ok(VbsReport {
            enclave_data,
            identity,
            modules,
            signed: signed.to_vec(),
            signature,
        })
    }

    /// Checks the binding (`EnclaveData` = SHA-512(`report_signed`)) and the signature with one
    /// of `keys` (RSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt over the signed statement).
    pub fn verify(&self, report_signed: &str, keys: &[IdkInfo]) -> Result<(), QuoteError> {
        let expected = digest::digest(&digest::SHA512, report_signed.as_bytes());
        if expected.as_ref() != self.enclave_data {
            return Err(QuoteError::new(
                "VbsReportDataMismatch",
                "vsm_report: EnclaveData is not SHA-512 of report_signed as sent",
            ));
        }
        if keys.is_empty() {
            return Err(QuoteError::new(
                "VbsIdkMissing",
                "the TCG log measures no RSA VSM identity key (SIPA VSM_IDKS_INFO / VSM_IDK_INFO) on a quoted PCR \
                 to verify vsm_report with",
            ));
        }
        let verified = keys.iter().any(|k| {
            RsaPublicKeyComponents {
                n: k.modulus.as_slice(),
                e: k.exponent.as_slice(),
            }
            .verify(&signature::RSA_PSS_2048_8192_SHA256, &self.signed, &self.signature)
            .is_ok()
        });
        if !verified {
            return Err(QuoteError::new(
                "VbsReportSignatureInvalid",
                "vsm_report's signature does not verify with the VSM identity key the TCG log measures",
            ));
        }
        Ok(())
    }

    /// MAA's VBS claims: `vbsReportPresent` / `vsmReportPresent`, the identity's ids (base64url),
    /// `enclaveSvn`, `enclavePlatformSvn`, `enclaveFlags`, and attestd's `enclaveUniqueId`,
    /// `enclaveSecureKernelSvn`, `enclaveSigningLevel`, `enclaveType`.
    pub fn add_claims(&self, claims: &mut ClaimSet) {
        let id = &self.identity;
        claims.add("vbsReportPresent", true);
        claims.add("vsmReportPresent", true);
        claims.add("enclaveAuthorId", URL_SAFE_NO_PAD.encode(id.author_id));
        claims.add("enclaveImageId", URL_SAFE_NO_PAD.encode(id.image_id));
        claims.add("enclaveOwnerId", URL_SAFE_NO_PAD.encode(id.owner_id));
        claims.add("enclaveFamilyId", URL_SAFE_NO_PAD.encode(id.family_id));
        claims.add("enclaveUniqueId", URL_SAFE_NO_PAD.encode(id.unique_id));
        claims.add("enclaveSvn", i64::from(id.enclave_svn));
        claims.add("enclavePlatformSvn", i64::from(id.platform_svn));
        claims.add("enclaveSecureKernelSvn", i64::from(id.secure_kernel_svn));
        claims.add("enclaveFlags", i64::from(id.flags));
        claims.add("enclaveSigningLevel", i64::from(id.signing_level));
        claims.add("enclaveType", i64::from(id.enclave_type));
    }
}

/// `VBS_ENCLAVE_REPORT_MODULE`: header (8), UniqueId, AuthorId, FamilyId, ImageId, Svn, ModuleName.
fn module(b: &[u8]) -> Result<EnclaveModule, QuoteError> {
    let name = b.get(108..).unwrap_or_default();
    if b.len() < 108 || !name.len().is_multiple_of(2) {
        return Err(malformed(
            "a VBS_ENCLAVE_REPORT_MODULE block is too short or its name is not UTF-16",
        ));
    }
    let units: Vec<u16> = name.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let name = String::from_utf16(&units)
        .map_err(|_| malformed("ModuleName is not UTF-16"))?
        .trim_end_matches('\0')
        .to_owned();
    Ok(EnclaveModule {
        unique_id: array(b, 8, "module UniqueId")?,
        author_id: array(b, 40, "module AuthorId")?,
        family_id: array(b, 72, "module FamilyId")?,
        image_id: array(b, 88, "module ImageId")?,
        svn: u32_at(b, 104, "module Svn")?,
        name,
    })
}
