//! Appraisal of one TPM attestation (MAA's `current_attestation`): the quote and its signature,
//! the nonce, the PCR values, the AK certificate, the boot event logs replayed against the
//! quoted PCRs, and the claims policies see.

use std::time::SystemTime;

use attestd_claims::{ClaimSet, ClaimValue};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::aik::AikRoots;
use crate::eventlog::{Bank, EventLog};
use crate::quote::{PublicKey, Quote, QuoteError, Signature};

/// What the attester sent for one attestation.
#[derive(Clone, Debug, Default)]
pub struct TpmEvidence {
    /// TCG boot event logs, in measurement order.
    pub logs: Vec<Vec<u8>>,
    /// The AK certificate (DER), when the attester has one.
    pub aik_cert: Option<Vec<u8>>,
    /// Intermediate certificates for it (DER).
    pub aik_intermediates: Vec<Vec<u8>>,
    /// The attestation key.
    pub aik_pub: Option<PublicKey>,
    /// PCR values per bank: (bank, [(index, value)]).
    pub pcrs: Vec<Bank>,
    /// `TPMS_ATTEST` from TPM2_Quote.
    pub quote: Vec<u8>,
    /// `TPMT_SIGNATURE` of the quote.
    pub signature: Vec<u8>,
}

/// How evidence is judged (from the policy's configuration rules and the service's settings).
#[derive(Clone, Copy, Debug)]
pub struct Requirements<'a> {
    /// The quote's `extraData` must equal this.
    pub qualifying_data: &'a [u8],
    /// PCRs (bit i = PCR i) the quote must cover (`required_pcr_mask`, default 0xFFFFFF).
    pub required_pcr_mask: u32,
    /// Whether a valid AK certificate is required (`require_valid_aik_cert`, default true).
    pub require_valid_aik_cert: bool,
    /// Roots AK certificates must chain to.
    pub roots: &'a AikRoots,
    /// The verification time.
    pub now: SystemTime,
}

/// A verified attestation: the claims and what was verified.
#[derive(Clone, Debug)]
pub struct Appraised {
    /// Incoming claims: `aikValidated`, `aikPubHash`, `tpmVersion`, `secureBootEnabled` (when
    /// the log shows the variable), `events`, `pcrs`.
    pub claims: ClaimSet,
    /// The quoted PCR values, per bank.
    pub pcrs: Vec<Bank>,
}

fn err(code: &'static str, message: impl Into<String>) -> QuoteError {
    QuoteError::new(code, message)
}

