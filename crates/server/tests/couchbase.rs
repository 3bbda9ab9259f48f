//! The Couchbase Cloud public API v2 dialect (`/v2/`): the seed-000 Python example, HMAC
//! signing in both endpoint forms, a full cluster lifecycle visible through `/v1/`, the
//! page-number envelope and the Couchbase error body.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A strictly increasing millisecond timestamp (signed POSTs may not repeat a signature).
fn now_ms() -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let prev = LAST.fetch_max(now, Ordering::SeqCst);
    let v = if prev >= now { LAST.fetch_add(1, Ordering::SeqCst) + 1 } else { now };
    v.to_string()
}

type Answer = (StatusCode, reqwest::header::HeaderMap, Value);

/// Sends a request signed with HMAC over `target` (path + query), or over the absolute URL.
async fn signed_as(t: &TestServer, secret: &str, method: Method, target: &str, body: Option<Value>, absolute: bool, ts: Option<String>) -> Answer {
    let ts = ts.unwrap_or_else(now_ms);
    let url = format!("{}{target}", t.url);
    let endpoint = if absolute { url.clone() } else { target.to_string() };
    let sig = dbcloud_core::signing::sign(secret, method.as_str(), &endpoint, &ts);
    let mut rb = t.http.request(method, url).header("Authorization", format!("Bearer {}:{sig}", t.access_key)).header("Couchbase-Timestamp", ts);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    decode(rb.send().await.unwrap()).await
}

async fn signed(t: &TestServer, method: Method, target: &str, body: Option<Value>) -> Answer {
    signed_as(t, &t.secret, method, target, body, false, None).await
}

