//! Intel DCAP ECDSA quotes: SGX v3/v4/v5 and TDX v4/v5, parsed without copying.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header (48) | [v5: body type u16, body size u32] | body (384 SGX, 584 TDX 1.0, 648 TDX 1.5)
//! | signature_data_len u32 | signature data (signature_data_len bytes) | ignored padding
//! ```
//!
//! The signed region is everything before `signature_data_len`. The signature data holds the
//! quote signature (r‖s), the attestation key (x‖y), then, in v3, the QE report, its signature,
//! the QE authentication data and the certification data (type 5: PEM PCK chain); in v4/v5 a
//! certification data of type 6 wraps the QE report, signature, authentication data and a type 5
//! certification data.

mod body;
mod reader;

pub use body::{EnclaveReport, INTEL_QE_VENDOR_ID, QuoteHeader, ReportBody, TdReport10, TdReport15};

use crate::error::{ErrorCode, Result, fail};
use crate::pem;
use reader::Reader;

/// Attestation key type ECDSA-256 with P-256, the only one Intel's QE uses.
const ECDSA_P256: u16 = 2;
/// TEE type of SGX quotes.
const TEE_SGX: u32 = 0x0000_0000;
/// TEE type of TDX quotes.
const TEE_TDX: u32 = 0x0000_0081;
/// Certification data type: PEM PCK certificate chain.
const CERT_PCK_CHAIN: u16 = 5;
/// Certification data type: QE report certification data (v4/v5).
const CERT_QE_REPORT: u16 = 6;

/// The quote format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuoteVersion {
    /// Version 3 (SGX).
    V3,
    /// Version 4 (SGX or TDX 1.0).
    V4,
    /// Version 5 (SGX, TDX 1.0 or TDX 1.5, with a body descriptor).
    V5,
}

impl QuoteVersion {
    /// The version number.
    pub fn number(self) -> u16 {
        match self {
            QuoteVersion::V3 => 3,
            QuoteVersion::V4 => 4,
            QuoteVersion::V5 => 5,
        }
    }
}

/// The kind of trusted execution environment a quote comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TeeType {
    /// An SGX enclave.
    Sgx,
    /// A TDX trust domain.
    Tdx,
}

/// A parsed quote, borrowing the bytes it was parsed from.
#[derive(Clone, Debug)]
pub struct Quote<'a> {
    raw: &'a [u8],
    version: QuoteVersion,
    tee: TeeType,
    header: &'a QuoteHeader,
    body: ReportBody,
    signed: &'a [u8],
    signature: &'a [u8; 64],
    attestation_key: &'a [u8; 64],
    qe_report: &'a EnclaveReport,
    qe_report_signature: &'a [u8; 64],
    qe_auth_data: &'a [u8],
    pck_chain_pem: &'a [u8],
    padding: usize,
}

