//! The admin API (`/admin/...`): provider administration, the audit log and attester histories,
//! behind the admin bearer token. It is not tenant-scoped.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use attestd_service::management::admin::{ProviderInfo, ProviderSpec};
use attestd_service::monitor;
use attestd_store::{AuditFilter, AuditRecord};

use crate::error::ApiError;
use crate::state::{AppState, bearer};

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    Ok(state.service.check_admin(bearer(headers)).await?)
}

/// `GET /admin/providers`.
pub async fn list_providers(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ProviderInfo>>, ApiError> {
    admin(&state, &headers).await?;
    Ok(Json(state.service.list_providers().await?))
}

/// `POST /admin/providers`.
pub async fn create_provider(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<ProviderInfo>), ApiError> {
    admin(&state, &headers).await?;
    let spec: ProviderSpec =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the provider specification: {e}")))?;
    let info = state.service.create_provider(&spec, "admin").await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /admin/providers/{name}`.
pub async fn show_provider(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<ProviderInfo>, ApiError> {
    admin(&state, &headers).await?;
    Ok(Json(state.service.provider_info(&name).await?))
}

/// `DELETE /admin/providers/{name}`.
pub async fn delete_provider(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&state, &headers).await?;
    state.service.delete_provider(&name, "admin").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of `GET /admin/audit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    provider: Option<String>,
    kind: Option<String>,
    operation: Option<String>,
    outcome: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<i64>,
}

/// `GET /admin/audit?provider=&kind=&operation=&outcome=&since=&until=&limit=`.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    admin(&state, &headers).await?;
    let filter = AuditFilter {
        provider: q.provider,
        kind: q.kind,
        operation: q.operation,
        outcome: q.outcome,
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let records = state.service.audit_log(&filter).await?;
    Ok(Json(records.iter().map(audit_json).collect()))
}

/// An audit entry as JSON (also used by the CLI).
pub fn audit_json(r: &AuditRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "at": r.at, "provider": r.provider, "kind": r.kind, "operation": r.operation,
        "actor": r.actor, "attestation_type": r.attestation_type, "outcome": r.outcome,
        "error_code": r.error_code, "before_hash": r.before_hash, "after_hash": r.after_hash,
        "policy_hash": r.policy_hash, "evidence_digest": r.evidence_digest,
        "duration_us": r.duration_us, "detail": r.detail,
    })
}

/// Filters of `GET /admin/attesters` and `GET /admin/attesters/history`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttesterQuery {
    provider: Option<String>,
    attester: Option<String>,
    limit: Option<i64>,
}

/// `GET /admin/attesters?provider=&limit=`: the attesters seen, most recently seen first.
pub async fn attesters(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AttesterQuery>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    admin(&state, &headers).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let records = state.service.attesters(q.provider.as_deref(), limit).await?;
    Ok(Json(records.iter().map(monitor::attester_json).collect()))
}

/// `GET /admin/attesters/history?attester=ID&provider=&limit=`: one attester's attestations and
/// alerts, newest first.
pub async fn attester_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AttesterQuery>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    admin(&state, &headers).await?;
    let id = q
        .attester
        .ok_or_else(|| ApiError::invalid("'attester' (the attester's id, e.g. its aikPubHash) is required"))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let events = state
        .service
        .attester_history(q.provider.as_deref(), &id, limit)
        .await?;
    Ok(Json(events.iter().map(monitor::attester_event_json).collect()))
}
