//! Errors: one stable code per check, a message that names the field, and the conversion into the
//! service-wide [`EvidenceError`].

use std::fmt;

use attestd_evidence::{ErrorKind, EvidenceError};

use crate::tcb::TcbStatus;

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident => $kind:ident, )*) => {
        /// The stable code of every DCAP check that can fail.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$name, )*];

            /// The code as it appears in API errors, e.g. `QuoteSignatureInvalid`.
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
    // ---- quote structure ----
    /// The quote ends before a structure its header or a length field announces.
    QuoteTooShort => InvalidEvidence,
    /// The quote's version is not 3, 4 or 5.
    UnsupportedQuoteVersion => InvalidEvidence,
    /// The attestation key type is not ECDSA-256 with P-256 (2).
    UnsupportedAttestationKeyType => InvalidEvidence,
    /// The TEE type is neither SGX (0x00) nor TDX (0x81), or does not fit the quote version.
    UnsupportedTeeType => InvalidEvidence,
    /// The QE vendor ID is not Intel's.
    UnsupportedQeVendor => InvalidEvidence,
    /// A v5 quote's body type is not 1 (SGX), 2 (TDX 1.0) or 3 (TDX 1.5), or its size does not match.
    UnsupportedBodyType => InvalidEvidence,
    /// The signature data holds bytes that its nested length fields do not account for.
    MalformedSignatureData => InvalidEvidence,
    /// The certification data type is not the one this quote version must carry (5, or 6 wrapping 5).
    UnsupportedCertificationDataType => InvalidEvidence,
    /// The PCK certificate chain in the certification data is not PEM/DER this verifier can read.
    MalformedPckChain => InvalidEvidence,
    /// The PCK certificate has no Intel SGX extension (OID 1.2.840.113741.1.13.1) or lacks a field of it.
    PckExtensionMissing => InvalidEvidence,
    /// A field of the PCK certificate's Intel SGX extension is not encoded as Intel specifies.
    PckExtensionMalformed => InvalidEvidence,

    // ---- collateral ----
    /// The collateral bundle is not the expected JSON, or a field is not hex/PEM as required.
    CollateralMalformed => CollateralUnavailable,
    /// The TCB info JSON is missing a field or has a value out of range.
    TcbInfoMalformed => CollateralUnavailable,
    /// The QE identity JSON is missing a field or has a value out of range.
    QeIdentityMalformed => CollateralUnavailable,
    /// A CRL of the collateral cannot be parsed or uses an algorithm Intel does not use.
    CrlMalformed => CollateralUnavailable,
    /// An issuer chain of the collateral does not verify up to a trusted Intel root.
    CollateralChainInvalid => CollateralUnavailable,
    /// The TCB info signature does not verify under the TCB signing certificate.
    TcbInfoSignatureInvalid => CollateralUnavailable,
    /// The QE identity signature does not verify under its signing certificate.
    QeIdentitySignatureInvalid => CollateralUnavailable,
    /// A CRL's signature does not verify under its issuer.
    CrlSignatureInvalid => CollateralUnavailable,
    /// A certificate that signs collateral (TCB signer, PCK CA) is listed in the root CA CRL.
    CollateralSignerRevoked => CollateralUnavailable,
    /// The verification time is after the end of a collateral item's validity.
    CollateralExpired => CollateralUnavailable,
    /// The verification time is before the start of a collateral item's validity.
    CollateralNotYetValid => CollateralUnavailable,
    /// A certificate of a collateral issuer chain (TCB signer, PCK CA of the CRL) has expired.
    CollateralCertExpired => CollateralUnavailable,
    /// A certificate of a collateral issuer chain is not yet valid.
    CollateralCertNotYetValid => CollateralUnavailable,

    // ---- quote verification ----
    /// The ISV enclave / TD report signature does not verify under the attestation key.
    QuoteSignatureInvalid => InvalidEvidence,
    /// The QE report signature does not verify under the PCK certificate's key.
    QeReportSignatureInvalid => InvalidEvidence,
    /// The QE report data is not SHA-256(attestation key || QE authentication data) followed by zeros.
    QeReportDataMismatch => InvalidEvidence,
    /// The PCK certificate chain does not verify up to a trusted Intel root.
    PckChainInvalid => InvalidEvidence,
    /// The PCK certificate or its CA is listed in the PCK CRL / root CA CRL.
    PckRevoked => InvalidEvidence,
    /// A certificate of the PCK chain has expired at the verification time.
    PckCertExpired => InvalidEvidence,
    /// A certificate of the PCK chain is not yet valid at the verification time.
    PckCertNotYetValid => InvalidEvidence,
    /// The collateral's PCK CRL is not issued by the PCK certificate's issuer.
    PckCrlMismatch => InvalidEvidence,
    /// The FMSPC of the PCK certificate differs from the TCB info's.
    FmspcMismatch => InvalidEvidence,
    /// The PCE-ID of the PCK certificate differs from the TCB info's.
    PceIdMismatch => InvalidEvidence,
    /// The TCB info is for another TEE (SGX vs TDX) than the quote.
    TcbInfoMismatch => InvalidEvidence,
    /// The QE report does not match the QE identity (id, MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES).
    QeIdentityMismatch => InvalidEvidence,
    /// No TCB level of the TCB info is met by the platform (Intel: TCB not supported).
    TcbLevelNotSupported => InvalidEvidence,
    /// No TCB level of the QE identity is met by the QE's ISVSVN.
    QeTcbNotSupported => InvalidEvidence,
    /// The TD's SEAM module (MRSIGNERSEAM, SEAMATTRIBUTES, module version) does not match the TCB info.
    TdxModuleMismatch => InvalidEvidence,
    /// No TCB level of the TDX module identity is met by the module's ISVSVN.
    TdxModuleTcbNotSupported => InvalidEvidence,
    /// The combined TCB status is Revoked.
    TcbRevoked => InvalidEvidence,
    /// The combined TCB status is not in the accepted set of the options.
    TcbStatusNotAccepted => InvalidEvidence,
    /// The verification time cannot be represented (before 1970 or too far ahead).
    InvalidVerificationTime => Internal,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed DCAP check: its code, a message naming the field, and, for TCB status decisions, the
/// status that was computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcapError {
    /// Which check failed.
    pub code: ErrorCode,
    /// What was found, for people.
    pub message: String,
    /// The combined TCB status, when the failure is a status decision (`TcbRevoked`,
    /// `TcbStatusNotAccepted`).
    pub tcb_status: Option<TcbStatus>,
}

