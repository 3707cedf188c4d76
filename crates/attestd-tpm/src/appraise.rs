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
use crate::eventlog::sipa::{self, BootConfiguration};
use crate::eventlog::{Bank, EventLog};
use crate::quote::{PublicKey, Quote, QuoteError, Signature};
use crate::vbs::{VbsEvidence, VbsReport};

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
    /// `boot_attestation` (v2) / `boot_claim` (v1): the same cold boot's state before it
    /// hibernated, quoted by the same AK; only its quote, PCRs and logs are used.
    pub boot: Option<Box<TpmEvidence>>,
    /// The VBS enclave report of an `att_type: "vbs"` request.
    pub vbs: Option<VbsEvidence>,
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
    /// Incoming claims: `aikValidated`, `aikPubHash`, `tpmVersion`, the boot configuration
    /// booleans (`secureBootEnabled`, `iommuEnabled`, `bootDebuggingDisabled`, `notSafeMode`,
    /// `notWinPE`, `vbsEnabled`: each only when the verified log decides it), `vbsReportPresent`
    /// and the enclave claims, `events`, `bootEvents`, `pcrs`.
    pub claims: ClaimSet,
    /// The quoted PCR values, per bank.
    pub pcrs: Vec<Bank>,
    /// The verified VBS enclave report, for `att_type: "vbs"`.
    pub vbs_report: Option<VbsReport>,
}

fn err(code: &'static str, message: impl Into<String>) -> QuoteError {
    QuoteError::new(code, message)
}

/// One quote, checked: the quoted PCR values and the logs that replayed to them.
struct Checked {
    quote: Quote,
    quoted: Vec<Bank>,
    logs: Vec<EventLog>,
    /// Bit i: the logs extend PCR i and their replay matched its quoted value. Only events on
    /// these PCRs are evidence (an event on an unquoted PCR could say anything).
    verified: u32,
}

/// Checks one attestation's quote with `ak` (its nonce against `nonce` when given), the PCR
/// values sent against `pcrDigest`, and replays the logs against the quoted values.
fn check(
    evidence: &TpmEvidence,
    ak: &PublicKey,
    nonce: Option<&[u8]>,
    required_pcr_mask: u32,
    what: &str,
) -> Result<Checked, QuoteError> {
    let with = |e: QuoteError| {
        if what.is_empty() {
            e
        } else {
            err(e.code, format!("{what}: {}", e.message))
        }
    };
    let quote = Quote::parse(&evidence.quote).map_err(with)?;
    let sig = Signature::parse(&evidence.signature).map_err(with)?;
    ak.verify(&quote.raw, &sig).map_err(with)?;
    if let Some(nonce) = nonce {
        quote.check_nonce(nonce).map_err(with)?;
    }
    // The quote must cover the required PCRs in some bank.
    let covered = quote
        .pcr_select
        .iter()
        .map(|(_, pcrs)| pcrs.iter().fold(0u32, |m, &i| m | (1u32 << (i & 31))))
        .fold(0, |a, b| a | b);
    let missing = required_pcr_mask & !covered;
    if missing != 0 {
        return Err(with(err(
            "RequiredPcrsNotQuoted",
            format!("the quote does not cover the PCRs the policy requires (missing mask {missing:#08x})"),
        )));
    }
    let pcrs = &evidence.pcrs;
    quote
        .check_pcrs(sig.hash(), &|bank, i| {
            pcrs.iter()
                .find(|(b, _)| *b == bank)
                .and_then(|(_, values)| values.iter().find(|(j, _)| *j == i))
                .map(|(_, v)| v.clone())
        })
        .map_err(with)?;
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
    Ok(Checked {
        quote,
        quoted,
        logs: Vec::new(),
        verified: 0,
    })
}

/// Replays `evidence`'s logs: each must give the quoted value of every PCR it extends.
fn replay(evidence: &TpmEvidence, checked: &mut Checked, what: &str) -> Result<(), QuoteError> {
    let with = |e: QuoteError| {
        if what.is_empty() {
            e
        } else {
            err(e.code, format!("{what}: {}", e.message))
        }
    };
    let quoted = &checked.quoted;
    let mut logs = Vec::with_capacity(evidence.logs.len());
    let mut verified = 0u32;
    for (n, raw) in evidence.logs.iter().enumerate() {
        let log = EventLog::parse(raw).map_err(|e| with(err(e.code(), format!("log {}: {e}", n + 1))))?;
        for (bank, values) in log.replay() {
            let Some((_, q)) = quoted.iter().find(|(b, _)| *b == bank) else {
                continue;
            };
            for (i, v) in values {
                let Some((_, quoted_value)) = q.iter().find(|(j, _)| *j == i) else {
                    continue;
                };
                if *quoted_value != v {
                    return Err(with(err(
                        "EventLogPcrMismatch",
                        format!(
                            "log {}: replaying the events of {} PCR {i} does not give the quoted value",
                            n + 1,
                            bank.name()
                        ),
                    )));
                }
                verified |= 1u32 << (i & 31);
            }
        }
        logs.push(log);
    }
    checked.logs = logs;
    checked.verified = verified;
    Ok(())
}

