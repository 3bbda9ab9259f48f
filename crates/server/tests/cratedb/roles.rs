//! Every role × every `/api/v2/` route.

use super::changes::native_cluster;
use super::common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Every role (at organization scope) × every `/api/v2/` route: allowed or 403 as the shared
/// role table says, with the CrateDB 403 body; and every route the dialect documents is in
/// the matrix, so none lacks an authorization check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_api_v2_route() {
    use dbcloud_core::perms::Role;
    let table = role_table();
    assert_eq!(table.len(), Role::ALL.len());

    let t = TestServer::start().await;
    let org = t.org.clone();
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let c = native_cluster(&t, "target").await;
    let victim = native_cluster(&t, "victim").await;
    let project_name = t.get(&format!("/v1/projects/{project}")).await["name"].as_str().unwrap().to_string();
    let absent_key = "dbc_doesnotexist0000000000";
    t.post("/v1/users", json!({"email": "member@example.com"})).await;

    type R = (Method, &'static str, String, Option<Value>, &'static [&'static str]);
    let deploy = json!({"cluster": {"name": "mx-deploy", "crate_version": "5.9.2", "product_name": "cr4", "product_tier": "default",
        "username": "admin", "password": "a-very-long-password-0123456789"}, "subscription_id": "free_tier", "project_id": project});
    let routes: Vec<R> = vec![
        (Method::GET, "/api/v2/users/me/", "/api/v2/users/me/".into(), None, &[]),
        (Method::GET, "/api/v2/organizations/", "/api/v2/organizations/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/", format!("/api/v2/organizations/{org}/"), None, &["org.read"]),
        (
            Method::PUT,
            "/api/v2/organizations/{org_id}/",
            format!("/api/v2/organizations/{org}/"),
            Some(json!({"notifications_enabled": true})),
            &["org.update"],
        ),
        (Method::GET, "/api/v2/organizations/{org_id}/projects/", format!("/api/v2/organizations/{org}/projects/"), None, &["project.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/regions/", format!("/api/v2/organizations/{org}/regions/"), None, &[]),
        (Method::GET, "/api/v2/organizations/{org_id}/users/", format!("/api/v2/organizations/{org}/users/"), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/subscriptions/", format!("/api/v2/organizations/{org}/subscriptions/"), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/clusters/", format!("/api/v2/organizations/{org}/clusters/"), None, &["cluster.read"]),
        (Method::POST, "/api/v2/organizations/{org_id}/clusters/", format!("/api/v2/organizations/{org}/clusters/"), Some(deploy), &["cluster.create"]),
        (Method::GET, "/api/v2/organizations/{org_id}/auditlogs/", format!("/api/v2/organizations/{org}/auditlogs/"), None, &["audit.read"]),
        (Method::GET, "/api/v2/roles/", "/api/v2/roles/".into(), None, &[]),
        (Method::GET, "/api/v2/regions/", "/api/v2/regions/".into(), None, &[]),
        (Method::GET, "/api/v2/products/", "/api/v2/products/".into(), None, &[]),
        (Method::GET, "/api/v2/subscriptions/", "/api/v2/subscriptions/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/subscriptions/{subscription_id}/", "/api/v2/subscriptions/free_tier/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/users/", "/api/v2/users/".into(), None, &["user.manage"]),
        (Method::GET, "/api/v2/projects/", "/api/v2/projects/".into(), None, &["project.read"]),
        (Method::POST, "/api/v2/projects/", "/api/v2/projects/".into(), Some(json!({"name": "mx-project"})), &["project.create"]),
        (Method::GET, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), None, &["project.read"]),
        (Method::PATCH, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), Some(json!({"name": project_name})), &["project.update"]),
        // The project holds clusters: allowed callers get 409, not a deletion.
        (Method::DELETE, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), None, &["project.delete"]),
        (Method::GET, "/api/v2/clusters/", "/api/v2/clusters/".into(), None, &["cluster.read"]),
        (Method::GET, "/api/v2/clusters/{cluster_id}/", format!("/api/v2/clusters/{c}/"), None, &["cluster.read"]),
        (Method::GET, "/api/v2/clusters/{cluster_id}/operations/", format!("/api/v2/clusters/{c}/operations/"), None, &["cluster.read"]),
        // Change routes with bodies the core refuses after authorization (400/409), so the
        // cluster stays idle for every role.
        (Method::PUT, "/api/v2/clusters/{cluster_id}/scale/", format!("/api/v2/clusters/{c}/scale/"), Some(json!({"product_unit": 1})), &["cluster.update"]),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/upgrade/",
            format!("/api/v2/clusters/{c}/upgrade/"),
            Some(json!({"crate_version": "1.0.0"})),
            &["cluster.update"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/suspend/",
            format!("/api/v2/clusters/{c}/suspend/"),
            Some(json!({"suspended": false})),
            &["cluster.update"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/ip-restrictions/",
            format!("/api/v2/clusters/{c}/ip-restrictions/"),
            Some(json!({"ip_whitelist": [{"cidr": "10.0.0.1/8"}]})),
            &["allowlist.manage"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/deletion-protection/",
            format!("/api/v2/clusters/{c}/deletion-protection/"),
            Some(json!({"deletion_protected": false})),
            &["cluster.update"],
        ),
        (Method::GET, "/api/v2/users/me/api-keys/", "/api/v2/users/me/api-keys/".into(), None, &[]),
        (Method::POST, "/api/v2/users/me/api-keys/", "/api/v2/users/me/api-keys/".into(), None, &["apikey.manage"]),
        (Method::GET, "/api/v2/users/me/api-keys/{key}/", format!("/api/v2/users/me/api-keys/{absent_key}/"), None, &[]),
        (Method::DELETE, "/api/v2/users/me/api-keys/{key}/", format!("/api/v2/users/me/api-keys/{absent_key}/"), None, &["apikey.manage"]),
        (Method::GET, "/api/v2/projects/{project_id}/users/", format!("/api/v2/projects/{project}/users/"), None, &["project.read"]),
        (
            Method::POST,
            "/api/v2/projects/{project_id}/users/",
            format!("/api/v2/projects/{project}/users/"),
            Some(json!({"user": "member@example.com", "role_fqn": "project_member"})),
            &["user.manage"],
        ),
        (
            Method::DELETE,
            "/api/v2/projects/{project_id}/users/{user}/",
            format!("/api/v2/projects/{project}/users/nobody@example.com/"),
            None,
            &["user.manage"],
        ),
        (
            Method::POST,
            "/api/v2/organizations/{org_id}/users/",
            format!("/api/v2/organizations/{org}/users/"),
            Some(json!({"user": "member@example.com", "role_fqn": "org_member"})),
            &["user.manage"],
        ),
        (
            Method::DELETE,
            "/api/v2/organizations/{org_id}/users/{user}/",
            format!("/api/v2/organizations/{org}/users/nobody@example.com/"),
            None,
            &["user.manage"],
        ),
        (Method::DELETE, "/api/v2/clusters/{cluster_id}/", format!("/api/v2/clusters/{victim}/"), None, &["cluster.delete"]),
    ];

    // Completeness: every documented /api/v2/ route is in the matrix.
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/api/v2/") {
            for method in item.as_object().unwrap().keys() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let covered: std::collections::BTreeSet<String> = routes.iter().map(|r| format!("{} {}", r.0, r.1)).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "/api/v2/ routes without a matrix entry: {missing:?}");
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(stale.is_empty(), "matrix entries for undocumented routes: {stale:?}");

    let denied = json!({"message": "Permission denied for user.", "success": false});
    let mut checked = 0;
    for role in Role::ALL {
        let allowed = &table[role.as_str()];
        let token = t.role_key(*role).await;
        for (method, template, path, body, needs) in &routes {
            let expect_allowed = needs.iter().all(|p| allowed.contains(p));
            let (status, _, b) = t.call_as(&token, method.clone(), path, body.clone()).await;
            assert!(!status.is_server_error() && status != 401, "{role:?} {method} {path}: {status} {b}");
            if expect_allowed {
                assert_ne!(status, 403, "{} should be allowed {method} {template}: {b}", role.as_str());
            } else {
                assert_eq!(status, 403, "{} should be refused {method} {template}: {b}", role.as_str());
                assert_eq!(b, denied, "{} {method} {template}", role.as_str());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * Role::ALL.len());
    // Nothing a refused role sent changed the target cluster.
    let native = t.get(&format!("/v1/clusters/{c}")).await;
    assert_eq!((native["node_count"].clone(), native["version"].clone()), (json!(2), json!("7.6.2")), "{native}");
}
