//! Prometheus metrics: requests by route and status, and a latency histogram.

use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const REQUESTS: &str = "attestd_http_requests_total";
const DURATION: &str = "attestd_http_request_duration_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (`None` if another recorder was
/// installed first, e.g. by an embedding program).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(DURATION.to_owned()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The handles of one (route, method, status): the macros look a metric up in the recorder's
/// registry, hashing its name and labels, on every call.
struct RouteMetrics {
    route: String,
    method: &'static str,
    status: u16,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

/// At most this many handle sets are kept (routes × methods × statuses seen); beyond, requests
/// are recorded through the registry.
const CACHED: usize = 256;

static ROUTES: RwLock<Vec<RouteMetrics>> = RwLock::new(Vec::new());

/// Records a request under its route template (e.g. `/attest/{type}`), never the raw path, so
/// that the label set stays bounded.
pub fn record(route: Option<&MatchedPath>, method: &Method, status: StatusCode, start: Instant) {
    let route = route.map_or("unmatched", MatchedPath::as_str);
    let method = method_label(method);
    let elapsed = start.elapsed().as_secs_f64();
    let seen = ROUTES.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(m) = seen
        .iter()
        .find(|m| m.status == status.as_u16() && m.method == method && m.route == route)
    {
        m.requests.increment(1);
        m.duration.record(elapsed);
        return;
    }
    drop(seen);
    let m = RouteMetrics {
        route: route.to_owned(),
        method,
        status: status.as_u16(),
        requests: metrics::counter!(REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status_label(status)),
        duration: metrics::histogram!(DURATION, "route" => route.to_owned(), "method" => method),
    };
    m.requests.increment(1);
    m.duration.record(elapsed);
    let mut seen = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if seen.len() < CACHED {
        seen.push(m);
    }
}

/// The method as a static label (the routes use no other methods).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The status code as a label; the common ones without an allocation.
fn status_label(s: StatusCode) -> metrics::SharedString {
    match s.as_u16() {
        200 => "200".into(),
        400 => "400".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        503 => "503".into(),
        other => other.to_string().into(),
    }
}