/// The `Events` of every log, in order, as MAA's `events` claim entries.
fn events_claim(logs: &[EventLog]) -> Vec<Value> {
    let mut events = Vec::new();
    for log in logs {
        if let Some(Value::Array(e)) = log.to_claim().get_mut("Events").map(Value::take) {
            events.extend(e);
        }
    }
    events
}

/// Verifies `evidence` and derives its claims.
pub fn appraise(evidence: &TpmEvidence, req: &Requirements<'_>) -> Result<Appraised, QuoteError> {
    let ak = evidence.aik_pub.clone().ok_or_else(|| {
        err(
            "AikPublicKeyMissing",
            "the attestation carries no attestation key (aik_pub)",
        )
    })?;
    let mut checked = check(evidence, &ak, Some(req.qualifying_data), req.required_pcr_mask, "")?;

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
    replay(evidence, &mut checked, "")?;

    // The pre-hibernate attestation: the same AK, the same cold boot (TPM resetCount; a
    // hibernation is a TPM Restart, which keeps it), its own PCRs and logs. Its nonce is not
    // ours: it was quoted before the challenge existed.
    let boot = match &evidence.boot {
        Some(b) => {
            let mut c = check(b, &ak, None, 0, "boot attestation")?;
            replay(b, &mut c, "boot attestation")?;
            if c.quote.reset_count != checked.quote.reset_count {
                return Err(err(
                    "BootAttestationMismatch",
                    "the boot attestation's quote is of another boot cycle (TPM resetCount differs)",
                ));
            }
            Some(c)
        }
        None => None,
    };

    // Windows measurements: only SIPA events on PCRs that replayed to quoted values count.
    let trusted = |pcr: u32| pcr < 32 && checked.verified & (1u32 << pcr) != 0;
    let all_events: Vec<crate::eventlog::Event> = checked.logs.iter().flat_map(|l| l.events.clone()).collect();
    let measured = sipa::measured(&all_events, &trusted);
    let vbs_report = match &evidence.vbs {
        Some(v) => {
            let report = VbsReport::parse(&v.report)?;
            report.verify(&v.report_signed, &sipa::vsm_keys(&measured))?;
            Some(report)
        }
        None => None,
    };

    let mut claims = ClaimSet::new();
    claims.add("aikValidated", aik_validated);
    claims.add(
        "aikPubHash",
        STANDARD.encode(digest::digest(&digest::SHA256, &ak.spki_der()).as_ref()),
    );
    claims.add("tpmVersion", 2i64);
    let events = events_claim(&checked.logs);
    let verified_events: Vec<Value> = events
        .iter()
        .filter(|e| {
            e["PcrIndex"]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .is_some_and(trusted)
        })
        .cloned()
        .collect();
    if let Some(on) = secure_boot(&verified_events) {
        claims.add("secureBootEnabled", on);
    }
    let config = BootConfiguration::from_events(&measured);
    for (name, value) in [
        ("iommuEnabled", config.iommu_enabled),
        ("bootDebuggingDisabled", config.boot_debugging_disabled),
        ("notSafeMode", config.not_safe_mode),
        ("notWinPE", config.not_win_pe),
        ("vbsEnabled", config.vbs_enabled),
    ] {
        if let Some(v) = value {
            claims.add(name, v);
        }
    }
    match &vbs_report {
        Some(r) => r.add_claims(&mut claims),
        None => {
            claims.add("vbsReportPresent", false);
            claims.add("vsmReportPresent", false);
        }
    }
    claims.add(
        "events",
        ClaimValue::Json(std::sync::Arc::new(json!({ "Events": events }))),
    );
    if let Some(b) = &boot {
        claims.add(
            "bootEvents",
            ClaimValue::Json(std::sync::Arc::new(json!({ "Events": events_claim(&b.logs) }))),
        );
    }
    claims.add(
        "pcrs",
        ClaimValue::Json(std::sync::Arc::new(pcrs_claim(&checked.quoted))),
    );
    Ok(Appraised {
        claims,
        pcrs: checked.quoted,
        vbs_report,
    })
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
