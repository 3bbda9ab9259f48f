//! The request guard, in front of every route (and the fallbacks): refuses a path or query
//! that is not UTF-8 once percent-decoded (400), a declared body over
//! [`crate::MAX_BODY_BYTES`] before reading it (413), reads the body within the body read
//! timeout (408 otherwise), and sets the security headers on every answer.

use super::{SECURITY_HEADERS, Surface};
use crate::MAX_BODY_BYTES;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dbcloud_types::Code;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the guard.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Time allowed to receive a request body.
    pub body_read_timeout: Duration,
}

/// A refusal in the shape of `surface`; `close` ends the connection after it (the body
/// was not read, or only partly).
pub fn refusal(surface: Surface, status: StatusCode, code: Code, message: &str, close: bool) -> Response {
    let mut r = (status, axum::Json(surface.error_body(status, code, message))).into_response();
    if close {
        r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Percent-decodes `s` and checks the result is UTF-8.
fn decodes_to_utf8(s: &str) -> bool {
    if !s.contains('%') {
        return true;
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

enum BodyError {
    TooLarge,
    Failed(String),
}

async fn collect(body: Body) -> Result<bytes::Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Failed(e.to_string()))?;
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn too_large(surface: Surface) -> Response {
    refusal(surface, StatusCode::PAYLOAD_TOO_LARGE, Code::InvalidArgument, &format!("request body is too large: at most {MAX_BODY_BYTES} bytes"), true)
}

/// Checks the request and reads its body; `Err` is the answer.
async fn check(req: Request, cfg: &GuardConfig, surface: Surface) -> Result<Request, Response> {
    let hint = req.body().size_hint();
    let has_body = hint.exact() != Some(0);
    for (what, part) in [("path", Some(req.uri().path())), ("query", req.uri().query())] {
        if part.is_some_and(|p| !decodes_to_utf8(p)) {
            let msg = format!("invalid argument: {what}: percent-encoded bytes are not valid UTF-8");
            return Err(refusal(surface, StatusCode::BAD_REQUEST, Code::InvalidArgument, &msg, has_body));
        }
    }
    if !has_body {
        return Ok(req);
    }
    if hint.lower() > MAX_BODY_BYTES as u64 {
        return Err(too_large(surface));
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(cfg.body_read_timeout, collect(body)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(BodyError::TooLarge)) => Err(too_large(surface)),
        Ok(Err(BodyError::Failed(e))) => {
            Err(refusal(surface, StatusCode::BAD_REQUEST, Code::InvalidArgument, &format!("could not read the request body: {e}"), true))
        }
        Err(_) => {
            metrics::counter!("dbcloud_http_timeouts_total", "phase" => "body").increment(1);
            let msg = format!("request body not received within {} ms", cfg.body_read_timeout.as_millis());
            Err(refusal(surface, StatusCode::REQUEST_TIMEOUT, Code::DeadlineExceeded, &msg, true))
        }
    }
}

/// Middleware: the checks above, then the security headers on whatever the answer is.
/// Every answer but the static API browser (`/docs`) and the console's content-hashed assets
/// (`/assets/`, which set their own long lifetime) is `Cache-Control: no-store`: API answers
/// carry secrets (created keys, generated passwords) and must never be cached.
pub async fn guard(State(cfg): State<Arc<GuardConfig>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let surface = Surface::of(path.as_bytes());
    let cacheable = path == "/docs" || path.starts_with("/docs/") || path.starts_with("/assets/");
    let mut res = match check(req, &cfg, surface).await {
        Ok(req) => next.run(req).await,
        Err(res) => res,
    };
    let h = res.headers_mut();
    for (k, v) in SECURITY_HEADERS {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_after_decoding() {
        assert!(decodes_to_utf8("/v1/clusters"));
        assert!(decodes_to_utf8("/v1/caf%C3%A9"));
        assert!(decodes_to_utf8("/v1/café"));
        assert!(decodes_to_utf8("/a%2"), "a stray percent is left alone");
        assert!(decodes_to_utf8("q=100%"));
        assert!(!decodes_to_utf8("/v1/%FF"));
        assert!(!decodes_to_utf8("name=%C3"));
        assert!(!decodes_to_utf8("x=%ff%fe"));
    }
}
