//! Service accounts, API keys, role grants and the audit log.

use super::basic;
use super::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn service_accounts_keys_and_roles_without_escalation() {
    let t = TestServer::start().await;
    let org = t.org.clone();
    let (s, _, sa) = t
        .call(
            Method::POST,
            "/api/v1/service-accounts",
            Some(json!({"name": "ci-bot", "description": "CI",
        "roles": [{"name": "CLUSTER_ADMIN", "resource": {"type": "ORGANIZATION", "id": org}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sa}");
    let sa_id = sa["id"].as_str().unwrap().to_string();
    assert_eq!(sa["roles"][0]["name"], "CLUSTER_ADMIN");
    assert_eq!(sa["group_roles"], json!([]));
    let (s, _, created) = t.call(Method::POST, "/api/v1/api-keys", Some(json!({"name": "ci-key", "service_account_id": sa_id}))).await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let key_id = created["api_key"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with(&format!("{key_id}_")), "the secret key embeds the key id");
    // The key works as a bearer token with the account's roles.
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/clusters", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/auditlogevents", None).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, json!({"code": 7, "message": "permission denied", "details": []})));
    // Lists never show a secret.
    let keys = t.get(&format!("/api/v1/api-keys?service_account_id={sa_id}")).await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 1);
    assert!(!keys.to_string().contains(secret.rsplit('_').next().unwrap()));
    let (s, _, k) = t.call(Method::PATCH, &format!("/api/v1/api-keys/{key_id}"), Some(json!({"name": "renamed"}))).await;
    assert_eq!((s, k["name"].as_str()), (StatusCode::OK, Some("renamed")));
    // Roles: get, add one, replace the set, remove one.
    let roles = t.get(&format!("/api/v1/roles/{sa_id}")).await;
    assert_eq!(roles["roles"].as_array().unwrap().len(), 1);
    let (s, _, r) = t.call(Method::POST, &format!("/api/v1/roles/{sa_id}/ORGANIZATION/{org}/CLUSTER_MONITOR"), None).await;
    assert_eq!((s, r["roles"].as_array().unwrap().len()), (StatusCode::OK, 2), "{r}");
    let (s, _, r) = t
        .call(Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "CLUSTER_DEVELOPER", "resource": {"type": "ORGANIZATION"}}]})))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let names: Vec<&str> = r["roles"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CLUSTER_DEVELOPER"]);
    let listed = t.get("/api/v1/roles").await;
    assert!(listed["grants"].as_array().unwrap().iter().any(|g| g["user_id"] == sa_id.as_str()), "{listed}");
    let (s, _, _) = t.call(Method::DELETE, &format!("/api/v1/roles/{sa_id}/ORGANIZATION/{org}/CLUSTER_MONITOR"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not held any more");
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/roles/{}", uuid::Uuid::nil()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, b) =
        t.call(Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "KING", "resource": {"type": "ORGANIZATION"}}]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // Escalation: a cluster admin (no user management) cannot grant ORG_ADMIN, even to itself.
    let ca = t.role_key(dbcloud_core::perms::Role::ClusterAdmin).await;
    let (s, _, _) = t
        .call_as(&ca, Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "ORG_ADMIN", "resource": {"type": "ORGANIZATION"}}]})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&format!("/api/v1/roles/{sa_id}")).await["roles"].as_array().unwrap().len(), 1, "unchanged");
    // Deleting the key revokes it at once; deleting the account answers it.
    let (s, _, k) = t.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), None).await;
    assert_eq!((s, k["id"].as_str()), (StatusCode::OK, Some(key_id.as_str())));
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/clusters", None).await;
    assert_eq!((s, b), (StatusCode::UNAUTHORIZED, json!({"code": 16, "message": "unauthenticated", "details": []})));
    let (s, _, gone) = t.call(Method::DELETE, &format!("/api/v1/service-accounts/{sa_id}"), None).await;
    assert_eq!((s, gone["name"].as_str()), (StatusCode::OK, Some("ci-bot")));
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/service-accounts/{sa_id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_pages_by_time_in_both_directions() {
    let t = TestServer::start().await;
    for n in ["audit-one", "audit-two", "audit-three"] {
        basic(&t, n).await;
    }
    let mut seen = BTreeSet::new();
    let mut from = String::new();
    let mut pages = 0;
    loop {
        let q = if from.is_empty() { "limit=2".to_string() } else { format!("limit=2&starting_from={}", urlencode(&from)) };
        let page = t.get(&format!("/api/v1/auditlogevents?{q}")).await;
        for e in page["entries"].as_array().unwrap() {
            assert!(seen.insert(e["id"].as_str().unwrap().to_string()), "no entry twice");
        }
        pages += 1;
        match page["next_starting_from"].as_str() {
            Some(n) => from = n.to_string(),
            None => break,
        }
        assert!(pages < 50);
    }
    let everything = t.get("/api/v1/auditlogevents?limit=1000").await;
    assert_eq!(seen.len(), everything["entries"].as_array().unwrap().len());
    assert!(everything["next_starting_from"].is_null());
    let creates: Vec<&Value> = everything["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "AUDIT_LOG_ACTION_CREATE_CLUSTER").collect();
    assert_eq!(creates.len(), 3);
    assert!(creates.iter().all(|e| e["source"] == "AUDIT_LOG_SOURCE_CC_API" && e["trace_id"].as_str().is_some_and(|s| !s.is_empty())));
    let desc = t.get("/api/v1/auditlogevents?sort_order=DESC&limit=1000").await;
    let asc_ids: Vec<&Value> = everything["entries"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    let mut desc_ids: Vec<&Value> = desc["entries"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    desc_ids.reverse();
    assert_eq!(asc_ids, desc_ids);
    let (s, _, _) = t.call(Method::GET, "/api/v1/auditlogevents?starting_from=yesterday", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}
