//! Errors: one stable code per check, a message that names the field, and the conversion into the
//! service-wide [`EvidenceError`].

use std::fmt;

use attestd_evidence::{ErrorKind, EvidenceError};

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident => $kind:ident, )*) => {
        /// The stable code of every SEV-SNP check that can fail.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// The code as it appears in API errors, e.g. `ReportSignatureInvalid`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => stringify!($name), )*
                }
            }

            /// The class of failure, which decides the HTTP status.
            pub fn kind(self) -> ErrorKind {
                match self {
                    $( ErrorCode::$name => ErrorKind::$kind, )*
                }
            }
        }
    };
}

codes! {
    /// The report is shorter than the 1184 bytes of an ATTESTATION_REPORT.
    ReportTooShort => InvalidEvidence,
    /// The report is longer than the 1184 bytes of an ATTESTATION_REPORT.
    ReportTooLong => InvalidEvidence,
    /// The report's VERSION is not one this verifier knows (2 to 5).
    UnsupportedReportVersion => InvalidEvidence,
    /// The report's SIGNATURE_ALGO is not ECDSA P-384 with SHA-384.
    UnsupportedSignatureAlgorithm => InvalidEvidence,
    /// The report's SIGNING_KEY selects a reserved key.
    UnsupportedSigningKey => InvalidEvidence,
    /// The report says it is not signed (SIGNING_KEY = none).
    ReportNotSigned => InvalidEvidence,
    /// The report's signature is not a well-formed P-384 (r, s) pair.
    ReportSignatureMalformed => InvalidEvidence,
    /// The report's signature does not verify under the VCEK/VLEK.
    ReportSignatureInvalid => InvalidEvidence,
    /// The report's CPUID fields name a processor no AMD root here covers.
    UnknownProcessor => InvalidEvidence,
    /// The VCEK/VLEK, the report or the supplied chain belong to different processor generations.
    WrongGeneration => InvalidEvidence,
    /// The VCEK/VLEK certificate cannot be parsed.
    VekMalformed => InvalidEvidence,
    /// The VCEK/VLEK's public key is not an ECDSA P-384 key.
    VekKeyInvalid => InvalidEvidence,
    /// An AMD extension of the VCEK/VLEK is missing.
    VekExtensionMissing => InvalidEvidence,
    /// An AMD extension of the VCEK/VLEK is not encoded as AMD specifies.
    VekExtensionMalformed => InvalidEvidence,
    /// The VCEK/VLEK's product name is not Milan, Genoa or Turin.
    UnknownProductName => InvalidEvidence,
    /// The VCEK/VLEK is not issued by the AMD signing key of its kind and generation.
    VekIssuerMismatch => InvalidEvidence,
    /// The VCEK/VLEK's signature does not verify under the ASK/ASVK.
    VekSignatureInvalid => InvalidEvidence,
    /// The VCEK/VLEK is not valid at the verification time.
    VekExpired => InvalidEvidence,
    /// An AMD certificate (ARK, ASK, ASVK) cannot be parsed or is not a CA.
    AmdCertificateMalformed => InvalidEvidence,
    /// An AMD certificate's signature does not verify under its issuer.
    AmdSignatureInvalid => InvalidEvidence,
    /// An AMD certificate or CRL uses a signature algorithm or RSA-PSS parameters AMD does not use.
    AmdSignatureAlgorithmUnsupported => InvalidEvidence,
    /// An AMD certificate (ARK, ASK, ASVK) is not valid at the verification time.
    AmdCertificateExpired => InvalidEvidence,
    /// A certificate supplied with the evidence is not the ASK, ASVK or ARK of the VEK's generation.
    UnknownAmdCertificate => InvalidEvidence,
    /// The AMD signing key (ASK/ASVK) is listed in the ARK's CRL.
    AmdCertificateRevoked => InvalidEvidence,
    /// The CRL cannot be parsed.
    CrlMalformed => InvalidEvidence,
    /// The CRL's signature does not verify under the ARK it names.
    CrlSignatureInvalid => InvalidEvidence,
    /// The CRL is not current at the verification time.
    CrlExpired => InvalidEvidence,
    /// The VCEK/VLEK's TCB extensions differ from the report's REPORTED_TCB.
    VcekTcbMismatch => InvalidEvidence,
    /// The VCEK's hwID extension differs from the report's CHIP_ID.
    ChipIdMismatch => InvalidEvidence,
    /// The report's SIGNING_KEY names a different key kind (VCEK/VLEK) than the certificate.
    SigningKeyMismatch => InvalidEvidence,
    /// The evidence document is not MAA's SEV-SNP JSON nor a raw report.
    SnpEvidenceMalformed => InvalidEvidence,
    /// No VCEK/VLEK came with the evidence and none could be obtained.
    VcekUnavailable => CollateralUnavailable,
    /// SHA-256 of the runtime data differs from REPORT_DATA[0..32].
    RuntimeDataMismatch => InvalidEvidence,
    /// SHA-256 of the init-time data differs from HOST_DATA.
    InitTimeDataMismatch => InvalidEvidence,
    /// Runtime or init-time data declared as JSON is not JSON.
    BoundDataNotJson => InvalidEvidence,
    /// The guest policy allows debugging and the verifier is configured to refuse it.
    DebugNotAllowed => InvalidEvidence,
    /// The verification time cannot be represented (before 1970).
    InvalidVerificationTime => Internal,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed SEV-SNP check: its code and a message naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpError {
    /// Which check failed.
    pub code: ErrorCode,
    /// What was found, for people.
    pub message: String,
}

impl SnpError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SnpError {
            code,
            message: message.into(),
        }
    }

    /// The stable code as a string.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }
}

impl fmt::Display for SnpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SnpError {}

impl From<SnpError> for EvidenceError {
    fn from(e: SnpError) -> Self {
        EvidenceError::new(e.code.as_str(), e.message, e.code.kind())
    }
}

/// Shorthand for the functions of this crate.
pub type Result<T, E = SnpError> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_convert_with_their_kind() {
        let e: EvidenceError = SnpError::new(ErrorCode::VcekUnavailable, "no VCEK").into();
        assert_eq!(e.code, "VcekUnavailable");
        assert_eq!(e.kind, ErrorKind::CollateralUnavailable);
        let e: EvidenceError = SnpError::new(ErrorCode::ReportSignatureInvalid, "bad").into();
        assert_eq!(e.code, "ReportSignatureInvalid");
        assert_eq!(e.kind, ErrorKind::InvalidEvidence);
        assert_eq!(e.message, "bad");
    }
}
