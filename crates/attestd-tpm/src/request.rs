//! The attestation request of MAA's TPM protocol (reference E.2, message 3): a JWS of type
//! `attReq` (v1) or `attReqV2` (v2), signed by the key it carries (`attest_key` / `request_key`)
//! to prove possession, whose payload holds the TPM evidence: v2 `current_attestation` (and
//! `boot_attestation`), v1 Windows PCP platform claims (`current_claim`, `boot_claim`, see
//! [`crate::pcp`]) with the SRTM logs. `att_type: "vbs"` wraps the same object in
//! `report_signed` next to the VBS enclave report `vsm_report`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use attestd_token::{Algorithm, Jwk};

use crate::appraise::TpmEvidence;
use crate::eventlog::HashAlg;
use crate::pcp;
use crate::quote::{PublicKey, QuoteError};
use crate::vbs::VbsEvidence;

fn err(code: &'static str, message: impl Into<String>) -> QuoteError {
    QuoteError::new(code, message)
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, QuoteError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| err("InvalidParameter", format!("'{field}' is not base64url")))
}

/// A key the request carries, with the exact JSON text of its `jwk` (MAA hashes that text).
#[derive(Clone, Debug)]
pub struct KeyObject {
    /// The key.
    pub jwk: Jwk,
    /// Its JSON text exactly as received.
    pub jwk_text: String,
    /// `info` as sent (`tpm_quote` or `tpm_certify`), if any.
    pub info: Option<Value>,
}

/// A parsed and signature-checked request.
#[derive(Clone, Debug)]
pub struct AttestRequest {
    /// 1 (`attReq`) or 2 (`attReqV2`).
    pub version: u8,
    /// `basic` or `vbs`.
    pub att_type: String,
    /// `rp_id`.
    pub rp_id: Option<String>,
    /// `rp_data`, decoded.
    pub rp_data: Option<Vec<u8>>,
    /// `challenge`, decoded: must equal the one sealed in `service_context`.
    pub challenge: Vec<u8>,
    /// `service_context` as sent.
    pub service_context: String,
    /// The current attestation.
    pub evidence: TpmEvidence,
    /// The key that signed the request (`request_key` in v2, `attest_key` in v1).
    pub request_key: KeyObject,
    /// `other_keys` (v2, at most two).
    pub other_keys: Vec<KeyObject>,
    /// `custom_claims`: (name, value, value_type).
    pub custom_claims: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

#[derive(Deserialize)]
struct RawKey<'a> {
    #[serde(borrow)]
    jwk: Option<&'a RawValue>,
    info: Option<Value>,
}

#[derive(Deserialize)]
struct PcrBank {
    algorithm: u16,
    values: Vec<PcrValue>,
}

#[derive(Deserialize)]
struct PcrValue {
    index: u32,
    digest: String,
}

#[derive(Deserialize)]
struct LogEntry {
    #[serde(rename = "type")]
    kind: String,
    log: String,
}

#[derive(Deserialize)]
struct CurrentAttestation {
    #[serde(default)]
    logs: Vec<LogEntry>,
    aik_cert: Option<String>,
    aik_pub: Option<Jwk>,
    #[serde(default)]
    pcrs: Vec<PcrBank>,
    quote: String,
    signature: String,
}

/// v1 `tpm_att_data` (Windows): logs from `Tbsi_Get_TCG_Log_Ex`, PCP platform claims.
#[derive(Deserialize)]
struct V1Attestation {
    srtm_boot_log: Option<String>,
    srtm_resume_log: Option<String>,
    aik_cert: Option<String>,
    aik_pub: Option<Jwk>,
    current_claim: Option<String>,
    boot_claim: Option<String>,
}

