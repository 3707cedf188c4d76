//! The router and the work every request passes through.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::Service;

use crate::error::ApiError;
use crate::routes::{admin, attest, certificates, health, metadata, policies};
use crate::state::AppState;
use crate::tenant;

/// The whole HTTP service: tenant resolution, then the router.
///
/// Tenant resolution rewrites the path (`/tenants/{name}/...`), so it runs before the router
/// matches; doing it here rather than in an outer router saves a second routing pass per request.
#[derive(Clone)]
pub struct App {
    routes: Router,
    base_domain: Option<Arc<str>>,
}

impl<B> Service<axum::http::Request<B>> for App
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as Service<Request>>::Future;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A Router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let req = tenant::resolve(req.map(Body::new), self.base_domain.as_deref());
        self.routes.call(req)
    }
}

/// Builds the service: tenant resolution (before routing), then the routes with the body limit
/// and, around each, the deadline, the error envelope and the metrics.
pub fn build(state: AppState) -> App {
    // The recorder first: the metric handles are looked up once and kept.
    let _ = crate::metrics::handle();
    let base_domain = state.service.config().base_domain.as_deref().map(Arc::from);
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
        // One middleware, not three: each layer costs a boxed future and a service clone.
        .layer(middleware::from_fn_with_state(state.clone(), around))
        .with_state(state);
    App { routes, base_domain }
}

/// Runs the request under the configured deadline, gives error answers the JSON envelope and
/// records the request in the metrics.
async fn around(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = match tokio::time::timeout(state.limits.request_timeout, next.run(req)).await {
        Ok(response) => envelope(response),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "DeadlineExceeded",
            format!(
                "the request did not complete within {} s",
                state.limits.request_timeout.as_secs()
            ),
        )
        .into_response(),
    };
    crate::metrics::record(route.as_ref(), &method, response.status(), start);
    response
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", "no such resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::for_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Gives every error answer the JSON envelope, including those produced by the framework (body too
/// large, malformed path) that carry plain text.
fn envelope(response: Response) -> Response {
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
