//! MAA's `AttestationInfo` (reference E.6), the document `/attest/AzureGuest` carries as
//! `{"AttestationInfo": base64url(JSON)}`: the isolation evidence (for SEV-SNP CVMs the SNP report
//! with its VCEK chain, for TDX CVMs the TD quote, each with the HCL runtime data), the vTPM's PCR quote, the OS identity, the TCG
//! log, and an ephemeral encryption key certified by the attestation key to which MAA seals its
//! answer. Byte fields are standard base64 (Go's `[]byte`); base64url is accepted too.

use attestd_evidence::EvidenceError;
use serde_json::{Map, Value};

use crate::ErrorCode;

/// How the VM is isolated, with the hardware evidence that proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A Trusted Launch VM: no hardware isolation evidence.
    TrustedLaunch,
    /// An SEV-SNP CVM.
    SevSnp {
        /// `Evidence.Proof`: MAA's SevSnpVm JSON `{"SnpReport", "VcekCertChain"}`.
        proof: Vec<u8>,
        /// `Evidence.RunTimeData`: the HCL runtime data that REPORT_DATA\[0..32\] hashes.
        runtime_data: Vec<u8>,
    },
    /// A TDX CVM.
    Tdx {
        /// `Evidence.Proof`: the TD quote (Intel DCAP, v4 or v5) that the guest obtained for the
        /// HCL report's TDREPORT.
        proof: Vec<u8>,
        /// `Evidence.RunTimeData`: the HCL runtime data that the quote's REPORTDATA\[0..32\]
        /// hashes.
        runtime_data: Vec<u8>,
        /// `Evidence.HclReport` (attestd extension, optional): the HCL report whose TDREPORT the
        /// quote was made from.
        hcl_report: Option<Vec<u8>>,
    },
}

/// `TpmInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TpmInfo {
    /// `AikCert`: DER.
    pub aik_cert: Option<Vec<u8>>,
    /// `AikPub`: `TPM2B_PUBLIC`.
    pub aik_pub: Option<Vec<u8>>,
    /// `PcrQuote`: the signed `TPMS_ATTEST`.
    pub pcr_quote: Vec<u8>,
    /// `PcrSignature`: the raw RSA signature.
    pub pcr_signature: Vec<u8>,
    /// `PCRs`: (index, SHA-256 value).
    pub pcrs: Vec<(u32, Vec<u8>)>,
    /// `EncKeyPub`: `TPM2B_PUBLIC` of the ephemeral RSA key MAA seals its answer to.
    pub enc_key_pub: Option<Vec<u8>>,
    /// `EncKeyCertifyInfo`: the `TPMS_ATTEST` of TPM2_Certify by the attestation key.
    pub enc_key_certify_info: Option<Vec<u8>>,
    /// `EncKeyCertifyInfoSignature`: its raw RSA signature.
    pub enc_key_certify_info_signature: Option<Vec<u8>>,
}

/// A parsed `AttestationInfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttestationInfo {
    /// `AttestationProtocolVersion`, e.g. `2.0`.
    pub protocol_version: String,
    /// `ClientPayload`: any JSON object; its `nonce` (base64) is the quote's `extraData`.
    pub client_payload: Map<String, Value>,
    /// `IsolationInfo`.
    pub isolation: Isolation,
    /// `OSBuild`, `OSDistro`, `OSType` (decoded text).
    pub os_build: Option<String>,
    /// See `os_build`.
    pub os_distro: Option<String>,
    /// See `os_build`.
    pub os_type: Option<String>,
    /// `OSVersionMajor`.
    pub os_version_major: Option<i64>,
    /// `OSVersionMinor`.
    pub os_version_minor: Option<i64>,
    /// `TcgLogs`.
    pub tcg_logs: Option<Vec<u8>>,
    /// `TpmInfo`.
    pub tpm: TpmInfo,
}

fn malformed(message: impl Into<String>) -> EvidenceError {
    ErrorCode::AttestationInfoMalformed.error(message)
}

/// A member, matched case-insensitively as real clients disagree on case.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .filter(|v| !v.is_null())
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, EvidenceError> {
    match member(obj, name) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(malformed(format!("AttestationInfo field '{path}' must be an object"))),
    }
}

fn text<'a>(obj: &'a Map<String, Value>, name: &str, path: &str) -> Result<Option<&'a str>, EvidenceError> {
    match member(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(malformed(format!("AttestationInfo field '{path}' must be a string"))),
    }
}

/// Standard base64 (or base64url), padded or not.
pub fn decode_b64(text: &str, path: &str) -> Result<Vec<u8>, EvidenceError> {
    attestd_evidence::b64::decode_lenient(text.trim())
        .map_err(|_| malformed(format!("AttestationInfo field '{path}' is not base64")))
}

fn bytes(obj: &Map<String, Value>, name: &str, path: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
    text(obj, name, path)?.map(|t| decode_b64(t, path)).transpose()
}

fn required(obj: &Map<String, Value>, name: &str, path: &str) -> Result<Vec<u8>, EvidenceError> {
    bytes(obj, name, path)?.ok_or_else(|| malformed(format!("AttestationInfo field '{path}' is required")))
}

fn os_text(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, EvidenceError> {
    bytes(obj, name, name)?
        .map(|b| {
            String::from_utf8(b).map_err(|_| malformed(format!("AttestationInfo field '{name}' is not UTF-8 text")))
        })
        .transpose()
}

fn integer(obj: &Map<String, Value>, name: &str) -> Result<Option<i64>, EvidenceError> {
    match member(obj, name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| malformed(format!("AttestationInfo field '{name}' must be an integer"))),
    }
}

