//! Which provider a request addresses: `/tenants/<name>/...`, the Host `<name>.<base-domain>`, or the
//! default provider at the root.
//!
//! This runs before routing and strips the `/tenants/<name>` prefix, so every route exists once and
//! serves every provider.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

use attestd_service::DEFAULT_PROVIDER;

/// The provider a request addresses (by name; resolved to a provider by the handlers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantName(pub String);

/// Finds the tenant of `req`, records it as an extension and rewrites the path without the prefix.
pub fn resolve(mut req: Request, base_domain: Option<&str>) -> Request {
    let path = req.uri().path();
    let tenant = if let Some(rest) = path.strip_prefix("/tenants/") {
        let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
        let name = name.to_owned();
        let new_path = format!("/{tail}");
        let pq = match req.uri().query() {
            Some(q) => format!("{new_path}?{q}"),
            None => new_path,
        };
        if let Ok(pq) = pq.parse::<PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        name
    } else {
        host_tenant(&req, base_domain).unwrap_or_else(|| DEFAULT_PROVIDER.to_owned())
    };
    req.extensions_mut().insert(TenantName(tenant));
    req
}

fn host_tenant(req: &Request, base_domain: Option<&str>) -> Option<String> {
    let domain = base_domain?;
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let label = host.strip_suffix(domain)?.strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn run(uri: &str, host: Option<&str>, domain: Option<&str>) -> (String, String) {
        let mut b = Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        let req = resolve(b.body(Body::empty()).expect("request"), domain);
        let tenant = req
            .extensions()
            .get::<TenantName>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        (tenant, req.uri().to_string())
    }

    #[test]
    fn path_prefix_selects_and_is_stripped() {
        assert_eq!(run("/tenants/t1/certs", None, None), ("t1".into(), "/certs".into()));
        assert_eq!(
            run("/tenants/t1/attest/SgxEnclave?api-version=2020-10-01", None, None),
            ("t1".into(), "/attest/SgxEnclave?api-version=2020-10-01".into())
        );
        assert_eq!(run("/tenants/t1", None, None), ("t1".into(), "/".into()));
    }

    #[test]
    fn host_selects_only_under_the_base_domain() {
        let d = Some("attest.example");
        assert_eq!(run("/certs", Some("t1.attest.example:8443"), d).0, "t1");
        assert_eq!(run("/certs", Some("T1.attest.example"), d).0, "t1");
        assert_eq!(run("/certs", Some("attest.example"), d).0, "default");
        assert_eq!(run("/certs", Some("a.b.attest.example"), d).0, "default");
        assert_eq!(run("/certs", Some("t1.evil.example"), d).0, "default");
        assert_eq!(run("/certs", Some("t1.attest.example"), None).0, "default");
        // The path wins over the host.
        assert_eq!(run("/tenants/t2/certs", Some("t1.attest.example"), d).0, "t2");
    }
}
