//! HTTP mapping of the domain error: the native error body, status codes, `Retry-After`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_core::Error;
use dbcloud_types::{Code, ErrorBody};

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answer in the native shape `{"code","message","details"}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Body.
    pub body: ErrorBody,
    /// `Retry-After` seconds, for 429 and busy answers.
    pub retry_after: Option<u64>,
    /// Why authentication failed (dialects with their own 401 messages use it; never shown
    /// by the native API).
    pub auth_reason: Option<&'static str>,
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody { code: code.as_i32(), message: message.into(), details: vec![] }, retry_after: None, auth_reason: None }
    }

    /// 400 with code 3.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidArgument, message)
    }

    /// The uniform 401.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, Code::Unauthenticated, "unauthenticated")
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let status = match e {
            // A reused key is well-formed input the server cannot process (IETF idempotency draft).
            Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        let (message, details, retry_after) = match e {
            Error::InvalidArgument { message, violations } => {
                let details = violations.iter().map(|v| serde_json::json!({"field": v.field, "description": v.description})).collect();
                (message, details, None)
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ("internal error".to_string(), vec![], None)
            }
            Error::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                ("service unavailable".to_string(), vec![], Some(1))
            }
            Error::ResourceExhausted { message, retry_after_secs } => (message, vec![], Some(retry_after_secs.max(1))),
            Error::Aborted(m) => (m, vec![], Some(1)),
            Error::Busy { message, retry_after_secs } => (message, vec![], Some(retry_after_secs.max(1))),
            other => (other.to_string(), vec![], None),
        };
        ApiError { status, body: ErrorBody { code: code.as_i32(), message, details }, retry_after, auth_reason: None }
    }
}

impl ApiError {
    /// This error's status and headers around `body` (a dialect's own error shape).
    pub fn respond_with(&self, body: impl serde::Serialize) -> Response {
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"dbcloud\""));
        }
        r
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond_with(&self.body)
    }
}

/// Answer for paths no route matches.
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, format!("no such endpoint: {method} {}", uri.path()))
}

/// Answer for a known path with an unsupported method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, Code::InvalidArgument, format!("method {method} is not allowed on {}", uri.path()))
}
