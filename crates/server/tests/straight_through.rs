//! Sequences a user runs straight through, with no pause while the cluster is still being
//! created: metadata changes are not infrastructure operations, and a delete supersedes the
//! running create — on the seed-004 (CockroachDB) paths and on native `/v1`.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// `(kind, status)` of a cluster's operations, oldest first.
async fn operations(t: &TestServer, id: &str) -> Vec<(String, String)> {
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_create_get_spend_limit_delete_with_no_pause() {
    // Slow steps: the create is still running when the next requests arrive.
    let t = TestServer::with(Backend::Sqlite, config(200, 0.0)).await;
    let base = format!("/api/v1/orgs/{}/clusters", t.org);
    let (s, _, c) = t.call(Method::POST, &base, Some(json!({"name": "notorious-moose", "serverless": {"regions": ["us-central1"], "spendLimit": 0}}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let id = c["cluster"]["id"].as_str().unwrap().to_string();
    let (s, _, got) = t.call(Method::GET, &format!("{base}/{id}"), None).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["cluster"]["state"], "CREATING", "the create is still running: {got}");
    let (s, _, b) = t.call(Method::PUT, &format!("{base}/{id}/spend-limit"), Some(json!({"spendLimit": 10}))).await;
    assert_eq!((s, b), (StatusCode::OK, json!({})), "a spend limit is accepted while CREATING");
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["spend_limit"], 1000);
    let (s, _, b) = t.call(Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    assert_eq!(operations(&t, &id).await, [("create".to_string(), "CANCELLED".to_string()), ("delete".into(), "SUCCEEDED".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_metadata_changes_while_creating_and_scaling() {
    let t = TestServer::with(Backend::Sqlite, config(200, 0.0)).await;
    let (s, k) = t.post("/v1/clusters", json!({"name": "busy", "provider": "aws", "region": "us-east-1", "node_count": 3})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    // A rename while CREATING: accepted at once, no operation of its own.
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"name": "renamed"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["cluster"]["name"], "renamed");
    assert_eq!(b["cluster"]["state"], "CREATING");
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    // A scale runs; a second scale is busy (409 with Retry-After); a rename is not.
    let (s, _, _) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 5}))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, h, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 4}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(h.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"name": "renamed-again"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c = t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    assert_eq!((c["name"].as_str(), c["node_count"].as_i64()), (Some("renamed-again"), Some(5)), "{c}");
}
