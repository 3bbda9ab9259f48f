//! Replay of HMAC-signed changes: the signature covers method, path and timestamp but not
//! the body, so every signed PUT and DELETE (like POST and PATCH) is accepted once. A
//! captured signature replayed — with the same or another body — is refused with 401 on the
//! replica that saw it and on another replica of the same PostgreSQL, and the state it would
//! have changed stays as it was. One test per API surface that has PUT or DELETE routes.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A strictly increasing millisecond timestamp, so every fresh signature differs.
fn fresh_ts() -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc());
    let prev = LAST.fetch_max(now, Ordering::SeqCst);
    if prev >= now { (LAST.fetch_add(1, Ordering::SeqCst) + 1).to_string() } else { now.to_string() }
}

/// A signature captured from one request: its headers can be sent again.
#[derive(Clone)]
struct Captured {
    method: Method,
    path: String,
    authorization: String,
    timestamp: String,
}

/// Signs `method path` with the owner's secret (HMAC over the path, Couchbase style).
fn sign(t: &TestServer, method: Method, path: &str) -> Captured {
    let timestamp = fresh_ts();
    let sig = dbcloud_core::signing::sign(&t.secret, method.as_str(), path, &timestamp);
    Captured { method, path: path.to_string(), authorization: format!("Bearer {}:{sig}", t.access_key), timestamp }
}

/// Sends a captured signature to `t` with `body`.
async fn send(t: &TestServer, c: &Captured, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb =
        t.http.request(c.method.clone(), format!("{}{}", t.url, c.path)).header("Authorization", &c.authorization).header("Couchbase-Timestamp", &c.timestamp);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, b) = decode(rb.send().await.unwrap()).await;
    (s, b)
}

/// Sends a fresh signed request, which must answer `want`; returns its signature.
async fn signed_once(t: &TestServer, method: Method, path: &str, body: Option<Value>, want: StatusCode) -> Captured {
    let c = sign(t, method, path);
    let (s, b) = send(t, &c, body).await;
    assert_eq!(s, want, "{} {path}: {b}", c.method);
    c
}

/// Replays `c` with `body` on both replicas: each must refuse it with 401.
async fn assert_replay_refused(a: &TestServer, b: &TestServer, c: &Captured, body: Option<Value>) {
    for (which, t) in [("same replica", a), ("other replica", b)] {
        let (s, answer) = send(t, c, body.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "replayed {} {} on the {which}: {answer}", c.method, c.path);
    }
}

