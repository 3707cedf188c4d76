//! The HCL report (Azure's "HCLA" attestation report, read from vTPM NV index 0x01400001):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0x000 | 32 | header: `HCLA`, version, report size, request type, status, reserved |
//! | 0x020 | 1184 | hardware report: SEV-SNP attestation report, or TDX TDREPORT (padded) |
//! | 0x4C0 | 20 | runtime data header: data size, version, report type (2 SNP, 4 TDX), hash type (1 SHA-256), variable data size |
//! | 0x4D4 | n | variable data: UTF-8 JSON with `keys` (JWKs `HCLAkPub`, `HCLEkPub`), `vm-configuration`, `user-data` |
//!
//! Integers are little-endian. Bytes after the variable data are zero padding.

use aws_lc_rs::digest;
use base64::Engine;
use serde_json::Value;

use crate::ErrorCode;
use attestd_evidence::EvidenceError;

const SIGNATURE: &[u8; 4] = b"HCLA";
const HARDWARE_REPORT_AT: usize = 0x20;
const HARDWARE_REPORT_LEN: usize = 1184;
const RUNTIME_HEADER_AT: usize = HARDWARE_REPORT_AT + HARDWARE_REPORT_LEN;
const RUNTIME_HEADER_LEN: usize = 20;
const VARIABLE_DATA_AT: usize = RUNTIME_HEADER_AT + RUNTIME_HEADER_LEN;
/// REPORTDATA in a TDREPORT (after REPORTTYPE, reserved, CPUSVN, TEE_TCB_INFO_HASH, TEE_INFO_HASH).
const TDREPORT_REPORT_DATA_AT: usize = 0x80;
/// REPORT_DATA in an SEV-SNP report.
const SNP_REPORT_DATA_AT: usize = 0x50;
/// MRTD in a TDREPORT: TDINFO_STRUCT starts at 512 (after REPORTMACSTRUCT, TEE_TCB_INFO and
/// reserved bytes), MRTD follows its ATTRIBUTES and XFAM.
const TDREPORT_MRTD_AT: usize = 512 + 16;
/// RTMR0..3 in a TDREPORT, after MRTD, MRCONFIGID, MROWNER and MROWNERCONFIG.
const TDREPORT_RTMR_AT: usize = TDREPORT_MRTD_AT + 4 * 48;

/// The hardware report an HCL report carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardwareReportType {
    /// An AMD SEV-SNP attestation report.
    Snp,
    /// An Intel TDX TDREPORT.
    Tdx,
}

/// A parsed HCL report, borrowing the bytes.
#[derive(Clone, Copy, Debug)]
pub struct HclReport<'a> {
    report_type: HardwareReportType,
    hardware_report: &'a [u8],
    variable_data: &'a [u8],
}

fn malformed(message: impl Into<String>) -> EvidenceError {
    ErrorCode::HclReportMalformed.error(message)
}

fn u32_at(bytes: &[u8], at: usize, field: &str) -> Result<u32, EvidenceError> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| malformed(format!("HCL report ends before field '{field}' at {at:#x}")))
}

impl<'a> HclReport<'a> {
    /// Parses the layout above, checking every length.
    pub fn parse(bytes: &'a [u8]) -> Result<HclReport<'a>, EvidenceError> {
        if bytes.get(..4) != Some(SIGNATURE.as_slice()) {
            return Err(malformed("the HCL report does not start with 'HCLA'"));
        }
        let hardware_report = bytes.get(HARDWARE_REPORT_AT..RUNTIME_HEADER_AT).ok_or_else(|| {
            malformed(format!(
                "the HCL report has {} bytes, too few for its hardware report",
                bytes.len()
            ))
        })?;
        let data_size = u32_at(bytes, RUNTIME_HEADER_AT, "runtime data size")?;
        let report_type = match u32_at(bytes, RUNTIME_HEADER_AT + 8, "report type")? {
            2 => HardwareReportType::Snp,
            4 => HardwareReportType::Tdx,
            other => {
                return Err(malformed(format!(
                    "HCL runtime data report type {other} (2 SNP or 4 TDX expected)"
                )));
            }
        };
        let hash_type = u32_at(bytes, RUNTIME_HEADER_AT + 12, "hash type")?;
        if hash_type != 1 {
            return Err(malformed(format!(
                "HCL runtime data hash type {hash_type} (1, SHA-256, expected)"
            )));
        }
        let var_size = u32_at(bytes, RUNTIME_HEADER_AT + 16, "variable data size")?;
        let var_len = usize::try_from(var_size).map_err(|_| malformed("variable data size too large"))?;
        if u64::from(data_size) != u64::from(var_size) + RUNTIME_HEADER_LEN as u64 {
            return Err(malformed(format!(
                "HCL runtime data size {data_size} is not its header (20) plus the variable data size {var_size}"
            )));
        }
        let variable_data = bytes
            .get(VARIABLE_DATA_AT..VARIABLE_DATA_AT.saturating_add(var_len))
            .ok_or_else(|| malformed(format!("the HCL report ends inside its {var_len}-byte variable data")))?;
        if let Some(at) = bytes[VARIABLE_DATA_AT + var_len..].iter().position(|b| *b != 0) {
            return Err(malformed(format!(
                "byte {:#x} after the HCL variable data is not zero padding",
                VARIABLE_DATA_AT + var_len + at
            )));
        }
        Ok(HclReport {
            report_type,
            hardware_report,
            variable_data,
        })
    }

    /// Which hardware report it carries.
    pub fn report_type(&self) -> HardwareReportType {
        self.report_type
    }

    /// The hardware report (1184 bytes).
    pub fn hardware_report(&self) -> &'a [u8] {
        self.hardware_report
    }

