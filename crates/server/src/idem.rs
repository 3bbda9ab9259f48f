//! The `Idempotency-Key` header of creates, parsed. Replays are the service layer's
//! (`dbcloud_app::idempotency`): the record is written by the store in the same
//! transaction as the object it created, so a crash never leaves one without the other.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;

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