impl DcapError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DcapError {
            code,
            message: message.into(),
            tcb_status: None,
        }
    }

    /// An error about the TCB status `status`.
    pub fn with_status(code: ErrorCode, status: TcbStatus, message: impl Into<String>) -> Self {
        DcapError {
            code,
            message: message.into(),
            tcb_status: Some(status),
        }
    }

    /// The stable code as a string.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }
}

impl fmt::Display for DcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DcapError {}

impl From<DcapError> for EvidenceError {
    fn from(e: DcapError) -> Self {
        EvidenceError::new(e.code.as_str(), e.message, e.code.kind())
    }
}

/// Shorthand for the functions of this crate.
pub type Result<T, E = DcapError> = std::result::Result<T, E>;

/// `Err(DcapError::new(code, message))`.
pub(crate) fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(DcapError::new(code, message))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_convert_with_their_kind() {
        let e: EvidenceError = DcapError::new(ErrorCode::CollateralExpired, "tcbInfo.nextUpdate").into();
        assert_eq!(e.code, "CollateralExpired");
        assert_eq!(e.kind, ErrorKind::CollateralUnavailable);
        let e: EvidenceError = DcapError::new(ErrorCode::QuoteSignatureInvalid, "bad").into();
        assert_eq!(e.code, "QuoteSignatureInvalid");
        assert_eq!(e.kind, ErrorKind::InvalidEvidence);
        assert_eq!(e.message, "bad");
    }

    #[test]
    fn codes_are_unique_camel_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.starts_with(|c: char| c.is_ascii_uppercase()), "{s}");
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
        }
    }

    #[test]
    fn status_errors_name_the_status() {
        let e = DcapError::with_status(ErrorCode::TcbStatusNotAccepted, TcbStatus::OutOfDate, "OutOfDate");
        assert_eq!(e.tcb_status, Some(TcbStatus::OutOfDate));
        assert_eq!(e.to_string(), "TcbStatusNotAccepted: OutOfDate");
    }
}
