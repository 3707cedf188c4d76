//! The evidence MAA's `/attest/SevSnpVm` takes: the `report` field decodes to a JSON document
//! `{"SnpReport": "<base64url report>", "VcekCertChain": "<base64url PEM VCEK, ASK, ARK>",
//! "Endorsements": …}`; a raw 1184-byte report (without certificates) is also accepted.

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use std::borrow::Cow;

use attestd_evidence::pem;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

fn malformed(message: impl Into<String>) -> SnpError {
    SnpError::new(ErrorCode::SnpEvidenceMalformed, message)
}

/// base64url as MAA specifies, also accepting the standard alphabet and padding.
fn decode_b64(field: &str, text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    URL_SAFE
        .decode(text)
        .or_else(|_| STANDARD.decode(text))
        .map_err(|e| malformed(format!("evidence field '{field}' is not base64url: {e}")))
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
        let doc: Document<'_> =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("the SevSnpVm evidence is not JSON: {e}")))?;
        let report =
            text(doc.report, "SnpReport")?.ok_or_else(|| malformed("the evidence has no 'SnpReport' field"))?;
        let report = decode_b64("SnpReport", &report)?;
        let certificates = match text(doc.chain, "VcekCertChain")? {
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

/// The members of MAA's SNP document that attestd reads, borrowed from the request where the
/// JSON has no escapes. Names match case-insensitively (as MAA's request names do); the first
/// of repeated names counts; other members are skipped unparsed.
struct Document<'a> {
    report: Option<Member<'a>>,
    chain: Option<Member<'a>>,
}

/// A member's text: `None` if it is absent or null.
fn text<'a>(member: Option<Member<'a>>, name: &str) -> Result<Option<Cow<'a, str>>> {
    match member {
        None | Some(Member::Null) => Ok(None),
        Some(Member::Text(t)) => Ok(Some(t)),
        Some(Member::Other) => Err(malformed(format!("evidence field '{name}' must be a string"))),
    }
}

impl<'de> Deserialize<'de> for Document<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Document<'de>, A::Error> {
                let (mut report, mut chain) = (None, None);
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    let slot = if name.eq_ignore_ascii_case("SnpReport") {
                        &mut report
                    } else if name.eq_ignore_ascii_case("VcekCertChain") {
                        &mut chain
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    let value = map.next_value::<Member<'de>>()?;
                    if slot.is_none() {
                        *slot = Some(value);
                    }
                }
                Ok(Document { report, chain })
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A member's value: a string, null, or anything else.
enum Member<'a> {
    Text(Cow<'a, str>),
    Null,
    Other,
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Value;
        impl<'de> Visitor<'de> for Value {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Null)
            }
            fn visit_none<E>(self) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Null)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Member<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Member<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
        }
        deserializer.deserialize_any(Value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
