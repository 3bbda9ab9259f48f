//! Every role × every native route: allowed or 403 exactly as the role table of
//! PRODUCT.md §3 says (the table is written out here, independently of the server's own
//! mapping), and every documented route is in the matrix, so none lacks an authorization check.

mod common;

use common::*;
use dbcloud_core::perms::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

struct Route {
    method: Method,
    /// Path template as documented (`{id}` …).
    template: &'static str,
    /// Concrete path.
    path: String,
    body: Option<Value>,
    /// Every permission the call needs (for grants: the granted role's too).
    needs: Vec<&'static str>,
}

fn r(method: Method, template: &'static str, path: String, body: Option<Value>, needs: &[&'static str]) -> Route {
    Route { method, template, path, body, needs: needs.to_vec() }
}

#[tokio::test]
async fn every_role_against_every_route() {
    let t = TestServer::start().await;
    // Objects the routes act on, made by the owner.
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let (_, spare_project) = t.post("/v1/projects", json!({"name": "spare"})).await;
    let spare_project = spare_project["id"].as_str().unwrap().to_string();
    let (_, cloud) = t.post("/v1/clouds", json!({"name": "c", "provider": "aws", "region": "us-east-1"})).await;
    let cloud = cloud["id"].as_str().unwrap().to_string();
    let (_, spare_cloud) = t.post("/v1/clouds", json!({"name": "spare", "provider": "gcp", "region": "us-east1"})).await;
    let spare_cloud = spare_cloud["id"].as_str().unwrap().to_string();
    let (_, k) = t.post("/v1/clusters", json!({"name": "target", "project_id": project, "cloud_id": cloud})).await;
    let cluster = k["cluster"]["id"].as_str().unwrap().to_string();
    let op = k["operation"]["id"].as_str().unwrap().to_string();
    t.wait_state(&cluster, "CREATED", std::time::Duration::from_secs(20)).await;
    let (_, bucket) = t.post(&format!("/v1/clusters/{cluster}/buckets"), json!({"name": "b"})).await;
    let bucket = bucket["id"].as_str().unwrap().to_string();
    let (_, user) = t.post(&format!("/v1/clusters/{cluster}/users"), json!({"name": "u", "access": "read"})).await;
    let user = user["id"].as_str().unwrap().to_string();
    let (_, entry) = t.post(&format!("/v1/clusters/{cluster}/allowlist"), json!({"cidr": "10.0.0.0/8"})).await;
    let entry = entry["id"].as_str().unwrap().to_string();
    let (_, victim) = t.post("/v1/api-keys", json!({"name": "victim", "organization_roles": ["organizationMember"]})).await;
    let victim = victim["id"].as_str().unwrap().to_string();
    let (_, sa) = t.post("/v1/service-accounts", json!({"name": "sa"})).await;
    let sa = sa["id"].as_str().unwrap().to_string();
    let (_, person) = t.post("/v1/users", json!({"email": "person@example.com"})).await;
    let person = person["id"].as_str().unwrap().to_string();
    let (_, grant) = t.post("/v1/role-grants", json!({"principal_type": "user", "principal_id": person, "role": "READ"})).await;
    let grant = grant["id"].as_str().unwrap().to_string();
    // CockroachDB-dialect objects.
    let org = t.org.clone();
    let (_, readers) = t.post("/v1/service-accounts", json!({"name": "readers", "roles": ["READ"]})).await;
    let readers = readers["id"].as_str().unwrap().to_string();
    let (_, doomed) = t.post("/v1/service-accounts", json!({"name": "doomed"})).await;
    let doomed = doomed["id"].as_str().unwrap().to_string();
    let (_, ckey) = t.post("/api/v1/api-keys", json!({"name": "ck", "service_account_id": readers})).await;
    let ckey = ckey["api_key"]["id"].as_str().unwrap().to_string();
    let crdb = format!("/api/v1/clusters/{cluster}");
    assert_eq!(t.post(&format!("{crdb}/sql-users"), json!({"name": "sqlu", "password": "correct-horse-battery"})).await.0, StatusCode::OK);
    assert_eq!(t.post(&format!("{crdb}/databases"), json!({"name": "db1"})).await.0, StatusCode::OK);
    assert_eq!(
        t.post(&format!("{crdb}/networking/allowlist"), json!({"cidr_ip": "198.51.100.0", "cidr_mask": 24, "ui": true, "sql": true})).await.0,
        StatusCode::OK
    );
    let crdb_create = json!({"name": "crdb-matrix", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}});
    let role = json!({"roles": [{"name": "READ", "resource": {"type": "ORGANIZATION", "id": org}}]});

    let routes = vec![
        r(Method::GET, "/v1/organization", "/v1/organization".into(), None, &["org.read"]),
        r(Method::PATCH, "/v1/organization", "/v1/organization".into(), Some(json!({"rate_limit": 100000})), &["org.update"]),
        r(Method::GET, "/v1/regions", "/v1/regions".into(), None, &["cloud.read"]),
        r(Method::GET, "/v1/projects", "/v1/projects".into(), None, &["project.read"]),
        r(Method::POST, "/v1/projects", "/v1/projects".into(), Some(json!({"name": "new-project"})), &["project.create"]),
        r(Method::GET, "/v1/projects/{id}", format!("/v1/projects/{project}"), None, &["project.read"]),
        r(Method::PATCH, "/v1/projects/{id}", format!("/v1/projects/{project}"), Some(json!({"description": "d"})), &["project.update"]),
        r(Method::DELETE, "/v1/projects/{id}", format!("/v1/projects/{spare_project}"), None, &["project.delete"]),
        r(Method::GET, "/v1/clouds", "/v1/clouds".into(), None, &["cloud.read"]),
        r(Method::POST, "/v1/clouds", "/v1/clouds".into(), Some(json!({"name": "x", "provider": "azure", "region": "eastus"})), &["cloud.manage"]),
        r(Method::GET, "/v1/clouds/{id}", format!("/v1/clouds/{cloud}"), None, &["cloud.read"]),
        r(Method::PATCH, "/v1/clouds/{id}", format!("/v1/clouds/{cloud}"), Some(json!({"name": "c2"})), &["cloud.manage"]),
        r(Method::DELETE, "/v1/clouds/{id}", format!("/v1/clouds/{spare_cloud}"), None, &["cloud.manage"]),
        r(Method::GET, "/v1/clusters", "/v1/clusters".into(), None, &["cluster.read"]),
        r(
            Method::POST,
            "/v1/clusters",
            "/v1/clusters".into(),
            Some(json!({"name": "new-cluster", "project_id": project, "cloud_id": cloud})),
            &["cluster.create"],
        ),
        r(Method::GET, "/v1/clusters/{id}", format!("/v1/clusters/{cluster}"), None, &["cluster.read"]),
        r(Method::GET, "/v1/clusters/{id}/certificate", format!("/v1/clusters/{cluster}/certificate"), None, &["cluster.read"]),
        r(Method::PATCH, "/v1/clusters/{id}", format!("/v1/clusters/{cluster}"), Some(json!({"name": "target"})), &["cluster.update"]),
        r(Method::GET, "/v1/clusters/{id}/buckets", format!("/v1/clusters/{cluster}/buckets"), None, &["cluster.read"]),
        r(Method::POST, "/v1/clusters/{id}/buckets", format!("/v1/clusters/{cluster}/buckets"), Some(json!({"name": "b2"})), &["cluster.update"]),
        r(Method::DELETE, "/v1/clusters/{id}/buckets/{bucket_id}", format!("/v1/clusters/{cluster}/buckets/{bucket}"), None, &["cluster.update"]),
        r(Method::GET, "/v1/clusters/{id}/users", format!("/v1/clusters/{cluster}/users"), None, &["cluster.read"]),
        r(
            Method::POST,
            "/v1/clusters/{id}/users",
            format!("/v1/clusters/{cluster}/users"),
            Some(json!({"name": "u2", "access": "readwrite"})),
            &["dbuser.manage"],
        ),
        r(
            Method::PUT,
            "/v1/clusters/{id}/users/{user_id}/password",
            format!("/v1/clusters/{cluster}/users/{user}/password"),
            Some(json!({})),
            &["dbuser.manage"],
        ),
        r(Method::DELETE, "/v1/clusters/{id}/users/{user_id}", format!("/v1/clusters/{cluster}/users/{user}"), None, &["dbuser.manage"]),
        r(Method::GET, "/v1/clusters/{id}/allowlist", format!("/v1/clusters/{cluster}/allowlist"), None, &["cluster.read"]),
        r(
            Method::POST,
            "/v1/clusters/{id}/allowlist",
            format!("/v1/clusters/{cluster}/allowlist"),
            Some(json!({"cidr": "192.0.2.0/24"})),
            &["allowlist.manage"],
        ),
        r(Method::DELETE, "/v1/clusters/{id}/allowlist/{entry_id}", format!("/v1/clusters/{cluster}/allowlist/{entry}"), None, &["allowlist.manage"]),
        r(Method::GET, "/v1/clusters/{id}/operations", format!("/v1/clusters/{cluster}/operations"), None, &["cluster.read"]),
        r(Method::GET, "/v1/operations/{id}", format!("/v1/operations/{op}"), None, &["cluster.read"]),
        r(Method::GET, "/v1/api-keys", "/v1/api-keys".into(), None, &["apikey.manage"]),
        r(
            Method::POST,
            "/v1/api-keys",
            "/v1/api-keys".into(),
            Some(json!({"name": "minted", "organization_roles": [], "resources": [{"id": project, "roles": ["projectViewer"]}]})),
            &["apikey.manage", "project.read", "cloud.read", "cluster.read"],
        ),
        r(Method::GET, "/v1/api-keys/{id}", format!("/v1/api-keys/{victim}"), None, &["apikey.manage"]),
        r(Method::PATCH, "/v1/api-keys/{id}", format!("/v1/api-keys/{victim}"), Some(json!({"description": "x"})), &["apikey.manage"]),
        r(Method::POST, "/v1/api-keys/{id}/rotate", format!("/v1/api-keys/{victim}/rotate"), Some(json!({})), &["apikey.manage"]),
        r(Method::GET, "/v1/service-accounts", "/v1/service-accounts".into(), None, &["serviceaccount.manage"]),
        r(
            Method::POST,
            "/v1/service-accounts",
            "/v1/service-accounts".into(),
            Some(json!({"name": "made", "roles": ["READ"]})),
            &["serviceaccount.manage", "org.read", "project.read", "cloud.read", "cluster.read"],
        ),
        r(Method::GET, "/v1/service-accounts/{id}", format!("/v1/service-accounts/{sa}"), None, &["serviceaccount.manage"]),
        r(Method::PATCH, "/v1/service-accounts/{id}", format!("/v1/service-accounts/{sa}"), Some(json!({"description": "d"})), &["serviceaccount.manage"]),
        r(Method::GET, "/v1/users", "/v1/users".into(), None, &["org.read"]),
        r(Method::POST, "/v1/users", "/v1/users".into(), Some(json!({"email": "new@example.com"})), &["user.manage"]),
        r(Method::GET, "/v1/users/{id}", format!("/v1/users/{person}"), None, &["org.read"]),
        r(Method::GET, "/v1/role-grants", "/v1/role-grants".into(), None, &["org.read"]),
        r(
            Method::POST,
            "/v1/role-grants",
            "/v1/role-grants".into(),
            Some(json!({"principal_type": "service_account", "principal_id": sa, "role": "READ"})),
            &["user.manage", "org.read", "project.read", "cloud.read", "cluster.read"],
        ),
        r(
            Method::DELETE,
            "/v1/role-grants/{id}",
            format!("/v1/role-grants/{grant}"),
            None,
            &["user.manage", "org.read", "project.read", "cloud.read", "cluster.read"],
        ),
        r(Method::GET, "/v1/audit-events", "/v1/audit-events".into(), None, &["audit.read"]),
        r(Method::GET, "/api/v1/clusters", "/api/v1/clusters".into(), None, &["cluster.read"]),
        r(Method::GET, "/api/v1/clusters/{cluster_id}", format!("/api/v1/clusters/{cluster}"), None, &["cluster.read"]),
        r(Method::GET, "/api/v1/clusters/{cluster_id}/nodes", format!("/api/v1/clusters/{cluster}/nodes"), None, &["cluster.read"]),
        r(Method::GET, "/api/v1/clusters/{cluster_id}/connection-string", format!("/api/v1/clusters/{cluster}/connection-string"), None, &["cluster.read"]),
        r(Method::GET, "/api/v1/clusters/available-regions", "/api/v1/clusters/available-regions".into(), None, &["cloud.read"]),
        r(Method::GET, "/api/v1/organization", "/api/v1/organization".into(), None, &["org.read"]),
        r(Method::POST, "/api/v1/clusters", "/api/v1/clusters".into(), Some(crdb_create.clone()), &["cluster.create"]),
        r(Method::PATCH, "/api/v1/clusters/{cluster_id}", crdb.clone(), Some(json!({"labels": {"team": "a"}})), &["cluster.update"]),
        r(Method::PUT, "/api/v1/clusters/{cluster_id}/spend-limit", format!("{crdb}/spend-limit"), Some(json!({"spend_limit": 100})), &["cluster.update"]),
        r(Method::GET, "/api/v1/clusters/{cluster_id}/sql-users", format!("{crdb}/sql-users"), None, &["cluster.read"]),
        r(
            Method::POST,
            "/api/v1/clusters/{cluster_id}/sql-users",
            format!("{crdb}/sql-users"),
            Some(json!({"name": "sqlu2", "password": "correct-horse-battery"})),
            &["dbuser.manage"],
        ),
        r(
            Method::PUT,
            "/api/v1/clusters/{cluster_id}/sql-users/{name}/password",
            format!("{crdb}/sql-users/sqlu/password"),
            Some(json!({"password": "another-long-secret"})),
            &["dbuser.manage"],
        ),
        r(Method::GET, "/api/v1/clusters/{cluster_id}/databases", format!("{crdb}/databases"), None, &["cluster.read"]),
        r(Method::POST, "/api/v1/clusters/{cluster_id}/databases", format!("{crdb}/databases"), Some(json!({"name": "db2"})), &["cluster.update"]),
        r(
            Method::PATCH,
            "/api/v1/clusters/{cluster_id}/databases",
            format!("{crdb}/databases"),
            Some(json!({"name": "nope", "new_name": "nope2"})),
            &["cluster.update"],
        ),
        r(
            Method::PATCH,
            "/api/v1/clusters/{cluster_id}/databases/{name}",
            format!("{crdb}/databases/nope"),
            Some(json!({"new_name": "nope3"})),
            &["cluster.update"],
        ),
        r(Method::GET, "/api/v1/clusters/{cluster_id}/networking/allowlist", format!("{crdb}/networking/allowlist"), None, &["cluster.read"]),
        r(
            Method::POST,
            "/api/v1/clusters/{cluster_id}/networking/allowlist",
            format!("{crdb}/networking/allowlist"),
            Some(json!({"cidr_ip": "203.0.113.0", "cidr_mask": 24})),
            &["allowlist.manage"],
        ),
        r(
            Method::PUT,
            "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
            format!("{crdb}/networking/allowlist/203.0.113.128/25"),
            Some(json!({"ui": false, "sql": true})),
            &["allowlist.manage"],
        ),
        r(
            Method::PATCH,
            "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
            format!("{crdb}/networking/allowlist/198.51.100.0/24"),
            Some(json!({"ui": false})),
            &["allowlist.manage"],
        ),
        r(Method::GET, "/api/v1/api-keys", "/api/v1/api-keys".into(), None, &["apikey.manage"]),
        r(
            Method::POST,
            "/api/v1/api-keys",
            "/api/v1/api-keys".into(),
            Some(json!({"name": "minted", "service_account_id": readers})),
            &["apikey.manage", "org.read", "project.read", "cloud.read", "cluster.read"],
        ),
        r(Method::GET, "/api/v1/api-keys/{id}", format!("/api/v1/api-keys/{ckey}"), None, &["apikey.manage"]),
        r(Method::PATCH, "/api/v1/api-keys/{id}", format!("/api/v1/api-keys/{ckey}"), Some(json!({"name": "ck2"})), &["apikey.manage"]),
        r(Method::GET, "/api/v1/service-accounts", "/api/v1/service-accounts".into(), None, &["serviceaccount.manage"]),
        r(
            Method::POST,
            "/api/v1/service-accounts",
            "/api/v1/service-accounts".into(),
            Some(json!({"name": "made", "description": "", "roles": role["roles"]})),
            &["serviceaccount.manage", "org.read", "project.read", "cloud.read", "cluster.read"],
        ),
        r(Method::GET, "/api/v1/service-accounts/{id}", format!("/api/v1/service-accounts/{readers}"), None, &["serviceaccount.manage"]),
        r(
            Method::PATCH,
            "/api/v1/service-accounts/{id}",
            format!("/api/v1/service-accounts/{readers}"),
            Some(json!({"description": "d"})),
            &["serviceaccount.manage"],
        ),
        r(Method::GET, "/api/v1/roles", "/api/v1/roles".into(), None, &["user.manage"]),
        r(Method::GET, "/api/v1/roles/{user_id}", format!("/api/v1/roles/{readers}"), None, &["user.manage"]),
        r(Method::PUT, "/api/v1/roles/{user_id}", format!("/api/v1/roles/{readers}"), Some(role.clone()), &["user.manage"]),
        r(
            Method::POST,
            "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
            format!("/api/v1/roles/{readers}/CLUSTER/{cluster}/CLUSTER_MONITOR"),
            None,
            &["user.manage"],
        ),
        r(Method::GET, "/api/v1/auditlogevents", "/api/v1/auditlogevents".into(), None, &["audit.read"]),
        r(Method::GET, "/api/v1/orgs/{organizationId}/clusters", format!("/api/v1/orgs/{org}/clusters"), None, &["cluster.read"]),
        r(
            Method::POST,
            "/api/v1/orgs/{organizationId}/clusters",
            format!("/api/v1/orgs/{org}/clusters"),
            Some(json!({"name": "legacy-one", "serverless": {"spendLimit": 0}})),
            &["cluster.create"],
        ),
        r(Method::GET, "/api/v1/orgs/{organizationId}/clusters/{clusterId}", format!("/api/v1/orgs/{org}/clusters/{cluster}"), None, &["cluster.read"]),
        r(
            Method::PUT,
            "/api/v1/orgs/{organizationId}/clusters/{clusterId}/spend-limit",
            format!("/api/v1/orgs/{org}/clusters/{cluster}/spend-limit"),
            Some(json!({"spendLimit": 1})),
            &["cluster.update"],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{organizationId}/clusters/available-regions",
            format!("/api/v1/orgs/{org}/clusters/available-regions?provider=GCP"),
            None,
            &["cloud.read"],
        ),
        // Destructive ones last, so the others still find their objects.
        r(
            Method::DELETE,
            "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
            format!("/api/v1/roles/{readers}/CLUSTER/{cluster}/CLUSTER_MONITOR"),
            None,
            &["user.manage"],
        ),
        r(
            Method::DELETE,
            "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
            format!("{crdb}/networking/allowlist/198.51.100.0/24"),
            None,
            &["allowlist.manage"],
        ),
        r(Method::DELETE, "/api/v1/clusters/{cluster_id}/databases/{name}", format!("{crdb}/databases/db1"), None, &["cluster.update"]),
        r(Method::DELETE, "/api/v1/clusters/{cluster_id}/sql-users/{name}", format!("{crdb}/sql-users/sqlu"), None, &["dbuser.manage"]),
        r(Method::DELETE, "/api/v1/api-keys/{id}", format!("/api/v1/api-keys/{ckey}"), None, &["apikey.manage"]),
        r(Method::DELETE, "/api/v1/service-accounts/{id}", format!("/api/v1/service-accounts/{doomed}"), None, &["serviceaccount.manage"]),
        r(Method::DELETE, "/api/v1/orgs/{organizationId}/clusters/{clusterId}", format!("/api/v1/orgs/{org}/clusters/{cluster}"), None, &["cluster.delete"]),
        r(Method::DELETE, "/v1/users/{id}", format!("/v1/users/{person}"), None, &["user.manage"]),
        r(Method::DELETE, "/v1/service-accounts/{id}", format!("/v1/service-accounts/{sa}"), None, &["serviceaccount.manage"]),
        r(Method::DELETE, "/v1/api-keys/{id}", format!("/v1/api-keys/{victim}"), None, &["apikey.manage"]),
        r(Method::DELETE, "/api/v1/clusters/{cluster_id}", format!("/api/v1/clusters/{cluster}"), None, &["cluster.delete"]),
        r(Method::DELETE, "/v1/clusters/{id}", format!("/v1/clusters/{cluster}"), None, &["cluster.delete"]),
    ];

    // Completeness: every documented route (but the public probes) is in the matrix.
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            // The Couchbase v2 and CrateDB v2 dialects answer in their own error shapes;
            // tests/couchbase.rs and tests/cratedb.rs run the same role table against every
            // /v2 and /api/v2 route.
            let own_shape = path.starts_with("/v2/") || path.starts_with("/api/v2/");
            if !["/health", "/ready", "/metrics"].contains(&path.as_str()) && !own_shape {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let covered: BTreeSet<String> = routes.iter().map(|r| format!("{} {}", r.method, r.template)).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "routes without a matrix entry: {missing:?}");

    let table = role_table();
    assert_eq!(table.len(), Role::ALL.len(), "every role of the catalogue is in the table");
    let mut checked = 0;
    for role in Role::ALL {
        let allowed = &table[role.as_str()];
        let token = t.role_key(*role).await;
        for route in &routes {
            let expect_allowed = route.needs.iter().all(|p| allowed.contains(p));
            let (status, _, body) = t.call_as(&token, route.method.clone(), &route.path, route.body.clone()).await;
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{role:?} {} {}", route.method, route.path);
            assert!(!status.is_server_error(), "{role:?} {} {}: {body}", route.method, route.path);
            if expect_allowed {
                assert_ne!(status, StatusCode::FORBIDDEN, "{} should be allowed {} {}: {body}", role.as_str(), route.method, route.template);
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{} should be refused {} {}: {body}", role.as_str(), route.method, route.template);
                assert_eq!(body, json!({"code": 7, "message": "permission denied", "details": []}));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, Role::ALL.len() * routes.len());
}
