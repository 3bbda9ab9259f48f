//! The Couchbase Cloud public API v2 dialect (`/v2/`): the seed-000 Python example, HMAC
//! signing in both endpoint forms, a full cluster lifecycle visible through `/v1/`, the
//! page-number envelope and the Couchbase error body, creates (201 + Location, idempotent
//! replays, empty versions), deletes during a create, and lists that show exactly what the
//! caller may read.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod creates;
mod lifecycle;
mod lists;
mod resources;
mod roles;

pub use common::*;
pub use reqwest::{Method, StatusCode};
pub use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
pub use std::time::Duration;

/// A strictly increasing millisecond timestamp (signed POSTs may not repeat a signature).
pub fn now_ms() -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let prev = LAST.fetch_max(now, Ordering::SeqCst);
    let v = if prev >= now { LAST.fetch_add(1, Ordering::SeqCst) + 1 } else { now };
    v.to_string()
}

pub type Answer = (StatusCode, reqwest::header::HeaderMap, Value);

/// Sends a request signed with HMAC over `target` (path + query), or over the absolute URL.
pub async fn signed_as(t: &TestServer, secret: &str, method: Method, target: &str, body: Option<Value>, absolute: bool, ts: Option<String>) -> Answer {
    let ts = ts.unwrap_or_else(now_ms);
    let url = format!("{}{target}", t.url);
    let endpoint = if absolute { url.clone() } else { target.to_string() };
    let sig = dbcloud_core::signing::sign(secret, method.as_str(), &endpoint, &ts);
    let mut rb = t.http.request(method, url).header("Authorization", format!("Bearer {}:{sig}", t.access_key)).header("Couchbase-Timestamp", ts);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    decode(rb.send().await.unwrap()).await
}

pub async fn signed(t: &TestServer, method: Method, target: &str, body: Option<Value>) -> Answer {
    signed_as(t, &t.secret, method, target, body, false, None).await
}

pub fn content_type(h: &reqwest::header::HeaderMap) -> &str {
    h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub fn assert_cb_error(a: &Answer, status: StatusCode, kind: &str) -> String {
    assert_eq!(a.0, status, "{}", a.2);
    assert_eq!(a.2["errorType"], kind, "{}", a.2);
    assert_eq!(content_type(&a.1), "application/json");
    let obj = a.2.as_object().unwrap();
    assert_eq!(obj.len(), 2, "only message and errorType: {}", a.2);
    a.2["message"].as_str().unwrap().to_string()
}

pub async fn native_cloud(t: &TestServer) -> String {
    let (s, c) = t.post("/v1/clouds", json!({"name": "aws-east", "provider": "aws", "region": "us-east-1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}
