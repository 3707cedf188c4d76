//! MAA's attestation request bodies (reference A.5), parsed into typed evidence.
//!
//! Member names are matched case-insensitively because real clients disagree on case (the C++ SDK
//! writes `inittimeData`, guest agents write `AttestationInfo`).

use attestd_evidence::b64;
use attestd_evidence::{AttestationType, BoundData, DataType, Evidence};
use std::borrow::Cow;

use attestd_evidence::json::{Members, ObjectError};
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// A parsed attestation request.
#[derive(Debug)]
pub struct AttestRequest {
    /// The evidence with its bound data.
    pub evidence: Evidence,
    /// `nonce`, echoed into the token.
    pub nonce: Option<String>,
    /// `draftPolicyForAttestation`: policy text to use instead of the stored policy.
    pub draft_policy: Option<String>,
}

/// The body member that carries the evidence of each type.
pub fn evidence_member(t: AttestationType) -> &'static str {
    match t {
        AttestationType::SgxEnclave | AttestationType::TdxVm => "quote",
        AttestationType::OpenEnclave | AttestationType::SevSnpVm => "report",
        AttestationType::Tpm => "data",
        AttestationType::AzureGuest => "attestationInfo",
    }
}

/// A JSON object's members, read as slices of the body: the evidence string is decoded straight
/// from the body instead of being copied into a `serde_json::Value` first.
struct Object<'a>(Members<'a>);

impl<'a> Object<'a> {
    /// The members of `json`, which must be an object; `what` names it in errors.
    fn parse(json: &'a str, what: &str) -> Result<Object<'a>, ApiError> {
        Members::parse(json).map(Object).map_err(|e| match e {
            ObjectError::NotAnObject => ApiError::invalid(format!("{what} must be a JSON object")),
            ObjectError::NotJson(e) => ApiError::invalid(format!("{what} is not valid JSON: {e}")),
        })
    }

    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.get(name)
    }

    fn string(&self, name: &str, path: &str) -> Result<Option<Cow<'a, str>>, ApiError> {
        self.0
            .string(name)
            .map_err(|_| ApiError::invalid(format!("field '{path}' must be a string")))
    }

    fn base64(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.string(name, path)?
            .map(|s| {
                b64::decode_lenient(&*s).map_err(|_| ApiError::invalid(format!("field '{path}' is not base64url")))
            })
            .transpose()
    }

    fn bound_data(&self, name: &str) -> Result<Option<BoundData>, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        if !raw.get().starts_with('{') {
            return Err(ApiError::invalid(format!(
                "field '{name}' must be an object with 'data' and 'dataType'"
            )));
        }
        let inner = Object::parse(raw.get(), &format!("field '{name}'"))?;
        let bytes = inner
            .base64("data", &format!("{name}.data"))?
            .ok_or_else(|| ApiError::invalid(format!("field '{name}.data' is required")))?;
        let data_type = match inner.string("dataType", &format!("{name}.dataType"))?.as_deref() {
            None => DataType::Binary,
            Some(s) if s.eq_ignore_ascii_case("binary") => DataType::Binary,
            Some(s) if s.eq_ignore_ascii_case("json") => DataType::Json,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "field '{name}.dataType' must be 'Binary' or 'JSON', not '{}'",
                    other.chars().take(32).collect::<String>()
                )));
            }
        };
        if data_type == DataType::Json && serde_json::from_slice::<IgnoredAny>(&bytes).is_err() {
            return Err(ApiError::invalid(format!(
                "field '{name}.data' is not valid JSON although '{name}.dataType' is JSON"
            )));
        }
        Ok(Some(BoundData { bytes, data_type }))
    }
}

/// The body as text: JSON is UTF-8.
fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::invalid(format!("the request body is not valid JSON: {e}")))
}

/// Parses an attestation request body for type `t`.
pub fn parse_attest(t: AttestationType, body: &[u8]) -> Result<AttestRequest, ApiError> {
    let obj = Object::parse(body_text(body)?, "the request body")?;
    let field = evidence_member(t);
    let bytes = obj
        .base64(field, field)?
        .ok_or_else(|| ApiError::invalid(format!("field '{field}' is required")))?;
    if bytes.is_empty() {
        return Err(ApiError::invalid(format!("field '{field}' is empty")));
    }
    Ok(AttestRequest {
        evidence: Evidence {
            attestation_type: t,
            bytes,
            runtime_data: obj.bound_data("runtimeData")?,
            init_time_data: obj.bound_data("initTimeData")?,
        },
        nonce: obj.string("nonce", "nonce")?.map(Cow::into_owned),
        draft_policy: obj
            .string("draftPolicyForAttestation", "draftPolicyForAttestation")?
            .map(Cow::into_owned),
    })
}

