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
        match parse_key(v) {
            Some(s) => Ok(IdemKey(Some(s.to_string()))),
            None => Err(ApiError::bad_request("invalid argument: Idempotency-Key: must be 1-255 visible ASCII characters")),
        }
    }
}

/// The key of an `Idempotency-Key` header value: 1–255 visible ASCII characters, else `None`.
pub fn parse_key(v: &HeaderValue) -> Option<&str> {
    v.to_str().ok().filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn keys_are_visible_ascii_and_taken_as_sent(bytes in proptest::collection::vec(any::<u8>(), 0..300), key in "[!-~]{1,255}") {
            if let Ok(v) = HeaderValue::from_bytes(&bytes)
                && let Some(k) = parse_key(&v)
            {
                prop_assert!((1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
                prop_assert_eq!(k.as_bytes(), &bytes[..]);
            }
            let v = HeaderValue::from_str(&key).unwrap();
            prop_assert_eq!(parse_key(&v), Some(key.as_str()));
            let long = HeaderValue::from_str(&format!("{key}{}", "x".repeat(256 - key.len()))).unwrap();
            prop_assert_eq!(parse_key(&long), None, "256 characters");
        }
    }
}
