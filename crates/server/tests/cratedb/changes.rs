//! §6 and the input rules of the change routes, the audit cursor, API keys, delete protection.

use super::common::*;
use super::croud::names;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// A request with the bootstrap key as HTTP Basic (croud's form); status and JSON body.
pub(super) async fn basic(t: &TestServer, method: Method, path: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url)).basic_auth(&t.access_key, Some(&t.secret));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, v) = decode(rb.send().await.unwrap()).await;
    (s, v)
}

/// A CREATED cluster made through the native API; its id.
pub(super) async fn native_cluster(t: &TestServer, name: &str) -> String {
    let (s, k) = t.post("/v1/clusters", json!({"name": name, "provider": "aws", "region": "us-east-1", "node_count": 2})).await;
    assert_eq!(s, 202, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    id
}

/// §6 and the input rules of the change routes: one operation per cluster (409 with the
/// vendor text, nothing half-written), 400 with per-field `errors`, 404 for unknown clusters,
/// the audit cursor, API keys without a body, delete protection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_busy_invalid_and_audit_cursor() {
    // Slow steps, so an operation is still running when the next change arrives.
    let t = TestServer::with(Backend::Sqlite, config(150, 0.0)).await;
    let id = native_cluster(&t, "busy-one").await;
    let busy = json!({"message": "Another cluster operation is currently in progress.", "success": false});

    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(json!({"product_unit": 3}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["health"]["running_operation"], "SCALE", "{v}");
    for (path, body) in [
        ("upgrade/", json!({"crate_version": "9.0.0"})),
        ("suspend/", json!({"suspended": true})),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.0/8"}]})),
        ("scale/", json!({"product_unit": 0})),
    ] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/{path}"), Some(body)).await;
        assert_eq!((s, v), (reqwest::StatusCode::CONFLICT, busy.clone()), "{path}");
    }
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"], json!([]), "a refused replacement writes nothing");
    let native = t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    assert_eq!(native["node_count"], 4);
    assert_eq!(native["version"], "7.6.2");

    // Bad input: 400 with errors per field; the cluster is unchanged.
    for (path, body, field) in [
        ("scale/", json!({"product_unit": 99}), "product_unit"),
        ("scale/", json!({"product_unit": 3}), "product_unit"),
        ("upgrade/", json!({"crate_version": "5.0.0"}), "crate_version"),
        ("upgrade/", json!({"crate_version": "latest"}), "crate_version"),
        ("upgrade/", json!({}), "crate_version"),
        ("suspend/", json!({}), "suspended"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.1/8"}]}), "ip_whitelist"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.0/8"}, {"cidr": "10.0.0.0/8"}]}), "ip_whitelist"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "300.1.1.1"}]}), "ip_whitelist"),
    ] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/{path}"), Some(body.clone())).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert_eq!(v["success"], false);
        assert!(v["errors"][field].is_array(), "{path} {body}: {v}");
    }
    for body in [json!({"product_unit": "two"}), json!([1])] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(body)).await;
        assert_eq!((s, v["success"].clone()), (reqwest::StatusCode::BAD_REQUEST, json!(false)), "{v}");
    }
    let r = t
        .http
        .put(format!("{}/api/v2/clusters/{id}/scale/", t.url))
        .basic_auth(&t.access_key, Some(&t.secret))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let native = t.get(&format!("/v1/clusters/{id}")).await;
    assert_eq!((native["node_count"].clone(), native["version"].clone()), (json!(4), json!("7.6.2")));
    let not_found = json!({"message": "Resource not found.", "success": false});
    for cl in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{cl}/upgrade/"), Some(json!({"crate_version": "9.0.0"}))).await;
        assert_eq!((s, v), (reqwest::StatusCode::NOT_FOUND, not_found.clone()));
    }
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", t.org), Some(json!({"plan_type": 9, "email": "nope"}))).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["errors"]["plan_type"].is_array() && v["errors"]["email"].is_array(), "{v}");
    let (s, v) =
        basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", t.org), Some(json!({"email": "ops@example.com", "notifications_enabled": true}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["email"].clone(), v["notifications_enabled"].clone(), v["plan_type"].clone()), (json!("ops@example.com"), json!(true), json!(3)));
    let (s, _) = basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", uuid::Uuid::new_v4()), Some(json!({"name": "x"}))).await;
    assert_eq!(s, 404);

    // Upgrade runs an UPGRADE operation that sets the version when it succeeds.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/upgrade/"), Some(json!({"crate_version": "7.7.0"}))).await;
    assert_eq!(s, 200, "{v}");
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    let (_, ops) = basic(&t, Method::GET, &format!("/api/v2/clusters/{id}/operations/?type=UPGRADE&limit=1"), None).await;
    assert_eq!(ops["operations"][0]["status"], "SUCCEEDED", "{ops}");
    assert_eq!(ops["operations"][0]["non_sensitive_data"]["target_version"], "7.7.0", "{ops}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["version"], "7.7.0");

    // API key create: no body, no content type; flat, secret once; delete revokes at once.
    let r = t.http.post(format!("{}/api/v2/users/me/api-keys/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    let (s, _, made) = decode(r).await;
    assert_eq!(s, 200, "{made}");
    for k in ["key", "user_id", "active", "secret", "dc", "success"] {
        assert!(made.get(k).is_some(), "{k}: {made}");
    }
    assert!(made.get("last_used").is_none(), "not used yet: {made}");
    let key = made["key"].as_str().unwrap().to_string();
    let (s, got) = basic(&t, Method::GET, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!(s, 200);
    assert!(got.get("secret").is_none(), "{got}");
    let (s, v) = basic(&t, Method::DELETE, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!((s, v), (reqwest::StatusCode::NO_CONTENT, Value::Null));
    let r = t.http.get(format!("{}/api/v2/users/me/", t.url)).basic_auth(&key, made["secret"].as_str()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = basic(&t, Method::DELETE, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!(s, 404, "a deleted key is gone");

    // Audit cursor: pages newest first, strictly older than `last`, ending with [].
    for i in 0..3 {
        let (s, _) = basic(&t, Method::POST, "/api/v2/projects/", Some(json!({"name": format!("audit-{i}")}))).await;
        assert_eq!(s, 201);
    }
    let base = format!("/api/v2/organizations/{}/auditlogs/", t.org);
    let (s, first) = basic(&t, Method::GET, &base, None).await;
    assert_eq!(s, 200, "{first}");
    let first = first.as_array().unwrap().clone();
    assert!(first.len() >= 8, "{first:?}");
    assert_eq!(first[0]["action"], "project.create");
    let mut seen = vec![];
    let mut last: Option<String> = None;
    for _ in 0..50 {
        let path = match &last {
            Some(l) => format!("{base}?last={l}"),
            None => base.clone(),
        };
        let (s, page) = basic(&t, Method::GET, &path, None).await;
        assert_eq!(s, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        for e in &page {
            let eid = e["id"].as_str().unwrap().to_string();
            assert!(last.as_ref().is_none_or(|l| eid < *l), "strictly older than last");
            seen.push(eid);
        }
        last = seen.last().cloned();
    }
    assert_eq!(seen.len(), first.len(), "one page of {} then []", first.len());
    let (_, empty) = basic(&t, Method::GET, &format!("{base}?last={}", seen.last().unwrap()), None).await;
    assert_eq!(empty, json!([]));
    let (_, mine) = basic(&t, Method::GET, &format!("{base}?cluster_id={id}"), None).await;
    let actions = names(&mine, "action");
    assert!(actions.contains(&"cluster.upgrade".to_string()) && actions.iter().all(|a| a.starts_with("cluster.")), "{actions:?}");
    let (_, upgrades) = basic(&t, Method::GET, &format!("{base}?action=cluster.upgrade&from=2000-01-01&to=2999-12-31T00:00:00Z"), None).await;
    assert_eq!(names(&upgrades, "action"), ["cluster.upgrade"]);
    let (_, none) = basic(&t, Method::GET, &format!("{base}?to=2000-01-01"), None).await;
    assert_eq!(none, json!([]));
    for (q, field) in [
        ("last=nope", "last"),
        (&*format!("last={}", uuid::Uuid::new_v4()), "last"),
        ("from=yesterday", "from"),
        ("to=2024-13-01", "to"),
        ("cluster_id=x", "cluster_id"),
    ] {
        let (s, v) = basic(&t, Method::GET, &format!("{base}?{q}"), None).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v["errors"][field].is_array(), "{q}: {v}");
    }

    // Delete protection is honoured by the core's delete.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/deletion-protection/"), Some(json!({"deletion_protected": true}))).await;
    assert_eq!((s, v["deletion_protected"].clone()), (reqwest::StatusCode::OK, json!(true)), "{v}");
    let (s, v) = basic(&t, Method::DELETE, &format!("/api/v2/clusters/{id}/"), None).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/deletion-protection/"), Some(json!({"deletion_protected": false}))).await;
    assert_eq!(s, 200);
    // A delete while a scale runs is accepted: the scale ends CANCELLED, the cluster DELETED.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(json!({"product_unit": 1}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["health"]["running_operation"], "SCALE", "{v}");
    let (s, _) = basic(&t, Method::DELETE, &format!("/api/v2/clusters/{id}/"), None).await;
    assert_eq!(s, 204);
    t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    let kinds: Vec<(String, String)> =
        ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string())).collect();
    assert!(kinds.contains(&("scale".to_string(), "CANCELLED".to_string())), "{ops}");
    assert!(kinds.contains(&("delete".to_string(), "SUCCEEDED".to_string())), "{ops}");
}
