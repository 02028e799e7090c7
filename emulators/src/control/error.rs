//! The error answer of every control route: a 4xx status with `{"error": "…"}`, plus `"valid": […]`
//! when the input named something unknown (a state, a product group, …).
//!
//! Owns the mapping of axum's extractor rejections (path, query, body) onto that shape. Must not
//! produce a 5xx: a rejection that axum would answer with a server error is the client's input too
//! here, and is answered 400.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A refused control call.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
    valid: Option<Vec<String>>,
}

impl ApiError {
    /// Any status; a 5xx becomes 400.
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() { status } else { StatusCode::BAD_REQUEST };
        ApiError { status, message: message.into(), valid: None }
    }

    /// 400.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request is well formed but the emulator cannot do it now.
    pub(super) fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 415.
    pub(super) fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// Lists the values that would have been accepted.
    pub(super) fn with_valid<I>(mut self, valid: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.valid = Some(valid.into_iter().map(Into::into).collect());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.valid {
            Some(valid) => json!({"error": self.message, "valid": valid}),
            None => json!({"error": self.message}),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), format!("path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(r.status(), format!("query string: {}", r.body_text()))
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, format!("body too large: {}", r.body_text()))
        } else {
            ApiError::new(status, format!("body: {}", r.body_text()))
        }
    }
}
