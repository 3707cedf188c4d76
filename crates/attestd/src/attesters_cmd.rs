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

/// Percent-encodes a query value (ids are base64: `+`, `/` and `=` must not reach the query as is).
fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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
        let mut query = vec![format!("limit={limit}")];
        if let Some(p) = provider {
            query.push(format!("provider={}", query_value(p)));
        }
        if let Some(id) = id {
            query.push(format!("attester={}", query_value(id)));
        }
        let admin = crate::provider_cmd::admin_client(target, server)?;
        let value = admin
            .call(reqwest::Method::GET, &format!("{path}?{}", query.join("&")), None)
            .await?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn base64_ids_are_percent_encoded() {
        assert_eq!(super::query_value("ab+/c="), "ab%2B%2Fc%3D");
    }
}
