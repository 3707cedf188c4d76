//! The `api-version` query parameter that MAA's data-plane routes require.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The API versions this server speaks.
pub const SUPPORTED: &[&str] = &["2020-10-01", "2022-08-01", "2025-06-01"];

/// A validated `api-version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersion(pub &'static str);

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let value = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
            .map(|(_, v)| v);
        match value {
            None | Some("") => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MissingApiVersion",
                format!(
                    "the 'api-version' query parameter is required; supported versions: {}",
                    SUPPORTED.join(", ")
                ),
            )),
            Some(v) => SUPPORTED
                .iter()
                .find(|s| **s == v)
                .map(|s| ApiVersion(s))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "UnsupportedApiVersion",
                        format!(
                            "api-version '{}' is not supported; supported versions: {}",
                            v.chars().take(64).collect::<String>(),
                            SUPPORTED.join(", ")
                        ),
                    )
                }),
        }
    }
}
