//! Opening the service's state from a resolved configuration (shared by `serve` and the CLI).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use attestd_collateral::{CollateralCache, KdsVcekSource, RateLimit};
use attestd_evidence::VerifierRegistry;
use attestd_service::{Service, ServiceConfig};
use attestd_snp::{AmdRoots, SnpVerifier};
use attestd_store::Store;

use crate::config::{CollateralConfig, StateConfig};

/// How long one collateral fetch (e.g. a VCEK from AMD's KDS) may take.
const COLLATERAL_FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The collateral cache over `store`: fetching unless the configuration says offline.
pub fn collateral_cache(store: &Store, config: &CollateralConfig) -> anyhow::Result<Arc<CollateralCache>> {
    Ok(Arc::new(if config.offline {
        CollateralCache::offline(Some(store.clone()))
    } else {
        CollateralCache::online(Some(store.clone()), COLLATERAL_FETCH_TIMEOUT)
            .context("starting the collateral cache")?
    }))
}

/// The verifiers this build ships. Each evidence type registers itself here.
pub fn verifiers(
    store: &Store,
    collateral: &Arc<CollateralCache>,
    config: &CollateralConfig,
) -> anyhow::Result<VerifierRegistry> {
    let mut registry = VerifierRegistry::new();
    // AMD SEV-SNP with the bundled ARK/ASK/ASVK of Milan, Genoa and Turin; VCEKs that reports
    // arrive without come from the KDS through the collateral cache.
    let roots = Arc::new(AmdRoots::bundled().context("loading the bundled AMD roots")?);
    let kds = KdsVcekSource::new(Arc::clone(collateral), &config.amd_kds_url, RateLimit::amd_kds());
    let snp = Arc::new(SnpVerifier::new(roots, Arc::new(kds)));
    registry.register(snp.clone());
    // SGX enclaves and Open Enclave: DCAP collateral from the store (imported with `attestd
    // collateral import`, or fetched earlier), fetched from Intel's PCS / a PCCS when configured.
    let stored = Arc::new(attestd_collateral::StoreCollateral::new(store.clone()));
    let sgx_source: Arc<dyn attestd_sgx::CollateralSource> = match &config.intel_pcs_url {
        Some(url) if !config.offline => Arc::new(attestd_collateral::PcsCollateral::new(
            stored,
            Arc::clone(collateral),
            crate::collateral_cmd::trust_anchors(config)?,
            attestd_collateral::PcsConfig::new(url, config.intel_root_ca_crl_url.as_deref()),
        )),
        _ => stored,
    };
    registry.register(Arc::new(crate::collateral_cmd::sgx_verifier(
        config,
        sgx_source.clone(),
    )?));
    // TDX quotes: the same DCAP collateral store (bundles are keyed by TEE type), roots and
    // accepted TCB statuses.
    let tdx = Arc::new(
        attestd_tdx::TdxVerifier::new(crate::collateral_cmd::trust_anchors(config)?, sgx_source).with_options(
            attestd_tdx::TdxOptions {
                accepted_statuses: config.accepted_tcb_statuses,
            },
        ),
    );
    registry.register(tdx.clone());
    // Azure CVM guests (MAA's AttestationInfo): their SEV-SNP reports and TD quotes go through
    // the same verifiers (VCEK cache, DCAP collateral, accepted TCB statuses).
    let guest = attestd_azure_guest::GuestVerifier::new(snp).with_tdx(tdx);
    registry.register(Arc::new(attestd_azure_guest::AzureGuestVerifier::new(guest)));
    Ok(registry)
}

/// Creates the data directory (owner-only) if needed.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

/// Opens the store and starts the service core.
pub async fn open_service(state: &StateConfig, public_url: String) -> anyhow::Result<Service> {
    open_service_with(state, public_url, |_| {}).await
}

/// Like [`open_service`], with a hook to adjust the service configuration (used by `serve`).
pub async fn open_service_with(
    state: &StateConfig,
    public_url: String,
    adjust: impl FnOnce(&mut ServiceConfig),
) -> anyhow::Result<Service> {
    ensure_data_dir(&state.data_dir)?;
    let store = Store::open(&state.database)
        .await
        .with_context(|| format!("opening the database {}", redact(&state.database)))?;
    let mut config = ServiceConfig::new(public_url);
    config.base_domain = state.base_domain.clone();
    config.default_token_alg = state.token_alg;
    config.master_key = state.master_key.clone();
    adjust(&mut config);
    let collateral = collateral_cache(&store, &state.collateral)?;
    let mut verifiers = verifiers(&store, &collateral, &state.collateral)?;
    // TPM (MAA's multi-round TPM protocol): AIK certificates chain to the configured roots.
    verifiers.register(Arc::new(tpm_verifier(state.tpm_aik_roots.as_deref())?));
    Ok(Service::new(config, store, verifiers).await?)
}

/// The TPM verifier, trusting the AIK/EK CA roots of the PEM bundle at `roots` (none without it:
/// then no AIK certificate validates, and only policies with `require_valid_aik_cert=false` pass).
pub fn tpm_verifier(roots: Option<&Path>) -> anyhow::Result<attestd_tpm::verifier::TpmVerifier> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut ders = Vec::new();
    if let Some(path) = roots {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&bytes) {
            let cert = cert.map_err(|e| anyhow::anyhow!("{}: not a PEM certificate bundle: {e}", path.display()))?;
            ders.push(cert.to_vec());
        }
        if ders.is_empty() {
            anyhow::bail!("{}: no certificate in the TPM AIK roots bundle", path.display());
        }
    }
    let roots = attestd_tpm::aik::AikRoots::from_der(&ders).map_err(|e| anyhow::anyhow!("TPM AIK roots: {e}"))?;
    Ok(attestd_tpm::verifier::TpmVerifier::new(Arc::new(roots)))
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://./x.db"), "sqlite://./x.db");
    }
}
