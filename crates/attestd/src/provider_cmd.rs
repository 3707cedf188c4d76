//! `attestd provider …`: manage providers in the service's state (the server picks them up on their
//! first request).

use std::process::ExitCode;

use attestd_service::{ProviderName, TrustModel};
use attestd_token::Algorithm;
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
        state: StateArgs,
    },
    /// Show a provider: trust model, issuer, signing keys.
    Show {
        /// Provider name.
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// Arguments of `provider create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Provider name: lower-case letters, digits and '-'.
    pub name: String,
    /// shared, token or isolated.
    #[arg(long, default_value = "shared")]
    pub trust_model: String,
    #[command(flatten)]
    pub state: StateArgs,
}

fn public_url(state: &crate::config::StateConfig) -> String {
    state.public_url.clone().unwrap_or_else(|| {
        format!(
            "https://localhost:{}",
            crate::config::DEFAULT_LISTEN.rsplit(':').next().unwrap_or("8443")
        )
    })
}

/// Runs a provider command.
pub async fn run(cmd: ProviderCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCommand::Create(args) => {
            let state = resolve_state(&args.state)?;
            let name = ProviderName::new(&args.name)?;
            let trust: TrustModel = args.trust_model.parse()?;
            // --token-alg (a state option) picks the algorithm; without it the configured default.
            let alg: Option<Algorithm> = Some(state.token_alg);
            let service = open_service(&state, public_url(&state)).await?;
            let p = service.providers().create(&name, trust, alg).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "name": p.name.as_str(),
                    "trust_model": p.trust_model.as_str(),
                    "token_alg": p.token_alg().as_str(),
                    "issuer": p.issuer,
                    "kid": p.signer.key().kid(),
                }))?
            );
            service.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        ProviderCommand::List { state } => {
            let state = resolve_state(&state)?;
            let service = open_service(&state, public_url(&state)).await?;
            for p in service.providers().list().await? {
                println!("{}\t{}\t{}", p.name, p.trust_model, p.token_alg);
            }
            service.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        ProviderCommand::Show { name, state } => {
            let state = resolve_state(&state)?;
            let service = open_service(&state, public_url(&state)).await?;
            let p = service.providers().get(&name).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "name": p.name.as_str(),
                    "trust_model": p.trust_model.as_str(),
                    "token_alg": p.token_alg().as_str(),
                    "issuer": p.issuer,
                    "kid": p.signer.key().kid(),
                    "jwks": p.jwks,
                }))?
            );
            service.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
