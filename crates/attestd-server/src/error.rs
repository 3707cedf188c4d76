//! The error envelope of every non-2xx answer: `{"error": {"code", "message"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use attestd_service::{ErrorClass, ServiceError};

/// An error answer: HTTP status, stable code, message naming what is wrong.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (documented in `docs/errors.md`).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 with MAA's `InvalidParameter` code.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    /// The generic code for a status that no handler produced a body for.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("BadRequest", "the request is malformed"),
            StatusCode::NOT_FOUND => ("NotFound", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => ("MethodNotAllowed", "the method is not allowed on this resource"),
            StatusCode::PAYLOAD_TOO_LARGE => ("PayloadTooLarge", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("UnsupportedMediaType", "unsupported content type"),
            StatusCode::REQUEST_TIMEOUT => ("RequestTimeout", "the request took too long"),
            s if s.is_server_error() => ("InternalError", "internal server error"),
            _ => ("Error", "the request failed"),
        };
        Self::new(status, code, message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match e.class() {
            ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
            ErrorClass::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorClass::Forbidden => StatusCode::FORBIDDEN,
            ErrorClass::NotFound => StatusCode::NOT_FOUND,
            ErrorClass::Conflict => StatusCode::CONFLICT,
            ErrorClass::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = e.code(), error = %e, "request failed");
        }
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Envelope {
            error: Body {
                code: &self.code,
                message: &self.message,
            },
        })
        .unwrap_or_else(|_| br#"{"error":{"code":"InternalError","message":"error serialization failed"}}"#.to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        // 2025-06-01 clients read the code from this header (Azure.Core ErrorResponse).
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            headers.insert("x-ms-error-code", v);
        }
        response
    }
}