    /// The variable data, as hashed into the hardware report.
    pub fn variable_data(&self) -> &'a [u8] {
        self.variable_data
    }

    /// The variable data, parsed.
    pub fn runtime_data(&self) -> Result<RuntimeData, EvidenceError> {
        RuntimeData::parse(self.variable_data)
    }

    /// Checks that the hardware report's REPORT_DATA\[0..32\] (`report_data`, from the verified
    /// report) is SHA-256 of the variable data.
    pub fn check_binding(&self, report_data: &[u8]) -> Result<(), EvidenceError> {
        let hash = digest::digest(&digest::SHA256, self.variable_data);
        if report_data.get(..32) != Some(hash.as_ref()) {
            return Err(ErrorCode::HclBindingMismatch.error(format!(
                "SHA-256 of the HCL runtime data is {} but the hardware report's REPORT_DATA[0..32] is {}",
                hex::encode(hash.as_ref()),
                hex::encode(report_data.get(..32).unwrap_or_default())
            )));
        }
        Ok(())
    }

    /// REPORT_DATA of the (unverified) hardware report, by its type's layout.
    pub fn report_data(&self) -> &'a [u8] {
        let at = match self.report_type {
            HardwareReportType::Snp => SNP_REPORT_DATA_AT,
            HardwareReportType::Tdx => TDREPORT_REPORT_DATA_AT,
        };
        &self.hardware_report[at..at + 64]
    }

    /// MRTD (48 bytes) and RTMR0..3 (4 × 48 bytes) of a TDX TDREPORT (unverified: the CPU MACs a
    /// TDREPORT, only a TD quote of it proves anything remotely); `None` for an SNP report.
    pub fn td_measurements(&self) -> Option<(&'a [u8], &'a [u8])> {
        match self.report_type {
            HardwareReportType::Snp => None,
            HardwareReportType::Tdx => Some((
                &self.hardware_report[TDREPORT_MRTD_AT..TDREPORT_MRTD_AT + 48],
                &self.hardware_report[TDREPORT_RTMR_AT..TDREPORT_RTMR_AT + 4 * 48],
            )),
        }
    }
}

/// The HCL runtime data (the variable data's JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeData {
    /// The whole document.
    pub json: Value,
}

fn runtime_malformed(message: impl Into<String>) -> EvidenceError {
    ErrorCode::HclRuntimeDataMalformed.error(message)
}

impl RuntimeData {
    /// Parses the JSON.
    pub fn parse(bytes: &[u8]) -> Result<RuntimeData, EvidenceError> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|e| runtime_malformed(format!("the HCL runtime data is not JSON: {e}")))?;
        if !json.is_object() {
            return Err(runtime_malformed("the HCL runtime data is not a JSON object"));
        }
        Ok(RuntimeData { json })
    }

    /// The vTPM attestation key `HCLAkPub` (RSA): modulus and exponent, big-endian.
    pub fn attestation_key(&self) -> Result<(Vec<u8>, Vec<u8>), EvidenceError> {
        let key = self.json["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == "HCLAkPub"))
            .ok_or_else(|| runtime_malformed("the HCL runtime data has no key 'HCLAkPub' in 'keys'"))?;
        if key["kty"] != "RSA" {
            return Err(runtime_malformed(format!(
                "key 'HCLAkPub' has kty {}, RSA expected",
                key["kty"]
            )));
        }
        let part = |name: &str| {
            key[name]
                .as_str()
                .and_then(|s| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s.trim_end_matches('='))
                        .ok()
                })
                .filter(|b| !b.is_empty())
                .ok_or_else(|| runtime_malformed(format!("key 'HCLAkPub' field '{name}' is not base64url")))
        };
        Ok((part("n")?, part("e")?))
    }

    /// `vm-configuration`, if present.
    pub fn vm_configuration(&self) -> Option<&Value> {
        self.json.get("vm-configuration")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(var: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; VARIABLE_DATA_AT];
        b[..4].copy_from_slice(SIGNATURE);
        let header = [
            u32::try_from(var.len() + 20).unwrap(),
            1,
            2,
            1,
            u32::try_from(var.len()).unwrap(),
        ];
        for (i, v) in header.iter().enumerate() {
            b[RUNTIME_HEADER_AT + 4 * i..RUNTIME_HEADER_AT + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(var);
        b.extend_from_slice(&[0; 16]);
        b
    }

    #[test]
    fn lengths_and_fields_are_checked() {
        let good = report(br#"{"keys":[]}"#);
        let r = HclReport::parse(&good).unwrap();
        assert_eq!(r.report_type(), HardwareReportType::Snp);
        assert_eq!(r.variable_data(), br#"{"keys":[]}"#);
        let code = |b: &[u8]| HclReport::parse(b).unwrap_err().code.to_string();
        assert_eq!(code(b"HCL"), "HclReportMalformed");
        assert_eq!(code(&good[..100]), "HclReportMalformed");
        assert_eq!(code(&good[..VARIABLE_DATA_AT + 3]), "HclReportMalformed");
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(code(&bad), "HclReportMalformed");
        let mut bad = good.clone();
        bad[RUNTIME_HEADER_AT + 8] = 3;
        assert_eq!(code(&bad), "HclReportMalformed");
        let mut bad = good.clone();
        bad[RUNTIME_HEADER_AT + 16] = 0xff;
        assert_eq!(code(&bad), "HclReportMalformed");
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 1;
        assert_eq!(code(&bad), "HclReportMalformed");
        assert_eq!(
            r.runtime_data().unwrap().attestation_key().unwrap_err().code,
            "HclRuntimeDataMalformed"
        );
    }
}
