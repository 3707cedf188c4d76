//! `GET|PUT /policies/{type}`, `POST /policies/{type}:reset` (reference A.3).

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use attestd_evidence::AttestationType;
use attestd_service::management::ops::Caller;

use crate::api_version::ApiVersion;
use crate::error::ApiError;
use crate::routes::attest::TokenResponse;
use crate::state::{AppState, CurrentProvider, bearer};

fn attestation_type(segment: &str) -> Result<AttestationType, ApiError> {
    segment
        .parse()
        .map_err(|e: attestd_evidence::UnknownAttestationType| ApiError::invalid(e.to_string()))
}

/// The JWS of a policy body: sent as `text/plain`; a JSON string literal is accepted too.
fn jws_body(body: &str) -> Result<String, ApiError> {
    let trimmed = body.trim();
    if trimmed.starts_with('"') {
        serde_json::from_str::<String>(trimmed)
            .map_err(|e| ApiError::invalid(format!("the request body is not a JWS or a JSON string: {e}")))
    } else {
        Ok(trimmed.to_owned())
    }
}

/// The provider's policy for the type, as a result token with `x-ms-policy`.
pub async fn get(
    State(state): State<AppState>,
    _v: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Result<TokenResponse, ApiError> {
    let t = attestation_type(&segment)?;
    let caller = Caller {
        bearer: bearer(&headers),
    };
    let token = state.service.get_policy(&provider, t, caller).await?;
    Ok(TokenResponse { token })
}

/// Sets the policy from the JWS in the body.
pub async fn put(
    State(state): State<AppState>,
    _v: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<TokenResponse, ApiError> {
    let t = attestation_type(&segment)?;
    let caller = Caller {
        bearer: bearer(&headers),
    };
    let token = state
        .service
        .set_policy(&provider, t, &jws_body(&body)?, caller)
        .await?;
    Ok(TokenResponse { token })
}

/// `POST /policies/{type}:reset`: the only POST on this path.
pub async fn post(
    State(state): State<AppState>,
    _v: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<TokenResponse, ApiError> {
    let type_name = segment.strip_suffix(":reset").ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "POST is only defined for /policies/{type}:reset",
        )
    })?;
    let t = attestation_type(type_name)?;
    let caller = Caller {
        bearer: bearer(&headers),
    };
    let token = state
        .service
        .reset_policy(&provider, t, &jws_body(&body)?, caller)
        .await?;
    Ok(TokenResponse { token })
}