/// Two replicas on one fresh PostgreSQL schema, and a CREATED cluster.
async fn replicas_and_cluster() -> (TestServer, TestServer, String) {
    let a = TestServer::with(Backend::Postgres, config(0, 0.0)).await;
    let b = a.replica().await;
    let (s, k) = a.post("/v1/clusters", json!({"name": "replayed", "provider": "aws", "region": "us-east-1", "node_count": 1})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    a.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    (a, b, id)
}

async fn allowlist(t: &TestServer, cluster: &str) -> Vec<String> {
    let items = t.get(&format!("/v1/clusters/{cluster}/allowlist?limit=100")).await["items"].as_array().unwrap().clone();
    items.iter().map(|e| e["cidr"].as_str().unwrap().to_string()).collect()
}

async fn db_users(t: &TestServer, cluster: &str) -> Vec<Value> {
    t.get(&format!("/v1/clusters/{cluster}/users?limit=100")).await["items"].as_array().unwrap().clone()
}

/// A database user (native API); returns its id.
async fn db_user(t: &TestServer, cluster: &str, name: &str) -> String {
    let (s, u) = t.post(&format!("/v1/clusters/{cluster}/users"), json!({"name": name, "access": "readwrite"})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

/// When each of the cluster's users last changed password, by name.
async fn password_times(t: &TestServer, cluster: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        db_users(t, cluster).await.iter().map(|u| (u["name"].as_str().unwrap().to_string(), u["password_changed_at"].as_str().unwrap().to_string())).collect();
    v.sort();
    v
}

async fn audit_reasons(t: &TestServer) -> Vec<String> {
    let events = t.get("/v1/audit-events?action=auth.&limit=500").await["items"].as_array().unwrap().clone();
    events.iter().filter_map(|e| e["details"]["reason"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn native_signed_put_and_delete_are_one_use_on_every_replica() {
    let (a, b, cluster) = replicas_and_cluster().await;
    // PUT …/password: the replay carries another password; the first one stays.
    let uid = db_user(&a, &cluster, "app").await;
    let path = format!("/v1/clusters/{cluster}/users/{uid}/password");
    let put = signed_once(&a, Method::PUT, &path, Some(json!({"password": "first-password-0001"})), StatusCode::OK).await;
    let before = password_times(&a, &cluster).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_replay_refused(&a, &b, &put, Some(json!({"password": "attacker-password-01"}))).await;
    assert_eq!(password_times(&a, &cluster).await, before, "the password did not change");

    // DELETE of an allow-list entry, replayed: refused as a replay (not answered 404).
    let (s, e) = a.post(&format!("/v1/clusters/{cluster}/allowlist"), json!({"cidr": "198.51.100.0/24", "comment": "office"})).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let del = signed_once(&a, Method::DELETE, &format!("/v1/clusters/{cluster}/allowlist/{}", e["id"].as_str().unwrap()), None, StatusCode::NO_CONTENT).await;
    assert_replay_refused(&a, &b, &del, None).await;

    // DELETE of an API key (revoke), replayed after the key is gone: refused, audited.
    let (s, k) = a.post("/v1/api-keys", json!({"name": "to-revoke", "organizationRoles": ["organizationMember"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let revoke = signed_once(&a, Method::DELETE, &format!("/v1/api-keys/{}", k["id"].as_str().unwrap()), None, StatusCode::OK).await;
    assert_replay_refused(&a, &b, &revoke, None).await;
    let reasons = audit_reasons(&a).await;
    assert!(reasons.iter().filter(|r| *r == "replayed signature").count() >= 6, "every replay is audited: {reasons:?}");

    // Reads stay reusable: the same GET signature works twice, on both replicas.
    let get = sign(&a, Method::GET, &format!("/v1/clusters/{cluster}"));
    for t in [&a, &b, &a] {
        assert_eq!(send(t, &get, None).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn couchbase_signed_put_and_delete_are_one_use_on_every_replica() {
    let (a, b, cluster) = replicas_and_cluster().await;
    let path = format!("/v2/clusters/{cluster}/allowlist");
    // PUT allowlist: the captured request sets 203.0.113.0/24; its replay asks for 0.0.0.0/0.
    let put =
        signed_once(&a, Method::PUT, &path, Some(json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "permanent", "comment": "office"}])), StatusCode::ACCEPTED)
            .await;
    assert_eq!(allowlist(&a, &cluster).await, vec!["203.0.113.0/24"]);
    assert_replay_refused(&a, &b, &put, Some(json!([{"cidrBlock": "0.0.0.0/0", "ruleType": "permanent", "comment": "everyone"}]))).await;
    assert_eq!(allowlist(&a, &cluster).await, vec!["203.0.113.0/24"], "the allow list did not change");

    // DELETE allowlist names the network in its body: a replay could remove another one.
    let (s, e) = a.post(&format!("/v1/clusters/{cluster}/allowlist"), json!({"cidr": "192.0.2.0/24", "comment": "vpn"})).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let del = signed_once(&a, Method::DELETE, &path, Some(json!({"cidrBlock": "203.0.113.0/24"})), StatusCode::NO_CONTENT).await;
    assert_replay_refused(&a, &b, &del, Some(json!({"cidrBlock": "192.0.2.0/24"}))).await;
    assert_eq!(allowlist(&a, &cluster).await, vec!["192.0.2.0/24"], "the other network is still allowed");

    // PUT users/{name}: the replay carries another password.
    db_user(&a, &cluster, "app").await;
    let user_path = format!("/v2/clusters/{cluster}/users/app");
    let put = signed_once(&a, Method::PUT, &user_path, Some(json!({"password": "first-Password-0001"})), StatusCode::NO_CONTENT).await;
    let before = password_times(&a, &cluster).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_replay_refused(&a, &b, &put, Some(json!({"password": "attacker-Password-01"}))).await;
    assert_eq!(password_times(&a, &cluster).await, before, "the password did not change");

    // DELETE users/{name}, replayed after the user was created again: the new user stays.
    let del = signed_once(&a, Method::DELETE, &user_path, None, StatusCode::NO_CONTENT).await;
    db_user(&a, &cluster, "app").await;
    assert_replay_refused(&a, &b, &del, None).await;
    assert_eq!(db_users(&a, &cluster).await.len(), 1, "the re-created user was not deleted");
}

#[tokio::test]
async fn cockroach_signed_put_and_delete_are_one_use_on_every_replica() {
    let (a, b, cluster) = replicas_and_cluster().await;
    db_user(&a, &cluster, "app").await;
    // PUT sql-users/{name}/password: the replay carries another password.
    let pw_path = format!("/api/v1/clusters/{cluster}/sql-users/app/password");
    let put = signed_once(&a, Method::PUT, &pw_path, Some(json!({"password": "first-password-0001"})), StatusCode::OK).await;
    let before = password_times(&a, &cluster).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_replay_refused(&a, &b, &put, Some(json!({"password": "attacker-password-01"}))).await;
    assert_eq!(password_times(&a, &cluster).await, before, "the password did not change");

    // PUT networking/allowlist/{ip}/{mask} creates the entry; replayed after it was removed.
    let entry_path = format!("/api/v1/clusters/{cluster}/networking/allowlist/0.0.0.0/0");
    let put = signed_once(&a, Method::PUT, &entry_path, Some(json!({"ui": true, "sql": true, "name": "open"})), StatusCode::OK).await;
    let del = signed_once(&a, Method::DELETE, &entry_path, None, StatusCode::OK).await;
    assert!(allowlist(&a, &cluster).await.is_empty());
    assert_replay_refused(&a, &b, &put, Some(json!({"ui": true, "sql": true, "name": "open"}))).await;
    assert!(allowlist(&a, &cluster).await.is_empty(), "0.0.0.0/0 was not added back");
    assert_replay_refused(&a, &b, &del, None).await;

    // DELETE sql-users/{name}, replayed after the user was created again: the new user stays.
    let del = signed_once(&a, Method::DELETE, &format!("/api/v1/clusters/{cluster}/sql-users/app"), None, StatusCode::OK).await;
    db_user(&a, &cluster, "app").await;
    assert_replay_refused(&a, &b, &del, None).await;
    assert_eq!(db_users(&a, &cluster).await.len(), 1, "the re-created user was not deleted");
}

#[tokio::test]
async fn cratedb_signed_put_and_delete_are_one_use_on_every_replica() {
    let (a, b, cluster) = replicas_and_cluster().await;
    // PUT ip-restrictions replaces the whole list; its replay asks for 0.0.0.0/0.
    let path = format!("/api/v2/clusters/{cluster}/ip-restrictions/");
    let put = signed_once(&a, Method::PUT, &path, Some(json!({"ip_whitelist": [{"cidr": "203.0.113.0/24", "description": "office"}]})), StatusCode::OK).await;
    a.wait_state(&cluster, "CREATED", Duration::from_secs(20)).await;
    let ops_before = a.get(&format!("/v1/clusters/{cluster}/operations?limit=100")).await["items"].as_array().unwrap().len();
    assert_replay_refused(&a, &b, &put, Some(json!({"ip_whitelist": [{"cidr": "0.0.0.0/0", "description": "everyone"}]}))).await;
    assert_eq!(allowlist(&a, &cluster).await, vec!["203.0.113.0/24"], "the allow list did not change");
    let ops = a.get(&format!("/v1/clusters/{cluster}/operations?limit=100")).await;
    assert_eq!(ops["items"].as_array().unwrap().len(), ops_before, "no operation was started");

    // DELETE projects/{id}/users/{user}, replayed after the user was given the role again.
    let project = a.get("/v1/projects?limit=1").await["items"][0]["id"].as_str().unwrap().to_string();
    let (s, u) = a.post("/v1/users", json!({"email": "dev@example.com", "name": "Dev"})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let add = || async {
        let (s, _, b) =
            a.call(Method::POST, &format!("/api/v2/projects/{project}/users/"), Some(json!({"user": "dev@example.com", "role_fqn": "project_member"}))).await;
        assert!(s.is_success(), "{s}: {b}");
    };
    let members = || async {
        let (s, _, b) = a.call(Method::GET, &format!("/api/v2/projects/{project}/users/"), None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b.as_array().unwrap().len()
    };
    add().await;
    let del = signed_once(&a, Method::DELETE, &format!("/api/v2/projects/{project}/users/dev@example.com/"), None, StatusCode::NO_CONTENT).await;
    assert_eq!(members().await, 0);
    add().await;
    assert_replay_refused(&a, &b, &del, None).await;
    assert_eq!(members().await, 1, "the role given again was not removed");
}
