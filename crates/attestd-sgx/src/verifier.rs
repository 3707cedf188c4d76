//! The SgxEnclave / OpenEnclave verifier: framing → quote → collateral lookup (FMSPC, CA, TCB
//! baseline) → DCAP verification → TCB status acceptance → data binding → MAA claims.

use std::sync::Arc;
use std::time::SystemTime;

use attestd_dcap::quote::{Quote, TeeType};
use attestd_dcap::tcb::AcceptedStatuses;
use attestd_dcap::{DcapError, QuoteVerifier, TrustAnchors, Verified};
use attestd_evidence::{
    Appraisal, AttestationType, BoundData, ClaimSet, ClaimValue, DataType, ErrorKind, Evidence, EvidenceError,
    Verifier, VerifyContext, VerifyFuture,
};
use aws_lc_rs::digest;

use crate::claims::{self, ClaimInputs};
use crate::collateral::{CollateralKey, CollateralSource, SgxCollateral};
use crate::error::{ErrorCode, SgxError};
use crate::oe::{self, OeFormat};

/// The configuration claim that selects the TCB baseline (reference B.6).
pub const TCB_IDENTIFIER_CLAIM: &str = "x-ms-sgx-tcbidentifier";
/// Its default: the newest collateral available.
pub const TCB_IDENTIFIER_DEFAULT: &str = "azuredefault";

/// Settings of the verifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SgxOptions {
    /// The converged TCB statuses that pass (default `UpToDate` and `SWHardeningNeeded`);
    /// others fail with `TcbStatusNotAccepted`. `Revoked` never passes.
    pub accepted_statuses: AcceptedStatuses,
}

/// Verifies SGX quotes (`/attest/SgxEnclave`) and Open Enclave reports and evidence
/// (`/attest/OpenEnclave`).
pub struct SgxVerifier {
    quotes: QuoteVerifier,
    source: Arc<dyn CollateralSource>,
    options: SgxOptions,
}

impl std::fmt::Debug for SgxVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SgxVerifier")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The TCB baseline a policy selects: `None` for `azuredefault` (the newest collateral).
pub fn tcb_baseline(configuration: &ClaimSet) -> Result<(Option<u32>, String), SgxError> {
    let Some(value) = configuration.value(TCB_IDENTIFIER_CLAIM) else {
        return Ok((None, TCB_IDENTIFIER_DEFAULT.to_owned()));
    };
    let text = match value {
        ClaimValue::String(s) => s.to_string(),
        ClaimValue::Integer(i) => i.to_string(),
        other => {
            return Err(SgxError::new(
                ErrorCode::TcbIdentifierInvalid,
                format!("configuration claim {TCB_IDENTIFIER_CLAIM} is {other:?}, not a string"),
            ));
        }
    };
    if text.eq_ignore_ascii_case(TCB_IDENTIFIER_DEFAULT) {
        return Ok((None, text));
    }
    match text.parse::<u32>() {
        Ok(n) if !text.starts_with('+') => Ok((Some(n), text)),
        _ => Err(SgxError::new(
            ErrorCode::TcbIdentifierInvalid,
            format!(
                "configuration claim {TCB_IDENTIFIER_CLAIM} is '{text}' ('azuredefault' or a TCB evaluation data number expected)"
            ),
        )),
    }
}

fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

/// Checks that SHA-256 of `data` is `expected` and returns its JSON when sent as JSON.
fn bind(data: &BoundData, expected: &[u8], runtime: bool) -> Result<Option<serde_json::Value>, SgxError> {
    let (code, name, field) = if runtime {
        (ErrorCode::RuntimeDataMismatch, "runtimeData", "REPORTDATA[0..32]")
    } else {
        (ErrorCode::InitTimeDataMismatch, "initTimeData", "CONFIGID[0..32]")
    };
    let hash = sha256(&data.bytes);
    if hash.as_ref() != expected {
        return Err(SgxError::new(
            code,
            format!(
                "SHA-256 of {name} is {} but quote field {field} is {}",
                hex::encode(hash.as_ref()),
                hex::encode(expected)
            ),
        ));
    }
    match data.data_type {
        DataType::Binary => Ok(None),
        DataType::Json => serde_json::from_slice(&data.bytes).map(Some).map_err(|e| {
            SgxError::new(
                ErrorCode::BoundDataNotJson,
                format!("{name} has dataType JSON but is not JSON: {e}"),
            )
        }),
    }
}

