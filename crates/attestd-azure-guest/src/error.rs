//! The checks of this crate, each with its own stable code. Hardware report failures carry the
//! SEV-SNP verifier's codes (TD quotes the DCAP and TDX verifiers'), vTPM structure failures the TPM crate's.

use attestd_evidence::EvidenceError;

/// A check of the guest evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The HCL report is truncated, lacks the `HCLA` signature, or a length field is inconsistent.
    HclReportMalformed,
    /// The HCL report holds a hardware report this verifier does not take (TDX).
    UnsupportedHardwareReport,
    /// The HCL report sent with a TDX guest's TD quote is not the report the quote was made
    /// from: its TDREPORT's REPORTDATA, MRTD or RTMRs, or its runtime data, differ.
    HclTdReportMismatch,
    /// The HCL runtime data is not JSON, or lacks a field (e.g. the `HCLAkPub` key).
    HclRuntimeDataMalformed,
    /// SHA-256 of the runtime data is not REPORT_DATA\[0..32\] of the hardware report.
    HclBindingMismatch,
    /// The vTPM quote's signature does not verify under `HCLAkPub`.
    VtpmQuoteSignatureInvalid,
    /// The vTPM quote's `extraData` is not the nonce.
    VtpmQuoteNonceMismatch,
    /// The PCR values sent do not hash to the quote's digest, or one is missing.
    VtpmPcrMismatch,
    /// The `AttestationInfo` document is not JSON of MAA's shape, or a field is not base64.
    AttestationInfoMalformed,
    /// The isolation type is not verified by this build (Trusted Launch), or this verifier has
    /// no TDX quote verifier (TDX).
    UnsupportedIsolation,
    /// `TpmInfo.AikPub` is not the attestation key that the HCL runtime data names.
    AikMismatch,
    /// The ephemeral encryption key is not certified by the attestation key (signature, structure
    /// or name).
    EncKeyCertificationInvalid,
    /// `TcgLogs` is not a TCG PC Client event log (truncated, bad header, lying sizes).
    TcgLogMalformed,
    /// `TcgLogs` does not replay to a quoted PCR value.
    TcgLogPcrMismatch,
}

impl ErrorCode {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::HclReportMalformed => "HclReportMalformed",
            ErrorCode::UnsupportedHardwareReport => "UnsupportedHardwareReport",
            ErrorCode::HclTdReportMismatch => "HclTdReportMismatch",
            ErrorCode::HclRuntimeDataMalformed => "HclRuntimeDataMalformed",
            ErrorCode::HclBindingMismatch => "HclBindingMismatch",
            ErrorCode::VtpmQuoteSignatureInvalid => "VtpmQuoteSignatureInvalid",
            ErrorCode::VtpmQuoteNonceMismatch => "VtpmQuoteNonceMismatch",
            ErrorCode::VtpmPcrMismatch => "VtpmPcrMismatch",
            ErrorCode::AttestationInfoMalformed => "AttestationInfoMalformed",
            ErrorCode::UnsupportedIsolation => "UnsupportedIsolation",
            ErrorCode::AikMismatch => "AikMismatch",
            ErrorCode::EncKeyCertificationInvalid => "EncKeyCertificationInvalid",
            ErrorCode::TcgLogMalformed => "TcgLogMalformed",
            ErrorCode::TcgLogPcrMismatch => "TcgLogPcrMismatch",
        }
    }

    /// This check failing, with `message` naming the field.
    pub fn error(self, message: impl Into<String>) -> EvidenceError {
        EvidenceError::invalid(self.as_str(), message)
    }
}