/// Parses `request` (the JWS text) and checks its signature with the key it carries.
pub fn parse(request: &str) -> Result<AttestRequest, QuoteError> {
    let malformed = |m: &str| err("InvalidRequest", format!("the attestation request: {m}"));
    let mut parts = request.trim().split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("not a compact JWS"));
    };
    let header: Header = serde_json::from_slice(&b64("header", h)?).map_err(|e| malformed(&format!("header: {e}")))?;
    let version = match header.typ.as_str() {
        "attReq" => 1,
        "attReqV2" => 2,
        other => return Err(malformed(&format!("typ '{other}' is neither attReq nor attReqV2"))),
    };
    let alg: Algorithm = match header.alg.as_str() {
        "PS256" => Algorithm::PS256,
        "RS256" => Algorithm::RS256,
        other => {
            return Err(err(
                "UnsupportedAlgorithm",
                format!("attestation request signed with '{other}'"),
            ));
        }
    };
    let payload_bytes = b64("payload", p)?;
    let signature = b64("signature", s)?;
    let payload_text = std::str::from_utf8(&payload_bytes).map_err(|_| malformed("payload is not UTF-8"))?;
    let payload: Value = serde_json::from_str(payload_text).map_err(|e| malformed(&format!("payload: {e}")))?;
    let att_type = payload["att_type"].as_str().unwrap_or("basic").to_owned();
    let data = match att_type.as_str() {
        "basic" => &payload["att_data"],
        "vbs" => &payload["att_data"]["report_signed"],
        other => return Err(malformed(&format!("att_type '{other}'"))),
    };
    if !data.is_object() {
        return Err(malformed("att_data is missing"));
    }

    // The signing key, with its JSON text as received (v2 hashes it into the quote's nonce).
    let key_text = key_json(payload_text, version, &att_type)?;
    let request_key = key_object(&key_text, version)?;
    let public = request_key
        .jwk
        .public_key()
        .map_err(|e| err("InvalidRequest", format!("request key: {e}")))?;
    let signing_input = &request.trim()[..h.len() + 1 + p.len()];
    match public.verify(alg, signing_input.as_bytes(), &signature) {
        Some(Ok(())) => {}
        _ => {
            return Err(err(
                "RequestSignatureInvalid",
                "the attestation request is not signed by the key it carries",
            ));
        }
    }

    let text = |v: &Value, f: &str| v[f].as_str().map(str::to_owned);
    let challenge = b64(
        "challenge",
        &text(data, "challenge").ok_or_else(|| malformed("no challenge"))?,
    )?;
    let service_context = text(data, "service_context").ok_or_else(|| malformed("no service_context"))?;
    let rp_data = match text(data, "rp_data") {
        Some(s) => Some(b64("rp_data", &s)?),
        None => None,
    };
    let tpm = &data["tpm_att_data"];
    let mut evidence = if version == 2 {
        let current: CurrentAttestation = serde_json::from_value(tpm["current_attestation"].clone())
            .map_err(|e| malformed(&format!("current_attestation: {e}")))?;
        let mut evidence = evidence_v2(current)?;
        if let Some(boot) = tpm.get("boot_attestation").filter(|b| !b.is_null()) {
            let boot: CurrentAttestation =
                serde_json::from_value(boot.clone()).map_err(|e| malformed(&format!("boot_attestation: {e}")))?;
            evidence.boot = Some(Box::new(evidence_v2(boot)?));
        }
        evidence
    } else {
        let v1: V1Attestation =
            serde_json::from_value(tpm.clone()).map_err(|e| malformed(&format!("tpm_att_data: {e}")))?;
        evidence_v1(v1)?
    };
    if att_type == "vbs" {
        evidence.vbs = Some(vbs_evidence(payload_text, &payload["att_data"]["vsm_report"])?);
    }
    let mut other_keys = Vec::new();
    if let Some(list) = data["other_keys"].as_array() {
        if list.len() > 2 {
            return Err(malformed("more than two other_keys"));
        }
        for k in list {
            other_keys.push(key_object(&k.to_string(), 2)?);
        }
    }
    let custom_claims = data["custom_claims"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    (
                        text(c, "name").unwrap_or_default(),
                        text(c, "value").unwrap_or_default(),
                        text(c, "value_type").unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(AttestRequest {
        version,
        att_type,
        rp_id: text(data, "rp_id"),
        rp_data,
        challenge,
        service_context,
        evidence,
        request_key,
        other_keys,
        custom_claims,
    })
}

/// The JSON text of the key object that signs the request, as received.
fn key_json(payload: &str, version: u8, att_type: &str) -> Result<String, QuoteError> {
    #[derive(Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        att_data: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        report_signed: Option<&'a RawValue>,
        #[serde(borrow)]
        request_key: Option<&'a RawValue>,
        #[serde(borrow)]
        attest_key: Option<&'a RawValue>,
    }
    let missing = || {
        err(
            "InvalidRequest",
            "the attestation request carries no request_key / attest_key",
        )
    };
    let outer: Outer<'_> = serde_json::from_str(payload).map_err(|e| err("InvalidRequest", e.to_string()))?;
    let mut data: Data<'_> = serde_json::from_str(outer.att_data.ok_or_else(missing)?.get())
        .map_err(|e| err("InvalidRequest", e.to_string()))?;
    if att_type == "vbs" {
        let inner = data.report_signed.ok_or_else(missing)?;
        data = serde_json::from_str(inner.get()).map_err(|e| err("InvalidRequest", e.to_string()))?;
    }
    let key = if version == 2 {
        data.request_key
    } else {
        data.attest_key
    };
    Ok(key.ok_or_else(missing)?.get().to_owned())
}

