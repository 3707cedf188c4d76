//! Errors of the SGX / Open Enclave layer: one stable code per check, a message that names the
//! field, and the conversion into the service-wide [`EvidenceError`].
//!
//! Quote and collateral checks keep the codes of `attestd_dcap::ErrorCode`; the codes here cover
//! what this crate adds (Open Enclave framing, data binding, TCB baseline selection, collateral
//! lookup).

use std::fmt;

use attestd_evidence::{ErrorKind, EvidenceError};

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident => $kind:ident, )*) => {
        /// The stable code of every check this crate adds to the DCAP ones.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$name, )*];

            /// The code as it appears in API errors, e.g. `RuntimeDataMismatch`.
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
    // ---- Open Enclave framing ----
    /// The OE report is shorter than its 16-byte header.
    OeReportTooShort => InvalidEvidence,
    /// The OE report header's version is not 1.
    UnsupportedOeReportVersion => InvalidEvidence,
    /// The OE report header's type is not 2 (remote report).
    UnsupportedOeReportType => InvalidEvidence,
    /// The OE report header's `report_size` differs from the bytes that follow it.
    OeReportSizeMismatch => InvalidEvidence,
    /// The OE evidence ends inside its attestation header.
    OeEvidenceTooShort => InvalidEvidence,
    /// The OE attestation header's version is not 3.
    UnsupportedOeEvidenceVersion => InvalidEvidence,
    /// The OE attestation header's format ID is not `OE_FORMAT_UUID_SGX_ECDSA`.
    UnsupportedOeEvidenceFormat => InvalidEvidence,
    /// The OE attestation header's `data_size` differs from the bytes that follow it.
    OeEvidenceSizeMismatch => InvalidEvidence,
    /// The OE custom-claims buffer after the quote is not OE's serialization.
    OeCustomClaimsMalformed => InvalidEvidence,
    /// SHA-256 of the OE custom-claims buffer differs from REPORTDATA[0..32].
    OeCustomClaimsMismatch => InvalidEvidence,

    // ---- quote ----
    /// The quote is a TDX quote, not an SGX enclave quote.
    NotAnSgxQuote => InvalidEvidence,
    /// Non-zero bytes follow the quote's signature data (an SgxEnclave quote may only be zero-padded).
    QuoteTrailingData => InvalidEvidence,

    // ---- bound data ----
    /// SHA-256 of the runtime data differs from REPORTDATA[0..32].
    RuntimeDataMismatch => InvalidEvidence,
    /// SHA-256 of the init-time data differs from CONFIGID[0..32].
    InitTimeDataMismatch => InvalidEvidence,
    /// Runtime or init-time data declared as JSON is not JSON.
    BoundDataNotJson => InvalidEvidence,

    // ---- TCB baseline and collateral ----
    /// The policy's `x-ms-sgx-tcbidentifier` is neither `azuredefault` nor a TCB evaluation data number.
    TcbIdentifierInvalid => InvalidEvidence,
    /// No collateral with the TCB evaluation data number the policy's `x-ms-sgx-tcbidentifier` names.
    TcbBaselineUnavailable => CollateralUnavailable,
    /// No collateral is known for the quote's FMSPC and PCK CA.
    CollateralNotFound => CollateralUnavailable,
    /// A collateral bundle handed to this crate is not in the expected form.
    CollateralBundleMalformed => CollateralUnavailable,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed check of this crate: its code and a message naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgxError {
    /// Which check failed.
    pub code: ErrorCode,
    /// What was found, for people.
    pub message: String,
}

impl SgxError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SgxError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SgxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SgxError {}

impl From<SgxError> for EvidenceError {
    fn from(e: SgxError) -> Self {
        EvidenceError::new(e.code.as_str(), e.message, e.code.kind())
    }
}

/// Shorthand for the functions of this crate.
pub type Result<T, E = SgxError> = std::result::Result<T, E>;

/// `Err(SgxError::new(code, message))`.
pub(crate) fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(SgxError::new(code, message))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_distinct_from_dcap_codes() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
        for code in attestd_dcap::ErrorCode::ALL {
            assert!(!seen.contains(code.as_str()), "{code} is also a DCAP code");
        }
    }

    #[test]
    fn errors_convert_with_their_kind() {
        let e: EvidenceError = SgxError::new(ErrorCode::RuntimeDataMismatch, "x").into();
        assert_eq!(
            (e.code.as_ref(), e.kind),
            ("RuntimeDataMismatch", ErrorKind::InvalidEvidence)
        );
        let e: EvidenceError = SgxError::new(ErrorCode::CollateralNotFound, "x").into();
        assert_eq!(e.kind, ErrorKind::CollateralUnavailable);
    }
}
