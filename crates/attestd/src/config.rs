//! Configuration: a TOML file, `ATTESTD_*` environment variables and flags, in rising precedence.
//!
//! clap already lets a flag override its environment variable; values neither gives come from the
//! file, then from the defaults of the contract.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use attestd_service::MasterKey;
use attestd_token::Algorithm;
use clap::Args;
use serde::Deserialize;

/// The defaults of the contract.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// Where state lives when nothing else is configured.
pub const DEFAULT_DATA_DIR: &str = "./attestd-data";

/// Options shared by every command that opens the service's state.
#[derive(Args, Debug, Clone, Default)]
pub struct StateArgs {
    /// TOML configuration file.
    #[arg(long, env = "ATTESTD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and generated certificates [default: ./attestd-data].
    #[arg(long, env = "ATTESTD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL instead of the embedded SQLite file, e.g. postgres://user@host/db.
    #[arg(long, env = "ATTESTD_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Public base URL, the default provider's token issuer [default: `https://localhost:PORT`].
    #[arg(long, env = "ATTESTD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Serve provider NAME also at `NAME.DOMAIN` (Host header), with that as its issuer.
    #[arg(long, env = "ATTESTD_BASE_DOMAIN", value_name = "DOMAIN")]
    pub base_domain: Option<String>,
    /// File with a base64 32-byte key that seals private keys at rest (or ATTESTD_MASTER_KEY).
    #[arg(long, env = "ATTESTD_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Token algorithm of the default provider and of new providers: RS256, PS256, ES256, ES384.
    #[arg(long, env = "ATTESTD_TOKEN_ALG", value_name = "ALG")]
    pub token_alg: Option<String>,
    /// AMD KDS-compatible base URL for the VCEKs of SEV-SNP reports sent without one
    /// [default: https://kdsintf.amd.com].
    #[arg(long, env = "ATTESTD_AMD_KDS_URL", value_name = "URL")]
    pub amd_kds_url: Option<String>,
    /// Intel PCS v4 or PCCS base URL from which SGX / TDX DCAP collateral (TCB info, QE identity,
    /// CRLs) is fetched when the store has none or it nears its nextUpdate, e.g.
    /// https://api.trustedservices.intel.com [default: none, imported collateral only].
    #[arg(long, env = "ATTESTD_INTEL_PCS_URL", value_name = "URL")]
    pub intel_pcs_url: Option<String>,
    /// URL of the Intel SGX Root CA CRL [default: <intel-pcs-url>/sgx/certification/v4/rootcacrl,
    /// as a PCCS serves it; for Intel's PCS use
    /// https://certificates.trustedservices.intel.com/IntelSGXRootCA.der].
    #[arg(long, env = "ATTESTD_INTEL_ROOT_CA_CRL_URL", value_name = "URL")]
    pub intel_root_ca_crl_url: Option<String>,
    /// Never fetch collateral over the network: only what the store holds (fetched earlier or
    /// imported) is used.
    #[arg(long, env = "ATTESTD_OFFLINE")]
    pub offline: bool,
    /// Converged TCB statuses of SGX platforms that pass, comma-separated
    /// [default: UpToDate,SWHardeningNeeded]. Revoked never passes.
    #[arg(long, env = "ATTESTD_ACCEPTED_TCB_STATUSES", value_name = "LIST")]
    pub accepted_tcb_statuses: Option<String>,
    /// INSECURE, for tests only: trust this certificate (PEM or DER) as the SGX root instead of
    /// Intel's, so that quotes and collateral it signs are accepted.
    #[arg(long, env = "ATTESTD_INSECURE_TEST_SGX_ROOT", value_name = "FILE")]
    pub insecure_test_sgx_root: Option<PathBuf>,
    /// PEM bundle of the CA roots TPM attestation-key (AIK/EK) certificates must chain to
    /// (TPM vendors, a cloud's vTPM CA, an organisation's AIK CA). Without it no AIK
    /// certificate validates.
    #[arg(long, env = "ATTESTD_TPM_AIK_ROOTS", value_name = "FILE")]
    pub tpm_aik_roots: Option<PathBuf>,
}

