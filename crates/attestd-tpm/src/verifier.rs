//! The TPM verifier: MAA's multi-round TPM protocol (reference E.2) as an
//! [`attestd_evidence::Exchange`].
//!
//! Rounds (each message is the JSON the transport envelope carries):
//! 1. client `{"type": "aikcert"}` → service `{"challenge", "service_context"}`;
//! 2. client `{"request": "<attReqV2 JWS>"}` → the request is verified (signature by the key it
//!    carries, challenge equal to the one sealed in `service_context` for this provider and not
//!    expired, quote, PCRs, AIK certificate, event logs) and the policy runs over the claims;
//! 3. service `{"report": "<JWT>"}`.
//!
//! The service keeps no per-session state: the challenge travels sealed in `service_context`.

use std::sync::Arc;

use attestd_evidence::{
    Appraisal, AttestationType, Attester, ClaimValue, Evidence, EvidenceError, Exchange, ExchangeContext, Finish,
    Outcome, Step, StepFuture, Verifier, VerifyContext, VerifyFuture,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::aik::AikRoots;
use crate::appraise::{Requirements, appraise};
use crate::protocol::ContextSealer;
use crate::quote::QuoteError;
use crate::request::{AttestRequest, KeyObject, parse, qualifying_data};

/// The prefix custom claims get in the policy's claim types (MAA: a service-chosen URL).
pub const CUSTOM_CLAIM_PREFIX: &str = "http://schemas.attestd.dev/tpm/custom/";

/// PCRs a quote must cover unless the policy sets `required_pcr_mask`.
pub const DEFAULT_REQUIRED_PCR_MASK: u32 = 0x00FF_FFFF;

/// Verifies TPM attestations through MAA's TPM protocol.
#[derive(Debug, Clone)]
pub struct TpmVerifier {
    roots: Arc<AikRoots>,
}

impl TpmVerifier {
    /// A verifier whose AIK certificates must chain to `roots`.
    pub fn new(roots: Arc<AikRoots>) -> TpmVerifier {
        TpmVerifier { roots }
    }
}

fn evidence_err(e: QuoteError) -> EvidenceError {
    match e.code {
        "InternalError" => EvidenceError::internal(e.message),
        code => EvidenceError::invalid(code, e.message),
    }
}

fn protocol_err(code: &'static str, message: impl Into<String>) -> EvidenceError {
    EvidenceError::invalid(code, message)
}

impl Verifier for TpmVerifier {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::Tpm]
    }

    fn verify<'a>(&'a self, _evidence: &'a Evidence, _ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
        Box::pin(async {
            Err(protocol_err(
                "ProtocolRequired",
                "TPM attestation is a multi-round protocol: send {\"type\":\"aikcert\"} first",
            ))
        })
    }

    fn exchange(&self) -> Option<&dyn Exchange> {
        Some(self)
    }
}

/// The messages a client may send.
enum Message {
    Init,
    Request(String),
}

fn message(raw: &[u8]) -> Result<Message, EvidenceError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| protocol_err("InvalidMessage", format!("the protocol message is not JSON: {e}")))?;
    // MAA's SDK wraps each message in `{"payload": …}`; accept both shapes.
    let value = match value.get("payload") {
        Some(inner) if inner.is_object() => inner.clone(),
        _ => value,
    };
    let Some(obj) = value.as_object() else {
        return Err(protocol_err(
            "InvalidMessage",
            "the protocol message must be a JSON object",
        ));
    };
    match (obj.get("type"), obj.get("request")) {
        (Some(Value::String(t)), None) if t == "aikcert" => Ok(Message::Init),
        (Some(t), None) => Err(protocol_err(
            "UnsupportedInitType",
            format!("'type' is {t}; only \"aikcert\" is supported"),
        )),
        (None, Some(Value::String(r))) => Ok(Message::Request(r.clone())),
        (None, Some(_)) => Err(protocol_err("InvalidMessage", "'request' must be a string (the JWS)")),
        (Some(_), Some(_)) => Err(protocol_err(
            "InvalidMessage",
            "a message carries either 'type' (init) or 'request', not both",
        )),
        (None, None) => Err(protocol_err(
            "UnknownMessage",
            "expected {\"type\":\"aikcert\"} (init) or {\"request\": JWS} (after a challenge)",
        )),
    }
}

fn config_bool(ctx: &ExchangeContext<'_>, name: &str, default: bool) -> bool {
    ctx.configuration
        .value(name)
        .and_then(ClaimValue::as_bool)
        .unwrap_or(default)
}

fn config_mask(ctx: &ExchangeContext<'_>) -> Result<u32, EvidenceError> {
    match ctx.configuration.value("required_pcr_mask") {
        None => Ok(DEFAULT_REQUIRED_PCR_MASK),
        Some(v) => v.as_i64().and_then(|m| u32::try_from(m).ok()).ok_or_else(|| {
            protocol_err(
                "PolicyConfigurationInvalid",
                "required_pcr_mask must be an integer mask",
            )
        }),
    }
}

fn key_claim(k: &KeyObject) -> Value {
    let jwk: Value = serde_json::from_str(&k.jwk_text).unwrap_or(Value::Null);
    let mut v = json!({ "jwk": jwk });
    if let Some(info) = &k.info {
        v["info"] = info.clone();
    }
    v
}

