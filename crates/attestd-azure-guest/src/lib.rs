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

use attestd_evidence::EvidenceError;
use attestd_snp::{SnpEvidence, SnpVerifier, VerifiedReport};

pub use attestation_info::{AttestationInfo, Isolation, TpmInfo};
pub use enc_key::RsaPublicKey;
pub use error::ErrorCode;
pub use hcl::{HardwareReportType, HclReport, RuntimeData};
pub use seal::TransportSeal;
pub use verifier::AzureGuestVerifier;
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
        let pcrs = quote.verify(runtime.attestation_key()?, Some(nonce))?;
        Ok(VerifiedGuest { snp, runtime, pcrs })
    }

    /// Verifies MAA's `AttestationInfo` at `now`: the SNP report (`IsolationInfo.Evidence.Proof`),
    /// the runtime data it hashes (`RunTimeData`), the PCR quote by `HCLAkPub` with
    /// `ClientPayload.nonce` as `extraData`, `AikPub` (if sent) equal to `HCLAkPub`, and the
    /// certification of `EncKeyPub` (if sent) by the same key.
    pub async fn verify_info(&self, info: AttestationInfo, now: SystemTime) -> Result<VerifiedInfo, EvidenceError> {
        let (proof, runtime_data) = match &info.isolation {
            Isolation::SevSnp { proof, runtime_data } => (proof, runtime_data),
            Isolation::TrustedLaunch => {
                return Err(ErrorCode::UnsupportedIsolation.error(
                    "IsolationInfo.Type TrustedLaunch needs the Azure vTPM AIK certificate roots, which this build does not ship",
                ));
            }
            Isolation::Tdx => {
                return Err(ErrorCode::UnsupportedIsolation
                    .error("IsolationInfo.Type Tdx is not verified yet; send the TD quote to /attest/TdxVm"));
            }
        };
        let evidence = SnpEvidence::parse(proof)?;
        let snp = self.snp.verify_report(&evidence, now).await?;
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, runtime_data);
        if snp.report().report_data[..32] != *hash.as_ref() {
            return Err(ErrorCode::HclBindingMismatch.error(format!(
                "SHA-256 of IsolationInfo.Evidence.RunTimeData is {} but the SNP report's REPORT_DATA[0..32] is {}",
                hex::encode(hash.as_ref()),
                hex::encode(&snp.report().report_data[..32])
            )));
        }
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
            guest: VerifiedGuest { snp, runtime, pcrs },
            info,
            enc_key,
            boot_claims,
        })
    }
}