/// Options of `attestd serve`.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long, env = "ATTESTD_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Serve plain HTTP instead of HTTPS (only behind a TLS-terminating proxy).
    #[arg(long, env = "ATTESTD_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// PEM certificate chain for TLS instead of the generated self-signed one.
    #[arg(long, env = "ATTESTD_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "ATTESTD_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, env = "ATTESTD_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Request deadline in seconds [default: 30].
    #[arg(long, env = "ATTESTD_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "ATTESTD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// The admin API's bearer token; without it one is made on first start and written to
    /// <data-dir>/admin-token.
    #[arg(long, env = "ATTESTD_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Days audit entries are kept [default: 90].
    #[arg(long, env = "ATTESTD_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u64>,
    /// Seconds between checks for providers changed by other nodes [default: 2].
    #[arg(long, env = "ATTESTD_REFRESH_INTERVAL", value_name = "SECONDS")]
    pub refresh_interval: Option<u64>,
    /// Threads serving requests [default, or 0: the CPUs this process may use]. With 1 the server runs
    /// a single-threaded runtime. Command line or environment only: the runtime starts before
    /// the configuration file is read.
    #[arg(long, env = "ATTESTD_WORKER_THREADS", value_name = "N")]
    pub worker_threads: Option<usize>,
}

/// The configuration file. Every key is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    public_url: Option<String>,
    base_domain: Option<String>,
    insecure_http: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    token_alg: Option<String>,
    max_body_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    log_format: Option<String>,
    admin_token: Option<String>,
    audit_retention_days: Option<u64>,
    refresh_interval_secs: Option<u64>,
    amd_kds_url: Option<String>,
    intel_pcs_url: Option<String>,
    intel_root_ca_crl_url: Option<String>,
    offline: Option<bool>,
    accepted_tcb_statuses: Option<String>,
    insecure_test_sgx_root: Option<PathBuf>,
    tpm_aik_roots: Option<PathBuf>,
}

/// Where the state lives and how the service names itself.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://<data_dir>/attestd.db` by default).
    pub database: String,
    /// Explicit public URL, if configured.
    pub public_url: Option<String>,
    /// Base domain for host-based tenant routing.
    pub base_domain: Option<String>,
    /// Master key for sealing private keys.
    pub master_key: Option<MasterKey>,
    /// Default token algorithm.
    pub token_alg: Algorithm,
    /// Where collateral comes from.
    pub collateral: CollateralConfig,
    /// PEM bundle of trusted TPM AIK/EK certificate roots (`--tpm-aik-roots`).
    pub tpm_aik_roots: Option<PathBuf>,
}

/// Where verifiers get collateral that evidence does not carry.
#[derive(Debug, Clone)]
pub struct CollateralConfig {
    /// AMD KDS-compatible base URL (VCEKs).
    pub amd_kds_url: String,
    /// Intel PCS v4 / PCCS base URL for DCAP collateral; `None`: imported collateral only.
    pub intel_pcs_url: Option<String>,
    /// The Intel SGX Root CA CRL URL; `None`: the PCCS path under `intel_pcs_url`.
    pub intel_root_ca_crl_url: Option<String>,
    /// Never fetch: serve only stored collateral.
    pub offline: bool,
    /// The SGX TCB statuses that pass.
    pub accepted_tcb_statuses: attestd_dcap::tcb::AcceptedStatuses,
    /// A test root trusted instead of Intel's SGX root (insecure; tests only).
    pub insecure_test_sgx_root: Option<PathBuf>,
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// State and naming.
    pub state: StateConfig,
    /// Listen address.
    pub listen: SocketAddr,
    /// Plain HTTP.
    pub insecure_http: bool,
    /// Configured TLS files (else self-signed in the data dir).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Body limit.
    pub max_body_bytes: usize,
    /// Request deadline.
    pub request_timeout: Duration,
    /// `json` logs instead of text.
    pub json_logs: bool,
    /// Configured admin token.
    pub admin_token: Option<String>,
    /// Audit retention.
    pub audit_retention: Duration,
    /// Provider refresh interval.
    pub refresh_interval: Duration,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn master_key(file: Option<&Path>) -> anyhow::Result<Option<MasterKey>> {
    if let Ok(text) = std::env::var("ATTESTD_MASTER_KEY") {
        return Ok(Some(MasterKey::from_base64(&text).context("ATTESTD_MASTER_KEY")?));
    }
    match file {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(Some(
                MasterKey::from_base64(&text).with_context(|| format!("master key {}", path.display()))?,
            ))
        }
    }
}

