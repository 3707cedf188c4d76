//! The SevSnpVm verifier: evidence → report and VCEK/VLEK → chain to the AMD root (cached) →
//! binding of the report to the key → report signature → runtime / init-time data → MAA claims.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use attestd_evidence::{
    Appraisal, AttestationType, BoundData, DataType, Evidence, Verifier, VerifyContext, VerifyFuture,
};
use aws_lc_rs::digest;

use crate::certs::{AmdCrl, AmdRoots, VekCache, VerifiedVek};
use crate::claims;
use crate::error::{ErrorCode, Result, SnpError};
use crate::evidence::SnpEvidence;
use crate::generation::{Generation, TcbLevels};
use crate::report::AttestationReport;

/// What a [`VcekSource`] is asked for: the key that signed `report`.
#[derive(Clone, Copy, Debug)]
pub struct VcekRequest<'a> {
    /// The report (chip id, reported TCB and signing key kind select the certificate).
    pub report: &'a AttestationReport,
    /// The generation, when the report's CPUID names it (version 3+).
    pub generation: Option<Generation>,
}

/// The future a [`VcekSource`] returns: the DER certificate.
pub type VcekFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>>> + Send + 'a>>;

/// Supplies the VCEK (or VLEK) for a report that arrived without one, e.g. from AMD's KDS.
///
/// The certificate is verified like one sent with the evidence; a source need not be trusted.
pub trait VcekSource: Send + Sync + 'static {
    /// The DER certificate of the key that signed `request.report`.
    fn vek<'a>(&'a self, request: VcekRequest<'a>) -> VcekFuture<'a>;
}

/// A source that has nothing: a report without its VCEK fails with `VcekUnavailable`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoVcekSource;

impl VcekSource for NoVcekSource {
    fn vek<'a>(&'a self, _request: VcekRequest<'a>) -> VcekFuture<'a> {
        Box::pin(async {
            Err(SnpError::new(
                ErrorCode::VcekUnavailable,
                "the evidence has no 'VcekCertChain' and no VCEK source is configured",
            ))
        })
    }
}

/// Checks beyond MAA's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnpOptions {
    /// Refuse reports whose guest policy allows debugging (MAA only reports it as
    /// `x-ms-sevsnpvm-is-debuggable`).
    pub reject_debug: bool,
}

/// A report whose signature, key and chain have been verified.
#[derive(Clone, Debug)]
pub struct VerifiedReport {
    /// The report.
    report: AttestationReport,
    /// The key that signed it, with its verified chain.
    vek: VerifiedVek,
    /// The processor generation.
    generation: Generation,
    /// REPORTED_TCB decoded with the generation's layout (equal to the key's TCB).
    reported_tcb: TcbLevels,
}

impl VerifiedReport {
    /// The report.
    pub fn report(&self) -> &AttestationReport {
        &self.report
    }

    /// The key that signed it, with its verified chain.
    pub fn vek(&self) -> &VerifiedVek {
        &self.vek
    }

    /// The processor generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// REPORTED_TCB decoded with the generation's layout (equal to the key's TCB).
    pub fn reported_tcb(&self) -> TcbLevels {
        self.reported_tcb
    }
}

/// Verifies SEV-SNP evidence for `/attest/SevSnpVm`.
pub struct SnpVerifier {
    roots: Arc<AmdRoots>,
    cache: VekCache,
    source: Arc<dyn VcekSource>,
    crls: RwLock<Vec<AmdCrl>>,
    options: SnpOptions,
}

