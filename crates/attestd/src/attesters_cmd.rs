//! `attestd attesters …`: the machines attestd has seen (by provider and identity, e.g. a TPM's
//! `aikPubHash`), their last verdict and boot-measurement baseline, and each one's history of
//! attestations and alerts; from the state or through a running server's admin API.

use std::process::ExitCode;

use attestd_service::monitor::{attester_event_json, attester_json};
use clap::Subcommand;

use crate::config::resolve_state;
use crate::provider_cmd::Target;
use crate::state::open_service;

/// Attester commands.
#[derive(Subcommand, Debug)]
pub enum AttestersCommand {
    /// List the attesters seen, most recently seen first.
    List {
        /// Only this provider's attesters.
        #[arg(long)]
        provider: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Show one attester's attestations and alerts, newest first.
    History {
        /// The attester's id (TPM: its aikPubHash, as `attesters list` prints it).
        id: String,
        /// Only its attestations to this provider.
        #[arg(long)]
        provider: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        target: Target,
    },
}

/// Runs `attestd attesters …`.
pub async fn run(cmd: AttestersCommand) -> anyhow::Result<ExitCode> {
    let (target, path, provider, id, limit) = match &cmd {
        AttestersCommand::List {
            provider,
            limit,
            target,
        } => (target, "/admin/attesters", provider, None, *limit),
        AttestersCommand::History {
            id,
            provider,
            limit,
            target,
        } => (target, "/admin/attesters/history", provider, Some(id.as_str()), *limit),
    };
    if let Some(server) = &target.server {
        // Ids are base64: `+`, `/` and `=` must be percent-encoded in the query.
        let mut url = reqwest::Url::parse("https://admin.invalid/")?;
        url.set_path(path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &limit.to_string());
            if let Some(p) = provider {
                q.append_pair("provider", p);
            }
            if let Some(id) = id {
                q.append_pair("attester", id);
            }
        }
        let path_and_query = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let admin = crate::provider_cmd::admin_client(target, server)?;
        let value = admin.call(reqwest::Method::GET, &path_and_query, None).await?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let state = resolve_state(&target.state)?;
    let service = open_service(&state, "https://localhost:8443".into()).await?;
    let json: Vec<serde_json::Value> = match id {
        None => service
            .attesters(provider.as_deref(), limit)
            .await?
            .iter()
            .map(attester_json)
            .collect(),
        Some(id) => service
            .attester_history(provider.as_deref(), id, limit)
            .await?
            .iter()
            .map(attester_event_json)
            .collect(),
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    service.store().close().await;
    Ok(ExitCode::SUCCESS)
}
