//! The CockroachDB Cloud v1 dialect (in progress): cluster get / delete, nodes, available
//! regions, organization, over real HTTP with the vendor's shapes and error codes.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn cluster_get_nodes_and_delete_in_the_vendor_shape() {
    let t = TestServer::start().await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "crdb-one", "provider": "gcp", "region": "us-central1", "node_count": 3})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let c = t.get(&format!("/api/v1/clusters/{id}")).await;
    assert_eq!((c["name"].as_str(), c["plan"].as_str(), c["cloud_provider"].as_str()), (Some("crdb-one"), Some("ADVANCED"), Some("GCP")));
    assert_eq!((c["state"].as_str(), c["operation_status"].as_str()), (Some("CREATED"), Some("UNSPECIFIED")));
    assert_eq!(c["regions"][0]["name"], "us-central1");
    assert!(c["deleted_at"].is_null());
    let (s, h, old) = t.call(Method::GET, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cc-version"], "2024-09-16");
    assert_eq!(old["plan"], "ADVANCED");
    let nodes = t.get(&format!("/api/v1/clusters/{id}/nodes")).await;
    let nodes = nodes["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["status"] == "LIVE" && n["region_name"] == "us-central1"));
    let (s, _, gone) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::OK, "deletes return the cluster: {gone}");
    assert_eq!(gone["state"], "DELETED");
    assert!(gone["deleted_at"].is_string());
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
    let (s, _, b) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, 5);
}

#[tokio::test]
async fn a_busy_cluster_is_locked_with_503_and_retry_after() {
    let t = TestServer::with(Backend::Sqlite, config(200, 0.0)).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "crdb-busy", "provider": "aws", "region": "us-east-1"})).await;
    let id = k["cluster"]["id"].as_str().unwrap();
    let (s, h, b) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, 14);
    assert!(b["message"].as_str().unwrap().contains("lock"));
    assert_eq!(h["retry-after"], "1");
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "CREATING", "nothing changed");
}

#[tokio::test]
async fn regions_and_organization() {
    let t = TestServer::start().await;
    let r = t.get("/api/v1/clusters/available-regions?provider=GCP").await;
    let regions = r["regions"].as_array().unwrap();
    assert!(!regions.is_empty());
    assert!(regions.iter().all(|x| x["provider"] == "GCP" && x["serverless"] == true));
    assert!(regions.iter().any(|x| x["name"] == "us-central1"));
    let (s, _, b) = t.call(Method::GET, "/api/v1/clusters/available-regions?provider=IBM", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("provider"));
    let o = t.get("/api/v1/organization").await;
    assert_eq!(o["id"], t.org.as_str());
    assert_eq!(o["label"], "default");
    assert!(o["cockroach_cloud_service_principals"].is_null());
}