fn state_config(args: &StateArgs, file: &FileConfig) -> anyhow::Result<StateConfig> {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let database = args
        .database
        .clone()
        .or_else(|| file.database.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("attestd.db").display()));
    let token_alg = args
        .token_alg
        .clone()
        .or_else(|| file.token_alg.clone())
        .map(|s| s.parse::<Algorithm>())
        .transpose()?
        .unwrap_or(Algorithm::RS256);
    let public_url = args.public_url.clone().or_else(|| file.public_url.clone());
    if let Some(url) = &public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        bail!("the public URL must start with https:// or http://, not '{url}'");
    }
    let key_file = args.master_key_file.clone().or_else(|| file.master_key_file.clone());
    let amd_kds_url = args
        .amd_kds_url
        .clone()
        .or_else(|| file.amd_kds_url.clone())
        .unwrap_or_else(|| attestd_collateral::AMD_KDS.to_owned());
    if !(amd_kds_url.starts_with("https://") || amd_kds_url.starts_with("http://")) {
        bail!("the AMD KDS URL must start with https:// or http://, not '{amd_kds_url}'");
    }
    let http_url = |what: &str, url: Option<String>| -> anyhow::Result<Option<String>> {
        match url {
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                bail!("the {what} must start with https:// or http://, not '{u}'")
            }
            u => Ok(u),
        }
    };
    let intel_pcs_url = http_url(
        "Intel PCS URL",
        args.intel_pcs_url.clone().or_else(|| file.intel_pcs_url.clone()),
    )?;
    let intel_root_ca_crl_url = http_url(
        "Intel Root CA CRL URL",
        args.intel_root_ca_crl_url
            .clone()
            .or_else(|| file.intel_root_ca_crl_url.clone()),
    )?;
    let collateral = CollateralConfig {
        amd_kds_url,
        intel_pcs_url,
        intel_root_ca_crl_url,
        offline: args.offline || file.offline.unwrap_or(false),
        accepted_tcb_statuses: args
            .accepted_tcb_statuses
            .as_deref()
            .or(file.accepted_tcb_statuses.as_deref())
            .map(crate::verify_cmd::parse_statuses)
            .transpose()?
            .unwrap_or_default(),
        insecure_test_sgx_root: args
            .insecure_test_sgx_root
            .clone()
            .or_else(|| file.insecure_test_sgx_root.clone()),
    };
    Ok(StateConfig {
        data_dir,
        database,
        public_url,
        base_domain: args.base_domain.clone().or_else(|| file.base_domain.clone()),
        master_key: master_key(key_file.as_deref())?,
        token_alg,
        collateral,
        tpm_aik_roots: args.tpm_aik_roots.clone().or_else(|| file.tpm_aik_roots.clone()),
    })
}

/// Resolves the configuration of commands that only open the state.
pub fn resolve_state(args: &StateArgs) -> anyhow::Result<StateConfig> {
    let file = read_file(args.config.as_deref())?;
    state_config(args, &file)
}