/// The DCAP part every quote-based verifier shares (SGX, Open Enclave, TDX): the collateral for
/// the quote's PCK certificate (FMSPC, CA) at the TCB baseline the policy selects, the quote
/// verified against it, the baseline and the converged TCB status checked. Returns the appraisal,
/// the collateral used and the effective `x-ms-sgx-tcbidentifier`.
///
/// Every DCAP check, those of the collateral included (signatures, issuer chains, CRLs, validity
/// windows), decides whether this evidence can be trusted: the answer is MAA's 400 with the
/// check's code, not a 503 that would invite a retry of evidence that will not pass. Only a
/// missing bundle (`CollateralNotFound`, from the source) stays "unavailable".
pub async fn appraise_quote(
    quotes: &QuoteVerifier,
    source: &dyn CollateralSource,
    quote: &Quote<'_>,
    accepted: AcceptedStatuses,
    configuration: &ClaimSet,
    now: SystemTime,
) -> Result<(Verified, Arc<SgxCollateral>, String), EvidenceError> {
    let invalid = |e: DcapError| {
        let mut e = EvidenceError::from(e);
        e.kind = ErrorKind::InvalidEvidence;
        e
    };
    // The chain first: its FMSPC and CA select the collateral, so they must be Intel's.
    let pck = quotes.pck_chain(quote).map_err(invalid)?;
    let (baseline, tcb_identifier) = tcb_baseline(configuration)?;
    let key = CollateralKey {
        tee: quote.tee_type(),
        fmspc: pck.fmspc(),
        ca: pck.ca(),
        tcb_evaluation_data_number: baseline,
    };
    let bundle = source.collateral(&key, now).await?;
    let verified = quotes
        .verify_with(quote, &pck, bundle.collateral(), now)
        .map_err(invalid)?;
    if let Some(n) = baseline
        && verified.tcb_evaluation_data_number != n
    {
        return Err(SgxError::new(
            ErrorCode::TcbBaselineUnavailable,
            format!(
                "x-ms-sgx-tcbidentifier selects TCB baseline {n} but the collateral found has TCB evaluation data number {}",
                verified.tcb_evaluation_data_number
            ),
        )
        .into());
    }
    if !accepted.contains(verified.status) {
        let advisories = if verified.advisory_ids.is_empty() {
            String::new()
        } else {
            format!(" (advisories {})", verified.advisory_ids.join(", "))
        };
        return Err(DcapError::with_status(
            attestd_dcap::ErrorCode::TcbStatusNotAccepted,
            verified.status,
            format!(
                "the TCB status of the platform is {}{advisories}, which this service does not accept",
                verified.status
            ),
        )
        .into());
    }
    Ok((verified, bundle, tcb_identifier))
}

impl SgxVerifier {
    /// A verifier trusting `anchors`, getting collateral from `source`.
    pub fn new(anchors: TrustAnchors, source: Arc<dyn CollateralSource>) -> SgxVerifier {
        SgxVerifier {
            quotes: QuoteVerifier::new(anchors),
            source,
            options: SgxOptions::default(),
        }
    }

    /// The same verifier with `options`.
    pub fn with_options(mut self, options: SgxOptions) -> SgxVerifier {
        self.options = options;
        self
    }

    /// The settings.
    pub fn options(&self) -> &SgxOptions {
        &self.options
    }

