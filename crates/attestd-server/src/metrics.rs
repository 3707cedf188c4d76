//! Prometheus metrics: requests by route and status, and a latency histogram.

use std::sync::OnceLock;
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

/// Records a request under its route template (e.g. `/attest/{type}`), never the raw path, so
/// that the label set stays bounded.
pub fn record(route: Option<&MatchedPath>, method: &Method, status: StatusCode, start: Instant) {
    let route = route.map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(method);
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status_label(status))
        .increment(1);
    metrics::histogram!(DURATION, "route" => route, "method" => method).record(start.elapsed().as_secs_f64());
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
