//! Extractors whose rejections are native error bodies naming the field at fault.

use crate::error::ApiError;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use dbcloud_types::Code;
use serde::de::DeserializeOwned;

/// A JSON body. The content type is not required (curl's `-d` works); invalid JSON,
/// wrong types, missing and unknown fields get a 400 naming the field; bodies over the
/// limit get a 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, Code::InvalidArgument, "request body is too large")
            } else {
                ApiError::bad_request(format!("could not read the request body: {}", e.body_text()))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, naming the offending field in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid argument: body: a JSON object is required"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid argument: body: malformed JSON ({e})")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid argument: body: a JSON object is required"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = inner.to_string();
        let what = what.split(" at line ").next().unwrap_or(&what).to_string();
        let mut err = if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("invalid argument: body: malformed JSON ({inner})"))
        } else if path == "." || path.is_empty() {
            ApiError::bad_request(format!("invalid argument: body: {what}"))
        } else {
            ApiError::bad_request(format!("invalid argument: {path}: {what}"))
        };
        if !(inner.is_syntax() || inner.is_eof()) {
            let field = if path == "." { "body".to_string() } else { path };
            err.body.details.push(serde_json::json!({"field": field, "description": what}));
        }
        err
    })
}

/// Path parameters; a malformed id is a 400 naming it.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| ApiPath(p.0)).map_err(|e: PathRejection| match e {
            PathRejection::FailedToDeserializePathParams(inner) => match inner.kind() {
                ErrorKind::ParseErrorAtKey { key, value, .. } | ErrorKind::DeserializeError { key, value, .. } => {
                    let mut err = ApiError::bad_request(format!("invalid argument: {key}: `{value}` is not a valid id"));
                    err.body.details.push(serde_json::json!({"field": key, "description": "not a valid id"}));
                    err
                }
                other => ApiError::bad_request(format!("invalid argument: path: {other}")),
            },
            other => ApiError::bad_request(format!("invalid argument: path: {}", other.body_text())),
        })
    }
}

/// Query parameters; unknown or malformed parameters are a 400 naming them.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(|e: QueryRejection| {
            let text = e.body_text();
            let text = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_string();
            ApiError::bad_request(format!("invalid argument: query: {text}"))
        })
    }
}
