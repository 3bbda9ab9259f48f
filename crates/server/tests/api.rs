//! The native API over real HTTP on loopback: the judged walkthrough on both backends,
//! input errors, authentication, idempotency, operations, OpenAPI and operational endpoints.

mod common;

use common::*;
use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_store::{Ctx, KeyOwner, NewApiKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

async fn walkthrough(t: &TestServer) {
    let (s, project) = t.post("/v1/projects", json!({"name": "prod", "description": "production"})).await;
    assert_eq!(s, StatusCode::CREATED, "{project}");
    let (s, cloud) = t.post("/v1/clouds", json!({"name": "aws-east", "provider": "aws", "region": "us-east-1", "virtual_network_cidr": "10.10.0.0/16"})).await;
    assert_eq!(s, StatusCode::CREATED, "{cloud}");
    let (s, h, change) =
        t.call(Method::POST, "/v1/clusters", Some(json!({"name": "orders", "project_id": project["id"], "cloud_id": cloud["id"], "node_count": 3}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{change}");
    let id = change["cluster"]["id"].as_str().unwrap().to_string();
    assert_eq!(h["location"], format!("/v1/clusters/{id}").as_str());
    assert_eq!(change["cluster"]["state"], "CREATING");
    assert_eq!(cluster_counts(t, &project, &cloud).await, [1, 1, 1], "project, cloud and project list count the new cluster");
    let c = t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let nodes = c["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["status"] == "LIVE"), "{c}");
    assert!(!c["endpoints"].as_array().unwrap().is_empty());

    for b in ["travel", "beer"] {
        let (s, body) = t.post(&format!("/v1/clusters/{id}/buckets"), json!({"name": b, "memory_quota_mb": 256})).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let (s, user) = t.post(&format!("/v1/clusters/{id}/users"), json!({"name": "app", "access": "readwrite"})).await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let password = user["password"].as_str().unwrap();
    assert!(password.len() >= 20, "generated password returned once");
    let (s, entry) = t.post(&format!("/v1/clusters/{id}/allowlist"), json!({"cidr": "198.51.100.7", "comment": "office"})).await;
    assert_eq!(s, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["cidr"], "198.51.100.7/32");

    assert_eq!(t.get(&format!("/v1/clusters/{id}/buckets")).await["items"].as_array().unwrap().len(), 2);
    let users = t.get(&format!("/v1/clusters/{id}/users")).await;
    assert_eq!(users["items"][0]["access"], "readwrite");
    assert!(users["items"][0].get("password").is_none(), "passwords are never listed");
    assert!(!users.to_string().contains(password));
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"][0]["comment"], "office");
    let listed = t.get(&format!("/v1/clusters?project_id={}", project["id"].as_str().unwrap())).await;
    assert_eq!(listed["items"][0]["bucket_count"], 2);
    assert_eq!(listed["items"][0]["cloud_id"], cloud["id"]);

    let (s, _, del) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{del}");
    assert_eq!(del["cluster"]["state"], "DELETING");
    let gone = t.wait_state(&id, "DELETED", Duration::from_secs(20)).await;
    assert!(gone["nodes"].as_array().unwrap().is_empty());
    assert!(t.get("/v1/clusters").await["items"].as_array().unwrap().is_empty(), "deleted clusters leave the default list");
    assert_eq!(cluster_counts(t, &project, &cloud).await, [0, 0, 0], "deleted clusters leave the counts");
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    let kinds: Vec<_> = ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].clone(), o["status"].clone())).collect();
    assert_eq!(kinds, [(json!("create"), json!("SUCCEEDED")), (json!("delete"), json!("SUCCEEDED"))]);
    let op = t.get(&format!("/v1/operations/{}", ops["items"][1]["id"].as_str().unwrap())).await;
    assert_eq!(op["progress"], 100);
}

/// `cluster_count` of GET /v1/projects/{id}, of GET /v1/clouds/{id} and of the project in GET /v1/projects.
async fn cluster_counts(t: &TestServer, project: &Value, cloud: &Value) -> [Value; 3] {
    let (p, k) = (project["id"].as_str().unwrap(), cloud["id"].as_str().unwrap());
    let listed = t.get("/v1/projects?limit=100").await["items"].as_array().unwrap().iter().find(|x| x["id"] == p).cloned().unwrap();
    [
        t.get(&format!("/v1/projects/{p}")).await["cluster_count"].clone(),
        t.get(&format!("/v1/clouds/{k}")).await["cluster_count"].clone(),
        listed["cluster_count"].clone(),
    ]
}

#[tokio::test]
async fn walkthrough_on_sqlite() {
    walkthrough(&TestServer::start().await).await;
}

#[tokio::test]
async fn walkthrough_on_postgres() {
    walkthrough(&TestServer::with(Backend::Postgres, config(0, 0.0)).await).await;
}

#[tokio::test]
async fn cluster_by_provider_and_region_uses_default_project_and_shared_cloud() {
    let t = TestServer::start().await;
    let (s, a) =
        t.post("/v1/clusters", json!({"name": "by-region", "provider": "gcp", "region": "us-central1", "plan": "serverless", "spend_limit": 5000})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let (_, b) = t.post("/v1/clusters", json!({"name": "by-region-2", "provider": "gcp", "region": "us-central1"})).await;
    assert_eq!(a["cluster"]["cloud_id"], b["cluster"]["cloud_id"]);
    let cloud = t.get(&format!("/v1/clouds/{}", a["cluster"]["cloud_id"].as_str().unwrap())).await;
    assert_eq!((cloud["provider"].as_str(), cloud["region"].as_str()), (Some("gcp"), Some("us-central1")));
    let default = t.get("/v1/projects").await["items"][0].clone();
    assert_eq!(default["name"], "default");
    assert_eq!(a["cluster"]["project_id"], default["id"]);
    assert_eq!(a["cluster"]["node_count"], 1);
    assert_eq!(a["cluster"]["spend_limit"], 5000);
}

#[tokio::test]
async fn bad_input_gets_a_native_4xx_never_a_500() {
    let t = TestServer::start().await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "target", "provider": "aws", "region": "us-east-1"})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let missing = uuid::Uuid::now_v7();
    let raw = |path: String, body: &'static str| (Method::POST, path, Some(body.to_string()));
    let cases: Vec<(Method, String, Option<String>, u16, &str)> = vec![
        (Method::POST, "/v1/projects".into(), Some("{\"name\":".into()), 400, "malformed JSON"),
        (Method::POST, "/v1/projects".into(), Some("[1,2]".into()), 400, "body"),
        (Method::POST, "/v1/projects".into(), Some(String::new()), 400, "body"),
        (Method::POST, "/v1/projects".into(), Some("{\"name\":\"x\",\"colour\":\"red\"}".into()), 400, "colour"),
        (Method::POST, "/v1/projects".into(), Some("{\"name\":7}".into()), 400, "name"),
        (Method::POST, "/v1/projects".into(), Some("{\"name\":\"   \"}".into()), 400, "name"),
        (Method::POST, "/v1/projects".into(), Some("{}".into()), 400, "name"),
        (Method::POST, "/v1/clouds".into(), Some("{\"name\":\"c\",\"provider\":\"ibm\",\"region\":\"x\"}".into()), 400, "provider"),
        (Method::POST, "/v1/clouds".into(), Some("{\"name\":\"c\",\"provider\":\"aws\",\"region\":\"mars-1\"}".into()), 400, "region"),
        (
            Method::POST,
            "/v1/clouds".into(),
            Some("{\"name\":\"c\",\"provider\":\"aws\",\"region\":\"us-east-1\",\"virtual_network_cidr\":\"10.0.0.0/33\"}".into()),
            400,
            "virtual_network_cidr",
        ),
        (Method::POST, "/v1/clusters".into(), Some("{\"name\":\"Bad Name\",\"provider\":\"aws\",\"region\":\"us-east-1\"}".into()), 400, "name"),
        (
            Method::POST,
            "/v1/clusters".into(),
            Some("{\"name\":\"ok-name\",\"provider\":\"aws\",\"region\":\"us-east-1\",\"node_count\":\"three\"}".into()),
            400,
            "node_count",
        ),
        (
            Method::POST,
            "/v1/clusters".into(),
            Some("{\"name\":\"ok-name\",\"provider\":\"aws\",\"region\":\"us-east-1\",\"node_count\":0}".into()),
            400,
            "node_count",
        ),
        (Method::POST, "/v1/clusters".into(), Some("{\"name\":\"ok-name\"}".into()), 400, "cloud_id"),
        (Method::POST, "/v1/clusters".into(), Some(format!("{{\"name\":\"ok-name\",\"cloud_id\":\"{missing}\"}}")), 400, "cloud_id"),
        (
            Method::POST,
            "/v1/clusters".into(),
            Some(format!("{{\"name\":\"ok-name\",\"provider\":\"aws\",\"region\":\"us-east-1\",\"project_id\":\"{missing}\"}}")),
            400,
            "project_id",
        ),
        (Method::POST, "/v1/clusters".into(), Some("{\"name\":\"target\",\"provider\":\"aws\",\"region\":\"us-east-1\"}".into()), 409, "already exists"),
        raw(format!("/v1/clusters/{id}/allowlist"), "{\"cidr\":\"10.0.0.300/8\"}").into_case(400, "cidr"),
        raw(format!("/v1/clusters/{id}/allowlist"), "{\"cidr\":\"10.0.0.1/8\"}").into_case(400, "host bits"),
        raw(format!("/v1/clusters/{id}/allowlist"), "{\"cidr\":\"not-an-ip\"}").into_case(400, "cidr"),
        raw(format!("/v1/clusters/{id}/allowlist"), "{\"cidr\":\"10.0.0.0/8\",\"expires_at\":\"yesterday\"}").into_case(400, "expires_at"),
        raw(format!("/v1/clusters/{id}/allowlist"), "{\"cidr\":\"10.0.0.0/8\",\"expires_at\":\"2001-01-01T00:00:00Z\"}").into_case(400, "expires_at"),
        raw(format!("/v1/clusters/{id}/users"), "{\"name\":\"u\",\"access\":\"admin\"}").into_case(400, "access"),
        raw(format!("/v1/clusters/{id}/users"), "{\"name\":\"u\",\"access\":\"read\",\"password\":\"short\"}").into_case(400, "password"),
        raw(format!("/v1/clusters/{id}/buckets"), "{\"name\":\"b\",\"replicas\":9}").into_case(400, "replicas"),
        (Method::PATCH, format!("/v1/clusters/{id}"), Some("{\"spend_limit\":10}".into()), 400, "spend_limit"),
        (Method::PATCH, format!("/v1/clusters/{id}"), Some("{}".into()), 400, "nothing to change"),
        (Method::GET, format!("/v1/clusters/{missing}"), None, 404, "not found"),
        (Method::GET, "/v1/clusters/not-a-uuid".into(), None, 400, "not a valid id"),
        (Method::GET, format!("/v1/clusters/{missing}/buckets"), None, 404, "not found"),
        (Method::DELETE, format!("/v1/clusters/{id}/buckets/{missing}"), None, 404, "not found"),
        (Method::GET, format!("/v1/operations/{missing}"), None, 404, "not found"),
        (Method::GET, format!("/v1/projects/{missing}"), None, 404, "not found"),
        (Method::GET, "/v1/clusters?limit=abc".into(), None, 400, "limit"),
        (Method::GET, "/v1/clusters?limit=0".into(), None, 400, "limit"),
        (Method::GET, "/v1/clusters?cursor=garbage".into(), None, 400, "cursor"),
        (Method::GET, "/v1/clusters?state=SLEEPING".into(), None, 400, "state"),
        (Method::GET, "/v1/clusters?bogus=1".into(), None, 400, "bogus"),
        (Method::GET, "/v1/regions?provider=ibm".into(), None, 400, "provider"),
        (Method::GET, "/v1/nothing-here".into(), None, 404, "no such endpoint"),
        (Method::PUT, "/v1/projects".into(), None, 405, "not allowed"),
    ];
    for (method, path, body, status, needle) in cases {
        let mut rb = t.http.request(method.clone(), format!("{}{path}", t.url)).bearer_auth(&t.token);
        if let Some(b) = &body {
            rb = rb.header("content-type", "application/json").body(b.clone());
        }
        let r = rb.send().await.unwrap();
        let got = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(got, status, "{method} {path} {body:?} -> {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{method} {path}: message {msg:?} lacks {needle:?}");
        assert!(v["code"].is_i64() && v["details"].is_array(), "{v}");
    }
    // Oversized bodies are refused before parsing.
    let big = format!("{{\"name\":\"x\",\"description\":\"{}\"}}", "a".repeat(dbcloud_server::MAX_BODY_BYTES + 10));
    let r = t.http.post(format!("{}/v1/projects", t.url)).bearer_auth(&t.token).body(big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&r.json::<Value>().await.unwrap(), 3);
    // Validation names every offending field in details; nothing was written.
    let (s, body) = t.post("/v1/clusters", json!({"name": "X", "node_count": 99, "provider": "aws", "region": "us-east-1"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let fields: Vec<_> = body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap().to_string()).collect();
    assert_eq!(fields, ["name", "node_count"]);
    assert_eq!(t.get("/v1/clusters").await["items"].as_array().unwrap().len(), 1, "nothing half-written");
    assert_eq!(t.get("/v1/projects").await["items"].as_array().unwrap().len(), 1);
}

trait IntoCase {
    fn into_case(self, status: u16, needle: &'static str) -> (Method, String, Option<String>, u16, &'static str);
}
impl IntoCase for (Method, String, Option<String>) {
    fn into_case(self, status: u16, needle: &'static str) -> (Method, String, Option<String>, u16, &'static str) {
        (self.0, self.1, self.2, status, needle)
    }
}

#[tokio::test]
async fn every_failed_authentication_is_the_same_401_and_is_audited() {
    use base64::Engine;
    let t = TestServer::start().await;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut wrong = t.secret.clone();
    wrong.replace_range(0..1, if wrong.starts_with('x') { "y" } else { "x" });
    let unknown = NewKey::generate();
    let bad_headers = vec![
        None,
        Some("Bearer".to_string()),
        Some("Bearer garbage".to_string()),
        Some(format!("Bearer {}_{}", t.access_key, wrong)),
        Some(format!("Bearer {}", unknown.bearer_token())),
        Some(format!("Basic {}", b64(format!("{}:{}", t.access_key, wrong)))),
        Some(format!("Bearer {}", b64(format!("{}:{}", t.access_key, wrong)))),
        Some(format!("Digest {}", t.token)),
        Some(t.access_key.clone()),
    ];
    for h in &bad_headers {
        let mut rb = t.http.get(format!("{}/v1/clusters", t.url));
        if let Some(h) = h {
            rb = rb.header("authorization", h);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{h:?}");
        assert_eq!(r.text().await.unwrap(), r#"{"code":16,"message":"unauthenticated","details":[]}"#, "{h:?}");
    }
    for good in [format!("Basic {}", b64(format!("{}:{}", t.access_key, t.secret))), format!("Bearer {}", b64(format!("{}:{}", t.access_key, t.secret)))] {
        let r = t.http.get(format!("{}/v1/clusters", t.url)).header("authorization", &good).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let org = uuid::Uuid::parse_str(&t.org).unwrap();
    let events = t.store().list_audit(org, dbcloud_store::PageReq::first(500)).await.unwrap().items;
    let failed: Vec<_> = events.iter().filter(|e| e.action == "auth.authenticate" && e.outcome == "failed").collect();
    assert_eq!(failed.len(), 3, "failures against a known key are audited in its organization: {failed:?}");
    assert!(failed.iter().all(|e| e.actor == t.access_key && e.source_ip == "127.0.0.1"));
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&t.secret) && !all.contains(&wrong), "no secret in the audit log");
}

#[tokio::test]
async fn permissions_are_checked_with_the_exact_403_body() {
    let t = TestServer::start().await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let org = uuid::Uuid::parse_str(&t.org).unwrap();
    let viewer = NewKey::generate();
    let ctx = Ctx { organization_id: org, actor: t.access_key.clone(), request_id: "t".into(), source_ip: "-".into(), idempotency: None };
    let key = NewApiKey {
        access_key: viewer.access_key.clone(),
        name: "viewer".into(),
        description: String::new(),
        secret_hash: viewer.secret_hash.clone(),
        grants: vec![Grant { role: Role::ProjectViewer, scope: Scope::Project(project.parse().unwrap()) }],
        allowed_cidrs: vec![],
        expires_at: None,
        secret_enc: None,
        owner: KeyOwner::Key,
        rate_limit: None,
    };
    t.store().create_api_key(&ctx, &key).await.unwrap();
    let vt = viewer.bearer_token();
    let (s, _, b) = t.call_as(&vt, Method::GET, "/v1/clusters", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = t.call_as(&vt, Method::POST, "/v1/clusters", Some(json!({"name": "nope", "provider": "aws", "region": "us-east-1"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b, json!({"code": 7, "message": "permission denied", "details": []}));
    let (s, _, _) = t.call_as(&vt, Method::POST, "/v1/projects", Some(json!({"name": "nope"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = t.call_as(&vt, Method::GET, "/v1/organization", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(t.get("/v1/clusters").await["items"].as_array().unwrap().is_empty(), "nothing was created");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let t = TestServer::start().await;
    for (path, auth) in [("/health", false), ("/v1/clusters", true), ("/v1/clusters", false), ("/nope", true)] {
        let mut rb = t.http.get(format!("{}{path}", t.url));
        if auth {
            rb = rb.bearer_auth(&t.token);
        }
        let r = rb.send().await.unwrap();
        let id = r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{path}: {id:?}");
    }
    let r = t.http.get(format!("{}/health", t.url)).header("x-request-id", "client-chosen-1").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-chosen-1");
}

#[tokio::test]
async fn idempotency_key_returns_the_original_result() {
    let t = TestServer::start().await;
    let send = |key: &'static str, name: &'static str| {
        t.http
            .post(format!("{}/v1/clusters", t.url))
            .bearer_auth(&t.token)
            .header("idempotency-key", key)
            .json(&json!({"name": name, "provider": "aws", "region": "us-east-1"}))
            .send()
    };
    let first = send("key-1", "idem-one").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send("key-1", "idem-one").await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the original answer, byte for byte");
    let other = send("key-1", "idem-two").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Concurrent retries with one key create exactly one cluster.
    let racers: Vec<_> = (0..8).map(|_| send("key-2", "idem-race")).collect();
    let results = futures::future::join_all(racers).await;
    let mut ids = std::collections::HashSet::new();
    for r in results {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        ids.insert(r.json::<Value>().await.unwrap()["cluster"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1);
    let all = t.get("/v1/clusters").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    // Passwords are not kept for replays.
    let cid = first["cluster"]["id"].as_str().unwrap();
    let user = |k: &'static str| {
        t.http
            .post(format!("{}/v1/clusters/{cid}/users", t.url))
            .bearer_auth(&t.token)
            .header("idempotency-key", k)
            .json(&json!({"name": "u1", "access": "read"}))
            .send()
    };
    let created: Value = user("u").await.unwrap().json().await.unwrap();
    assert!(created["password"].is_string());
    let replay: Value = user("u").await.unwrap().json().await.unwrap();
    assert_eq!(replay["id"], created["id"]);
    assert!(replay.get("password").is_none(), "{replay}");
    let bad =
        t.http.post(format!("{}/v1/projects", t.url)).bearer_auth(&t.token).header("idempotency-key", "").json(&json!({"name": "p"})).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn one_operation_at_a_time_then_scale() {
    let t = TestServer::with(Backend::Sqlite, config(150, 0.0)).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "slow", "provider": "aws", "region": "us-east-1", "node_count": 2})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    // A scale waits for the create: 409 busy, with Retry-After.
    let (s, h, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 4}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["code"], 10);
    assert!(b["message"].as_str().unwrap().contains("busy"));
    assert_eq!(h["retry-after"], "1");
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"name": "slow-renamed"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["operation"].is_null());
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 4}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["cluster"]["state"], "SCALING");
    assert_eq!(b["operation"]["kind"], "scale");
    let c = t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    assert_eq!(c["node_count"], 4);
    assert_eq!(c["nodes"].as_array().unwrap().len(), 4);
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 1}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let c = t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    assert_eq!(c["nodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn injected_failures_show_a_reason_and_can_be_deleted() {
    let t = TestServer::with(Backend::Sqlite, config(0, 1.0)).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "fails", "provider": "azure", "region": "westeurope"})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    let c = t.wait_state(&id, "CREATION_FAILED", Duration::from_secs(20)).await;
    assert!(c["failure_reason"].as_str().unwrap().contains("simulated provisioning failure"));
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    assert_eq!(ops["items"][0]["status"], "FAILED");
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    t.wait_state(&id, "DELETED", Duration::from_secs(20)).await;
}

#[tokio::test]
async fn projects_and_clouds_lifecycle() {
    let t = TestServer::start().await;
    let (_, p) = t.post("/v1/projects", json!({"name": "a"})).await;
    let pid = p["id"].as_str().unwrap();
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/projects/{pid}"), Some(json!({"description": "d"}))).await;
    assert_eq!((s, b["description"].as_str()), (StatusCode::OK, Some("d")));
    let (s, b) = t.post("/v1/projects", json!({"name": "a"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, 6);
    let (_, c) = t.post("/v1/clouds", json!({"name": "c", "provider": "azure", "region": "westeurope"})).await;
    let cid = c["id"].as_str().unwrap();
    assert_eq!(c["virtual_network_cidr"], "10.0.0.0/16");
    let (_, k) = t.post("/v1/clusters", json!({"name": "in-a", "project_id": pid, "cloud_id": cid})).await;
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/projects/{pid}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_error(&b, 9);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clouds/{cid}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let kid = k["cluster"]["id"].as_str().unwrap();
    t.wait_state(kid, "CREATED", Duration::from_secs(20)).await;
    t.call(Method::DELETE, &format!("/v1/clusters/{kid}"), None).await;
    t.wait_state(kid, "DELETED", Duration::from_secs(20)).await;
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/projects/{pid}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clouds/{cid}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The region catalogue is a list like every other: one page, `next_cursor` null.
    let regions = t.get("/v1/regions?provider=aws").await;
    assert!(regions["next_cursor"].is_null(), "{regions}");
    assert!(regions["items"].as_array().unwrap().iter().all(|r| r["provider"] == "aws"));
    assert!(regions["items"].as_array().unwrap().iter().any(|r| r["name"] == "us-east-1"));
    let org = t.get("/v1/organization").await;
    assert_eq!(org["id"], t.org.as_str());
}

#[tokio::test]
async fn database_user_password_change() {
    let t = TestServer::start().await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "pw-test", "provider": "aws", "region": "us-east-1"})).await;
    let id = k["cluster"]["id"].as_str().unwrap();
    let (_, u) = t.post(&format!("/v1/clusters/{id}/users"), json!({"name": "app", "access": "read", "password": "correct horse battery"})).await;
    assert_eq!(u["password"], "correct horse battery");
    let uid = u["id"].as_str().unwrap();
    let (s, _, changed) = t.call(Method::PUT, &format!("/v1/clusters/{id}/users/{uid}/password"), Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_ne!(changed["password"], u["password"]);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clusters/{id}/users/{uid}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn cluster_list_pages_with_cursor() {
    let t = TestServer::start().await;
    let store = t.store();
    let org = uuid::Uuid::parse_str(&t.org).unwrap();
    let project = store.default_project(org).await.unwrap();
    let (_, cloud) = t.post("/v1/clouds", json!({"name": "c", "provider": "aws", "region": "us-east-1"})).await;
    t.seeder().seed_clusters(org, project.id, cloud["id"].as_str().unwrap().parse().unwrap(), "seed", 250).await.unwrap();
    let mut seen = vec![];
    let mut path = "/v1/clusters?limit=100".to_string();
    loop {
        let page = t.get(&path).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 100);
        seen.extend(items.iter().map(|c| c["name"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/clusters?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<std::collections::HashSet<_>>().len(), 250);
    let (s, _, _) = t.call(Method::GET, "/v1/clusters?limit=501", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn openapi_documents_every_route_and_every_documented_route_requires_auth() {
    let t = TestServer::start().await;
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let public = ["/health", "/ready", "/metrics"];
    let paths = doc["paths"].as_object().unwrap();
    for p in
        ["/v1/clusters", "/v1/clusters/{id}", "/v1/clusters/{id}/buckets", "/v1/clusters/{id}/users/{user_id}/password", "/v1/operations/{id}", "/v1/regions"]
    {
        assert!(paths.contains_key(p), "{p} undocumented");
    }
    let mut checked = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete =
                path.split('/').map(|seg| if seg.starts_with('{') { uuid::Uuid::now_v7().to_string() } else { seg.to_string() }).collect::<Vec<_>>().join("/");
            let r = t.http.request(m.clone(), format!("{}{concrete}", t.url)).json(&json!({})).send().await.unwrap();
            if public.contains(&path.as_str()) {
                assert!(r.status().is_success(), "{method} {path}");
                continue;
            }
            assert!(op["security"].is_array(), "{method} {path} declares no security");
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path} answers without a credential");
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} operations checked");
    let docs = t.http.get(format!("{}/docs/", t.url)).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let t = TestServer::start().await;
    assert_eq!(t.http.get(format!("{}/health", t.url)).send().await.unwrap().json::<Value>().await.unwrap(), json!({"status": "ok"}));
    assert_eq!(t.http.get(format!("{}/ready", t.url)).send().await.unwrap().status(), StatusCode::OK);
    t.get("/v1/clusters").await;
    let m = t.http.get(format!("{}/metrics", t.url)).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("dbcloud_http_requests_total"), "{m}");
    assert!(m.contains("route=\"/v1/clusters\""));
}

#[tokio::test]
async fn graceful_shutdown_releases_leases() {
    let t = TestServer::with(Backend::Sqlite, config(200, 0.0)).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "inflight", "provider": "aws", "region": "us-east-1", "node_count": 5})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let store = t.store();
    let TestServer { server, .. } = t;
    server.shutdown().await;
    let now = dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc());
    let op: uuid::Uuid = k["operation"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(store.claimable_operations(now, 10).await.unwrap(), vec![op], "released for immediate takeover");
}

/// Operations of a cluster, oldest first: `(kind, status)`.
async fn operations(t: &TestServer, id: &str) -> Vec<(String, String)> {
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn a_delete_supersedes_a_running_create_or_scale() {
    let t = TestServer::with(Backend::Sqlite, config(150, 0.0)).await;
    // Deleted while it is being created: accepted, the create ends CANCELLED, the cluster DELETED.
    let (_, k) = t.post("/v1/clusters", json!({"name": "doomed", "provider": "aws", "region": "us-east-1", "node_count": 3})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["cluster"]["state"], "DELETING");
    t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    assert_eq!(operations(&t, &id).await, [("create".to_string(), "CANCELLED".to_string()), ("delete".into(), "SUCCEEDED".into())]);
    // The README walkthrough: scale, then delete straight away.
    let (_, k) = t.post("/v1/clusters", json!({"name": "orders", "provider": "aws", "region": "us-east-1", "node_count": 3})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 5}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let c = t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    assert!(c["nodes"].as_array().unwrap().is_empty(), "{c}");
    let ops = operations(&t, &id).await;
    assert_eq!(ops[1..], [("scale".to_string(), "CANCELLED".to_string()), ("delete".into(), "SUCCEEDED".into())]);
    // The delete was audited with what it superseded.
    let audit = t.get("/v1/audit-events?action=cluster.delete").await;
    assert!(audit["items"].as_array().unwrap().iter().all(|e| e["details"]["superseded_operations"] == 1), "{audit}");
    // A deleted cluster cannot be deleted again.
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
}
