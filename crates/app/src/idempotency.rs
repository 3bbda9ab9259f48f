//! `Idempotency-Key` on creates: a retried create returns the original result, whatever
//! surface the retry comes through.
//!
//! The record is written by the store in the same transaction as the object it created, so
//! a crash never leaves an object without its record (or the reverse). It holds a hash of
//! the typed request (the call's name and its canonical JSON — never a secret) and the
//! typed result, which each surface renders in its own shape.

use crate::{App, Caller};
use dbcloud_core::{Error, Result};
use dbcloud_store::{IDEMPOTENCY_RACE, IdempotencyKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::future::Future;

/// The result of a create: the object, and whether it is the answer recorded for an
/// earlier request with the same `Idempotency-Key` (then nothing was created now).
#[derive(Debug, Clone)]
pub struct Created<T> {
    /// The created (or earlier created) object.
    pub value: T,
    /// `true` when this is a replay of an earlier create.
    pub replayed: bool,
}

impl<T> Created<T> {
    /// Maps the value, keeping the replay flag.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Created<U> {
        Created { value: f(self.value), replayed: self.replayed }
    }
}

/// Checks an `Idempotency-Key` value: 1–255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::field("Idempotency-Key", "must be 1-255 visible ASCII characters"))
    }
}

/// Runs `create` once per idempotency key of the caller. `call` names the use case and
/// `request` is its canonical input (a reused key with another request is refused with
/// [`Error::IdempotencyKeyReused`]); `create` gets the store context to write with.
pub(crate) async fn run<T, F, Fut>(app: &App, caller: &Caller, key: Option<&str>, call: &str, request: &impl Serialize, create: F) -> Result<Created<T>>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce(dbcloud_store::Ctx) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let Some(key) = key else {
        return Ok(Created { value: create(caller.ctx(None)).await?, replayed: false });
    };
    check_key(key)?;
    let canonical = serde_json::to_string(request).map_err(|e| Error::Internal(format!("request identity: {e}")))?;
    let hash = hex::encode(Sha256::digest(format!("{call}\n{canonical}")));
    let principal = caller.principal.key_id.clone();
    let lookup = || async {
        match app.store().idempotent_response(caller.org(), &principal, key).await? {
            Some(stored) if stored.request_hash == hash => {
                let value = serde_json::from_value(stored.body).map_err(|e| Error::Internal(format!("stored idempotent result: {e}")))?;
                Ok(Some(Created { value, replayed: true }))
            }
            Some(_) => Err(Error::IdempotencyKeyReused),
            None => Ok(None),
        }
    };
    if let Some(r) = lookup().await? {
        return Ok(r);
    }
    let idem = IdempotencyKey { principal: principal.clone(), key: key.to_string(), request_hash: hash.clone(), status: 200 };
    match create(caller.ctx(Some(idem))).await {
        Ok(value) => Ok(Created { value, replayed: false }),
        Err(Error::Aborted(m)) if m == IDEMPOTENCY_RACE => lookup().await?.ok_or(Error::Aborted(m)),
        Err(e) => Err(e),
    }
}
