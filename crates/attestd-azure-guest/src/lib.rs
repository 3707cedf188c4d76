//! Azure confidential-VM guest evidence: the HCL report that Azure's paravisor (HCL) writes to
//! the vTPM, and the vTPM quote that it vouches for.
//!
//! The chain of trust, checked in this order:
//!
//! 1. [`hcl`] parses the HCL report: the hardware report (an SEV-SNP report, or a TDX TDREPORT)
//!    followed by runtime data, a JSON document with the VM's vTPM keys (`HCLAkPub`) and
//!    configuration.
//! 2. The hardware report is verified (for SEV-SNP by `attestd_snp`: VCEK chain to AMD's roots,
//!    signature, TCB binding; for TDX the TD quote made of the TDREPORT, by `attestd_tdx`: DCAP
//!    signatures, PCK chain, collateral, accepted TCB status) and its REPORT_DATA\[0..32\] must be
//!    SHA-256 of the runtime data, so the runtime data, and the attestation key in it, come from
//!    inside the CVM.
//! 3. [`vtpm`] verifies the vTPM quote: RSASSA-PKCS1-v1_5-SHA256 by `HCLAkPub`, the nonce in
//!    `extraData`, and the PCR values sent against the quote's digest.
//! 4. [`claims`] produces MAA's `azurevm` claims with the hardware report's claims under
//!    `x-ms-isolation-tee` (`sevsnpvm` or `tdxvm`).
#![forbid(unsafe_code)]

pub mod attestation_info;
pub mod claims;
mod enc_key;
mod error;
pub mod hcl;
pub mod seal;
pub mod tcglog;
mod verifier;
pub mod vtpm;

use std::sync::Arc;
use std::time::SystemTime;

use std::collections::BTreeMap;

use attestd_evidence::{AttestationType, ClaimSet, Evidence, EvidenceError};
use attestd_snp::{SnpEvidence, SnpVerifier, VerifiedReport};
use attestd_tdx::TdxVerifier;

pub use attestation_info::{AttestationInfo, Isolation, TpmInfo};
pub use enc_key::RsaPublicKey;
pub use error::ErrorCode;
pub use hcl::{HardwareReportType, HclReport, RuntimeData};
pub use seal::TransportSeal;
pub use verifier::AzureGuestVerifier;
pub use vtpm::VtpmQuote;

/// The verified hardware evidence of a guest.
#[derive(Debug)]
pub enum HardwareEvidence {
    /// An SEV-SNP CVM: its verified SNP report.
    Snp(Box<VerifiedReport>),
    /// A TDX CVM: its verified TD quote.
    Tdx(Box<VerifiedTd>),
}

/// A verified TD quote of a TDX CVM.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedTd {
    /// The `tdx_*` claims (and `attester_tcb_status`, …) that `attestd_tdx` makes of the quote.
    pub claims: BTreeMap<String, serde_json::Value>,
    /// MRTD: the TD's initial (firmware) measurement.
    pub mr_td: [u8; 48],
    /// RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

/// A verified guest: its hardware report, runtime data and quoted PCRs.
#[derive(Debug)]
pub struct VerifiedGuest {
    /// The verified hardware evidence (SEV-SNP report or TD quote).
    pub hardware: HardwareEvidence,
    /// The runtime data the report vouches for.
    pub runtime: RuntimeData,
    /// The PCRs the quote covers, (index, SHA-256 value), ascending.
    pub pcrs: Vec<(u32, Vec<u8>)>,
}

/// A verified `AttestationInfo` (MAA's `/attest/AzureGuest` document).
#[derive(Debug)]
pub struct VerifiedInfo {
    /// The verified hardware report, runtime data and PCRs.
    pub guest: VerifiedGuest,
    /// The document.
    pub info: AttestationInfo,
    /// The ephemeral encryption key, certified by the attestation key, if one was sent.
    pub enc_key: Option<RsaPublicKey>,
    /// MAA's boot-configuration claims read from `TcgLogs` after it replayed to the quoted PCRs
    /// (see [`tcglog`]); empty without a log.
    pub boot_claims: Vec<(&'static str, serde_json::Value)>,
}

/// Verifies Azure CVM guest evidence.
#[derive(Debug, Clone)]
pub struct GuestVerifier {
    snp: Arc<SnpVerifier>,
    tdx: Option<Arc<TdxVerifier>>,
}

/// Checks that SHA-256 of the runtime data is `report_data[0..32]` (`HclBindingMismatch`).
fn check_runtime_binding(runtime_data: &[u8], report_data: &[u8], report: &str) -> Result<(), EvidenceError> {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, runtime_data);
    if report_data.get(..32) != Some(hash.as_ref()) {
        return Err(ErrorCode::HclBindingMismatch.error(format!(
            "SHA-256 of IsolationInfo.Evidence.RunTimeData is {} but the {report}[0..32] is {}",
            hex::encode(hash.as_ref()),
            hex::encode(report_data.get(..32).unwrap_or_default())
        )));
    }
    Ok(())
}

