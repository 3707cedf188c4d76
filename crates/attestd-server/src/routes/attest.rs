//! `POST /attest/{type}`: MAA's attestation request in, `{"token": JWT}` out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Serialize;

use attestd_evidence::AttestationType;
use attestd_service::AttestOptions;

use crate::api_version::ApiVersion;
use crate::error::ApiError;
use crate::request::parse_attest;
use crate::state::{AppState, CurrentProvider};

/// MAA's `AttestationResponse`.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The attestation token.
    pub token: String,
}

/// Verifies the evidence in the body and returns the provider's attestation token.
pub async fn attest(
    State(state): State<AppState>,
    _version: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    Path(type_name): Path<String>,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let t: AttestationType = type_name
        .parse()
        .map_err(|e: attestd_evidence::UnknownAttestationType| ApiError::invalid(e.to_string()))?;
    let request = parse_attest(t, &body)?;
    let options = AttestOptions {
        nonce: request.nonce,
        draft_policy: request.draft_policy,
    };
    let token = state.service.attest(&provider, &request.evidence, &options).await?;
    Ok(Json(TokenResponse { token }))
}
