//! Azure confidential-VM guest evidence: the HCL report that Azure's paravisor (HCL) writes to
//! the vTPM, and the vTPM quote that it vouches for.
//!
//! The chain of trust, checked in this order:
//!
//! 1. [`hcl`] parses the HCL report: the hardware report (an SEV-SNP report, or a TDX TDREPORT)
//!    followed by runtime data, a JSON document with the VM's vTPM keys (`HCLAkPub`) and
//!    configuration.
//! 2. The hardware report is verified (for SEV-SNP by `attestd_snp`: VCEK chain to AMD's roots,
//!    signature, TCB binding) and its REPORT_DATA\[0..32\] must be SHA-256 of the runtime data,
//!    so the runtime data, and the attestation key in it, come from inside the CVM.
//! 3. [`vtpm`] verifies the vTPM quote: RSASSA-PKCS1-v1_5-SHA256 by `HCLAkPub`, the nonce in
//!    `extraData`, and the PCR values sent against the quote's digest.
//! 4. [`claims`] produces MAA's `azurevm` claims with the hardware report's claims under
//!    `x-ms-isolation-tee`.
#![forbid(unsafe_code)]

pub mod claims;
mod error;
pub mod hcl;
pub mod vtpm;

use std::sync::Arc;
use std::time::SystemTime;

use attestd_evidence::EvidenceError;
use attestd_snp::{SnpEvidence, SnpVerifier, VerifiedReport};

pub use error::ErrorCode;
pub use hcl::{HardwareReportType, HclReport, RuntimeData};
pub use vtpm::VtpmQuote;

/// A verified guest: its hardware report, runtime data and quoted PCRs.
#[derive(Debug)]
pub struct VerifiedGuest {
    /// The verified SEV-SNP report.
    pub snp: VerifiedReport,
    /// The runtime data the report vouches for.
    pub runtime: RuntimeData,
    /// The PCRs the quote covers, (index, SHA-256 value), ascending.
    pub pcrs: Vec<(u32, Vec<u8>)>,
}

/// Verifies Azure CVM guest evidence.
#[derive(Debug, Clone)]
pub struct GuestVerifier {
    snp: Arc<SnpVerifier>,
}

impl GuestVerifier {
    /// A verifier that checks SEV-SNP hardware reports with `snp`.
    pub fn new(snp: Arc<SnpVerifier>) -> GuestVerifier {
        GuestVerifier { snp }
    }

    /// Verifies `hcl_report` (with the VCEK and its chain in `certificates`, or fetched by the
    /// SNP verifier's source when empty) and `quote`, whose `extraData` must be `nonce`, at `now`.
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
                return Err(ErrorCode::UnsupportedHardwareReport
                    .error("the HCL report holds a TDX TDREPORT; Azure TDX guests are verified through their TD quote (/attest/TdxVm)"));
            }
        };
        let snp = self
            .snp
            .verify_report(&SnpEvidence { report, certificates }, now)
            .await?;
        hcl.check_binding(&snp.report().report_data)?;
        let pcrs = quote.verify(runtime.attestation_key()?, nonce)?;
        Ok(VerifiedGuest { snp, runtime, pcrs })
    }
}
