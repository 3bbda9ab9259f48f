//! Every role × every v2 route.

use super::*;

/// Every role (at organization scope) × every v2 route: allowed or 403 as the role table of
/// PRODUCT.md §3 says (the same table as `matrix.rs`, written out independently).
#[tokio::test]
async fn every_role_against_every_v2_route() {
    use dbcloud_core::perms::Role;

    let table = role_table();
    assert_eq!(table.len(), Role::ALL.len());

    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let mut clusters = vec![];
    for name in ["target", "victim"] {
        let (s, k) = t.post("/v1/clusters", json!({"name": name, "project_id": project, "cloud_id": cloud})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{k}");
        let id = k["cluster"]["id"].as_str().unwrap().to_string();
        t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
        clusters.push(id);
    }
    let (c, victim) = (clusters[0].clone(), clusters[1].clone());
    let (s, _) = t.post(&format!("/v1/clusters/{c}/buckets"), json!({"name": "b1"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let absent_bucket = "bm9uZQ=="; // "none"

    type R = (Method, String, Option<Value>, &'static [&'static str]);
    let routes: Vec<R> = vec![
        (Method::GET, "/v2/clouds".into(), None, &["cloud.read"]),
        (Method::GET, format!("/v2/clouds/{cloud}"), None, &["cloud.read"]),
        (Method::GET, "/v2/projects".into(), None, &["project.read"]),
        (Method::POST, "/v2/projects".into(), Some(json!({"name": "mx"})), &["project.create"]),
        (Method::GET, format!("/v2/projects/{project}"), None, &["project.read"]),
        // The project holds clusters: allowed callers get 422, not a deletion.
        (Method::DELETE, format!("/v2/projects/{project}"), None, &["project.delete"]),
        (Method::GET, "/v2/clusters".into(), None, &["cluster.read"]),
        (Method::POST, "/v2/clusters".into(), Some(json!({"name": "mx-cluster", "cloudId": cloud, "projectId": project})), &["cluster.create"]),
        (Method::GET, format!("/v2/clusters/{c}"), None, &["cluster.read"]),
        (Method::GET, format!("/v2/clusters/{c}/status"), None, &["cluster.read"]),
        (Method::GET, format!("/v2/clusters/{c}/health"), None, &["cluster.read"]),
        (Method::GET, format!("/v2/clusters/{c}/buckets"), None, &["cluster.read"]),
        (Method::POST, format!("/v2/clusters/{c}/buckets"), Some(json!({"name": "mxb", "memoryQuota": 100})), &["cluster.update"]),
        (Method::DELETE, format!("/v2/clusters/{c}/buckets"), Some(json!({"name": "none"})), &["cluster.update"]),
        (Method::DELETE, format!("/v2/clusters/{c}/buckets/{absent_bucket}"), None, &["cluster.update"]),
        (Method::PUT, format!("/v2/clusters/{c}/buckets"), Some(json!([{"name": "b1", "memoryQuota": 100}])), &["cluster.update"]),
        (Method::PUT, format!("/v2/clusters/{c}/buckets/{absent_bucket}"), Some(json!({"memoryQuota": 200})), &["cluster.update"]),
        (Method::GET, format!("/v2/clusters/{c}/certificate"), None, &["cluster.read"]),
        // A repeated network: allowed callers get 422 and the list stays as it is.
        (
            Method::PUT,
            format!("/v2/clusters/{c}/allowlist"),
            Some(json!([{"cidrBlock": "10.8.0.0/16", "ruleType": "permanent"}, {"cidrBlock": "10.8.0.0/16", "ruleType": "permanent"}])),
            &["allowlist.manage"],
        ),
        (Method::GET, format!("/v2/clusters/{c}/allowlist"), None, &["cluster.read"]),
        (Method::POST, format!("/v2/clusters/{c}/allowlist"), Some(json!({"cidrBlock": "10.9.0.0/16", "ruleType": "permanent"})), &["allowlist.manage"]),
        (Method::DELETE, format!("/v2/clusters/{c}/allowlist"), Some(json!({"cidrBlock": "10.99.0.0/16"})), &["allowlist.manage"]),
        (Method::GET, format!("/v2/clusters/{c}/users"), None, &["cluster.read"]),
        (
            Method::POST,
            format!("/v2/clusters/{c}/users"),
            Some(json!({"username": "mxu", "password": "long-enough-password", "allBucketsAccess": "data_reader"})),
            &["dbuser.manage"],
        ),
        (Method::DELETE, format!("/v2/clusters/{c}/users/nobody"), None, &["dbuser.manage"]),
        (Method::PUT, format!("/v2/clusters/{c}/users/nobody"), Some(json!({"password": "long-enough-password"})), &["dbuser.manage"]),
        (Method::GET, "/v2/users".into(), None, &["org.read"]),
        (Method::DELETE, format!("/v2/clusters/{victim}"), None, &["cluster.delete"]),
    ];
    // Completeness: every documented /v2 route is in the matrix (ids and names as `*`).
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let template = |p: &str| p.split('/').map(|seg| if seg.starts_with('{') { "*" } else { seg }).collect::<Vec<_>>().join("/");
    let documented: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/v2/"))
        .flat_map(|(p, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {}", m.to_uppercase(), template(p))))
        .collect();
    let ids = [cloud.as_str(), project.as_str(), c.as_str(), victim.as_str(), absent_bucket, "nobody"];
    let covered: std::collections::BTreeSet<String> = routes
        .iter()
        .map(|(m, p, _, _)| format!("{m} {}", p.split('/').map(|seg| if ids.contains(&seg) { "*" } else { seg }).collect::<Vec<_>>().join("/")))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "documented /v2 routes without a matrix entry: {missing:?}");

    let mut checked = 0;
    for role in Role::ALL {
        let allowed = &table[role.as_str()];
        let token = t.role_key(*role).await;
        for (method, path, body, needs) in &routes {
            let expect_allowed = needs.iter().all(|p| allowed.contains(p));
            let (status, _, b) = t.call_as(&token, method.clone(), path, body.clone()).await;
            assert!(!status.is_server_error() && status != StatusCode::UNAUTHORIZED, "{role:?} {method} {path}: {status} {b}");
            if expect_allowed {
                assert_ne!(status, StatusCode::FORBIDDEN, "{} should be allowed {method} {path}: {b}", role.as_str());
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{} should be refused {method} {path}: {b}", role.as_str());
                assert_eq!(b, json!({"message": "permission denied", "errorType": "AccessForbidden"}));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * Role::ALL.len());
}
