//! `POST /attest/{type}`: MAA's attestation request in, `{"token": JWT}` out; for types served by
//! a multi-round protocol (the verifier says so), one round per request:
//! `{"data": base64url(message)}` in and out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use attestd_evidence::AttestationType;
use attestd_service::AttestOptions;

use crate::api_version::ApiVersion;
use crate::error::ApiError;
use crate::request::{parse_attest, parse_exchange};
use crate::state::{AppState, CurrentProvider};

/// MAA's `AttestationResponse` (and the result token of policy and certificate operations):
/// `{"token": JWT}`.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The attestation token.
    pub token: String,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        // A JWS is base64url and dots (a sealed answer base64): nothing JSON escapes, so the body
        // is written as is instead of through the serializer's per-character escaping (2 µs for
        // a 3 KB token). The check is a branch-free fold, which the compiler vectorizes.
        let needs_escaping = self
            .token
            .bytes()
            .fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
        if needs_escaping {
            return Json(self).into_response();
        }
        let mut body = Vec::with_capacity(self.token.len() + 12);
        body.extend_from_slice(b"{\"token\":\"");
        body.extend_from_slice(self.token.as_bytes());
        body.extend_from_slice(b"\"}");
        ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
    }
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
    Ok(TokenResponse { token }.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(token: &str) -> (String, serde_json::Value) {
        let response = TokenResponse {
            token: token.to_owned(),
        }
        .into_response();
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
        let value = serde_json::from_str(&text).expect("JSON");
        (text, value)
    }

    #[tokio::test]
    async fn the_token_body_is_the_serializers_for_every_token() {
        for token in [
            "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
            "",
            "a+b/c==",
            "é",
            "x\"y",
            "back\\slash",
            "tab\tnl\n\u{1}",
        ] {
            let (text, value) = body_of(token).await;
            assert_eq!(
                text,
                serde_json::to_string(&TokenResponse {
                    token: token.to_owned()
                })
                .expect("json")
            );
            assert_eq!(value["token"], token, "{token:?}");
        }
    }
}
