//! The evidence MAA's `/attest/SevSnpVm` takes: the `report` field decodes to a JSON document
//! `{"SnpReport": "<base64url report>", "VcekCertChain": "<base64url PEM VCEK, ASK, ARK>",
//! "Endorsements": …}`; a raw 1184-byte report (without certificates) is also accepted.

use attestd_evidence::b64;
use attestd_evidence::json::{Members, ObjectError};
use attestd_evidence::pem;

use crate::error::{ErrorCode, Result, SnpError};
use crate::report::REPORT_LEN;

/// The evidence of one attestation, decoded from its transport form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpEvidence {
    /// The raw report bytes (their length is checked by the report parser).
    pub report: Vec<u8>,
    /// The DER certificates sent with it (VCEK/VLEK and optionally ASK/ASVK, ARK), in the order
    /// sent; empty when the VCEK must be obtained elsewhere.
    pub certificates: Vec<Vec<u8>>,
}

fn malformed(message: impl Into<String>) -> SnpError {
    SnpError::new(ErrorCode::SnpEvidenceMalformed, message)
}

/// base64url as MAA specifies, also accepting the standard alphabet and padding.
fn decode_b64(field: &str, text: &str) -> Result<Vec<u8>> {
    b64::decode_lenient(text.trim()).map_err(|e| malformed(format!("evidence field '{field}' is not base64url: {e}")))
}

impl SnpEvidence {
    /// Decodes the evidence bytes: MAA's JSON document, or a raw report.
    pub fn parse(bytes: &[u8]) -> Result<SnpEvidence> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            return SnpEvidence::parse_json(bytes);
        }
        if bytes.len() == REPORT_LEN {
            return Ok(SnpEvidence {
                report: bytes.to_vec(),
                certificates: Vec::new(),
            });
        }
        Err(malformed(format!(
            "the SevSnpVm evidence ({} bytes) is neither a JSON document with 'SnpReport' nor a {REPORT_LEN}-byte report",
            bytes.len()
        )))
    }

    fn parse_json(bytes: &[u8]) -> Result<SnpEvidence> {
        let not_json = |e: &dyn std::fmt::Display| malformed(format!("the SevSnpVm evidence is not JSON: {e}"));
        let text = std::str::from_utf8(bytes).map_err(|e| not_json(&e))?;
        let doc = Members::parse(text).map_err(|e| match e {
            ObjectError::NotJson(e) => not_json(&e),
            ObjectError::NotAnObject => malformed("the SevSnpVm evidence must be a JSON object"),
        })?;
        let string = |name: &str| {
            doc.string(name)
                .map_err(|_| malformed(format!("evidence field '{name}' must be a string")))
        };
        let report = string("SnpReport")?.ok_or_else(|| malformed("the evidence has no 'SnpReport' field"))?;
        let report = decode_b64("SnpReport", &report)?;
        let certificates = match string("VcekCertChain")? {
            None => Vec::new(),
            Some(chain) => {
                // The chain is base64url of PEM text; PEM text sent directly is accepted too.
                let decoded;
                let pem = if chain.contains("-----BEGIN") {
                    chain.as_bytes()
                } else {
                    decoded = decode_b64("VcekCertChain", &chain)?;
                    &decoded
                };
                pem::certificates(pem)
                    .map_err(|e| malformed(format!("evidence field 'VcekCertChain': {}", e.describe())))?
            }
        };
        Ok(SnpEvidence { report, certificates })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD as STANDARD, URL_SAFE_NO_PAD as URL_SAFE};

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";

    #[test]
    fn json_document() {
        let report = vec![7u8; REPORT_LEN];
        let doc = serde_json::json!({
            "SnpReport": URL_SAFE.encode(&report),
            "VcekCertChain": URL_SAFE.encode(PEM),
            "Endorsements": "ignored",
        });
        let e = SnpEvidence::parse(format!("\n  {doc}").as_bytes()).unwrap();
        assert_eq!(e.report, report);
        assert_eq!(e.certificates, vec![vec![1u8, 2, 3]]);

        // Standard alphabet with padding, lower-case names, PEM text directly.
        let doc = serde_json::json!({ "snpreport": STANDARD.encode([0xfbu8, 0xff]) + "=", "vcekcertchain": PEM });
        let e = SnpEvidence::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(e.report, vec![0xfb, 0xff]);
        assert_eq!(e.certificates.len(), 1);

        let doc = serde_json::json!({ "SnpReport": "AAAA" });
        assert!(
            SnpEvidence::parse(doc.to_string().as_bytes())
                .unwrap()
                .certificates
                .is_empty()
        );
    }

    #[test]
    fn every_truncation_of_a_document_is_malformed() {
        let doc = serde_json::json!({
            "SnpReport": URL_SAFE.encode([7u8; 64]),
            "VcekCertChain": URL_SAFE.encode(PEM),
            "Endorsements": {"a": [1, null, "x"]},
        })
        .to_string();
        assert!(SnpEvidence::parse(doc.as_bytes()).is_ok());
        for end in 0..doc.len() {
            let err = SnpEvidence::parse(&doc.as_bytes()[..end]).unwrap_err();
            assert_eq!(err.code, ErrorCode::SnpEvidenceMalformed, "{end}");
        }
    }

    #[test]
    fn raw_report() {
        let e = SnpEvidence::parse(&[2u8; REPORT_LEN]).unwrap();
        assert_eq!(e.report.len(), REPORT_LEN);
        assert!(e.certificates.is_empty());
    }

    #[test]
    fn malformed_documents() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"VcekCertChain\":\"\"}",
            b"{\"SnpReport\":5}",
            b"{\"SnpReport\":\"!!\"}",
            b"{\"SnpReport\":\"AAAA\",\"VcekCertChain\":\"AAAA\"}",
            b"{\"SnpReport\":\"AAAA\",\"VcekCertChain\":\"-----BEGIN PRIVATE KEY-----\\nAQID\\n-----END PRIVATE KEY-----\\n\"}",
            b"xyz",
            b"",
        ] {
            let err = SnpEvidence::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::SnpEvidenceMalformed, "{}", String::from_utf8_lossy(bad));
        }
    }
}
