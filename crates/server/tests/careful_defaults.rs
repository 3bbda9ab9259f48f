//! Defaults of a careful server: every answer is `nosniff` and not framable, every API
//! answer — above all those carrying a secret, on every surface — is `no-store`; `/metrics`
//! can live on its own address or behind a token, and its labels stay bounded.

mod common;

use common::{Backend, TestServer, config};
use dbcloud_server::http::{MetricsConfig, MetricsToken};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn assert_careful(what: &str, h: &HeaderMap) {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(get("cache-control"), "no-store", "{what}: {h:?}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}: {h:?}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}: {h:?}");
}

#[tokio::test]
async fn secret_bearing_answers_are_no_store_on_every_surface() {
    let t = TestServer::start().await;
    // Native: API key create and rotate, database user with a generated password.
    let (s, h, key) = t.call(Method::POST, "/v1/api-keys", Some(json!({"name": "k", "organizationRoles": ["organizationOwner"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    assert!(key["secret"].is_string());
    assert_careful("native key create", &h);
    let id = key["id"].as_str().unwrap();
    let (s, h, rotated) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({"gracePeriodSeconds": 30}))).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    assert!(rotated["secret"].is_string());
    assert_careful("native key rotate", &h);
    let (s, change) = t.post("/v1/clusters", json!({"name": "careful", "provider": "aws", "region": "us-east-1"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{change}");
    let cluster = change["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&cluster, "CREATED", std::time::Duration::from_secs(10)).await;
    let (s, h, user) = t.call(Method::POST, &format!("/v1/clusters/{cluster}/users"), Some(json!({"name": "app", "access": "readwrite"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    assert!(user["password"].is_string());
    assert_careful("native database user", &h);

    // CockroachDB: a service account's API key (the secret key is in the answer).
    let (s, h, sa) = t.call(Method::POST, "/api/v1/service-accounts", Some(json!({"name": "bot", "description": "", "roles": []}))).await;
    assert_eq!(s, StatusCode::OK, "{sa}");
    assert_careful("cockroach service account", &h);
    let (s, h, k) = t.call(Method::POST, "/api/v1/api-keys", Some(json!({"name": "ci", "service_account_id": sa["id"]}))).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert!(k["secret"].is_string());
    assert_careful("cockroach key create", &h);
    let (s, h, _) =
        t.call(Method::POST, &format!("/api/v1/clusters/{cluster}/sql-users"), Some(json!({"name": "crdb", "password": "a-long-password-1"}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_careful("cockroach sql user", &h);

    // CrateDB: API key create (Basic auth, the secret once).
    let r = t.http.post(format!("{}/api/v2/users/me/api-keys/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    let (s, h, k) = common::decode(r).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert!(k["secret"].is_string());
    assert_careful("cratedb key create", &h);

    // Couchbase (its database users carry the password the client chose, never one of ours).
    let (s, h, _) = t.call(Method::GET, "/v2/clusters", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_careful("couchbase list", &h);

    // Errors, unknown routes and the operational endpoints too; the API browser may be cached.
    for path in ["/v1/nope", "/health", "/openapi.json", "/metrics"] {
        let r = t.http.get(format!("{}{path}", t.url)).send().await.unwrap();
        assert_careful(path, r.headers());
    }
    let r = t.http.get(format!("{}/docs/", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().get("cache-control").is_none_or(|v| v != "no-store"));
}

async fn metrics_server(listen: bool, token: Option<&str>) -> TestServer {
    let mut cfg = config(0, 0.0);
    cfg.metrics = MetricsConfig { listen: listen.then(|| "127.0.0.1:0".parse().unwrap()), token: token.map(|t| MetricsToken(t.into())) };
    TestServer::with(Backend::Sqlite, cfg).await
}

async fn scrape(http: &reqwest::Client, url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut rb = http.get(url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_on_their_own_listener() {
    let t = metrics_server(true, None).await;
    let (s, body) = scrape(&t.http, &format!("{}/metrics", t.url), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on the main listener: {body}");
    assert!(body.contains("\"code\":5"), "{body}");
    let addr = t.server.metrics_addr.expect("a metrics listener");
    assert_ne!(addr, t.server.addr);
    let (s, body) = scrape(&t.http, &format!("http://{addr}/metrics"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("dbcloud_http_requests_total"), "{body}");
    let (s, _) = scrape(&t.http, &format!("http://{addr}/v1/clusters"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "only /metrics there");
    assert_eq!(t.get("/health").await["status"], "ok", "the API is unaffected");
}

#[tokio::test]
async fn metrics_behind_a_token() {
    let token = "metrics-token-0123456789";
    for listen in [false, true] {
        let t = metrics_server(listen, Some(token)).await;
        let url = match t.server.metrics_addr {
            Some(a) => format!("http://{a}/metrics"),
            None => format!("{}/metrics", t.url),
        };
        for wrong in [None, Some("metrics-token-012345678"), Some("metrics-token-01234567890"), Some(t.token.as_str())] {
            let (s, body) = scrape(&t.http, &url, wrong).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{wrong:?}: {body}");
            assert!(body.contains("\"code\":16"), "{body}");
        }
        let r = t.http.get(&url).header("authorization", format!("Basic {token}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "bearer only");
        let (s, body) = scrape(&t.http, &url, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body.contains("dbcloud_http_requests_total"));
    }
}

#[tokio::test]
async fn metric_labels_stay_bounded() {
    let t = TestServer::start().await;
    for i in 0..20 {
        let m = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let r = t.http.request(m, format!("{}/health", t.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = t.http.get(format!("{}/no/such/path/{i}", t.url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let (_, body) = scrape(&t.http, &format!("{}/metrics", t.url), None).await;
    assert!(!body.contains("BREW"), "methods outside the standard set are one label value");
    assert!(body.contains("method=\"OTHER\""), "{body}");
    assert!(!body.contains("/no/such/path"), "unknown paths are not labels");
    assert!(body.contains("dbcloud_http_request_duration_seconds_bucket"), "fixed-bucket histograms");
}