impl TpmVerifier {
    fn request(&self, jws: &str, ctx: &ExchangeContext<'_>) -> Result<Appraisal, EvidenceError> {
        let req: AttestRequest = parse(jws).map_err(evidence_err)?;
        let sealer = ContextSealer::new(ctx.secret).map_err(evidence_err)?;
        let sealed = sealer
            .open(ctx.provider, &req.service_context, ctx.now)
            .map_err(evidence_err)?;
        if sealed.challenge != req.challenge {
            return Err(protocol_err(
                "ChallengeMismatch",
                "att_data.challenge is not the challenge sealed in service_context",
            ));
        }
        // From here on the request is signed and fresh: failures are recorded in the history of
        // the machine whose AIK it names.
        let machine = req.evidence.aik_pub.as_ref().map(aik_pub_hash);
        let tag = |e: EvidenceError| match &machine {
            Some(id) => e.with_attester(id.clone()),
            None => e,
        };
        self.appraise_request(&req, ctx, machine.clone()).map_err(tag)
    }

    fn appraise_request(
        &self,
        req: &AttestRequest,
        ctx: &ExchangeContext<'_>,
        machine: Option<String>,
    ) -> Result<Appraisal, EvidenceError> {
        let nonce = qualifying_data(req).map_err(evidence_err)?;
        let appraised = appraise(
            &req.evidence,
            &Requirements {
                qualifying_data: &nonce,
                required_pcr_mask: config_mask(ctx)?,
                require_valid_aik_cert: config_bool(ctx, "require_valid_aik_cert", true),
                roots: &self.roots,
                now: ctx.now,
            },
        )
        .map_err(evidence_err)?;
        let attester = machine.map(|id| Attester {
            id,
            measurements: boot_measurements(&appraised.pcrs),
        });

        let mut incoming = appraised.claims;
        let request_key = key_claim(&req.request_key);
        incoming.add("x-ms-tpm-request-key", ClaimValue::Json(Arc::new(request_key.clone())));
        if !req.other_keys.is_empty() {
            let others: Vec<Value> = req.other_keys.iter().map(key_claim).collect();
            incoming.add("x-ms-tpm-other-keys", ClaimValue::Json(Arc::new(Value::Array(others))));
        }
        for (name, value, _) in &req.custom_claims {
            if !name.is_empty() {
                incoming.add(format!("{CUSTOM_CLAIM_PREFIX}{name}"), value.clone());
            }
        }

        let mut token_claims = std::collections::BTreeMap::new();
        token_claims.insert("cnf".to_owned(), json!({ "jwk": request_key["jwk"].clone() }));
        token_claims.insert("x-ms-tpm-request-key".to_owned(), request_key);
        if let Some(rp) = &req.rp_data {
            let rp = Value::String(URL_SAFE_NO_PAD.encode(rp));
            token_claims.insert("rp_data".to_owned(), rp.clone());
            token_claims.insert("nonce".to_owned(), rp);
        }
        if let Some(id) = &req.rp_id {
            token_claims.insert("rp_id".to_owned(), Value::String(id.clone()));
        }
        Ok(Appraisal {
            incoming,
            token_claims,
            seal: None,
            attester,
        })
    }
}

/// The machine identity the monitor tracks: MAA's `aikPubHash`, base64(SHA-256(AIK SPKI DER)).
fn aik_pub_hash(key: &crate::quote::PublicKey) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key.spki_der()))
}

/// PCRs whose change means the boot path changed: 0–7, the static root of trust (firmware, its
/// configuration, option ROMs, boot manager, Secure Boot policy). Later PCRs legitimately change
/// every boot on some platforms (e.g. Windows' boot counter in PCR 12).
pub const BOOT_MEASUREMENT_PCRS: std::ops::RangeInclusive<u32> = 0..=7;

/// The quoted boot PCRs, `"PCR<i>"` → hex, from the strongest quoted bank.
fn boot_measurements(quoted: &[crate::eventlog::Bank]) -> std::collections::BTreeMap<String, String> {
    let strongest = quoted.iter().max_by_key(|(alg, _)| match alg {
        crate::eventlog::HashAlg::Sha1 => 0,
        crate::eventlog::HashAlg::Sha512 => 1,
        crate::eventlog::HashAlg::Sha384 => 2,
        crate::eventlog::HashAlg::Sha256 => 3,
    });
    strongest
        .map(|(_, values)| {
            values
                .iter()
                .filter(|(i, _)| BOOT_MEASUREMENT_PCRS.contains(i))
                .map(|(i, v)| (format!("PCR{i}"), hex::encode(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// Wraps the token in the protocol's last message.
struct Report;

impl Finish for Report {
    fn finish(self: Box<Self>, outcome: Outcome<'_>) -> Result<Value, EvidenceError> {
        match outcome {
            Outcome::Token(t) => Ok(json!({ "report": t })),
            Outcome::Failed(code) => Err(protocol_err("AttestationFailed", format!("attestation failed: {code}"))),
        }
    }
}

impl Exchange for TpmVerifier {
    fn step<'a>(&'a self, raw: &'a [u8], ctx: ExchangeContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            match message(raw)? {
                Message::Init => {
                    let sealer = ContextSealer::new(ctx.secret).map_err(evidence_err)?;
                    let c = sealer.challenge(ctx.provider, ctx.now).map_err(evidence_err)?;
                    Ok(Step::Reply(
                        json!({ "challenge": c.challenge, "service_context": c.service_context }),
                    ))
                }
                Message::Request(jws) => Ok(Step::Appraised {
                    appraisal: self.request(&jws, &ctx)?,
                    finish: Box::new(Report),
                }),
            }
        })
    }
}
