//! Every implemented operation's answer against the vendor's OpenAPI document, and one
//! cluster seen through every surface.

use super::common::vendor_doc::VendorDoc;
use super::common::*;
use super::{IMPLEMENTED, basic};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// The vendor's document with the dialect's documented allowances (spec `cockroach-v1.md`):
/// `provider` beside `cloud_provider`, and null for the unset optional objects and
/// timestamps that §1 renders as null.
pub(crate) fn cockroach_doc() -> VendorDoc {
    VendorDoc::json(include_str!("../fixtures/cockroach-cloud-openapi.json")).allow_extra(&["Cluster.provider"]).allow_null(&[
        "Cluster.customer_cloud_account",
        "Cluster.deleted_at",
        "Organization.cockroach_cloud_service_principals",
        "AuditLogEntry.action",
    ])
}

#[tokio::test]
async fn responses_validate_against_the_vendor_openapi_document() {
    let doc = cockroach_doc();
    let t = TestServer::start().await;
    let org = t.org.clone();
    let mut covered = BTreeSet::new();
    let mut errs = vec![];
    let mut go = async |method: Method, template: &str, path: String, body: Option<Value>| -> Value {
        let (s, _, b) = t.call(method.clone(), &path, body).await;
        assert!(s.is_success() || s.is_client_error(), "{method} {path}: {s} {b}");
        assert_eq!(doc.template(method.as_str(), &path).as_deref(), Some(template), "{method} {path}");
        assert!(doc.response_schema(method.as_str(), template, s.as_u16()).is_some(), "{method} {template}: no schema for {s}");
        doc.check_answer(method.as_str(), &path, s.as_u16(), &b, &mut errs);
        if s.is_success() {
            covered.insert(format!("{method} {template}"));
        }
        b
    };
    let c = go(
        Method::POST,
        "/api/v1/clusters",
        "/api/v1/clusters".into(),
        Some(json!({"name": "oas-basic", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "labels": {"a": "b"}}})),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_string();
    let c = go(
        Method::POST,
        "/api/v1/clusters",
        "/api/v1/clusters".into(),
        Some(json!({"name": "oas-advanced", "provider": "AWS", "spec": {"dedicated": {"region_nodes": {"us-east-1": 3}}}})),
    )
    .await;
    let adv = c["id"].as_str().unwrap().to_string();
    go(Method::POST, "/api/v1/clusters", "/api/v1/clusters".into(), Some(json!({"name": "x", "provider": "GCP", "spec": {}}))).await;
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    t.wait_state(&adv, "CREATED", Duration::from_secs(20)).await;
    let cl = "/api/v1/clusters/{cluster_id}";
    go(Method::GET, "/api/v1/clusters", "/api/v1/clusters?pagination.limit=1".into(), None).await;
    go(Method::GET, cl, format!("/api/v1/clusters/{id}"), None).await;
    go(Method::GET, cl, format!("/api/v1/clusters/{}", uuid::Uuid::nil()), None).await;
    go(Method::PATCH, cl, format!("/api/v1/clusters/{id}"), Some(json!({"serverless": {"usage_limits": {"request_unit_limit": 100}}}))).await;
    go(Method::GET, "/api/v1/clusters/{cluster_id}/nodes", format!("/api/v1/clusters/{adv}/nodes"), None).await;
    let cs = "/api/v1/clusters/{cluster_id}/connection-string";
    go(Method::GET, cs, format!("/api/v1/clusters/{adv}/connection-string?sql_user=maxroach&database=bank&os=LINUX"), None).await;
    go(Method::GET, "/api/v1/clusters/available-regions", "/api/v1/clusters/available-regions?provider=AWS".into(), None).await;
    go(Method::GET, "/api/v1/organization", "/api/v1/organization".into(), None).await;
    let su = "/api/v1/clusters/{cluster_id}/sql-users";
    go(Method::POST, su, format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "u1", "password": "long-enough-pw-1"}))).await;
    go(Method::GET, su, format!("/api/v1/clusters/{id}/sql-users"), None).await;
    go(
        Method::PUT,
        "/api/v1/clusters/{cluster_id}/sql-users/{name}/password",
        format!("/api/v1/clusters/{id}/sql-users/u1/password"),
        Some(json!({"password": "long-enough-pw-2"})),
    )
    .await;
    go(Method::DELETE, "/api/v1/clusters/{cluster_id}/sql-users/{name}", format!("/api/v1/clusters/{id}/sql-users/u1"), None).await;
    let db = "/api/v1/clusters/{cluster_id}/databases";
    go(Method::POST, db, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "d1"}))).await;
    go(Method::GET, db, format!("/api/v1/clusters/{id}/databases"), None).await;
    go(Method::PATCH, db, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "d1", "new_name": "d2"}))).await;
    go(Method::PATCH, "/api/v1/clusters/{cluster_id}/databases/{name}", format!("/api/v1/clusters/{id}/databases/d2"), Some(json!({"new_name": "d3"}))).await;
    go(Method::DELETE, "/api/v1/clusters/{cluster_id}/databases/{name}", format!("/api/v1/clusters/{id}/databases/d3"), None).await;
    let al = "/api/v1/clusters/{cluster_id}/networking/allowlist";
    let alk = "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}";
    go(
        Method::POST,
        al,
        format!("/api/v1/clusters/{id}/networking/allowlist"),
        Some(json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8, "ui": true, "sql": true, "name": "n"})),
    )
    .await;
    go(Method::GET, al, format!("/api/v1/clusters/{id}/networking/allowlist"), None).await;
    go(Method::PUT, alk, format!("/api/v1/clusters/{id}/networking/allowlist/172.16.0.0/12"), Some(json!({"ui": false, "sql": true}))).await;
    go(Method::PATCH, alk, format!("/api/v1/clusters/{id}/networking/allowlist/10.0.0.0/8"), Some(json!({"ui": false}))).await;
    go(Method::DELETE, alk, format!("/api/v1/clusters/{id}/networking/allowlist/10.0.0.0/8"), None).await;
    let sa = go(
        Method::POST,
        "/api/v1/service-accounts",
        "/api/v1/service-accounts".into(),
        Some(json!({"name": "oas-sa", "description": "d", "roles": [{"name": "CLUSTER_ADMIN", "resource": {"type": "CLUSTER", "id": id}}]})),
    )
    .await;
    let sa = sa["id"].as_str().unwrap().to_string();
    let sai = "/api/v1/service-accounts/{id}";
    go(Method::GET, "/api/v1/service-accounts", "/api/v1/service-accounts".into(), None).await;
    go(Method::GET, sai, format!("/api/v1/service-accounts/{sa}"), None).await;
    go(Method::PATCH, sai, format!("/api/v1/service-accounts/{sa}"), Some(json!({"description": "e"}))).await;
    let k = go(Method::POST, "/api/v1/api-keys", "/api/v1/api-keys".into(), Some(json!({"name": "oas-key", "service_account_id": sa}))).await;
    let kid = k["api_key"]["id"].as_str().unwrap().to_string();
    let ki = "/api/v1/api-keys/{id}";
    go(Method::GET, "/api/v1/api-keys", "/api/v1/api-keys".into(), None).await;
    go(Method::GET, ki, format!("/api/v1/api-keys/{kid}"), None).await;
    go(Method::PATCH, ki, format!("/api/v1/api-keys/{kid}"), Some(json!({"name": "oas-key-2"}))).await;
    go(Method::DELETE, ki, format!("/api/v1/api-keys/{kid}"), None).await;
    let ru = "/api/v1/roles/{user_id}";
    let rr = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}";
    go(Method::GET, "/api/v1/roles", "/api/v1/roles".into(), None).await;
    go(Method::GET, ru, format!("/api/v1/roles/{sa}"), None).await;
    go(
        Method::PUT,
        ru,
        format!("/api/v1/roles/{sa}"),
        Some(json!({"roles": [{"name": "CLUSTER_DEVELOPER", "resource": {"type": "ORGANIZATION", "id": org}}]})),
    )
    .await;
    go(Method::POST, rr, format!("/api/v1/roles/{sa}/CLUSTER/{id}/CLUSTER_MONITOR"), None).await;
    go(Method::DELETE, rr, format!("/api/v1/roles/{sa}/CLUSTER/{id}/CLUSTER_MONITOR"), None).await;
    go(Method::GET, "/api/v1/auditlogevents", "/api/v1/auditlogevents?limit=5".into(), None).await;
    go(Method::DELETE, sai, format!("/api/v1/service-accounts/{sa}"), None).await;
    go(Method::DELETE, cl, format!("/api/v1/clusters/{id}"), None).await;
    assert!(errs.is_empty(), "answers that do not fit the vendor document:\n{}", errs.join("\n"));

    // Every implemented operation of the document was checked.
    let implemented: BTreeSet<String> = IMPLEMENTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(covered, implemented);
    // And the server's own OpenAPI document routes exactly these (plus the legacy paths).
    let ours: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let served: BTreeSet<String> = ours["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/") && !p.starts_with("/api/v1/orgs/") && !p.ends_with("/spend-limit"))
        .flat_map(|(p, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {p}", m.to_uppercase())))
        .collect();
    assert_eq!(served, implemented);
}

#[tokio::test]
async fn a_cluster_made_through_one_dialect_is_seen_through_every_surface() {
    let t = TestServer::start().await;
    let id = basic(&t, "shared-one").await;
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let native = t.get(&format!("/v1/clusters/{id}")).await;
    assert_eq!(native["name"], "shared-one");
    let couchbase = t.get(&format!("/v2/clusters/{id}")).await;
    assert_eq!(couchbase["name"], "shared-one", "{couchbase}");
    let r = t.http.get(format!("{}/api/v2/clusters/{id}/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    let (s, _, cratedb) = decode(r).await;
    assert_eq!((s, cratedb["name"].as_str()), (StatusCode::OK, Some("shared-one")), "{cratedb}");
    // A database user made through CockroachDB is a user of the cluster everywhere.
    t.post(&format!("/api/v1/clusters/{id}/sql-users"), json!({"name": "shared_user", "password": "shared-password-1"})).await;
    let users = t.get(&format!("/v1/clusters/{id}/users")).await;
    assert!(users["items"].as_array().unwrap().iter().any(|u| u["name"] == "shared_user"), "{users}");
    // And a delete through the native API shows in the dialect.
    t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
}
