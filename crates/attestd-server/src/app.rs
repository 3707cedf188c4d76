//! The router and the middleware every request passes through.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::routes::{admin, attest, certificates, health, metadata, policies};
use crate::state::AppState;
use crate::tenant;

/// Builds the service: tenant resolution (before routing), then the routes with metrics, the
/// deadline, the body limit and the error envelope.
pub fn build(state: AppState) -> Router {
    let base_domain = state.service.config().base_domain.clone();
    let limits = state.limits;
    let routes = Router::new()
        .route("/certs", get(metadata::certs))
        .route("/.well-known/openid-configuration", get(metadata::openid_configuration))
        .route("/attest/{type}", post(attest::attest))
        .route(
            "/policies/{type}",
            get(policies::get).put(policies::put).post(policies::post),
        )
        .route("/certificates", get(certificates::list))
        .route("/certificates:add", post(certificates::add))
        .route("/certificates:remove", post(certificates::remove))
        .route(
            "/admin/providers",
            get(admin::list_providers).post(admin::create_provider),
        )
        .route(
            "/admin/providers/{name}",
            get(admin::show_provider).delete(admin::delete_provider),
        )
        .route("/admin/audit", get(admin::audit))
        .route("/admin/attesters", get(admin::attesters))
        .route("/admin/attesters/history", get(admin::attester_history))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn(envelope))
        .with_state(state);
    // Tenant resolution rewrites the path, so it must run before the router matches it.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let base_domain = base_domain.clone();
            async move { next.run(tenant::resolve(req, base_domain.as_deref())).await }
        }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", "no such resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::for_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Answers `DeadlineExceeded` (503) when a request runs longer than the configured timeout.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DeadlineExceeded",
            format!(
                "the request did not complete within {} s",
                state.limits.request_timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Gives every error answer the JSON envelope, including those produced by the framework (body too
/// large, malformed path) that carry plain text.
async fn envelope(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let mut replaced = ApiError::for_status(status).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        replaced.headers_mut().insert(header::ALLOW, allow.clone());
    }
    replaced
        .headers_mut()
        .entry(header::CONTENT_TYPE)
        .or_insert(HeaderValue::from_static("application/json; charset=utf-8"));
    replaced
}
