//! Shared state of the HTTP layer and the extractor that resolves the addressed provider.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use attestd_service::{DEFAULT_PROVIDER, Provider, Service};

use crate::error::ApiError;
use crate::tenant::TenantName;

/// Limits every request is held to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Time after which a request is answered with `DeadlineExceeded`.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The service core.
    pub service: Arc<Service>,
    /// Request limits.
    pub limits: Limits,
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The provider the request addresses, loaded (404 `ProviderNotFound` if it does not exist).
#[derive(Clone, Debug)]
pub struct CurrentProvider(pub Arc<Provider>);

impl<S> FromRequestParts<S> for CurrentProvider
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let name = parts
            .extensions
            .get::<TenantName>()
            .map_or(DEFAULT_PROVIDER, |t| t.0.as_str());
        let provider = state.service.providers().get(name).await?;
        Ok(CurrentProvider(provider))
    }
}