impl AttestationInfo {
    /// Parses the JSON document (already base64url-decoded by the HTTP layer).
    pub fn parse(json: &[u8]) -> Result<AttestationInfo, EvidenceError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| malformed(format!("AttestationInfo is not JSON: {e}")))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("AttestationInfo must be a JSON object"))?;
        let protocol_version = text(obj, "AttestationProtocolVersion", "AttestationProtocolVersion")?
            .unwrap_or("2.0")
            .to_owned();
        let client_payload = object(obj, "ClientPayload", "ClientPayload")?
            .cloned()
            .unwrap_or_default();
        let isolation_info = object(obj, "IsolationInfo", "IsolationInfo")?
            .ok_or_else(|| malformed("AttestationInfo field 'IsolationInfo' is required"))?;
        let kind = text(isolation_info, "Type", "IsolationInfo.Type")?
            .ok_or_else(|| malformed("AttestationInfo field 'IsolationInfo.Type' is required"))?;
        let isolation = if kind.eq_ignore_ascii_case("SevSnp") {
            let evidence = object(isolation_info, "Evidence", "IsolationInfo.Evidence")?
                .ok_or_else(|| malformed("AttestationInfo field 'IsolationInfo.Evidence' is required for SevSnp"))?;
            Isolation::SevSnp {
                proof: required(evidence, "Proof", "IsolationInfo.Evidence.Proof")?,
                runtime_data: required(evidence, "RunTimeData", "IsolationInfo.Evidence.RunTimeData")?,
            }
        } else if kind.eq_ignore_ascii_case("TrustedLaunch") {
            Isolation::TrustedLaunch
        } else if kind.eq_ignore_ascii_case("Tdx") {
            let evidence = object(isolation_info, "Evidence", "IsolationInfo.Evidence")?
                .ok_or_else(|| malformed("AttestationInfo field 'IsolationInfo.Evidence' is required for Tdx"))?;
            Isolation::Tdx {
                proof: required(evidence, "Proof", "IsolationInfo.Evidence.Proof")?,
                runtime_data: required(evidence, "RunTimeData", "IsolationInfo.Evidence.RunTimeData")?,
                hcl_report: bytes(evidence, "HclReport", "IsolationInfo.Evidence.HclReport")?,
            }
        } else {
            return Err(malformed(format!(
                "AttestationInfo field 'IsolationInfo.Type' is '{kind}' (SevSnp, Tdx or TrustedLaunch expected)"
            )));
        };
        let tpm_obj = object(obj, "TpmInfo", "TpmInfo")?
            .ok_or_else(|| malformed("AttestationInfo field 'TpmInfo' is required"))?;
        let mut pcrs = Vec::new();
        match member(tpm_obj, "PCRs") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, p) in list.iter().enumerate() {
                    let path = format!("TpmInfo.PCRs[{i}]");
                    let p = p
                        .as_object()
                        .ok_or_else(|| malformed(format!("AttestationInfo field '{path}' must be an object")))?;
                    let index = member(p, "Index")
                        .and_then(Value::as_u64)
                        .and_then(|i| u32::try_from(i).ok())
                        .filter(|i| *i < 24)
                        .ok_or_else(|| {
                            malformed(format!(
                                "AttestationInfo field '{path}.Index' must be a PCR index 0..23"
                            ))
                        })?;
                    let digest = required(p, "Digest", &format!("{path}.Digest"))?;
                    pcrs.push((index, digest));
                }
            }
            Some(_) => return Err(malformed("AttestationInfo field 'TpmInfo.PCRs' must be an array")),
        }
        let tpm = TpmInfo {
            aik_cert: bytes(tpm_obj, "AikCert", "TpmInfo.AikCert")?,
            aik_pub: bytes(tpm_obj, "AikPub", "TpmInfo.AikPub")?,
            pcr_quote: required(tpm_obj, "PcrQuote", "TpmInfo.PcrQuote")?,
            pcr_signature: required(tpm_obj, "PcrSignature", "TpmInfo.PcrSignature")?,
            pcrs,
            enc_key_pub: bytes(tpm_obj, "EncKeyPub", "TpmInfo.EncKeyPub")?,
            enc_key_certify_info: bytes(tpm_obj, "EncKeyCertifyInfo", "TpmInfo.EncKeyCertifyInfo")?,
            enc_key_certify_info_signature: bytes(
                tpm_obj,
                "EncKeyCertifyInfoSignature",
                "TpmInfo.EncKeyCertifyInfoSignature",
            )?,
        };
        Ok(AttestationInfo {
            protocol_version,
            client_payload,
            isolation,
            os_build: os_text(obj, "OSBuild")?,
            os_distro: os_text(obj, "OSDistro")?,
            os_type: os_text(obj, "OSType")?,
            os_version_major: integer(obj, "OSVersionMajor")?,
            os_version_minor: integer(obj, "OSVersionMinor")?,
            tcg_logs: bytes(obj, "TcgLogs", "TcgLogs")?,
            tpm,
        })
    }

    /// `ClientPayload.nonce`, decoded: the quote's `extraData` must be these bytes.
    pub fn nonce(&self) -> Result<Option<Vec<u8>>, EvidenceError> {
        match self.client_payload.get("nonce") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => decode_b64(s, "ClientPayload.nonce").map(Some),
            Some(_) => Err(malformed(
                "AttestationInfo field 'ClientPayload.nonce' must be a base64 string",
            )),
        }
    }
}