    /// The whole appraisal of SgxEnclave / OpenEnclave evidence at `now`, with the policy's
    /// configuration claims (`x-ms-sgx-tcbidentifier`).
    pub async fn appraise(
        &self,
        evidence: &Evidence,
        configuration: &ClaimSet,
        now: SystemTime,
    ) -> Result<Appraisal, EvidenceError> {
        let (format, payload) = match evidence.attestation_type {
            AttestationType::SgxEnclave => (None, evidence.bytes.as_slice()),
            AttestationType::OpenEnclave => {
                let env = oe::parse_open_enclave(&evidence.bytes)?;
                (Some(env.format), env.payload)
            }
            other => {
                return Err(EvidenceError::internal(format!(
                    "the SGX verifier was given {other} evidence"
                )));
            }
        };
        let quote = Quote::parse(payload)?;
        if quote.tee_type() != TeeType::Sgx {
            return Err(SgxError::new(
                ErrorCode::NotAnSgxQuote,
                "the quote is a TDX quote (TEE type 0x81); send it to /attest/TdxVm",
            )
            .into());
        }
        let Some(report) = quote.body().as_sgx().copied() else {
            return Err(SgxError::new(ErrorCode::NotAnSgxQuote, "the quote body is not an SGX enclave report").into());
        };
        let tail = payload
            .get(payload.len().saturating_sub(quote.padding_len())..)
            .unwrap_or_default();
        let custom_claims = match format {
            Some(OeFormat::Evidence | OeFormat::HeaderedEvidence) if !tail.is_empty() => Some(tail),
            _ => {
                if let Some(at) = tail.iter().position(|b| *b != 0) {
                    return Err(SgxError::new(
                        ErrorCode::QuoteTrailingData,
                        format!(
                            "{} bytes follow the quote's signature data and byte {at} of them is not zero",
                            tail.len()
                        ),
                    )
                    .into());
                }
                None
            }
        };

        let (verified, bundle, tcb_identifier) = appraise_quote(
            &self.quotes,
            self.source.as_ref(),
            &quote,
            self.options.accepted_statuses,
            configuration,
            now,
        )
        .await?;

        if let Some(buf) = custom_claims {
            oe::parse_custom_claims(buf)?;
            let hash = sha256(buf);
            if hash.as_ref() != &report.report_data()[..32] {
                return Err(SgxError::new(
                    ErrorCode::OeCustomClaimsMismatch,
                    format!(
                        "SHA-256 of the OE custom claims is {} but quote field REPORTDATA[0..32] is {}",
                        hex::encode(hash.as_ref()),
                        hex::encode(&report.report_data()[..32])
                    ),
                )
                .into());
            }
        }
        let runtime = evidence
            .runtime_data
            .as_ref()
            .map(|d| bind(d, &report.report_data()[..32], true))
            .transpose()?
            .flatten();
        let init_time = evidence
            .init_time_data
            .as_ref()
            .map(|d| bind(d, &report.config_id()[..32], false))
            .transpose()?
            .flatten();
        let runtime_binary = evidence
            .runtime_data
            .as_ref()
            .filter(|d| d.data_type == DataType::Binary)
            .map(|d| d.bytes.as_slice());
        Ok(claims::appraisal(ClaimInputs {
            report: &report,
            verified: &verified,
            collateral: bundle.hashes().claim(&evidence.bytes),
            tcb_identifier: &tcb_identifier,
            runtime_binary,
            runtime_json: runtime,
            init_time_json: init_time,
        }))
    }
}

impl Verifier for SgxVerifier {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::SgxEnclave, AttestationType::OpenEnclave]
    }

    fn verify<'a>(&'a self, evidence: &'a Evidence, ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
        Box::pin(async move { self.appraise(evidence, ctx.configuration, ctx.now).await })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tcb_identifiers_parse() {
        let mut c = ClaimSet::new();
        assert_eq!(tcb_baseline(&c).unwrap(), (None, "azuredefault".to_owned()));
        c.add(TCB_IDENTIFIER_CLAIM, "AzureDefault");
        assert_eq!(tcb_baseline(&c).unwrap().0, None);
        let mut c = ClaimSet::new();
        c.add(TCB_IDENTIFIER_CLAIM, "17");
        assert_eq!(tcb_baseline(&c).unwrap(), (Some(17), "17".to_owned()));
        let mut c = ClaimSet::new();
        c.add(TCB_IDENTIFIER_CLAIM, 15i64);
        assert_eq!(tcb_baseline(&c).unwrap().0, Some(15));
        for bad in ["latest", "-1", "+3", ""] {
            let mut c = ClaimSet::new();
            c.add(TCB_IDENTIFIER_CLAIM, bad);
            assert_eq!(
                tcb_baseline(&c).unwrap_err().code,
                ErrorCode::TcbIdentifierInvalid,
                "{bad}"
            );
        }
        let mut c = ClaimSet::new();
        c.add(TCB_IDENTIFIER_CLAIM, true);
        assert_eq!(tcb_baseline(&c).unwrap_err().code, ErrorCode::TcbIdentifierInvalid);
    }

    #[test]
    fn bound_data_is_hashed_then_interpreted() {
        let json = BoundData {
            bytes: br#"{"a":1}"#.to_vec(),
            data_type: DataType::Json,
        };
        let expected = sha256(&json.bytes).as_ref().to_vec();
        assert_eq!(bind(&json, &expected, true).unwrap(), Some(serde_json::json!({"a": 1})));
        let binary = BoundData {
            data_type: DataType::Binary,
            ..json.clone()
        };
        assert_eq!(bind(&binary, &expected, false).unwrap(), None);
        assert_eq!(
            bind(&json, &[0; 32], true).unwrap_err().code,
            ErrorCode::RuntimeDataMismatch
        );
        assert_eq!(
            bind(&json, &[0; 32], false).unwrap_err().code,
            ErrorCode::InitTimeDataMismatch
        );
        let not_json = BoundData {
            bytes: b"nope".to_vec(),
            data_type: DataType::Json,
        };
        let h = sha256(&not_json.bytes).as_ref().to_vec();
        assert_eq!(bind(&not_json, &h, true).unwrap_err().code, ErrorCode::BoundDataNotJson);
    }
}
