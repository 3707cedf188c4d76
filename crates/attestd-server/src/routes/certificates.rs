//! `GET /certificates`, `POST /certificates:add`, `POST /certificates:remove` (reference A.4).

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use attestd_service::management::ops::Caller;

use crate::api_version::ApiVersion;
use crate::error::ApiError;
use crate::routes::attest::TokenResponse;
use crate::state::{AppState, CurrentProvider, bearer};

/// The JWS of a certificate request: a JSON string literal (what every SDK sends), or the 2025
/// TypeSpec object `{"policyCertificateToAdd"|"policyCertificateToRemove": "<jws>"}`.
fn jws_body(body: &str, member: &str) -> Result<String, ApiError> {
    let value: Value = serde_json::from_str(body.trim())
        .map_err(|e| ApiError::invalid(format!("the request body must be a JSON string holding a JWS: {e}")))?;
    match value {
        Value::String(s) => Ok(s),
        Value::Object(obj) => obj
            .get(member)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid(format!("the request body has no string member '{member}'"))),
        _ => Err(ApiError::invalid(
            "the request body must be a JSON string holding a JWS",
        )),
    }
}

/// The provider's policy management certificates.
pub async fn list(
    State(state): State<AppState>,
    _v: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    headers: HeaderMap,
) -> Result<TokenResponse, ApiError> {
    let caller = Caller {
        bearer: bearer(&headers),
    };
    let token = state.service.get_policy_certificates(&provider, caller).await?;
    Ok(TokenResponse { token })
}

/// Adds a policy management certificate.
pub async fn add(
    state: State<AppState>,
    _v: ApiVersion,
    provider: CurrentProvider,
    headers: HeaderMap,
    body: String,
) -> Result<TokenResponse, ApiError> {
    change(state, provider, headers, body, true).await
}

/// Removes a policy management certificate.
pub async fn remove(
    state: State<AppState>,
    _v: ApiVersion,
    provider: CurrentProvider,
    headers: HeaderMap,
    body: String,
) -> Result<TokenResponse, ApiError> {
    change(state, provider, headers, body, false).await
}

async fn change(
    State(state): State<AppState>,
    CurrentProvider(provider): CurrentProvider,
    headers: HeaderMap,
    body: String,
    add: bool,
) -> Result<TokenResponse, ApiError> {
    let member = if add {
        "policyCertificateToAdd"
    } else {
        "policyCertificateToRemove"
    };
    let jws = jws_body(&body, member)?;
    let caller = Caller {
        bearer: bearer(&headers),
    };
    let token = state
        .service
        .change_policy_certificate(&provider, add, &jws, caller)
        .await?;
    Ok(TokenResponse { token })
}
