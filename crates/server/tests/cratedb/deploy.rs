//! Deploying into an existing project: the cluster goes to the organization's first cloud.

use super::changes::basic;
use super::common::*;
use reqwest::Method;
use serde_json::json;

/// With a cloud in the organization, a deploy into an existing project is accepted (201)
/// and the cluster runs in that cloud (its region shows in the FQDN and the native view).
#[tokio::test]
async fn a_deploy_into_an_existing_project_uses_the_organizations_cloud() {
    let t = TestServer::start().await;
    let (s, cloud) = t.post("/v1/clouds", json!({"name": "eu", "provider": "gcp", "region": "europe-west1"})).await;
    assert_eq!(s, 201, "{cloud}");
    let (s, p) = basic(&t, Method::POST, "/api/v2/projects/", Some(json!({"name": "deploy-here"}))).await;
    assert_eq!(s, 201, "{p}");
    let deploy = json!({"cluster": {"name": "in-project", "crate_version": "5.9.2", "product_name": "cr4", "product_tier": "default",
        "username": "admin", "password": "a-password-of-24-chars-xx"}, "subscription_id": "free_tier", "project_id": p["id"]});
    let (s, c) = basic(&t, Method::POST, &format!("/api/v2/organizations/{}/clusters/", t.org), Some(deploy)).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["project_id"], p["id"], "{c}");
    let native = t.get(&format!("/v1/clusters/{}", c["id"].as_str().unwrap())).await;
    assert_eq!(native["cloud_id"], cloud["id"], "{native}");
}