impl<'a> Quote<'a> {
    /// Parses a quote. Every length is checked; bytes after the signature data (Intel's buffers
    /// are often zero-padded) are ignored but counted by [`Quote::padding_len`].
    pub fn parse(bytes: &'a [u8]) -> Result<Quote<'a>> {
        let mut r = Reader::new(bytes, ErrorCode::QuoteTooShort);
        let header: &QuoteHeader = r.object("quote header")?;
        let version = match header.version() {
            3 => QuoteVersion::V3,
            4 => QuoteVersion::V4,
            5 => QuoteVersion::V5,
            v => {
                return fail(
                    ErrorCode::UnsupportedQuoteVersion,
                    format!("quote version {v} (3, 4 or 5 expected)"),
                );
            }
        };
        if header.attestation_key_type() != ECDSA_P256 {
            return fail(
                ErrorCode::UnsupportedAttestationKeyType,
                format!(
                    "attestation key type {} (2, ECDSA-256 with P-256, expected)",
                    header.attestation_key_type()
                ),
            );
        }
        let tee = match (version, header.tee_type_raw()) {
            (_, TEE_SGX) => TeeType::Sgx,
            (QuoteVersion::V4 | QuoteVersion::V5, TEE_TDX) => TeeType::Tdx,
            (v, t) => {
                return fail(
                    ErrorCode::UnsupportedTeeType,
                    format!("TEE type {t:#x} in a version {} quote", v.number()),
                );
            }
        };
        if header.qe_vendor_id() != &INTEL_QE_VENDOR_ID {
            return fail(
                ErrorCode::UnsupportedQeVendor,
                format!("QE vendor ID {} is not Intel's", hex::encode(header.qe_vendor_id())),
            );
        }
        let body = match version {
            QuoteVersion::V3 | QuoteVersion::V4 => match tee {
                TeeType::Sgx => ReportBody::Sgx(*r.object::<EnclaveReport>("ISV enclave report")?),
                TeeType::Tdx => ReportBody::Td10(*r.object::<TdReport10>("TD report")?),
            },
            QuoteVersion::V5 => read_v5_body(&mut r, tee)?,
        };
        let signed = &bytes[..r.position()];
        let signature_data_len = r.u32("signature_data_len")?;
        let signature_data = r.bytes(signature_data_len as usize, "signature data")?;
        let padding = r.remaining();

        let mut s = Reader::new(signature_data, ErrorCode::QuoteTooShort);
        let signature: &[u8; 64] = s.array("quote signature")?;
        let attestation_key: &[u8; 64] = s.array("attestation key")?;
        let qe = match version {
            QuoteVersion::V3 => {
                let qe = read_qe_section(&mut s)?;
                s.finish("signature data")?;
                qe
            }
            QuoteVersion::V4 | QuoteVersion::V5 => {
                let (kind, data) = read_certification_data(&mut s)?;
                s.finish("signature data")?;
                if kind != CERT_QE_REPORT {
                    return fail(
                        ErrorCode::UnsupportedCertificationDataType,
                        format!(
                            "outer certification data type {kind} (6 expected in a v{} quote)",
                            version.number()
                        ),
                    );
                }
                let mut inner = Reader::new(data, ErrorCode::QuoteTooShort);
                let qe = read_qe_section(&mut inner)?;
                inner.finish("QE report certification data")?;
                qe
            }
        };
        Ok(Quote {
            raw: bytes,
            version,
            tee,
            header,
            body,
            signed,
            signature,
            attestation_key,
            qe_report: qe.report,
            qe_report_signature: qe.signature,
            qe_auth_data: qe.auth_data,
            pck_chain_pem: qe.pck_chain_pem,
            padding,
        })
    }

    /// The whole input, padding included.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The format version.
    pub fn version(&self) -> QuoteVersion {
        self.version
    }

    /// SGX or TDX.
    pub fn tee_type(&self) -> TeeType {
        self.tee
    }

    /// The header.
    pub fn header(&self) -> &'a QuoteHeader {
        self.header
    }

    /// The attested report.
    pub fn body(&self) -> &ReportBody {
        &self.body
    }

    /// The bytes the quote signature covers (header and body, with the v5 body descriptor).
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.signed
    }

    /// The quote signature, r‖s.
    pub fn signature(&self) -> &'a [u8; 64] {
        self.signature
    }

    /// The attestation public key, x‖y of a P-256 point.
    pub fn attestation_key(&self) -> &'a [u8; 64] {
        self.attestation_key
    }

    /// The QE report.
    pub fn qe_report(&self) -> &'a EnclaveReport {
        self.qe_report
    }

    /// The QE report signature (by the PCK key), r‖s.
    pub fn qe_report_signature(&self) -> &'a [u8; 64] {
        self.qe_report_signature
    }

    /// The QE authentication data.
    pub fn qe_auth_data(&self) -> &'a [u8] {
        self.qe_auth_data
    }

    /// The PCK certificate chain exactly as carried (PEM, maybe NUL-terminated).
    pub fn pck_chain_pem(&self) -> &'a [u8] {
        self.pck_chain_pem
    }

    /// The DER certificates of the PCK chain, leaf first, decoded from the PEM on each call.
    /// Verification decodes only chains it has not seen: [`crate::QuoteVerifier::pck_chain`]
    /// caches verified chains by the digest of the PEM.
    pub fn pck_chain(&self) -> Result<Vec<Vec<u8>>> {
        pem::certificates(self.pck_chain_pem).map_err(|e| {
            crate::error::DcapError::new(ErrorCode::MalformedPckChain, format!("PCK chain: {}", e.describe()))
        })
    }

    /// How many bytes follow the signature data.
    pub fn padding_len(&self) -> usize {
        self.padding
    }
}

fn read_v5_body(r: &mut Reader<'_>, tee: TeeType) -> Result<ReportBody> {
    let kind = r.u16("body type")?;
    let size = r.u32("body size")?;
    let expected = match (kind, tee) {
        (1, TeeType::Sgx) => 384,
        (2, TeeType::Tdx) => 584,
        (3, TeeType::Tdx) => 648,
        _ => {
            return fail(
                ErrorCode::UnsupportedBodyType,
                format!("body type {kind} in a {tee:?} quote (1 for SGX, 2 or 3 for TDX expected)"),
            );
        }
    };
    if size != expected {
        return fail(
            ErrorCode::UnsupportedBodyType,
            format!("body type {kind} declares {size} bytes ({expected} expected)"),
        );
    }
    Ok(match kind {
        1 => ReportBody::Sgx(*r.object::<EnclaveReport>("ISV enclave report")?),
        2 => ReportBody::Td10(*r.object::<TdReport10>("TD report")?),
        _ => ReportBody::Td15(*r.object::<TdReport15>("TD 1.5 report")?),
    })
}