impl GuestVerifier {
    /// A verifier that checks SEV-SNP hardware reports with `snp`; TDX guests are refused
    /// (`UnsupportedIsolation`) until [`GuestVerifier::with_tdx`] gives it a TD quote verifier.
    pub fn new(snp: Arc<SnpVerifier>) -> GuestVerifier {
        GuestVerifier { snp, tdx: None }
    }

    /// The same verifier checking TDX guests' TD quotes with `tdx` (its collateral source and
    /// accepted TCB statuses, as for `/attest/TdxVm`).
    pub fn with_tdx(mut self, tdx: Arc<TdxVerifier>) -> GuestVerifier {
        self.tdx = Some(tdx);
        self
    }

    /// Verifies `hcl_report` (with the VCEK and its chain in `certificates`, or fetched by the
    /// SNP verifier's source when empty) and `quote`, whose `extraData` must be `nonce`, at `now`.
    /// A TDX HCL report alone proves nothing remotely (its TDREPORT is only MAC'd by the CPU)
    /// and is refused (`UnsupportedHardwareReport`); TDX guests send their TD quote in an
    /// `AttestationInfo` ([`GuestVerifier::verify_info`]).
    pub async fn verify(
        &self,
        hcl_report: &[u8],
        quote: &VtpmQuote,
        certificates: Vec<Vec<u8>>,
        nonce: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedGuest, EvidenceError> {
        let hcl = HclReport::parse(hcl_report)?;
        let runtime = hcl.runtime_data()?;
        let report = match hcl.report_type() {
            HardwareReportType::Snp => hcl.hardware_report().to_vec(),
            HardwareReportType::Tdx => {
                return Err(ErrorCode::UnsupportedHardwareReport.error(
                    "the HCL report holds a TDX TDREPORT, which only the CPU can check; send the TD quote made of it in an AttestationInfo (IsolationInfo.Type Tdx)",
                ));
            }
        };
        let snp = self
            .snp
            .verify_report(&SnpEvidence { report, certificates }, now)
            .await?;
        hcl.check_binding(&snp.report().report_data)?;
        let pcrs = quote.verify(runtime.attestation_key()?, Some(nonce))?;
        Ok(VerifiedGuest {
            hardware: HardwareEvidence::Snp(Box::new(snp)),
            runtime,
            pcrs,
        })
    }

    /// [`GuestVerifier::verify_info_with`] without configuration claims.
    pub async fn verify_info(&self, info: AttestationInfo, now: SystemTime) -> Result<VerifiedInfo, EvidenceError> {
        self.verify_info_with(info, &ClaimSet::new(), now).await
    }

    /// Verifies MAA's `AttestationInfo` at `now`: the hardware evidence
    /// (`IsolationInfo.Evidence.Proof`: an SNP report with its VCEK chain, or a TD quote
    /// appraised with the policy's `configuration` claims), the runtime data it hashes
    /// (`RunTimeData`), the PCR quote by `HCLAkPub` with `ClientPayload.nonce` as `extraData`,
    /// `AikPub` (if sent) equal to `HCLAkPub`, and the certification of `EncKeyPub` (if sent)
    /// by the same key.
    pub async fn verify_info_with(
        &self,
        info: AttestationInfo,
        configuration: &ClaimSet,
        now: SystemTime,
    ) -> Result<VerifiedInfo, EvidenceError> {
        let (hardware, runtime_data) = match &info.isolation {
            Isolation::SevSnp { proof, runtime_data } => {
                let evidence = SnpEvidence::parse(proof)?;
                let snp = self.snp.verify_report(&evidence, now).await?;
                check_runtime_binding(runtime_data, &snp.report().report_data, "SNP report's REPORT_DATA")?;
                (HardwareEvidence::Snp(Box::new(snp)), runtime_data)
            }
            Isolation::Tdx {
                proof,
                runtime_data,
                hcl_report,
            } => {
                let td = self.verify_td_quote(proof, configuration, now).await?;
                check_runtime_binding(runtime_data, &td.report_data, "TD quote's REPORTDATA")?;
                if let Some(hcl) = hcl_report {
                    check_hcl_td_report(hcl, &td, runtime_data)?;
                }
                (HardwareEvidence::Tdx(Box::new(td)), runtime_data)
            }
            Isolation::TrustedLaunch => {
                return Err(ErrorCode::UnsupportedIsolation.error(
                    "IsolationInfo.Type TrustedLaunch needs the Azure vTPM AIK certificate roots, which this build does not ship",
                ));
            }
        };
        let runtime = RuntimeData::parse(runtime_data)?;
        let (n, e) = runtime.attestation_key()?;
        if let Some(aik) = &info.tpm.aik_pub {
            let aik = enc_key::rsa_key(&enc_key::tpmt_public(aik, "TpmInfo.AikPub")?, "TpmInfo.AikPub")
                .map_err(|_| ErrorCode::AikMismatch.error("TpmInfo.AikPub is not an RSA TPM2B_PUBLIC"))?;
            if aik.n != n || aik.e != e {
                return Err(ErrorCode::AikMismatch.error("TpmInfo.AikPub is not the HCL runtime data's HCLAkPub"));
            }
        }
        let mut pcr_values = vec![Vec::new(); 24];
        for (i, v) in &info.tpm.pcrs {
            if let Some(slot) = usize::try_from(*i).ok().and_then(|i| pcr_values.get_mut(i)) {
                *slot = v.clone();
            }
        }
        let quote = VtpmQuote {
            message: info.tpm.pcr_quote.clone(),
            signature: info.tpm.pcr_signature.clone(),
            pcrs: pcr_values,
        };
        let nonce = info.nonce()?;
        let pcrs = quote.verify((n.clone(), e.clone()), nonce.as_deref())?;
        let enc_key = match (
            &info.tpm.enc_key_pub,
            &info.tpm.enc_key_certify_info,
            &info.tpm.enc_key_certify_info_signature,
        ) {
            (None, None, None) => None,
            (Some(key), Some(certify), Some(sig)) => Some(enc_key::certified_key(
                &RsaPublicKey { n, e, spki: Vec::new() },
                key,
                certify,
                sig,
            )?),
            _ => {
                return Err(ErrorCode::EncKeyCertificationInvalid.error(
                    "TpmInfo needs all of EncKeyPub, EncKeyCertifyInfo and EncKeyCertifyInfoSignature, or none",
                ));
            }
        };
        let boot_claims = match &info.tcg_logs {
            Some(log) => tcglog::boot_claims(log, &pcrs)?,
            None => Vec::new(),
        };
        Ok(VerifiedInfo {
            guest: VerifiedGuest {
                hardware,
                runtime,
                pcrs,
            },
            info,
            enc_key,
            boot_claims,
        })
    }

    /// The TD quote through the `/attest/TdxVm` pipeline (DCAP signatures, PCK chain,
    /// collateral, TCB status); its runtime data binding is checked by the caller, with this
    /// crate's code.
    async fn verify_td_quote(
        &self,
        quote: &[u8],
        configuration: &ClaimSet,
        now: SystemTime,
    ) -> Result<VerifiedTd, EvidenceError> {
        let tdx = self.tdx.as_ref().ok_or_else(|| {
            ErrorCode::UnsupportedIsolation
                .error("IsolationInfo.Type Tdx: this verifier has no TDX quote verifier (collateral source)")
        })?;
        let evidence = Evidence {
            attestation_type: AttestationType::TdxVm,
            bytes: quote.to_vec(),
            runtime_data: None,
            init_time_data: None,
        };
        let appraisal = tdx.appraise(&evidence, configuration, now).await?;
        // The appraisal succeeded, so this is a well-formed TD quote; parse it again for the raw
        // registers the checks below compare.
        let parsed = attestd_dcap::quote::Quote::parse(quote)?;
        let report = parsed.body().as_td().ok_or_else(|| {
            EvidenceError::invalid(
                attestd_tdx::ErrorCode::NotATdxQuote.as_str(),
                "IsolationInfo.Evidence.Proof: the quote body is not a TD report",
            )
        })?;
        Ok(VerifiedTd {
            claims: appraisal.token_claims,
            mr_td: *report.mr_td(),
            rtmr: *report.rtmr(),
            report_data: *report.report_data(),
        })
    }
}

/// The HCL report sent beside a TD quote must be the one the quote was made of: a TDX HCL
/// report whose TDREPORT has the quote's REPORTDATA, MRTD and RTMRs, carrying `runtime_data`.
fn check_hcl_td_report(hcl_report: &[u8], td: &VerifiedTd, runtime_data: &[u8]) -> Result<(), EvidenceError> {
    let hcl = HclReport::parse(hcl_report)?;
    let mismatch = |what: &str| {
        ErrorCode::HclTdReportMismatch.error(format!(
            "IsolationInfo.Evidence.HclReport: {what} is not the TD quote's (IsolationInfo.Evidence.Proof)"
        ))
    };
    let Some((mr_td, rtmr)) = hcl.td_measurements() else {
        return Err(ErrorCode::HclTdReportMismatch
            .error("IsolationInfo.Evidence.HclReport holds an SEV-SNP report, not the TDX TDREPORT of the TD quote"));
    };
    if hcl.report_data() != td.report_data.as_slice() {
        return Err(mismatch("the TDREPORT's REPORTDATA"));
    }
    if mr_td != td.mr_td.as_slice() {
        return Err(mismatch("the TDREPORT's MRTD"));
    }
    if rtmr != td.rtmr.as_flattened() {
        return Err(mismatch("the TDREPORT's RTMR0..3"));
    }
    if hcl.variable_data() != runtime_data {
        return Err(ErrorCode::HclTdReportMismatch.error(
            "IsolationInfo.Evidence.HclReport carries other runtime data than IsolationInfo.Evidence.RunTimeData",
        ));
    }
    Ok(())
}
