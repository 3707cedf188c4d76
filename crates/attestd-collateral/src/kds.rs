//! VCEKs from AMD's Key Distribution Service (or a KDS-compatible mirror), for SEV-SNP reports
//! that arrive without their certificate.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use attestd_snp::report::SigningKey;
use attestd_snp::{AttestationReport, ErrorCode, Generation, SnpError, VcekFuture, VcekRequest, VcekSource};

use crate::{CollateralCache, CollateralError, RateLimit};

/// AMD's public KDS.
pub const AMD_KDS: &str = "https://kdsintf.amd.com";

/// Fetches VCEKs by chip ID and reported TCB, through a [`CollateralCache`].
#[derive(Debug)]
pub struct KdsVcekSource {
    cache: Arc<CollateralCache>,
    base_url: String,
    limit: RateLimit,
}

impl KdsVcekSource {
    /// A source asking `base_url` (e.g. [`AMD_KDS`]) at most as fast as `limit` allows.
    pub fn new(cache: Arc<CollateralCache>, base_url: &str, limit: RateLimit) -> KdsVcekSource {
        KdsVcekSource {
            cache,
            base_url: base_url.trim_end_matches('/').to_owned(),
            limit,
        }
    }

    async fn fetch(&self, request: VcekRequest<'_>) -> Result<Vec<u8>, SnpError> {
        let report = request.report;
        match report.key_info.signing_key {
            SigningKey::Vcek => {}
            SigningKey::Vlek => {
                return Err(SnpError::new(
                    ErrorCode::VcekUnavailable,
                    "the report is signed with a VLEK, which AMD's KDS does not publish: send it in 'VcekCertChain'",
                ));
            }
            SigningKey::None => {
                return Err(SnpError::new(ErrorCode::ReportNotSigned, "the report is not signed"));
            }
        }
        if report.key_info.mask_chip_key || report.chip_id.iter().all(|b| *b == 0) {
            return Err(SnpError::new(
                ErrorCode::VcekUnavailable,
                "the report's CHIP_ID is masked, so its VCEK cannot be looked up: send it in 'VcekCertChain'",
            ));
        }
        // A version 2 report does not name its processor; Turin needs CPUID (version 3+).
        let candidates: &[Generation] = match &request.generation {
            Some(g) => std::slice::from_ref(g),
            None => &[Generation::Milan, Generation::Genoa],
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut last = None;
        for g in candidates {
            let key = vcek_key(*g, report);
            let url = vcek_url(&self.base_url, *g, report);
            match self.cache.get_or_fetch(&key, &url, &self.limit, now, |_| None).await {
                Ok(cached) => return Ok(cached.body.to_vec()),
                Err(e @ CollateralError::NotFound { .. }) => last = Some(e),
                Err(e) => return Err(unavailable(&e)),
            }
        }
        Err(last.map_or_else(
            || SnpError::new(ErrorCode::VcekUnavailable, "no processor generation to look up"),
            |e| unavailable(&e),
        ))
    }
}

fn unavailable(e: &CollateralError) -> SnpError {
    SnpError::new(
        ErrorCode::VcekUnavailable,
        format!("the report's VCEK is unavailable: {e}"),
    )
}

impl VcekSource for KdsVcekSource {
    fn vek<'a>(&'a self, request: VcekRequest<'a>) -> VcekFuture<'a> {
        Box::pin(self.fetch(request))
    }
}

/// The cache key of a report's VCEK: generation, hwID and the reported TCB.
pub fn vcek_key(g: Generation, report: &AttestationReport) -> String {
    format!(
        "amd/vcek/{g}/{}/{:016x}",
        hw_id(g, report),
        report.reported_tcb.as_u64()
    )
}

/// The KDS URL of a report's VCEK (AMD's VCEK specification: `/vcek/v1/{product}/{hwID}` with the
/// reported TCB's security patch levels as decimal query parameters).
pub fn vcek_url(base_url: &str, g: Generation, report: &AttestationReport) -> String {
    let tcb = report.reported_tcb.levels(g);
    let mut query = String::new();
    if let Some(fmc) = tcb.fmc {
        query.push_str(&format!("fmcSPL={fmc:02}&"));
    }
    query.push_str(&format!(
        "blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
        tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode
    ));
    format!(
        "{}/vcek/v1/{g}/{}?{query}",
        base_url.trim_end_matches('/'),
        hw_id(g, report)
    )
}

fn hw_id(g: Generation, report: &AttestationReport) -> String {
    let len = g.hw_id_len().min(report.chip_id.len());
    hex::encode(report.chip_id.get(..len).unwrap_or_default())
}
