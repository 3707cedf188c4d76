//! `attestd token …`: verify tokens as a relying party would.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use attestd_token::{JwkSet, KeySet, Validation, verify};
use clap::{Args, Subcommand};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Token commands.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Verify a token: signature by a key of the issuer's JWKS, `kid`, `exp`/`nbf`, `iss`. Prints the
    /// header and claims as JSON; exits 1 if the token is not valid.
    Verify(VerifyArgs),
}

/// Arguments of `token verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The token, or `-` to read it from standard input.
    pub token: String,
    /// Expected issuer; without --jwks its OpenID metadata and JWKS are fetched.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Verify offline against this JWK Set file (e.g. a saved /certs).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// PEM CA certificate(s) to trust when fetching from the issuer (e.g. attestd's self-signed
    /// certificate); default: the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Clock tolerance for exp/nbf in seconds.
    #[arg(long, default_value_t = 30)]
    pub leeway: i64,
}

/// Runs a token command.
pub async fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Verify(args) => verify_cmd(args).await,
    }
}

pub fn http_client(ca: Option<&PathBuf>) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    let builder = match ca {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))? {
                roots.add(cert.with_context(|| format!("parsing {}", path.display()))?)?;
            }
            let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            builder.tls_backend_preconfigured(config)
        }
        None => builder,
    };
    Ok(builder.build()?)
}

async fn fetch_jwks(issuer: &str, ca: Option<&PathBuf>) -> anyhow::Result<JwkSet> {
    let client = http_client(ca)?;
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let metadata: serde_json::Value = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("fetching {url}"))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("parsing {url}"))?;
    if metadata["issuer"].as_str() != Some(issuer.trim_end_matches('/')) {
        bail!(
            "the OpenID metadata names issuer {} instead of {issuer}",
            metadata["issuer"]
        );
    }
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .with_context(|| format!("{url} has no jwks_uri"))?;
    let jwks = client
        .get(jwks_uri)
        .send()
        .await
        .with_context(|| format!("fetching {jwks_uri}"))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("parsing {jwks_uri}"))?;
    Ok(jwks)
}

async fn verify_cmd(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let token = if args.token == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim().to_owned()
    } else {
        args.token.clone()
    };
    let jwks: JwkSet = match (&args.jwks, &args.issuer) {
        (Some(path), _) => {
            serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
                .with_context(|| format!("{} is not a JWK Set", path.display()))?
        }
        (None, Some(issuer)) => fetch_jwks(issuer, args.ca.as_ref()).await?,
        (None, None) => bail!("give --issuer URL (keys are fetched) or --jwks FILE (offline)"),
    };
    let keys = KeySet::from_jwks(&jwks)?;
    let now = match &args.at {
        Some(at) => {
            let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("--at '{at}' is not an RFC 3339 time"))?;
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap_or(0)))
        }
        None => None,
    };
    let validation = Validation {
        issuer: args.issuer.as_ref().map(|i| i.trim_end_matches('/').to_owned()),
        leeway_secs: args.leeway,
        now,
        ..Validation::default()
    };
    match verify(&token, &keys, &validation) {
        Ok(v) => {
            let out = serde_json::json!({
                "valid": true,
                "alg": v.algorithm.as_str(),
                "kid": v.kid,
                "header": v.header,
                "claims": v.claims,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("invalid token: {}: {e}", e.code());
            Ok(ExitCode::FAILURE)
        }
    }
}
