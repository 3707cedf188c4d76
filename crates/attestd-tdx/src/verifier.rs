//! The TdxVm verifier: quote → collateral lookup → DCAP verification → TCB acceptance → data
//! binding → claims.

use std::sync::Arc;
use std::time::SystemTime;

use attestd_dcap::quote::{Quote, TeeType};
use attestd_dcap::tcb::AcceptedStatuses;
use attestd_dcap::{QuoteVerifier, TrustAnchors};
use attestd_evidence::{
    Appraisal, AttestationType, BoundData, ClaimSet, DataType, Evidence, EvidenceError, Verifier, VerifyContext,
    VerifyFuture,
};
use attestd_sgx::CollateralSource;
use aws_lc_rs::digest;

use crate::claims::{self, ClaimInputs};

/// The checks of this crate; quote and collateral checks carry `attestd_dcap::ErrorCode`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The quote is an SGX quote (or its body is not a TD report).
    NotATdxQuote,
    /// Bytes after the quote's signature data are not zero padding.
    QuoteTrailingData,
    /// SHA-256 of the runtime data is not REPORTDATA\[0..32\].
    RuntimeDataMismatch,
    /// SHA-256 of the init-time data is not MRCONFIGID\[0..32\].
    InitTimeDataMismatch,
    /// Data sent with `dataType` JSON is not JSON.
    BoundDataNotJson,
}

impl ErrorCode {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotATdxQuote => "NotATdxQuote",
            ErrorCode::QuoteTrailingData => "QuoteTrailingData",
            ErrorCode::RuntimeDataMismatch => "RuntimeDataMismatch",
            ErrorCode::InitTimeDataMismatch => "InitTimeDataMismatch",
            ErrorCode::BoundDataNotJson => "BoundDataNotJson",
        }
    }

    fn error(self, message: impl Into<String>) -> EvidenceError {
        EvidenceError::invalid(self.as_str(), message)
    }
}

/// Settings of the verifier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TdxOptions {
    /// The converged TCB statuses that pass (default `UpToDate` and `SWHardeningNeeded`);
    /// others fail with `TcbStatusNotAccepted`. `Revoked` never passes.
    pub accepted_statuses: AcceptedStatuses,
}

/// Verifies TDX quotes (`/attest/TdxVm`).
pub struct TdxVerifier {
    quotes: QuoteVerifier,
    source: Arc<dyn CollateralSource>,
    options: TdxOptions,
}

impl std::fmt::Debug for TdxVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdxVerifier")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Checks that SHA-256 of `data` is `expected` and returns its JSON when sent as JSON.
fn bind(data: &BoundData, expected: &[u8], runtime: bool) -> Result<Option<serde_json::Value>, EvidenceError> {
    let (code, name, field) = if runtime {
        (ErrorCode::RuntimeDataMismatch, "runtimeData", "REPORTDATA[0..32]")
    } else {
        (ErrorCode::InitTimeDataMismatch, "initTimeData", "MRCONFIGID[0..32]")
    };
    let hash = digest::digest(&digest::SHA256, &data.bytes);
    if hash.as_ref() != expected {
        return Err(code.error(format!(
            "SHA-256 of {name} is {} but quote field {field} is {}",
            hex::encode(hash.as_ref()),
            hex::encode(expected)
        )));
    }
    match data.data_type {
        DataType::Binary => Ok(None),
        DataType::Json => serde_json::from_slice(&data.bytes)
            .map(Some)
            .map_err(|e| ErrorCode::BoundDataNotJson.error(format!("{name} has dataType JSON but is not JSON: {e}"))),
    }
}

impl TdxVerifier {
    /// A verifier trusting `anchors`, getting collateral from `source`.
    pub fn new(anchors: TrustAnchors, source: Arc<dyn CollateralSource>) -> TdxVerifier {
        TdxVerifier {
            quotes: QuoteVerifier::new(anchors),
            source,
            options: TdxOptions::default(),
        }
    }

    /// The same verifier with `options`.
    pub fn with_options(mut self, options: TdxOptions) -> TdxVerifier {
        self.options = options;
        self
    }

    /// The whole appraisal of a TDX quote at `now`, with the policy's configuration claims
    /// (`x-ms-sgx-tcbidentifier` pins a TCB evaluation data number, as for SGX).
    pub async fn appraise(
        &self,
        evidence: &Evidence,
        configuration: &ClaimSet,
        now: SystemTime,
    ) -> Result<Appraisal, EvidenceError> {
        let quote = Quote::parse(&evidence.bytes)?;
        if quote.tee_type() != TeeType::Tdx {
            return Err(ErrorCode::NotATdxQuote
                .error("the quote is an SGX quote (TEE type 0x00); send it to /attest/SgxEnclave"));
        }
        let Some(td) = quote.body().as_td().copied() else {
            return Err(ErrorCode::NotATdxQuote.error("the quote body is not a TD report"));
        };
        let tail = evidence
            .bytes
            .get(evidence.bytes.len().saturating_sub(quote.padding_len())..)
            .unwrap_or_default();
        if let Some(at) = tail.iter().position(|b| *b != 0) {
            return Err(ErrorCode::QuoteTrailingData.error(format!(
                "{} bytes follow the quote's signature data and byte {at} of them is not zero",
                tail.len()
            )));
        }
        let (verified, _, _) = attestd_sgx::appraise_quote(
            &self.quotes,
            self.source.as_ref(),
            &quote,
            self.options.accepted_statuses,
            configuration,
            now,
        )
        .await?;
        let runtime = evidence
            .runtime_data
            .as_ref()
            .map(|d| bind(d, &td.report_data()[..32], true))
            .transpose()?
            .flatten();
        let init_time = evidence
            .init_time_data
            .as_ref()
            .map(|d| bind(d, &td.mr_config_id()[..32], false))
            .transpose()?
            .flatten();
        Ok(claims::appraisal(ClaimInputs {
            report: &td,
            tee_tcb_svn2: quote.body().as_td15().map(|b| *b.tee_tcb_svn2()),
            verified: &verified,
            runtime_json: runtime,
            init_time_json: init_time,
        }))
    }
}

impl Verifier for TdxVerifier {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::TdxVm]
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
    fn bound_data_is_hashed_then_interpreted() {
        let json = BoundData {
            bytes: br#"{"a":1}"#.to_vec(),
            data_type: DataType::Json,
        };
        let expected = digest::digest(&digest::SHA256, &json.bytes).as_ref().to_vec();
        assert_eq!(bind(&json, &expected, true).unwrap(), Some(serde_json::json!({"a": 1})));
        assert_eq!(bind(&json, &[0; 32], true).unwrap_err().code, "RuntimeDataMismatch");
        assert_eq!(bind(&json, &[0; 32], false).unwrap_err().code, "InitTimeDataMismatch");
        let bad = BoundData {
            bytes: b"nope".to_vec(),
            data_type: DataType::Json,
        };
        let h = digest::digest(&digest::SHA256, &bad.bytes).as_ref().to_vec();
        assert_eq!(bind(&bad, &h, true).unwrap_err().code, "BoundDataNotJson");
    }
}