/// Parses one round of a multi-round protocol: `{"data": base64url(message)}` (MAA's
/// `TpmAttestationRequest`); returns the message bytes for the verifier's exchange.
pub fn parse_exchange(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let obj = Object::parse(body_text(body)?, "the request body")?;
    let bytes = obj
        .base64("data", "data")?
        .ok_or_else(|| ApiError::invalid("field 'data' is required"))?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("field 'data' is empty"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(t: AttestationType, body: &str) -> String {
        parse_attest(t, body.as_bytes()).expect_err("must fail").message
    }

    #[test]
    fn parses_the_sdk_shape() {
        let r = parse_attest(
            AttestationType::SgxEnclave,
            br#"{"quote":"AQID","runtimeData":{"data":"e30","dataType":"JSON"},"inittimeData":{"data":"aW5pdA","dataType":"Binary"},"nonce":"n","draftPolicyForAttestation":"version=1.0;"}"#,
        )
        .expect("parses");
        assert_eq!(r.evidence.bytes, [1, 2, 3]);
        assert_eq!(
            r.evidence.runtime_data.as_ref().map(|d| d.data_type),
            Some(DataType::Json)
        );
        assert_eq!(
            r.evidence.init_time_data.as_ref().map(|d| d.bytes.as_slice()),
            Some(&b"init"[..])
        );
        assert_eq!(r.nonce.as_deref(), Some("n"));
        assert_eq!(r.draft_policy.as_deref(), Some("version=1.0;"));
    }

    #[test]
    fn members_are_read_with_any_spacing_case_and_escapes() {
        let r = parse_attest(
            AttestationType::SevSnpVm,
            b" { \"Report\" :\n \"AQ\\u0049D\" , \"nonce\" : null ,\"RUNTIMEDATA\": { \"data\" : \"e30\" , \"datatype\" : \"json\" } , \"other\": [1, {\"x\": 2}] } ",
        )
        .expect("parses");
        assert_eq!(r.evidence.bytes, [1, 2, 3]);
        assert_eq!(r.nonce, None);
        assert_eq!(
            r.evidence
                .runtime_data
                .as_ref()
                .map(|d| (d.bytes.as_slice(), d.data_type)),
            Some((&b"{}"[..], DataType::Json))
        );
        // The exact name wins over a case-insensitive match.
        let r = parse_attest(AttestationType::SgxEnclave, br#"{"QUOTE":"AAAA","quote":"AQID"}"#).expect("parses");
        assert_eq!(r.evidence.bytes, [1, 2, 3]);
        assert!(err(AttestationType::SgxEnclave, "{\"quote\":\"AQID\"} x").contains("not valid JSON"));
        assert!(err(AttestationType::SgxEnclave, "\u{ff}").contains("not valid JSON"));
    }

    #[test]
    fn every_truncation_of_a_request_is_refused_without_a_panic() {
        let body = br#"{"report":"AQID","runtimeData":{"data":"e30","dataType":"JSON"},"initTimeData":{"data":"aW5pdA"},"nonce":"n\u0041"}"#;
        assert!(parse_attest(AttestationType::SevSnpVm, body).is_ok());
        for end in 0..body.len() {
            let e = parse_attest(AttestationType::SevSnpVm, &body[..end]).expect_err("a prefix is not a request");
            assert_eq!(e.code, "InvalidParameter", "{end}: {}", e.message);
        }
    }

    #[test]
    fn exchange_rounds_carry_base64url_data() {
        assert_eq!(parse_exchange(br#"{"data":"e30"}"#).expect("parses"), b"{}");
        assert!(
            parse_exchange(b"{}")
                .expect_err("missing")
                .message
                .contains("'data' is required")
        );
        assert!(
            parse_exchange(br#"{"data":""}"#)
                .expect_err("empty")
                .message
                .contains("'data' is empty")
        );
        assert!(
            parse_exchange(br#"{"data":"@@"}"#)
                .expect_err("b64")
                .message
                .contains("not base64url")
        );
        assert!(
            parse_exchange(b"[1]")
                .expect_err("shape")
                .message
                .contains("JSON object")
        );
    }

    #[test]
    fn errors_name_the_field() {
        use AttestationType::*;
        assert!(err(SgxEnclave, "{").contains("not valid JSON"));
        assert!(err(SgxEnclave, "[]").contains("JSON object"));
        assert!(err(SgxEnclave, "{}").contains("'quote' is required"));
        assert!(err(OpenEnclave, r#"{"quote":"AQID"}"#).contains("'report' is required"));
        assert!(err(SgxEnclave, r#"{"quote":5}"#).contains("'quote' must be a string"));
        assert!(err(SgxEnclave, r#"{"quote":"@@"}"#).contains("'quote' is not base64url"));
        assert!(err(SgxEnclave, r#"{"quote":""}"#).contains("'quote' is empty"));
        // The Python SDK's inittime_json bug sends a dataType without data.
        assert!(
            err(SgxEnclave, r#"{"quote":"AQID","initTimeData":{"dataType":"JSON"}}"#)
                .contains("'initTimeData.data' is required")
        );
        assert!(
            err(
                SgxEnclave,
                r#"{"quote":"AQID","runtimeData":{"data":"AQID","dataType":"XML"}}"#
            )
            .contains("'runtimeData.dataType'")
        );
        assert!(
            err(
                SgxEnclave,
                r#"{"quote":"AQID","runtimeData":{"data":"AQID","dataType":"JSON"}}"#
            )
            .contains("not valid JSON")
        );
        assert!(err(SgxEnclave, r#"{"quote":"AQID","runtimeData":"x"}"#).contains("must be an object"));
        assert!(err(SgxEnclave, r#"{"quote":"AQID","nonce":1}"#).contains("'nonce' must be a string"));
    }
}
