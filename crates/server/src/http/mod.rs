//! The HTTP front: our own accept loop over hyper (connection cap, header, body and idle
//! timeouts, lingering close), the request guard (early body-size check, body read
//! timeout, UTF-8 of path and query, security headers) and the metrics recorder with its
//! access rules.
//!
//! Transport-level refusals (400, 408, 413, 414, 431, 503) answer a JSON error body in the
//! shape of the API surface the path belongs to, keeping their HTTP status; see
//! [`Surface`].

pub mod conn;
pub mod guard;
pub mod metrics;
pub mod serve;

use axum::http::StatusCode;
use dbcloud_types::{Code, ErrorBody};
use std::time::Duration;

/// Largest request head (request line and headers) accepted; larger ones get a 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper's read and write buffer limit per connection (bounds memory per connection).
pub const MAX_BUF_BYTES: usize = MAX_HEADER_BYTES + 8 * 1024;
/// How long a closing connection keeps reading (and discarding) what the client still
/// sends, so the client reads our last answer instead of a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// Connection settings of a listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time from accepting a connection, or from the first byte of a later request, until
    /// the request head (request line and headers) is complete; slower clients are closed.
    pub header_read_timeout: Duration,
    /// Time to receive a request body once its head has arrived; slower clients get a 408
    /// and are closed.
    pub body_read_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request, or stall while the
    /// client does not read our answer, before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more get a 503 and are closed.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    /// Defaults: header read 10 s (a real client sends its headers at once; nginx uses 60 s,
    /// Go servers commonly 5–10 s), body read 30 s (the largest accepted body, 256 KiB,
    /// then needs 9 KB/s), idle 75 s (longer than the 60 s idle timeout of common load
    /// balancers, so they close first and never reuse a connection we just closed), and
    /// 512 connections (half of the usual 1024 open-file limit, leaving room for the store
    /// and the log; a control plane's clients are few and keep their connections alive).
    fn default() -> Self {
        HttpConfig {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
        }
    }
}

/// A secret that must not appear in `Debug` output (the `/metrics` bearer token).
#[derive(Clone)]
pub struct MetricsToken(pub String);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(<redacted>)")
    }
}

/// Where and to whom `/metrics` is served.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// Serve `/metrics` only on this address (the main listener answers 404 for it).
    pub listen: Option<std::net::SocketAddr>,
    /// Require `Authorization: Bearer <token>` for `/metrics`, wherever it is served.
    pub token: Option<MetricsToken>,
}

/// The API surface a request path belongs to, which decides the shape of error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The native API and everything else: `{"code","message","details"}`.
    Native,
    /// CockroachDB Cloud (`/api/v1`): the native shape (`Status`).
    Cockroach,
    /// Couchbase Cloud v2 (`/v2`): `{"message","errorType"}`.
    Couchbase,
    /// CrateDB Cloud v2 (`/api/v2`): `{"message","success":false}`.
    CrateDb,
}

impl Surface {
    /// The surface of a request target (origin form, or absolute form `http://host/path`).
    pub fn of(target: &[u8]) -> Surface {
        let mut path = target;
        for scheme in [&b"http://"[..], b"https://"] {
            if path.len() >= scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
                let rest = &path[scheme.len()..];
                path = rest.iter().position(|b| *b == b'/').map_or(&b"/"[..], |i| &rest[i..]);
            }
        }
        let under = |prefix: &[u8]| path.starts_with(prefix) && matches!(path.get(prefix.len()), None | Some(b'/' | b'?'));
        if under(b"/api/v1") {
            Surface::Cockroach
        } else if under(b"/api/v2") {
            Surface::CrateDb
        } else if under(b"/v2") {
            Surface::Couchbase
        } else {
            Surface::Native
        }
    }

    /// The JSON error body of a transport-level refusal in this surface's shape.
    pub fn error_body(self, status: StatusCode, code: Code, message: &str) -> serde_json::Value {
        match self {
            Surface::Native | Surface::Cockroach => {
                serde_json::to_value(ErrorBody { code: code.as_i32(), message: message.to_string(), details: vec![] }).unwrap_or_default()
            }
            Surface::Couchbase => {
                let kind = match status {
                    StatusCode::REQUEST_TIMEOUT => "RequestTimeout",
                    StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
                    s if s.is_client_error() => "RequestValidationError",
                    _ => "InternalServerError",
                };
                serde_json::json!({"message": message, "errorType": kind})
            }
            Surface::CrateDb => serde_json::json!({"message": message, "success": false}),
        }
    }
}

/// Headers every response carries: no MIME sniffing, no framing.
pub const SECURITY_HEADERS: [(&str, &str); 2] = [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")];

/// A complete HTTP/1.1 error response (JSON body, `Connection: close`) written straight to
/// a socket, for refusals made before or outside hyper's request handling.
pub fn raw_error_response(surface: Surface, status: StatusCode, code: Code, message: &str) -> Vec<u8> {
    let body = surface.error_body(status, code, message).to_string();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        out.push_str("retry-after: 1\r\n");
    }
    for (k, v) in SECURITY_HEADERS {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces() {
        assert_eq!(Surface::of(b"/v1/clusters"), Surface::Native);
        assert_eq!(Surface::of(b"/v2"), Surface::Couchbase);
        assert_eq!(Surface::of(b"/v2/clusters?x=1"), Surface::Couchbase);
        assert_eq!(Surface::of(b"/v20/clusters"), Surface::Native);
        assert_eq!(Surface::of(b"/api/v1/clusters"), Surface::Cockroach);
        assert_eq!(Surface::of(b"/api/v2/users/me/"), Surface::CrateDb);
        assert_eq!(Surface::of(b"http://h:1/api/v2/x"), Surface::CrateDb);
        assert_eq!(Surface::of(b"HTTP://h"), Surface::Native);
        assert_eq!(Surface::of(b"*"), Surface::Native);
    }

    #[test]
    fn raw_response_is_well_formed() {
        let r = String::from_utf8(raw_error_response(Surface::Native, StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, "busy")).unwrap();
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body, serde_json::json!({"code": 14, "message": "busy", "details": []}));
    }
}