/// Resolves the configuration of `serve`.
pub fn resolve_serve(state: &StateArgs, serve: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let file = read_file(state.config.as_deref())?;
    let listen_text = serve
        .listen
        .clone()
        .or_else(|| file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text
        .parse()
        .with_context(|| format!("--listen '{listen_text}' is not ADDR:PORT"))?;
    let tls = match (
        serve.tls_cert.clone().or_else(|| file.tls_cert.clone()),
        serve.tls_key.clone().or_else(|| file.tls_key.clone()),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("a TLS certificate needs its key and the other way round (tls_cert, tls_key)"),
    };
    let log_format = serve
        .log_format
        .clone()
        .or_else(|| file.log_format.clone())
        .unwrap_or_else(|| "text".to_owned());
    if log_format != "text" && log_format != "json" {
        bail!("log format must be 'text' or 'json', not '{log_format}'");
    }
    Ok(ServeConfig {
        state: state_config(state, &file)?,
        listen,
        insecure_http: serve.insecure_http || file.insecure_http.unwrap_or(false),
        tls,
        max_body_bytes: serve.max_body_bytes.or(file.max_body_bytes).unwrap_or(1024 * 1024),
        request_timeout: Duration::from_secs(serve.request_timeout.or(file.request_timeout_secs).unwrap_or(30)),
        json_logs: log_format == "json",
        admin_token: serve.admin_token.clone().or_else(|| file.admin_token.clone()),
        audit_retention: Duration::from_secs(
            serve.audit_retention_days.or(file.audit_retention_days).unwrap_or(90) * 24 * 3600,
        ),
        refresh_interval: Duration::from_secs(
            serve
                .refresh_interval
                .or(file.refresh_interval_secs)
                .unwrap_or(2)
                .max(1),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("attestd.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/attestd\"\ntoken_alg = \"ES256\"\n",
        )?;
        let state = StateArgs {
            config: Some(path.clone()),
            data_dir: Some(PathBuf::from("/tmp/x")),
            ..StateArgs::default()
        };
        let c = resolve_serve(&state, &ServeArgs::default())?;
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.state.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.state.database, "sqlite:///tmp/x/attestd.db");
        assert_eq!(c.state.token_alg, Algorithm::ES256);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.state.collateral.intel_pcs_url, None, "no PCS unless configured");
        std::fs::write(
            &path,
            "intel_pcs_url = \"https://pccs.example:8081\"\nintel_root_ca_crl_url = \"https://crl.example/root.der\"\n",
        )?;
        let c = resolve_serve(&state, &ServeArgs::default())?;
        assert_eq!(
            c.state.collateral.intel_pcs_url.as_deref(),
            Some("https://pccs.example:8081")
        );
        assert_eq!(
            c.state.collateral.intel_root_ca_crl_url.as_deref(),
            Some("https://crl.example/root.der")
        );
        let flagged = StateArgs {
            intel_pcs_url: Some("https://pcs.example".into()),
            ..state.clone()
        };
        let c = resolve_serve(&flagged, &ServeArgs::default())?;
        assert_eq!(c.state.collateral.intel_pcs_url.as_deref(), Some("https://pcs.example"));
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/attestd\"\ntoken_alg = \"ES256\"\n",
        )?;
        let c = resolve_serve(
            &state,
            &ServeArgs {
                listen: Some("127.0.0.1:1".into()),
                ..ServeArgs::default()
            },
        )?;
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        Ok(())
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("attestd.toml");
        std::fs::write(&path, "listn = \"x\"\n")?;
        let state = StateArgs {
            config: Some(path.clone()),
            ..StateArgs::default()
        };
        assert!(resolve_serve(&state, &ServeArgs::default()).is_err());
        std::fs::write(&path, "public_url = \"localhost:8443\"\n")?;
        assert!(resolve_serve(&state, &ServeArgs::default()).is_err());
        std::fs::write(&path, "token_alg = \"HS256\"\n")?;
        assert!(resolve_serve(&state, &ServeArgs::default()).is_err());
        std::fs::write(&path, "intel_pcs_url = \"pcs.example\"\n")?;
        assert!(resolve_serve(&state, &ServeArgs::default()).is_err());
        std::fs::write(&path, "intel_root_ca_crl_url = \"ftp://x\"\n")?;
        assert!(resolve_serve(&state, &ServeArgs::default()).is_err());
        Ok(())
    }
}
