//! `GET /certs` and `GET /.well-known/openid-configuration`: served from documents the provider
//! serialized once when it was loaded.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::CurrentProvider;

fn json(body: &Arc<[u8]>) -> Response {
    let mut r = axum::body::Bytes::copy_from_slice(body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The provider's signing keys as a JWK Set (`x5c`, `kid`, `kty`).
pub async fn certs(CurrentProvider(p): CurrentProvider) -> Response {
    json(&p.jwks_json)
}

/// The provider's OpenID metadata.
pub async fn openid_configuration(CurrentProvider(p): CurrentProvider) -> Response {
    json(&p.openid_json)
}