/// Verifies `evidence` and derives its claims.
pub fn appraise(evidence: &TpmEvidence, req: &Requirements<'_>) -> Result<Appraised, QuoteError> {
    let key = evidence.aik_pub.clone().ok_or_else(|| {
        err(
            "AikPublicKeyMissing",
            "the attestation carries no attestation key (aik_pub)",
        )
    })?;
    let ak = key;
    let quote = Quote::parse(&evidence.quote)?;
    let sig = Signature::parse(&evidence.signature)?;
    ak.verify(&quote.raw, &sig)?;
    quote.check_nonce(req.qualifying_data)?;

    // The quote must cover the required PCRs in some bank, and the values sent must be the quoted ones.
    let covered = quote
        .pcr_select
        .iter()
        .map(|(_, pcrs)| pcrs.iter().fold(0u32, |m, &i| m | (1u32 << (i & 31))))
        .fold(0, |a, b| a | b);
    let missing = req.required_pcr_mask & !covered;
    if missing != 0 {
        return Err(err(
            "RequiredPcrsNotQuoted",
            format!("the quote does not cover the PCRs the policy requires (missing mask {missing:#08x})"),
        ));
    }
    let pcrs = &evidence.pcrs;
    quote.check_pcrs(sig.hash(), &|bank, i| {
        pcrs.iter()
            .find(|(b, _)| *b == bank)
            .and_then(|(_, values)| values.iter().find(|(j, _)| *j == i))
            .map(|(_, v)| v.clone())
    })?;
    let quoted: Vec<Bank> = quote
        .pcr_select
        .iter()
        .map(|(bank, idx)| {
            let values = idx
                .iter()
                .filter_map(|i| {
                    pcrs.iter()
                        .find(|(b, _)| b == bank)
                        .and_then(|(_, v)| v.iter().find(|(j, _)| j == i))
                        .cloned()
                })
                .collect();
            (*bank, values)
        })
        .collect();

    // AK certificate.
    let aik_validated = match &evidence.aik_cert {
        Some(cert) => {
            req.roots.verify(cert, &evidence.aik_intermediates, &ak, req.now)?;
            true
        }
        None if req.require_valid_aik_cert => {
            return Err(err(
                "AikCertificateRequired",
                "the policy requires a valid AIK certificate (require_valid_aik_cert) and none was sent",
            ));
        }
        None => false,
    };

    // Event logs: each must replay to the quoted values of every PCR it extends.
    let mut parsed = Vec::with_capacity(evidence.logs.len());
    for (n, raw) in evidence.logs.iter().enumerate() {
        let log = EventLog::parse(raw).map_err(|e| err(e.code(), format!("log {}: {e}", n + 1)))?;
        for (bank, values) in log.replay() {
            let Some((_, q)) = quoted.iter().find(|(b, _)| *b == bank) else {
                continue;
            };
            for (i, v) in values {
                let Some((_, quoted_value)) = q.iter().find(|(j, _)| *j == i) else {
                    continue;
                };
                if *quoted_value != v {
                    return Err(err(
                        "EventLogPcrMismatch",
                        format!(
                            "log {}: replaying the events of {} PCR {i} does not give the quoted value",
                            n + 1,
                            bank.name()
                        ),
                    ));
                }
            }
        }
        parsed.push(log);
    }

    let mut claims = ClaimSet::new();
    claims.add("aikValidated", aik_validated);
    claims.add(
        "aikPubHash",
        STANDARD.encode(digest::digest(&digest::SHA256, &ak.spki_der()).as_ref()),
    );
    claims.add("tpmVersion", 2i64);
    let mut events = Vec::new();
    for log in &parsed {
        if let Some(Value::Array(e)) = log.to_claim().get_mut("Events").map(Value::take) {
            events.extend(e);
        }
    }
    if let Some(on) = secure_boot(&events) {
        claims.add("secureBootEnabled", on);
    }
    claims.add(
        "events",
        ClaimValue::Json(std::sync::Arc::new(json!({ "Events": events }))),
    );
    claims.add("pcrs", ClaimValue::Json(std::sync::Arc::new(pcrs_claim(&quoted))));
    Ok(Appraised { claims, pcrs: quoted })
}

/// The `SecureBoot` UEFI variable as measured (EV_EFI_VARIABLE_DRIVER_CONFIG): data 0x01 = on.
fn secure_boot(events: &[Value]) -> Option<bool> {
    events.iter().find_map(|e| {
        let p = &e["ProcessedData"];
        (e["EventType"] == 0x8000_0001u32
            && p["UnicodeName"] == "SecureBoot"
            && p["VariableGuid"] == "8BE4DF61-93CA-11D2-AA0D-00E098032B8C")
            .then(|| p["VariableData"] == "AQ")
    })
}

/// MAA's `pcrs` claim: `{"PCRs": [{"Index", "Digests": {"SHA1": b64url, "SHA256": …}}]}`.
fn pcrs_claim(quoted: &[Bank]) -> Value {
    let mut indices: Vec<u32> = quoted.iter().flat_map(|(_, v)| v.iter().map(|(i, _)| *i)).collect();
    indices.sort_unstable();
    indices.dedup();
    let entries: Vec<Value> = indices
        .into_iter()
        .map(|i| {
            let mut digests = serde_json::Map::new();
            for (bank, values) in quoted {
                if let Some((_, v)) = values.iter().find(|(j, _)| *j == i) {
                    digests.insert(bank.name().to_owned(), Value::String(URL_SAFE_NO_PAD.encode(v)));
                }
            }
            json!({"Index": i, "Digests": digests})
        })
        .collect();
    json!({ "PCRs": entries })
}
