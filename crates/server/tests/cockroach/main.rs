//! The CockroachDB Cloud v1 dialect over real HTTP: shapes, versions, page tokens, errors,
//! every sub-resource, identity routes, the audit log, and a check of every implemented
//! operation's answer against the vendor's OpenAPI document.

#[path = "../common/mod.rs"]
mod common;

mod clusters;
mod conformance;
mod identity;
mod lists;
mod surface;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A serverless (BASIC) cluster through the dialect; returns its id.
pub(crate) async fn basic(t: &TestServer, name: &str) -> String {
    let (s, _, c) = t
        .call(
            Method::POST,
            "/api/v1/clusters",
            Some(serde_json::json!({"name": name, "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c["id"].as_str().unwrap().to_string()
}

pub(crate) async fn call_v(t: &TestServer, version: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url)).bearer_auth(&t.token).header("Cc-Version", version);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, b) = decode(rb.send().await.unwrap()).await;
    (s, b)
}

/// The operations of the vendor's document this server serves.
pub(crate) const IMPLEMENTED: &[&str] = &[
    "GET /api/v1/clusters",
    "POST /api/v1/clusters",
    "GET /api/v1/clusters/{cluster_id}",
    "PATCH /api/v1/clusters/{cluster_id}",
    "DELETE /api/v1/clusters/{cluster_id}",
    "GET /api/v1/clusters/{cluster_id}/nodes",
    "GET /api/v1/clusters/{cluster_id}/connection-string",
    "GET /api/v1/clusters/available-regions",
    "GET /api/v1/organization",
    "GET /api/v1/clusters/{cluster_id}/sql-users",
    "POST /api/v1/clusters/{cluster_id}/sql-users",
    "PUT /api/v1/clusters/{cluster_id}/sql-users/{name}/password",
    "DELETE /api/v1/clusters/{cluster_id}/sql-users/{name}",
    "GET /api/v1/clusters/{cluster_id}/databases",
    "POST /api/v1/clusters/{cluster_id}/databases",
    "PATCH /api/v1/clusters/{cluster_id}/databases",
    "PATCH /api/v1/clusters/{cluster_id}/databases/{name}",
    "DELETE /api/v1/clusters/{cluster_id}/databases/{name}",
    "GET /api/v1/clusters/{cluster_id}/networking/allowlist",
    "POST /api/v1/clusters/{cluster_id}/networking/allowlist",
    "PUT /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "PATCH /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "DELETE /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "GET /api/v1/api-keys",
    "POST /api/v1/api-keys",
    "GET /api/v1/api-keys/{id}",
    "PATCH /api/v1/api-keys/{id}",
    "DELETE /api/v1/api-keys/{id}",
    "GET /api/v1/service-accounts",
    "POST /api/v1/service-accounts",
    "GET /api/v1/service-accounts/{id}",
    "PATCH /api/v1/service-accounts/{id}",
    "DELETE /api/v1/service-accounts/{id}",
    "GET /api/v1/roles",
    "GET /api/v1/roles/{user_id}",
    "PUT /api/v1/roles/{user_id}",
    "POST /api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
    "DELETE /api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
    "GET /api/v1/auditlogevents",
];