fn content_type(h: &reqwest::header::HeaderMap) -> &str {
    h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn assert_cb_error(a: &Answer, status: StatusCode, kind: &str) -> String {
    assert_eq!(a.0, status, "{}", a.2);
    assert_eq!(a.2["errorType"], kind, "{}", a.2);
    assert_eq!(content_type(&a.1), "application/json");
    let obj = a.2.as_object().unwrap();
    assert_eq!(obj.len(), 2, "only message and errorType: {}", a.2);
    a.2["message"].as_str().unwrap().to_string()
}

async fn native_cloud(t: &TestServer) -> String {
    let (s, c) = t.post("/v1/clouds", json!({"name": "aws-east", "provider": "aws", "region": "us-east-1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn seed000_python_example_lists_clouds() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let (status, body) = seed000(&t, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cursor"]["pages"]["totalItems"], 1, "{body}");
    assert_eq!(body["cursor"]["pages"]["page"], 1);
    assert_eq!(body["data"][0]["id"], cloud.as_str());
    assert_eq!(body["data"][0]["provider"], "aws");
    assert_eq!(body["data"][0]["region"], "us-east-1");
    assert_eq!(body["data"][0]["status"], "ready");
    assert!(body["data"][0]["virtualNetworkCIDR"].is_string() && body["data"][0]["virtualNetworkID"].is_string(), "{body}");

    // The same script against a cloud's detail.
    let (status, body) = seed000(&t, Some(&format!("/v2/clouds/{cloud}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["providerSettings"]["region"], "us-east-1", "{body}");
    assert!(body.get("region").is_none());
    assert_eq!(body["tenantId"], t.org.as_str());
}

#[tokio::test]
async fn signing_forms_and_auth_failures() {
    let t = TestServer::start().await;
    native_cloud(&t).await;
    // Path + query form.
    let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds?page=1&perPage=5", None, false, None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    assert_eq!(content_type(&a.1), "application/json");
    assert_eq!(a.2["cursor"]["pages"]["perPage"], 5);
    // Absolute URL form (clients signing "everything after .com" of a base URL without one).
    let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds?page=1&perPage=5", None, true, None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    // A signed POST in the absolute form.
    let a = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "abs"})), true, None).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    // The other credential forms work too.
    let (s, _, b) = t.call(Method::GET, "/v2/clouds", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Wrong signature: the Couchbase 401 body, exactly.
    let a = signed_as(&t, "not-the-secret", Method::GET, "/v2/clouds", None, false, None).await;
    assert_eq!(a.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a.2, json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // Signature over another path.
    let ts = now_ms();
    let sig = dbcloud_core::signing::sign(&t.secret, "GET", "/v2/projects", &ts);
    let r = t
        .http
        .get(format!("{}/v2/clouds", t.url))
        .header("Authorization", format!("Bearer {}:{sig}", t.access_key))
        .header("Couchbase-Timestamp", &ts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // No credential at all.
    let r = t.http.get(format!("{}/v2/clouds", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // Stale and malformed timestamps.
    for ts in ["1000000000000", "yesterday"] {
        let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds", None, false, Some(ts.into())).await;
        assert_eq!(a.0, StatusCode::UNAUTHORIZED, "{ts}");
        assert_eq!(a.2, json!({"message": "invalid or expired Couchbase-Timestamp", "errorType": "Unauthorized"}), "{ts}");
    }
    // A replayed POST signature.
    let ts = now_ms();
    let first = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "once"})), false, Some(ts.clone())).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    let again = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "twice"})), false, Some(ts)).await;
    assert_cb_error(&again, StatusCode::UNAUTHORIZED, "Unauthorized");

    // /v2/status needs no credentials and ignores bad ones.
    let r = t.http.get(format!("{}/v2/status", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "OK"}));
    let r = t.http.get(format!("{}/v2/status", t.url)).header("Authorization", "Bearer junk:junk").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn cluster_lifecycle_through_v2_is_visible_in_v1() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;

    // Project, both ways.
    let a = signed(&t, Method::POST, "/v2/projects", Some(json!({"name": "couchbase-project"}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let project = a.2["id"].as_str().unwrap().to_string();
    assert_eq!(a.2["tenantId"], t.org.as_str());
    assert!(a.2["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(t.get(&format!("/v1/projects/{project}")).await["name"], "couchbase-project");
    let (_, native) = t.post("/v1/projects", json!({"name": "native-project"})).await;
    let a = signed(&t, Method::GET, &format!("/v2/projects/{}", native["id"].as_str().unwrap()), None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["name"], "native-project");

    // Cluster create: 202, Location, no body.
    let create = json!({
        "name": "cb-cluster", "cloudId": cloud, "projectId": project, "version": "latest",
        "supportPackage": {"type": "developerPro", "timezone": "GMT"},
        "servers": [{"size": 3, "services": ["data", "index", "query"], "aws": {"instanceSize": "m5.xlarge", "ebsSizeGib": 50}}],
    });
    let a = signed(&t, Method::POST, "/v2/clusters", Some(create)).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert_eq!(a.2, Value::Null);
    assert_eq!(content_type(&a.1), "application/json");
    let location = a.1["location"].to_str().unwrap().to_string();
    let id = location.strip_prefix("/v2/clusters/").unwrap().to_string();

    // Poll …/status until ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = signed(&t, Method::GET, &format!("{location}/status"), None).await;
        assert_eq!(a.0, StatusCode::OK, "{}", a.2);
        let st = a.2["status"].as_str().unwrap().to_string();
        if st == "ready" {
            break;
        }
        assert_eq!(st, "deploying");
        assert!(tokio::time::Instant::now() < deadline, "cluster never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Visible through /v1.
    let native = t.get("/v1/clusters").await;
    let c = native["items"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).expect("listed in /v1");
    assert_eq!((c["state"].as_str(), c["node_count"].as_i64(), c["project_id"].as_str()), (Some("CREATED"), Some(3), Some(project.as_str())));

    // List with filters, detail, health.
    let a = signed(&t, Method::GET, &format!("/v2/clusters?projectId={project}&cloudId={cloud}"), None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    assert_eq!(a.2["cursor"]["pages"]["totalItems"], 1);
    let summary = &a.2["data"][0];
    assert_eq!((summary["id"].as_str(), summary["nodes"].as_i64(), summary["status"].as_str()), (Some(id.as_str()), Some(3), Some("ready")));
    assert_eq!(summary["health"], "healthy");
    let a = signed(&t, Method::GET, &format!("/v2/clusters?projectId={}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(a.2["data"], json!([]), "no match is an empty page");
    let a = signed(&t, Method::GET, &location, None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["resourceIdentifier"], format!("cb-{}", &id.replace('-', "")[..8]));
    assert_eq!(a.2["cloudId"], cloud.as_str());
    assert_eq!(a.2["privateEndpointURL"], json!([]));
    let a = signed(&t, Method::GET, &format!("{location}/health"), None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["health"], "healthy");
    assert_eq!(a.2["nodeStats"]["totalCount"], 3, "{}", a.2);

    // Bucket.
    let a = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket", "memoryQuota": 128}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, json!({"name": "couchbasecloudbucket", "memoryQuota": 128, "replicas": 1, "conflictResolution": "seqno"}));
    assert!(a.1["location"].to_str().unwrap().starts_with(&format!("{location}/buckets/")));
    let dup = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket", "memoryQuota": 128}))).await;
    assert_cb_error(&dup, StatusCode::UNPROCESSABLE_ENTITY, "EntityAlreadyExists");
    let a = signed(&t, Method::GET, &format!("{location}/buckets"), None).await;
    assert_eq!(a.2[0]["id"], "Y291Y2hiYXNlY2xvdWRidWNrZXQ=");
    assert_eq!(a.2[0]["status"], "healthy");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/buckets")).await["items"][0]["name"], "couchbasecloudbucket");

    // Database user.
    let user = json!({"username": "app", "password": "correct-horse-battery",
        "buckets": [{"bucketName": "couchbasecloudbucket", "bucketAccess": ["data_reader", "data_writer"]}]});
    let a = signed(&t, Method::POST, &format!("{location}/users"), Some(user)).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("{location}/users"), None).await;
    assert_eq!(a.2, json!([{"username": "app", "access": [{"bucketName": "couchbasecloudbucket", "bucketAccess": ["data_reader", "data_writer"]}]}]));
    let native = t.get(&format!("/v1/clusters/{id}/users")).await;
    assert_eq!((native["items"][0]["access"].as_str(), native["items"][0]["scope"].as_str()), (Some("readwrite"), Some("couchbasecloudbucket")));
    let bad = signed(
        &t,
        Method::POST,
        &format!("{location}/users"),
        Some(json!({"username": "other", "password": "correct-horse-battery",
        "buckets": [{"bucketName": "nope", "bucketAccess": ["data_reader"]}]})),
    )
    .await;
    assert!(assert_cb_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("buckets"));

    // Allow list.
    let a = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8", "ruleType": "permanent", "comment": "office"})))
        .await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let a =
        signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "192.168.1.0/24", "ruleType": "temporary", "duration": "1h0m0s"})))
            .await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("{location}/allowlist"), None).await;
    let entries = a.2.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", a.2);
    let temp = entries.iter().find(|e| e["ruleType"] == "temporary").unwrap();
    assert!(temp["expiresAt"].is_string() && temp["state"] == "active" && temp["duration"] == "1h0m0s", "{temp}");
    let perm = entries.iter().find(|e| e["ruleType"] == "permanent").unwrap();
    assert!(perm.get("expiresAt").is_none() && perm["comment"] == "office", "{perm}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2);
    let host_bits = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.1/8", "ruleType": "permanent"}))).await;
    assert!(assert_cb_error(&host_bits, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("cidrBlock"));
    let no_duration = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.1.0.0/16", "ruleType": "temporary"}))).await;
    assert!(assert_cb_error(&no_duration, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("duration"));
    let a = signed(&t, Method::DELETE, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8"}))).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let a = signed(&t, Method::DELETE, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8"}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Removals.
    let a = signed(&t, Method::DELETE, &format!("{location}/users/app"), None).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let a = signed(&t, Method::DELETE, &format!("{location}/users/app"), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::DELETE, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket"}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert!(a.1["location"].to_str().unwrap().starts_with(&format!("{location}/buckets/")));
    assert_eq!(t.get(&format!("/v1/clusters/{id}/buckets")).await["items"], json!([]));

    // A project with a live cluster cannot go.
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{project}"), None).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "EntityStateInvalid");

    // Cluster delete.
    let a = signed(&t, Method::DELETE, &location, None).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert_eq!(a.1["location"].to_str().unwrap(), location);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = signed(&t, Method::GET, &format!("{location}/status"), None).await;
        if a.0 == StatusCode::NOT_FOUND || a.2["status"] == "destroy_succeeded" {
            break;
        }
        assert_eq!(a.2["status"], "destroying", "{}", a.2);
        assert!(tokio::time::Instant::now() < deadline, "cluster never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = signed(&t, Method::GET, "/v2/clusters", None).await;
    assert_eq!(a.2["data"], json!([]), "deleted clusters are hidden");
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["state"], "DELETED");
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{project}"), None).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let (s, _, _) = t.call(Method::GET, &format!("/v1/projects/{project}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn natively_created_cluster_shows_in_v2() {
    let t = TestServer::start().await;
    let (s, k) = t.post("/v1/clusters", json!({"name": "native-one", "provider": "gcp", "region": "us-east1"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let a = signed(&t, Method::GET, "/v2/clusters", None).await;
    assert_eq!(a.2["data"][0]["id"], id.as_str(), "{}", a.2);
    let cloud = a.2["data"][0]["cloudId"].as_str().unwrap().to_string();
    let a = signed(&t, Method::GET, &format!("/v2/clouds/{cloud}"), None).await;
    assert_eq!(a.2["provider"].as_str(), Some("gcp"), "{}", a.2);
    // The document's provider settings have no GCP variant: the VPC fields of the AWS one,
    // and the region in the cloud list.
    assert_eq!(a.2["providerSettings"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["vpcCidr".into(), "vpcId".into()]), "{}", a.2);
    let a = signed(&t, Method::GET, "/v2/clouds", None).await;
    assert_eq!(a.2["data"][0]["region"], "us-east1", "{}", a.2);
}

#[tokio::test]
async fn pagination_envelope() {
    let t = TestServer::start().await;
    for n in ["p-a", "p-b", "p-c"] {
        let (s, _) = t.post("/v1/projects", json!({"name": n})).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Four projects: the default one and three more.
    let a = signed(&t, Method::GET, "/v2/projects?perPage=2&page=2&sortBy=name", None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    let pages = &a.2["cursor"]["pages"];
    assert_eq!(
        (pages["page"].as_i64(), pages["last"].as_i64(), pages["perPage"].as_i64(), pages["totalItems"].as_i64()),
        (Some(2), Some(2), Some(2), Some(4)),
        "{}",
        a.2
    );
    assert_eq!(pages["previous"], 1);
    assert!(pages.get("next").is_none());
    let hrefs = &a.2["cursor"]["hrefs"];
    assert_eq!(hrefs["first"], format!("{}/v2/projects?sortBy=name&page=1&perPage=2", t.url));
    assert!(hrefs["previous"].is_string() && hrefs.get("next").is_none(), "{hrefs}");
    assert_eq!(a.2["data"].as_array().unwrap().len(), 2);
    let a = signed(&t, Method::GET, "/v2/projects?perPage=2&page=1&sortBy=name.desc", None).await;
    assert_eq!(a.2["data"][0]["name"], "p-c", "{}", a.2);
    assert_eq!(a.2["cursor"]["pages"]["next"], 2);
    let a = signed(&t, Method::GET, "/v2/projects?page=9", None).await;
    assert_eq!((a.2["data"].clone(), a.2["cursor"]["pages"]["last"].clone()), (json!([]), json!(1)));
    let a = signed(&t, Method::GET, "/v2/clouds", None).await;
    assert_eq!(a.2["cursor"]["pages"], json!({"page": 1, "last": 1, "perPage": 10, "totalItems": 0}));
}

#[tokio::test]
async fn validation_and_lookup_errors() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let a = signed(&t, Method::POST, "/v2/projects", Some(json!({}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("name"));
    let r = t.http.post(format!("{}/v2/projects", t.url)).bearer_auth(&t.token).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["errorType"], "RequestValidationError");
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-x", "projectId": "nope"}))).await;
    let m = assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    assert!(m.contains("cloudId") && m.contains("projectId"), "{m}");
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-x", "cloudId": cloud, "projectId": uuid::Uuid::new_v4()}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("projectId"));
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let a = signed(
        &t,
        Method::POST,
        "/v2/clusters",
        Some(json!({"name": "cb-x", "cloudId": cloud, "projectId": project, "servers": [{"size": 30, "services": ["data"]}]})),
    )
    .await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("servers[0].size"));
    let a = signed(&t, Method::GET, "/v2/clouds?perPage=0", None).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("perPage"));
    let a = signed(&t, Method::GET, "/v2/clusters?cloudId=xyz", None).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("cloudId"));
    let a = signed(&t, Method::GET, "/v2/clouds?sortBy=size", None).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    // Unknown and malformed ids are 404.
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, "/v2/clusters/not-a-uuid/status", None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, &format!("/v2/clouds/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Buckets need a ready cluster; database users need a grant and a long enough password.
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-y", "cloudId": cloud, "projectId": project}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let location = a.1["location"].to_str().unwrap().to_string();
    let a = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "b", "memoryQuota": 50}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("memoryQuota"));
    let a = signed(&t, Method::POST, &format!("{location}/users"), Some(json!({"username": "u", "password": "short"}))).await;
    let m = assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    assert!(m.contains("password") && m.contains("buckets"), "{m}");
    // The native API keeps its own error shape.
    let (s, _, b) = t.call(Method::GET, &format!("/v1/clusters/{}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, 5);
}

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

#[tokio::test]
async fn org_users_db_user_update_and_unknown_routes() {
    let t = TestServer::start().await;
    let (s, u) = t.post("/v1/users", json!({"email": "ada@example.com", "name": "Ada"})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let a = signed(&t, Method::GET, "/v2/users", None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    let listed = a.2["data"].as_array().unwrap();
    assert!(listed.iter().any(|x| x["email"] == "ada@example.com" && x["name"] == "Ada" && x["id"] == u["id"]), "{}", a.2);

    // Database-user update: the password may change, the grant may not.
    let cloud = native_cloud(&t).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "upd", "cloud_id": cloud})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let a = signed(
        &t,
        Method::POST,
        &format!("/v2/clusters/{id}/users"),
        Some(json!({"username": "app", "password": "first-password-1", "allBucketsAccess": "data_writer"})),
    )
    .await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{id}/users"), None).await;
    assert_eq!(a.2[0]["access"], json!([{"bucketName": "*", "bucketAccess": ["data_reader", "data_writer"]}]));
    let before = t.get(&format!("/v1/clusters/{id}/users")).await["items"][0]["password_changed_at"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/app"), Some(json!({"password": "second-password-2", "allBucketsAccess": "data_writer"})))
        .await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    assert_ne!(t.get(&format!("/v1/clusters/{id}/users")).await["items"][0]["password_changed_at"], before);
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/app"), Some(json!({"username": "other"}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("username"));
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/ghost"), Some(json!({"password": "second-password-2"}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Unknown /v2 paths and /v3 operations, after authentication.
    let a = signed(&t, Method::GET, "/v2/nothing/here", None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, "/v3/organizations", None).await;
    assert_cb_error(&a, StatusCode::NOT_IMPLEMENTED, "NotImplemented");
    let r = t.http.get(format!("{}/v3/organizations", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // The native fallback is untouched.
    let (s, _, b) = t.call(Method::GET, "/v1/nothing", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, 5);
}

/// Bucket updates (bulk and by id), allow-list replacement and the cluster certificate:
/// effects visible through /v1, all-or-nothing on bad input, Couchbase error shapes.
#[tokio::test]
async fn bucket_updates_allowlist_replace_and_certificate() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let mut ids = vec![];
    for name in ["upd", "other"] {
        let (_, k) = t.post("/v1/clusters", json!({"name": name, "cloud_id": cloud})).await;
        let id = k["cluster"]["id"].as_str().unwrap().to_string();
        t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
        ids.push(id);
    }
    let (id, other) = (ids[0].clone(), ids[1].clone());
    for b in ["alpha", "beta"] {
        let a = signed(&t, Method::POST, &format!("/v2/clusters/{id}/buckets"), Some(json!({"name": b, "memoryQuota": 100}))).await;
        assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    }
    let path = format!("/v2/clusters/{id}/buckets");

    // Bulk update: 201 with the array as stored; unlisted buckets untouched.
    let a = signed(&t, Method::PUT, &path, Some(json!([{"name": "alpha", "memoryQuota": 300, "replicas": 2}]))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, json!([{"name": "alpha", "memoryQuota": 300, "replicas": 2, "conflictResolution": "seqno"}]));
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 100, 1)]);
    // All or nothing: an unknown name is 404, a bad spec 422; nothing changes.
    let a = signed(&t, Method::PUT, &path, Some(json!([{"name": "beta", "memoryQuota": 500}, {"name": "ghost", "memoryQuota": 500}]))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    for body in [
        json!([{"name": "beta", "memoryQuota": 50}]),
        json!([{"name": "beta", "memoryQuota": 500, "replicas": 7}]),
        json!([{"name": "beta", "memoryQuota": 500, "conflictResolution": "lww"}]),
        json!([{"name": "beta", "memoryQuota": 500}, {"name": "beta", "memoryQuota": 600}]),
        json!([]),
        json!({"name": "beta"}),
    ] {
        let a = signed(&t, Method::PUT, &path, Some(body.clone())).await;
        assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    }
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 100, 1)]);

    // By id: the standard Base64 of the name; 202; bad quota 422; unknown bucket 404.
    let beta = "YmV0YQ==";
    let a = signed(&t, Method::PUT, &format!("{path}/{beta}"), Some(json!({"memoryQuota": 250}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 250, 1)]);
    let a = signed(&t, Method::PUT, &format!("{path}/{beta}"), Some(json!({"memoryQuota": 99}))).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    let a = signed(&t, Method::PUT, &format!("{path}/Z2hvc3Q="), Some(json!({"memoryQuota": 200}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{}/buckets/{beta}", uuid::Uuid::new_v4()), Some(json!({"memoryQuota": 200}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    // Another cluster's bucket of the same name is not touched.
    assert!(quotas(&t, &other).await.is_empty());

    // Allow-list replacement: the whole list, atomically.
    let al = format!("/v2/clusters/{id}/allowlist");
    let a = signed(&t, Method::POST, &al, Some(json!({"cidrBlock": "10.0.0.0/8", "ruleType": "permanent"}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let replacement = json!([
        {"cidrBlock": "192.0.2.0/24", "ruleType": "permanent", "comment": "office"},
        {"cidrBlock": "198.51.100.7", "ruleType": "temporary", "duration": "2h0m0s"},
    ]);
    let a = signed(&t, Method::PUT, &al, Some(replacement)).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let listed = signed(&t, Method::GET, &al, None).await.2;
    let mut cidrs: Vec<(String, String)> =
        listed.as_array().unwrap().iter().map(|e| (e["cidrBlock"].as_str().unwrap().to_string(), e["ruleType"].as_str().unwrap().to_string())).collect();
    cidrs.sort();
    assert_eq!(cidrs, [("192.0.2.0/24".to_string(), "permanent".to_string()), ("198.51.100.7/32".to_string(), "temporary".to_string())], "{listed}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2);
    for bad in [
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}, {"cidrBlock": "10.0.0.1/8", "ruleType": "permanent"}]),
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "temporary"}]),
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}, {"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}]),
        json!({"cidrBlock": "203.0.113.0/24"}),
    ] {
        let a = signed(&t, Method::PUT, &al, Some(bad.clone())).await;
        assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    }
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2, "nothing half-written");
    let a = signed(&t, Method::PUT, &al, Some(json!([]))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED);
    assert_eq!(signed(&t, Method::GET, &al, None).await.2, json!([]));
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{}/allowlist", uuid::Uuid::new_v4()), Some(json!([]))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Certificate: PEM, the same on every call, different per cluster, parseable as X.509.
    let cert = signed(&t, Method::GET, &format!("/v2/clusters/{id}/certificate"), None).await;
    assert_eq!(cert.0, StatusCode::OK, "{}", cert.2);
    let pem = cert.2["certificate"].as_str().unwrap().to_string();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.trim_end().ends_with("-----END CERTIFICATE-----"), "{pem}");
    assert_eq!(signed(&t, Method::GET, &format!("/v2/clusters/{id}/certificate"), None).await.2["certificate"], pem.as_str());
    let other_pem = signed(&t, Method::GET, &format!("/v2/clusters/{other}/certificate"), None).await.2["certificate"].clone();
    assert_ne!(other_pem, json!(pem));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, &pem).unwrap();
    let out = tokio::process::Command::new("openssl").args(["x509", "-noout", "-subject", "-ext", "basicConstraints", "-in"]).arg(&file).output().await;
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "openssl rejects the certificate: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&id) && text.contains("CA:TRUE"), "{text}");
        let verify = tokio::process::Command::new("openssl").args(["verify", "-CAfile"]).arg(&file).arg(&file).output().await.unwrap();
        assert!(verify.status.success(), "self-signature: {}", String::from_utf8_lossy(&verify.stdout));
    }
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{}/certificate", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
}

/// (name, quota, replicas) of a cluster's buckets as the native API shows them, sorted.
async fn quotas(t: &TestServer, id: &str) -> Vec<(String, i64, i64)> {
    let mut v: Vec<(String, i64, i64)> = t.get(&format!("/v1/clusters/{id}/buckets")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["memory_quota_mb"].as_i64().unwrap(), b["replicas"].as_i64().unwrap()))
        .collect();
    v.sort();
    v
}