/// A key object: v2 `{"jwk": {...}, "info": {...}}`, v1 a bare JWK.
fn key_object(text: &str, version: u8) -> Result<KeyObject, QuoteError> {
    let bad = |e: String| err("InvalidRequest", format!("key object: {e}"));
    let (jwk_text, info) = if version == 2 {
        let k: RawKey<'_> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        (k.jwk.ok_or_else(|| bad("no 'jwk'".into()))?.get().to_owned(), k.info)
    } else {
        (text.to_owned(), None)
    };
    let jwk: Jwk = serde_json::from_str(&jwk_text).map_err(|e| bad(e.to_string()))?;
    Ok(KeyObject { jwk, jwk_text, info })
}

/// The VBS report (`vsm_report`: v1 a base64url string, v2 `{"enclave": {"report": …}}`) and
/// the exact text of `report_signed`, which the report's `EnclaveData` hashes.
fn vbs_evidence(payload: &str, vsm_report: &Value) -> Result<VbsEvidence, QuoteError> {
    #[derive(Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        att_data: &'a RawValue,
    }
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        report_signed: &'a RawValue,
    }
    let bad = |e: serde_json::Error| err("InvalidRequest", format!("att_data.report_signed: {e}"));
    let outer: Outer<'_> = serde_json::from_str(payload).map_err(bad)?;
    let data: Data<'_> = serde_json::from_str(outer.att_data.get()).map_err(bad)?;
    let report = match vsm_report {
        Value::String(s) => s.as_str(),
        Value::Object(_) => vsm_report["enclave"]["report"]
            .as_str()
            .ok_or_else(|| err("VbsReportMissing", "att_data.vsm_report has no enclave.report string"))?,
        _ => {
            return Err(err(
                "VbsReportMissing",
                "an att_type \"vbs\" request without att_data.vsm_report",
            ));
        }
    };
    Ok(VbsEvidence {
        report: b64("vsm_report", report)?,
        report_signed: data.report_signed.get().to_owned(),
    })
}

/// A non-empty base64url log field.
fn log_field(field: &str, value: &Option<String>) -> Result<Option<Vec<u8>>, QuoteError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => Ok(Some(b64(field, s)?)),
    }
}

/// A v1 attestation: the current claim, with the log it embeds, else the resume log (after a
/// hibernation the PCRs restarted with it), else the boot log; the boot claim with its own log
/// or the boot log. DRTM logs are not replayed (their PCRs 17–22 start from locality values).
fn evidence_v1(v: V1Attestation) -> Result<TpmEvidence, QuoteError> {
    let aik_pub = match &v.aik_pub {
        Some(jwk) => Some(jwk_key(jwk)?),
        None => None,
    };
    let aik_cert = match &v.aik_cert {
        Some(s) if !s.is_empty() => Some(b64("aik_cert", s)?),
        _ => None,
    };
    let boot_log = log_field("srtm_boot_log", &v.srtm_boot_log)?;
    let resume_log = log_field("srtm_resume_log", &v.srtm_resume_log)?;
    let claim = |field: &str, text: &str, fallback: Option<Vec<u8>>| -> Result<TpmEvidence, QuoteError> {
        let c = pcp::parse(field, &b64(field, text)?)?;
        let log = if c.log.is_empty() { fallback } else { Some(c.log) };
        Ok(TpmEvidence {
            logs: log.into_iter().collect(),
            pcrs: vec![c.pcrs],
            quote: c.quote,
            signature: c.signature,
            ..TpmEvidence::default()
        })
    };
    let current_text = v.current_claim.as_deref().ok_or_else(|| {
        err(
            "InvalidRequest",
            "the attestation request: tpm_att_data has no current_claim",
        )
    })?;
    let mut current = claim("current_claim", current_text, resume_log.or(boot_log.clone()))?;
    current.aik_pub = aik_pub;
    current.aik_cert = aik_cert;
    if let Some(text) = v.boot_claim.as_deref().filter(|t| !t.is_empty()) {
        current.boot = Some(Box::new(claim("boot_claim", text, boot_log)?));
    }
    Ok(current)
}

