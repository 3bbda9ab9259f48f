//! `Idempotency-Key` on creates: a retried create returns the original answer.
//!
//! The record is written by the store in the same transaction as the object it created,
//! so a crash can never leave an object without its record (or the reverse).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dbcloud_core::Error;
use dbcloud_store::{Ctx, IDEMPOTENCY_RACE, IdempotencyKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;

/// The optional `Idempotency-Key` header (1–255 visible ASCII characters).
pub struct IdemKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdemKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get("idempotency-key") else { return Ok(IdemKey(None)) };
        let s = v.to_str().ok().filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()));
        match s {
            Some(s) => Ok(IdemKey(Some(s.to_string()))),
            None => Err(ApiError::bad_request("invalid argument: Idempotency-Key: must be 1-255 visible ASCII characters")),
        }
    }
}

fn replay(status: u16, body: serde_json::Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), Json(body)).into_response();
    r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// Runs a create once per idempotency key. `request` identifies the request (a reused key
/// with a different request is refused); `create` receives the store context to use and
/// `respond` turns its result into the answer (status `status`).
#[allow(clippy::too_many_arguments)]
pub async fn create<T, F, Fut>(
    state: &AppState,
    caller: &Caller,
    key: IdemKey,
    route: &str,
    request: &impl Serialize,
    status: StatusCode,
    create: F,
    respond: impl FnOnce(T) -> Response,
) -> ApiResult<Response>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let Some(key) = key.0 else {
        return Ok(respond(create(caller.ctx(None)).await?));
    };
    let hash = hex::encode(Sha256::digest(format!("{route}\n{}", serde_json::to_string(request).unwrap_or_default())));
    let principal = caller.principal.key_id.clone();
    let lookup = || async {
        match state.store.idempotent_response(caller.org(), &principal, &key).await? {
            Some(stored) if stored.request_hash == hash => Ok(Some(replay(stored.status, stored.body))),
            Some(_) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                dbcloud_types::Code::InvalidArgument,
                "invalid argument: Idempotency-Key: already used for a different request",
            )),
            None => Ok(None),
        }
    };
    if let Some(r) = lookup().await? {
        return Ok(r);
    }
    let idem = IdempotencyKey { principal: principal.clone(), key: key.clone(), request_hash: hash.clone(), status: status.as_u16() };
    match create(caller.ctx(Some(idem))).await {
        Ok(v) => Ok(respond(v)),
        Err(Error::Aborted(m)) if m == IDEMPOTENCY_RACE => match lookup().await? {
            Some(r) => Ok(r),
            None => Err(Error::Aborted(m).into()),
        },
        Err(e) => Err(e.into()),
    }
}