struct QeSection<'a> {
    report: &'a EnclaveReport,
    signature: &'a [u8; 64],
    auth_data: &'a [u8],
    pck_chain_pem: &'a [u8],
}

/// QE report, its signature, the authentication data and a type 5 certification data.
fn read_qe_section<'a>(r: &mut Reader<'a>) -> Result<QeSection<'a>> {
    let report: &EnclaveReport = r.object("QE report")?;
    let signature: &[u8; 64] = r.array("QE report signature")?;
    let auth_len = r.u16("QE authentication data size")?;
    let auth_data = r.bytes(usize::from(auth_len), "QE authentication data")?;
    let (kind, data) = read_certification_data(r)?;
    if kind != CERT_PCK_CHAIN {
        return fail(
            ErrorCode::UnsupportedCertificationDataType,
            format!("certification data type {kind} (5, PCK certificate chain, expected)"),
        );
    }
    Ok(QeSection {
        report,
        signature,
        auth_data,
        pck_chain_pem: data,
    })
}

fn read_certification_data<'a>(r: &mut Reader<'a>) -> Result<(u16, &'a [u8])> {
    let kind = r.u16("certification data type")?;
    let size = r.u32("certification data size")?;
    let data = r.bytes(size as usize, "certification data")?;
    Ok((kind, data))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(version: u16, key: u16, tee: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&key.to_le_bytes());
        h.extend_from_slice(&tee.to_le_bytes());
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&INTEL_QE_VENDOR_ID);
        h.extend_from_slice(&[0; 20]);
        h
    }

    fn code(bytes: &[u8]) -> ErrorCode {
        Quote::parse(bytes).unwrap_err().code
    }

    #[test]
    fn header_checks_have_their_codes() {
        assert_eq!(code(&[3, 0, 2, 0]), ErrorCode::QuoteTooShort);
        assert_eq!(code(&header(2, 2, 0)), ErrorCode::UnsupportedQuoteVersion);
        assert_eq!(code(&header(6, 2, 0)), ErrorCode::UnsupportedQuoteVersion);
        assert_eq!(code(&header(3, 3, 0)), ErrorCode::UnsupportedAttestationKeyType);
        assert_eq!(code(&header(3, 2, 0x81)), ErrorCode::UnsupportedTeeType);
        assert_eq!(code(&header(4, 2, 0x82)), ErrorCode::UnsupportedTeeType);
        let mut other_vendor = header(3, 2, 0);
        other_vendor[12] ^= 1;
        assert_eq!(code(&other_vendor), ErrorCode::UnsupportedQeVendor);
        assert_eq!(code(&header(3, 2, 0)), ErrorCode::QuoteTooShort);
    }

    #[test]
    fn v5_body_descriptor_is_checked() {
        let mut q = header(5, 2, 0x81);
        q.extend_from_slice(&1u16.to_le_bytes());
        q.extend_from_slice(&384u32.to_le_bytes());
        assert_eq!(code(&q), ErrorCode::UnsupportedBodyType);
        let mut q = header(5, 2, 0x81);
        q.extend_from_slice(&3u16.to_le_bytes());
        q.extend_from_slice(&584u32.to_le_bytes());
        assert_eq!(code(&q), ErrorCode::UnsupportedBodyType);
        let mut q = header(5, 2, 0x81);
        q.extend_from_slice(&3u16.to_le_bytes());
        q.extend_from_slice(&648u32.to_le_bytes());
        q.extend_from_slice(&[0; 100]);
        assert_eq!(code(&q), ErrorCode::QuoteTooShort);
    }

    #[test]
    fn signature_data_lengths_are_checked() {
        let mut q = header(3, 2, 0);
        q.extend_from_slice(&[0; 384]);
        q.extend_from_slice(&10_000u32.to_le_bytes());
        q.extend_from_slice(&[0; 100]);
        let e = Quote::parse(&q).unwrap_err();
        assert_eq!(e.code, ErrorCode::QuoteTooShort);
        assert!(e.message.contains("signature data"), "{}", e.message);
    }
}