impl std::fmt::Debug for SnpVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnpVerifier")
            .field("cached_keys", &self.cache.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SnpVerifier {
    /// A verifier trusting `roots`, asking `source` for keys that do not come with the evidence.
    pub fn new(roots: Arc<AmdRoots>, source: Arc<dyn VcekSource>) -> SnpVerifier {
        SnpVerifier {
            roots,
            cache: VekCache::default(),
            source,
            crls: RwLock::new(Vec::new()),
            options: SnpOptions::default(),
        }
    }

    /// A verifier with AMD's bundled roots that needs the VCEK in the evidence.
    pub fn with_bundled_roots() -> Result<SnpVerifier> {
        Ok(SnpVerifier::new(Arc::new(AmdRoots::bundled()?), Arc::new(NoVcekSource)))
    }

    /// The same verifier with `options`.
    pub fn with_options(mut self, options: SnpOptions) -> SnpVerifier {
        self.options = options;
        self
    }

    /// The trusted roots.
    pub fn roots(&self) -> &AmdRoots {
        &self.roots
    }

    /// The cache of verified VCEK/VLEK chains.
    pub fn cache(&self) -> &VekCache {
        &self.cache
    }

    /// Installs `crl` (already verified against the roots with [`AmdCrl::parse`]), replacing the
    /// CRL of its generation; from now on every chain of that generation is checked against it.
    pub fn set_crl(&self, crl: AmdCrl) {
        let mut crls = self.crls.write().unwrap_or_else(|e| e.into_inner());
        crls.retain(|c| c.generation() != crl.generation());
        crls.push(crl);
    }

    /// Verifies a report and its key: chain, binding and signature.
    pub async fn verify_report(&self, evidence: &SnpEvidence, now: SystemTime) -> Result<VerifiedReport> {
        let report = AttestationReport::parse(&evidence.report)?;
        // Each supplied certificate is either one of the bundled AMD CAs or the report's key.
        let mut vek_der = None;
        let mut ca_generations = Vec::new();
        for der in &evidence.certificates {
            match self.roots.generation_of_certificate(der) {
                Some(g) => ca_generations.push(g),
                None if vek_der.is_none() => vek_der = Some(der.as_slice()),
                None => {
                    return Err(SnpError::new(
                        ErrorCode::UnknownAmdCertificate,
                        "evidence field 'VcekCertChain' holds more than one certificate that is not a known AMD ASK, ASVK or ARK",
                    ));
                }
            }
        }
        let fetched;
        let vek_der = match vek_der {
            Some(der) => der,
            None => {
                let request = VcekRequest {
                    report: &report,
                    generation: report.cpuid_generation()?,
                };
                fetched = self.source.vek(request).await?;
                fetched.as_slice()
            }
        };
        let vek = {
            let crls = self.crls.read().unwrap_or_else(|e| e.into_inner());
            self.cache.verify(&self.roots, vek_der, now, &crls)?
        };
        if let Some(g) = ca_generations.iter().find(|g| **g != vek.generation()) {
            return Err(SnpError::new(
                ErrorCode::WrongGeneration,
                format!(
                    "the {} is for {} but 'VcekCertChain' holds the {g} AMD certificates",
                    vek.kind().as_str(),
                    vek.generation()
                ),
            ));
        }
        vek.check_binding(&report)?;
        vek.verify_report_signature(&report)?;
        if self.options.reject_debug && report.policy.debug_allowed() {
            return Err(SnpError::new(
                ErrorCode::DebugNotAllowed,
                "report field POLICY allows debugging (bit 19) and this verifier refuses debuggable guests",
            ));
        }
        Ok(VerifiedReport {
            generation: vek.generation(),
            reported_tcb: report.reported_tcb.levels(vek.generation()),
            report,
            vek,
        })
    }

    /// The whole appraisal of MAA SevSnpVm evidence at `now`.
    pub async fn appraise(&self, evidence: &Evidence, now: SystemTime) -> Result<Appraisal> {
        let snp = SnpEvidence::parse(&evidence.bytes)?;
        let verified = self.verify_report(&snp, now).await?;
        let runtime = evidence
            .runtime_data
            .as_ref()
            .map(|d| bind(d, &verified.report.report_data[..32], Binding::Runtime))
            .transpose()?
            .flatten();
        let init_time = evidence
            .init_time_data
            .as_ref()
            .map(|d| bind(d, &verified.report.host_data, Binding::InitTime))
            .transpose()?
            .flatten();
        Ok(claims::appraisal(&verified, runtime, init_time))
    }
}

#[derive(Clone, Copy)]
enum Binding {
    Runtime,
    InitTime,
}

/// Checks that SHA-256 of `data` is `expected` (REPORT_DATA[0..32] for runtime data, HOST_DATA
/// for init-time data, as MAA binds them) and returns its JSON when it is sent as JSON.
fn bind(data: &BoundData, expected: &[u8], binding: Binding) -> Result<Option<serde_json::Value>> {
    let (code, name, field) = match binding {
        Binding::Runtime => (ErrorCode::RuntimeDataMismatch, "runtimeData", "REPORT_DATA[0..32]"),
        Binding::InitTime => (ErrorCode::InitTimeDataMismatch, "initTimeData", "HOST_DATA"),
    };
    let hash = digest::digest(&digest::SHA256, &data.bytes);
    if hash.as_ref() != expected {
        return Err(SnpError::new(
            code,
            format!(
                "SHA-256 of {name} is {} but report field {field} is {}",
                hex::encode(hash.as_ref()),
                hex::encode(expected)
            ),
        ));
    }
    match data.data_type {
        DataType::Binary => Ok(None),
        DataType::Json => serde_json::from_slice(&data.bytes).map(Some).map_err(|e| {
            SnpError::new(
                ErrorCode::BoundDataNotJson,
                format!("{name} has dataType JSON but is not JSON: {e}"),
            )
        }),
    }
}

impl Verifier for SnpVerifier {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::SevSnpVm]
    }

    fn verify<'a>(&'a self, evidence: &'a Evidence, ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
        Box::pin(async move { self.appraise(evidence, ctx.now).await.map_err(Into::into) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sha256(b: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, b).as_ref().to_vec()
    }

    #[test]
    fn bound_data_is_hashed_then_interpreted() {
        let json = BoundData {
            bytes: br#"{"a":1}"#.to_vec(),
            data_type: DataType::Json,
        };
        let expected = sha256(&json.bytes);
        assert_eq!(
            bind(&json, &expected, Binding::Runtime).unwrap(),
            Some(serde_json::json!({"a": 1}))
        );
        let binary = BoundData {
            data_type: DataType::Binary,
            ..json.clone()
        };
        assert_eq!(bind(&binary, &expected, Binding::InitTime).unwrap(), None);
        assert_eq!(
            bind(&json, &[0u8; 32], Binding::Runtime).unwrap_err().code,
            ErrorCode::RuntimeDataMismatch
        );
        assert_eq!(
            bind(&json, &[0u8; 32], Binding::InitTime).unwrap_err().code,
            ErrorCode::InitTimeDataMismatch
        );
        let not_json = BoundData {
            bytes: b"not json".to_vec(),
            data_type: DataType::Json,
        };
        assert_eq!(
            bind(&not_json, &sha256(&not_json.bytes), Binding::Runtime)
                .unwrap_err()
                .code,
            ErrorCode::BoundDataNotJson
        );
    }

    #[tokio::test]
    async fn no_source_means_collateral_unavailable() {
        let report = AttestationReport::parse(&{
            let mut b = vec![0u8; crate::report::REPORT_LEN];
            b[0] = 2;
            b[0x34] = 1;
            b
        })
        .unwrap();
        let err = NoVcekSource
            .vek(VcekRequest {
                report: &report,
                generation: None,
            })
            .await
            .unwrap_err();
        let e: attestd_evidence::EvidenceError = err.into();
        assert_eq!(e.code, "VcekUnavailable");
        assert_eq!(e.kind, attestd_evidence::ErrorKind::CollateralUnavailable);
    }
}
