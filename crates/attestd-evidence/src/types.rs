//! Attestation types and the data an attester binds to its evidence.

use std::fmt;
use std::str::FromStr;

/// The attestation types of MAA's `/attest/{type}` and `/policies/{type}` routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttestationType {
    /// An Intel SGX ECDSA (DCAP) quote.
    SgxEnclave,
    /// An Open Enclave report: an SGX quote behind an OE header.
    OpenEnclave,
    /// An AMD SEV-SNP attestation report with its certificate chain.
    SevSnpVm,
    /// An Intel TDX quote.
    TdxVm,
    /// A TPM 2.0 quote with its boot event log (MAA's multi-round TPM protocol).
    Tpm,
    /// Azure confidential-VM guest evidence: HCL report plus vTPM quote.
    AzureGuest,
}

impl AttestationType {
    /// Every type, in the order MAA lists them.
    pub const ALL: [AttestationType; 6] = [
        AttestationType::SgxEnclave,
        AttestationType::OpenEnclave,
        AttestationType::SevSnpVm,
        AttestationType::TdxVm,
        AttestationType::Tpm,
        AttestationType::AzureGuest,
    ];

    /// The name in URLs, e.g. `SgxEnclave`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationType::SgxEnclave => "SgxEnclave",
            AttestationType::OpenEnclave => "OpenEnclave",
            AttestationType::SevSnpVm => "SevSnpVm",
            AttestationType::TdxVm => "TdxVm",
            AttestationType::Tpm => "Tpm",
            AttestationType::AzureGuest => "AzureGuest",
        }
    }

    /// The value of the `x-ms-attestation-type` token claim (SGX and Open Enclave are both `sgx`).
    pub fn token_type(self) -> &'static str {
        match self {
            AttestationType::SgxEnclave | AttestationType::OpenEnclave => "sgx",
            AttestationType::SevSnpVm => "sevsnpvm",
            AttestationType::TdxVm => "tdxvm",
            AttestationType::Tpm => "tpm",
            AttestationType::AzureGuest => "azurevm",
        }
    }
}

impl fmt::Display for AttestationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not an attestation type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAttestationType(pub String);

impl fmt::Display for UnknownAttestationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown attestation type '{}'; expected one of SgxEnclave, OpenEnclave, SevSnpVm, TdxVm, Tpm, AzureGuest",
            self.0
        )
    }
}

impl std::error::Error for UnknownAttestationType {}

impl FromStr for AttestationType {
    type Err = UnknownAttestationType;

    /// Case-insensitive, because MAA's type names are an open, case-insensitive enum.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttestationType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAttestationType(s.to_owned()))
    }
}

/// How the service treats bound data (MAA: `dataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// Opaque bytes.
    Binary,
    /// UTF-8 JSON, emitted as the `x-ms-runtime` / `x-ms-inittime` objects.
    Json,
}

/// Data the attester bound to its evidence (its hash sits in the report's data field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundData {
    /// The bytes as sent.
    pub bytes: Vec<u8>,
    /// How they are to be interpreted.
    pub data_type: DataType,
}

impl BoundData {
    /// The parsed JSON when `data_type` is JSON (the value of the `x-ms-runtime` /
    /// `x-ms-inittime` claims); `None` for binary data or text that is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self.data_type {
            DataType::Json => serde_json::from_slice(&self.bytes).ok(),
            DataType::Binary => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for t in AttestationType::ALL {
            assert_eq!(t.as_str().parse::<AttestationType>(), Ok(t));
            assert_eq!(t.as_str().to_lowercase().parse::<AttestationType>(), Ok(t));
        }
        assert!("Sgx".parse::<AttestationType>().is_err());
    }
}
