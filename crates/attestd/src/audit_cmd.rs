//! `attestd audit`: query the audit log, from the state or through a running server.

use std::process::ExitCode;

use anyhow::Context;
use attestd_store::AuditFilter;
use clap::Args;

use crate::config::resolve_state;
use crate::provider_cmd::Target;
use crate::state::open_service;

/// Filters of `attestd audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only `management` or `attestation` entries.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this operation (e.g. policy.set, certificates.add, attest).
    #[arg(long)]
    pub operation: Option<String>,
    /// Only `success` or `failure`.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub target: Target,
}

/// Runs `attestd audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let since = args
        .since
        .as_deref()
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .with_context(|| format!("--since '{s}' is not an RFC 3339 time"))
        })
        .transpose()?;
    if let Some(server) = &args.target.server {
        let mut query = vec![format!("limit={}", args.limit)];
        for (k, v) in [
            ("provider", &args.provider),
            ("kind", &args.kind),
            ("operation", &args.operation),
            ("outcome", &args.outcome),
        ] {
            if let Some(v) = v {
                query.push(format!("{k}={v}"));
            }
        }
        if let Some(s) = since {
            query.push(format!("since={s}"));
        }
        let admin = crate::provider_cmd::admin_client(&args.target, server)?;
        let value = admin
            .call(reqwest::Method::GET, &format!("/admin/audit?{}", query.join("&")), None)
            .await?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let state = resolve_state(&args.target.state)?;
    let service = open_service(&state, "https://localhost:8443".into()).await?;
    let records = service
        .audit_log(&AuditFilter {
            provider: args.provider,
            kind: args.kind,
            operation: args.operation,
            outcome: args.outcome,
            since,
            until: None,
            limit: args.limit,
        })
        .await?;
    let json: Vec<_> = records.iter().map(attestd_server::routes_audit_json).collect();
    println!("{}", serde_json::to_string_pretty(&json)?);
    service.store().close().await;
    Ok(ExitCode::SUCCESS)
}
