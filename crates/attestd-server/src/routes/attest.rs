//! `POST /attest/{type}`: MAA's attestation request in, `{"token": JWT}` out; for types served by
//! a multi-round protocol (the verifier says so), one round per request:
//! `{"data": base64url(message)}` in and out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use attestd_evidence::AttestationType;
use attestd_service::AttestOptions;

use crate::api_version::ApiVersion;
use crate::error::ApiError;
use crate::request::{parse_attest, parse_exchange};
use crate::state::{AppState, CurrentProvider};

/// MAA's `AttestationResponse`.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The attestation token.
    pub token: String,
}

/// One round of a multi-round protocol (MAA's `TpmAttestationResponse`).
#[derive(Serialize)]
pub struct ExchangeResponse {
    /// base64url of the reply message (JSON).
    pub data: String,
}

/// Verifies the evidence in the body and returns the provider's attestation token, or runs one
/// round of the type's protocol.
pub async fn attest(
    State(state): State<AppState>,
    _version: ApiVersion,
    CurrentProvider(provider): CurrentProvider,
    Path(type_name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t: AttestationType = type_name
        .parse()
        .map_err(|e: attestd_evidence::UnknownAttestationType| ApiError::invalid(e.to_string()))?;
    if state.service.is_exchange(t) {
        let message = parse_exchange(&body)?;
        let reply = state.service.exchange(&provider, t, &message).await?;
        let data = attestd_token::b64::encode_url(reply.to_string().as_bytes());
        return Ok(Json(ExchangeResponse { data }).into_response());
    }
    let request = parse_attest(t, &body)?;
    let options = AttestOptions {
        nonce: request.nonce,
        draft_policy: request.draft_policy,
    };
    let token = state.service.attest(&provider, &request.evidence, &options).await?;
    Ok(Json(TokenResponse { token }).into_response())
}
