//! `attestd provider …`: manage providers, either directly in the service's state (`--data-dir`,
//! `--database`; a running server picks the change up) or through a running server's admin API
//! (`--server URL`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use attestd_service::management::admin::{ProviderInfo, ProviderSpec};
use attestd_service::management::auth::TokenAuthConfig;
use clap::{Args, Subcommand};

use crate::config::{StateArgs, resolve_state};
use crate::state::open_service;

/// Provider commands.
#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Create a provider with its own signing key; it is served at /tenants/NAME.
    Create(CreateArgs),
    /// List providers.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Show a provider: trust model, issuer, signing key, certificates, policies.
    Show {
        /// Provider name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a provider with its keys, policies and certificates.
    Delete {
        /// Provider name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Where the command acts: the state (default) or a running server.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Act through this server's admin API instead of on the state directly.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The admin bearer token for --server (default: ATTESTD_ADMIN_TOKEN, else the file
    /// <data-dir>/admin-token).
    #[arg(long, env = "ATTESTD_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// PEM CA certificate(s) to trust for --server (e.g. the server's self-signed certificate).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Arguments of `provider create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Provider name: lower-case letters, digits and '-'.
    pub name: String,
    /// shared, token or isolated.
    #[arg(long, default_value = "shared")]
    pub trust_model: String,
    /// PEM file of a policy management certificate (isolated providers need one); repeatable.
    #[arg(long = "signer-cert", value_name = "PEM")]
    pub signer_certs: Vec<PathBuf>,
    /// Token trust model: the issuer (`iss`) of management bearer tokens.
    #[arg(long, value_name = "URL")]
    pub auth_issuer: Option<String>,
    /// Token trust model: the audience the tokens must name [default: the provider's issuer URL].
    #[arg(long, value_name = "AUD")]
    pub auth_audience: Option<String>,
    /// Token trust model: the issuer's JWK Set as a file (stored with the provider).
    #[arg(long, value_name = "FILE", conflicts_with = "auth_jwks_uri")]
    pub auth_jwks_file: Option<PathBuf>,
    /// Token trust model: where the issuer's JWK Set is published.
    #[arg(long, value_name = "URL")]
    pub auth_jwks_uri: Option<String>,
    /// Token trust model: the claim with the caller's roles.
    #[arg(long, default_value = "roles")]
    pub auth_roles_claim: String,
    /// POST the provider's attester alerts (a machine that attested successfully fails, or its
    /// boot measurements change) as JSON to this http(s) URL.
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

fn public_url(state: &crate::config::StateConfig) -> String {
    state.public_url.clone().unwrap_or_else(|| {
        format!(
            "https://localhost:{}",
            crate::config::DEFAULT_LISTEN.rsplit(':').next().unwrap_or("8443")
        )
    })
}

fn spec(args: &CreateArgs, issuer_hint: &str) -> anyhow::Result<ProviderSpec> {
    let signer_certificates = args
        .signer_certs
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let token_auth = match &args.auth_issuer {
        None => None,
        Some(issuer) => {
            let jwks = args
                .auth_jwks_file
                .as_ref()
                .map(|p| -> anyhow::Result<_> {
                    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a JWK Set", p.display()))
                })
                .transpose()?;
            if jwks.is_none() && args.auth_jwks_uri.is_none() {
                bail!("--auth-issuer needs --auth-jwks-file or --auth-jwks-uri");
            }
            Some(TokenAuthConfig {
                issuer: issuer.clone(),
                audience: args.auth_audience.clone().unwrap_or_else(|| issuer_hint.to_owned()),
                jwks_uri: args.auth_jwks_uri.clone(),
                jwks,
                roles_claim: args.auth_roles_claim.clone(),
                reader_roles: vec!["Attestation.Reader".into(), "Attestation Reader".into()],
                contributor_roles: vec!["Attestation.Contributor".into(), "Attestation Contributor".into()],
            })
        }
    };
    Ok(ProviderSpec {
        name: args.name.clone(),
        trust_model: args.trust_model.clone(),
        token_alg: args.target.state.token_alg.clone(),
        signer_certificates,
        token_auth,
        alert_webhook: args.alert_webhook.clone(),
    })
}

fn print(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// A client of the admin API of `server`.
pub fn admin_client(target: &Target, server: &str) -> anyhow::Result<Admin> {
    Admin::new(target, server)
}

/// A client of a running server's admin API.
pub struct Admin {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Admin {
    fn new(target: &Target, server: &str) -> anyhow::Result<Admin> {
        let token = match &target.admin_token {
            Some(t) => t.clone(),
            None => {
                let state = resolve_state(&target.state)?;
                let path = state.data_dir.join("admin-token");
                std::fs::read_to_string(&path)
                    .with_context(|| format!("no --admin-token and cannot read {}", path.display()))?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Admin {
            base: server.trim_end_matches('/').to_owned(),
            token,
            client: crate::token_cmd::http_client(target.ca.as_ref())?,
        })
    }

    /// Calls `path` with `method` and an optional JSON body; non-2xx answers are errors.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {}{path}", self.base))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{status}: {text}");
        }
        Ok(if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

/// Runs a provider command.
pub async fn run(cmd: ProviderCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCommand::Create(args) => {
            if let Some(server) = &args.target.server {
                let admin = Admin::new(&args.target, server)?;
                let issuer_hint = format!("{}/tenants/{}", admin.base, args.name);
                let body = serde_json::to_value(spec(&args, &issuer_hint)?)?;
                return print(
                    &admin
                        .call(reqwest::Method::POST, "/admin/providers", Some(body))
                        .await?,
                );
            }
            let state = resolve_state(&args.target.state)?;
            let service = open_service(&state, public_url(&state)).await?;
            let issuer_hint = service.config().issuer_for(&args.name);
            let info: ProviderInfo = service.create_provider(&spec(&args, &issuer_hint)?, "cli").await?;
            service.flush_audit().await;
            service.store().close().await;
            print(&info)
        }
        ProviderCommand::List { target } => {
            if let Some(server) = &target.server {
                let admin = Admin::new(&target, server)?;
                return print(&admin.call(reqwest::Method::GET, "/admin/providers", None).await?);
            }
            let state = resolve_state(&target.state)?;
            let service = open_service(&state, public_url(&state)).await?;
            let list = service.list_providers().await?;
            service.store().close().await;
            print(&list)
        }
        ProviderCommand::Show { name, target } => {
            if let Some(server) = &target.server {
                let admin = Admin::new(&target, server)?;
                return print(
                    &admin
                        .call(reqwest::Method::GET, &format!("/admin/providers/{name}"), None)
                        .await?,
                );
            }
            let state = resolve_state(&target.state)?;
            let service = open_service(&state, public_url(&state)).await?;
            let info = service.provider_info(&name).await?;
            service.store().close().await;
            print(&info)
        }
        ProviderCommand::Delete { name, target } => {
            if let Some(server) = &target.server {
                let admin = Admin::new(&target, server)?;
                admin
                    .call(reqwest::Method::DELETE, &format!("/admin/providers/{name}"), None)
                    .await?;
                println!("deleted {name}");
                return Ok(ExitCode::SUCCESS);
            }
            let state = resolve_state(&target.state)?;
            let service = open_service(&state, public_url(&state)).await?;
            service.delete_provider(&name, "cli").await?;
            service.store().close().await;
            println!("deleted {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