fn evidence_v2(c: CurrentAttestation) -> Result<TpmEvidence, QuoteError> {
    let mut logs = Vec::new();
    for (i, l) in c.logs.iter().enumerate() {
        match l.kind.as_str() {
            "TCG" => logs.push(b64(&format!("logs[{i}].log"), &l.log)?),
            // IMA logs extend PCR 10; they are checked once IMA parsing lands.
            "IMA" => {}
            other => return Err(err("InvalidRequest", format!("logs[{i}].type '{other}'"))),
        }
    }
    let aik_pub = match &c.aik_pub {
        Some(jwk) => Some(jwk_key(jwk)?),
        None => None,
    };
    let mut pcrs = Vec::new();
    for bank in &c.pcrs {
        let alg = HashAlg::from_id(bank.algorithm)
            .ok_or_else(|| err("UnsupportedAlgorithm", format!("PCR bank algorithm {}", bank.algorithm)))?;
        let mut values = Vec::new();
        for v in &bank.values {
            values.push((v.index, b64("pcrs[].values[].digest", &v.digest)?));
        }
        pcrs.push((alg, values));
    }
    Ok(TpmEvidence {
        logs,
        aik_cert: match &c.aik_cert {
            Some(s) => Some(b64("aik_cert", s)?),
            None => None,
        },
        aik_intermediates: Vec::new(),
        aik_pub,
        pcrs,
        quote: b64("quote", &c.quote)?,
        signature: b64("signature", &c.signature)?,
        ..TpmEvidence::default()
    })
}

/// The TPM key of a JWK (RSA `n`/`e`).
fn jwk_key(jwk: &Jwk) -> Result<PublicKey, QuoteError> {
    let bad = || err("InvalidRequest", "aik_pub must be an RSA JWK with n and e");
    let n = jwk.other.get("n").and_then(Value::as_str).ok_or_else(bad)?;
    let e = jwk.other.get("e").and_then(Value::as_str).ok_or_else(bad)?;
    let n = b64("aik_pub.n", n)?;
    let e = b64("aik_pub.e", e)?;
    if e.len() > 4 || e.is_empty() {
        return Err(bad());
    }
    let e = e.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    Ok(PublicKey::Rsa { n, e })
}

/// The quote's expected `qualifyingData`: the challenge, or, when the request key is bound by
/// `tpm_quote`, HASH(UTF-8(jwk text as received) ‖ 0x00 ‖ challenge).
pub fn qualifying_data(req: &AttestRequest) -> Result<Vec<u8>, QuoteError> {
    let Some(hash) = req
        .request_key
        .info
        .as_ref()
        .and_then(|i| i["tpm_quote"]["hash_alg"].as_str())
    else {
        return Ok(req.challenge.clone());
    };
    let alg = match hash {
        "sha-1" | "sha1" => HashAlg::Sha1,
        "sha-256" | "sha256" => HashAlg::Sha256,
        "sha-384" | "sha384" => HashAlg::Sha384,
        "sha-512" | "sha512" => HashAlg::Sha512,
        other => return Err(err("UnsupportedAlgorithm", format!("tpm_quote.hash_alg '{other}'"))),
    };
    Ok(alg.hash(&[req.request_key.jwk_text.as_bytes(), &[0], &req.challenge]))
}
