//! Identity and access over real HTTP: keys and their four credential forms, rotation,
//! revocation, service accounts, grants without escalation, rate limits, Cc-Version, audit.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const UNAUTHENTICATED: &str = r#"{"code":16,"message":"unauthenticated","details":[]}"#;
const DENIED: &str = r#"{"code":7,"message":"permission denied","details":[]}"#;
const LIMITED: &str = r#"{"code":8,"message":"rate limit exceeded","details":[]}"#;

/// Creates a key through the API; returns (status, body).
async fn create_key(t: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = t.call_as(token, Method::POST, "/v1/api-keys", Some(body)).await;
    (s, b)
}

async fn owner_key(t: &TestServer, extra: Value) -> Value {
    let mut body =
        json!({"name": "automation", "description": "ci", "expiry": 0, "organization_roles": ["organizationOwner"], "resources": [], "allowed_cidrs": []});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (s, b) = create_key(t, &t.token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

async fn raw(t: &TestServer, method: Method, path: &str, headers: &[(&str, String)]) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url));
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    let r = rb.send().await.unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

fn sign_headers(access_key: &str, secret: &str, method: &str, endpoint: &str, ts: i64) -> Vec<(&'static str, String)> {
    let sig = dbcloud_core::signing::sign(secret, method, endpoint, &ts.to_string());
    vec![("authorization", format!("Bearer {access_key}:{sig}")), ("couchbase-timestamp", ts.to_string())]
}

fn now_ms() -> i64 {
    dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc())
}

async fn audit(t: &TestServer) -> Vec<Value> {
    t.get("/v1/audit-events?limit=500").await["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn seed_000_python_signing_example_gets_200_then_401_with_one_character_changed() {
    let t = TestServer::start().await;
    let key = owner_key(&t, json!({})).await;
    let secret = key["secret"].as_str().unwrap().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed000_signing.py");
    let run = |secret: String| async {
        let out = tokio::process::Command::new("python3")
            .arg(script)
            .env("cbc_api_url", &t.url)
            .env("cbc_access_key", key["id"].as_str().unwrap())
            .env("cbc_secret_key", secret)
            .env("cbc_api_endpoint", "/v1/clouds")
            .output()
            .await
            .expect("python3 runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let ok = run(secret.clone()).await;
    let (status, body) = ok.split_once('\n').unwrap();
    assert_eq!(status, "200", "{ok}");
    assert!(serde_json::from_str::<Value>(body.trim()).unwrap()["items"].is_array());
    let mut wrong = secret.clone();
    let c = if wrong.ends_with('A') { "B" } else { "A" };
    wrong.replace_range(wrong.len() - 1.., c);
    let bad = run(wrong).await;
    let (status, body) = bad.split_once('\n').unwrap();
    assert_eq!(status, "401");
    assert_eq!(body.trim(), UNAUTHENTICATED);
}

#[tokio::test]
async fn seed_001_curl_examples_succeed_and_errors_have_the_exact_bodies() {
    let mut cfg = config(0, 0.0);
    cfg.auth.default_rate_limit = 10;
    let t = TestServer::with(Backend::Sqlite, cfg).await;
    // A service account with Cluster Admin and its key, as the seed's steps 4-6 describe.
    let (s, sa) = t.post("/v1/service-accounts", json!({"name": "ci", "roles": ["CLUSTER_ADMIN"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{sa}");
    let (s, key) = create_key(&t, &t.token, json!({"name": "ci-key", "service_account_id": sa["id"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let secret_key = key["bearer_token"].as_str().unwrap().to_string();
    t.post("/v1/clusters", json!({"name": "production-cluster", "provider": "gcp", "region": "us-central1"})).await;
    let url = format!("{}/api/v1/clusters", t.url);
    let curl = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("curl").args(["-sS", "-w", "\n%{http_code}"]).args(args).output().await.expect("curl runs");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    let examples = [
        vec!["--request".into(), "GET".into(), "--url".into(), url.clone(), "--header".into(), format!("Authorization: Bearer {secret_key}")],
        vec![
            "--request".into(),
            "GET".into(),
            "--url".into(),
            url.clone(),
            "--header".into(),
            format!("Authorization: Bearer {secret_key}"),
            "--header".into(),
            "Cc-Version: 2024-09-16".into(),
        ],
        vec![
            "--request".into(),
            "GET".into(),
            "--url".into(),
            url.clone(),
            "--header".into(),
            format!("Authorization: Bearer {secret_key}"),
            "--header".into(),
            "Cc-Version: 2024-09-16".into(),
            "--header".into(),
            "Accept: application/json".into(),
        ],
        vec![
            "--request".into(),
            "GET".into(),
            "--url".into(),
            url.clone(),
            "--header".into(),
            format!("Authorization: Bearer {secret_key}"),
            "--header".into(),
            "Cc-Version: 2024-09-16".into(),
            "--verbose".into(),
        ],
    ];
    for ex in examples {
        let (code, body) = curl(ex).await;
        assert_eq!(code, "200", "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["clusters"][0]["name"], "production-cluster");
        assert_eq!(v["clusters"][0]["plan"], "ADVANCED");
        assert_eq!(v["clusters"][0]["provider"], "GCP");
        assert_eq!(v["pagination"], json!({"next_page": "", "previous_page": ""}), "no further page");
    }
    // 401: a wrong key; 403: a key lacking the permission; 429: more than 10 per second.
    let (code, body) = curl(vec!["--url".into(), url.clone(), "--header".into(), "Authorization: Bearer CC0eJzA1xwg2p9a5CrDB4kLmNoPQRsT7uvWXYZ".into()]).await;
    assert_eq!((code.as_str(), body.as_str()), ("401", UNAUTHENTICATED));
    let (_, billing) = t.post("/v1/service-accounts", json!({"name": "billing", "roles": ["BILLING_VIEWER"]})).await;
    let (_, bkey) = create_key(&t, &t.token, json!({"name": "b", "service_account_id": billing["id"]})).await;
    let (code, body) =
        curl(vec!["--url".into(), url.clone(), "--header".into(), format!("Authorization: Bearer {}", bkey["bearer_token"].as_str().unwrap())]).await;
    assert_eq!((code.as_str(), body.as_str()), ("403", DENIED));
    let mut limited = None;
    for _ in 0..30 {
        let (s, h, body) = raw(&t, Method::GET, "/api/v1/clusters", &[("authorization", format!("Bearer {secret_key}"))]).await;
        assert!(h.contains_key("ratelimit-limit") && h.contains_key("ratelimit-remaining") && h.contains_key("ratelimit-reset"));
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((h, body));
            break;
        }
    }
    let (h, body) = limited.expect("the 11th request within a second is limited");
    assert_eq!(body, LIMITED);
    assert!(h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(h["ratelimit-remaining"], "0");
}

#[tokio::test]
async fn every_credential_form_works_with_a_created_key() {
    use base64::Engine;
    let t = TestServer::start().await;
    let key = owner_key(&t, json!({})).await;
    let (ak, secret) = (key["id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    assert_eq!(key["bearer_token"], format!("{ak}_{secret}").as_str());
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{ak}:{secret}"));
    let absolute = format!("{}/v1/clusters?limit=5", t.url);
    let forms: Vec<Vec<(&str, String)>> = vec![
        vec![("authorization", format!("Bearer {ak}_{secret}"))],
        vec![("authorization", format!("Basic {b64}"))],
        vec![("authorization", format!("Bearer {b64}"))],
        sign_headers(ak, secret, "GET", "/v1/clusters?limit=5", now_ms()),
        sign_headers(ak, secret, "GET", &absolute, now_ms()),
        sign_headers(ak, secret, "GET", "/v1/clusters?limit=5", now_ms() / 1000),
    ];
    for h in forms {
        let (s, _, body) = raw(&t, Method::GET, "/v1/clusters?limit=5", &h).await;
        assert_eq!(s, StatusCode::OK, "{h:?}: {body}");
    }
    // The listing never shows the secret; last use is recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = t.get("/v1/api-keys").await;
    assert!(!listed.to_string().contains(secret));
    let me = t.get(&format!("/v1/api-keys/{ak}")).await;
    assert_eq!(me["last_used_ip"], "127.0.0.1");
    assert!(me["last_used_at"].is_string());
    assert!(me.get("secret").is_none());
}

#[tokio::test]
async fn signed_requests_refuse_skew_replay_and_wrong_signatures_and_are_audited() {
    let t = TestServer::start().await;
    let key = owner_key(&t, json!({})).await;
    let (ak, secret) = (key["id"].as_str().unwrap().to_string(), key["secret"].as_str().unwrap().to_string());
    for ts in [now_ms() - 6 * 60_000, now_ms() + 6 * 60_000] {
        let (s, _, b) = raw(&t, Method::GET, "/v1/projects", &sign_headers(&ak, &secret, "GET", "/v1/projects", ts)).await;
        assert_eq!((s, b.as_str()), (StatusCode::UNAUTHORIZED, UNAUTHENTICATED), "skewed {ts}");
    }
    let mut h = sign_headers(&ak, &secret, "GET", "/v1/projects", now_ms());
    h.retain(|(k, _)| *k != "couchbase-timestamp");
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &h).await.0, StatusCode::UNAUTHORIZED, "no timestamp");
    let wrong = sign_headers(&ak, "not-the-secret", "GET", "/v1/projects", now_ms());
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &wrong).await.0, StatusCode::UNAUTHORIZED);
    let other_path = sign_headers(&ak, &secret, "GET", "/v1/clouds", now_ms());
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &other_path).await.0, StatusCode::UNAUTHORIZED, "signature of another path");
    // A POST signature is good once; its replay (even with another body) is refused.
    let post = sign_headers(&ak, &secret, "POST", "/v1/projects", now_ms());
    let send = |name: &'static str| {
        let mut rb = t.http.post(format!("{}/v1/projects", t.url)).json(&json!({"name": name}));
        for (k, v) in &post {
            rb = rb.header(*k, v);
        }
        rb.send()
    };
    assert_eq!(send("signed-once").await.unwrap().status(), StatusCode::CREATED);
    let replay = send("replayed").await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(replay.text().await.unwrap(), UNAUTHENTICATED);
    // GETs are idempotent: the same signature may be reused within the window.
    let get = sign_headers(&ak, &secret, "GET", "/v1/projects", now_ms());
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &get).await.0, StatusCode::OK);
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &get).await.0, StatusCode::OK);
    let reasons: Vec<String> = audit(&t)
        .await
        .iter()
        .filter(|e| e["action"] == "auth.authenticate" && e["actor"] == ak.as_str())
        .map(|e| e["details"]["reason"].as_str().unwrap().to_string())
        .collect();
    for want in ["invalid or expired Couchbase-Timestamp", "wrong signature", "replayed signature"] {
        assert!(reasons.iter().any(|r| r == want), "{want} not audited: {reasons:?}");
    }
}

#[tokio::test]
async fn revoked_expired_and_outside_cidr_keys_are_refused_and_audited() {
    let t = TestServer::start().await;
    let revoked = owner_key(&t, json!({"name": "to-revoke"})).await;
    let rt = revoked["bearer_token"].as_str().unwrap().to_string();
    assert_eq!(t.call_as(&rt, Method::GET, "/v1/projects", None).await.0, StatusCode::OK);
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/api-keys/{}", revoked["id"].as_str().unwrap()), None).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("REVOKED")));
    let (s, _, b) = t.call_as(&rt, Method::GET, "/v1/projects", None).await;
    assert_eq!((s, b), (StatusCode::UNAUTHORIZED, serde_json::from_str::<Value>(UNAUTHENTICATED).unwrap()), "refused at once");

    let expiring = owner_key(&t, json!({"name": "short-lived", "expiry": 0.00002})).await;
    assert!(expiring["expires_at"].is_string());
    tokio::time::sleep(Duration::from_millis(1900)).await;
    let (s, _, _) = t.call_as(expiring["bearer_token"].as_str().unwrap(), Method::GET, "/v1/projects", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get(&format!("/v1/api-keys/{}", expiring["id"].as_str().unwrap())).await["state"], "EXPIRED");

    let fenced = owner_key(&t, json!({"name": "office-only", "allowed_cidrs": ["192.0.2.0/24"]})).await;
    let (s, _, _) = t.call_as(fenced["bearer_token"].as_str().unwrap(), Method::GET, "/v1/projects", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "127.0.0.1 is outside 192.0.2.0/24");
    let local = owner_key(&t, json!({"name": "local-only", "allowed_cidrs": ["127.0.0.0/8"]})).await;
    assert_eq!(t.call_as(local["bearer_token"].as_str().unwrap(), Method::GET, "/v1/projects", None).await.0, StatusCode::OK);
    let (s, b) = create_key(&t, &t.token, json!({"name": "bad", "organization_roles": ["organizationOwner"], "allowed_cidrs": ["10.0.0.0/33"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("allowed_cidrs[0]"));

    let events = audit(&t).await;
    let reason_of = |key: &Value| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["action"] == "auth.authenticate" && e["actor"] == key["id"])
            .map(|e| e["details"]["reason"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(reason_of(&revoked), ["revoked key"]);
    assert_eq!(reason_of(&expiring), ["expired key"]);
    assert_eq!(reason_of(&fenced), ["address not allowed"]);
    assert!(events.iter().any(|e| e["action"] == "apikey.revoke" && e["target"] == format!("apikey:{}", revoked["id"].as_str().unwrap()).as_str()));
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_only_for_the_grace_period_and_never_extends_expiry() {
    let t = TestServer::start().await;
    let key = owner_key(&t, json!({"expiry": 30})).await;
    let id = key["id"].as_str().unwrap();
    let old = key["bearer_token"].as_str().unwrap().to_string();
    let (s, _, rotated) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({"grace_period_seconds": 60}))).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new = rotated["bearer_token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["expires_at"], key["expires_at"], "rotation never extends expiry");
    assert!(rotated["previous_secret_valid_until"].is_string());
    assert_eq!(t.call_as(&old, Method::GET, "/v1/projects", None).await.0, StatusCode::OK, "old secret in grace");
    assert_eq!(t.call_as(&new, Method::GET, "/v1/projects", None).await.0, StatusCode::OK);
    // HMAC with the new secret works too (it is sealed under the master key).
    let secret = rotated["secret"].as_str().unwrap();
    assert_eq!(raw(&t, Method::GET, "/v1/projects", &sign_headers(id, secret, "GET", "/v1/projects", now_ms())).await.0, StatusCode::OK);
    let (s, _, again) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.call_as(&new, Method::GET, "/v1/projects", None).await.0, StatusCode::UNAUTHORIZED, "no grace: old secret dies at once");
    assert_eq!(t.call_as(&old, Method::GET, "/v1/projects", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(t.call_as(again["bearer_token"].as_str().unwrap(), Method::GET, "/v1/projects", None).await.0, StatusCode::OK);
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/api-keys/{id}"), Some(json!({"name": "renamed", "description": "new words"}))).await;
    assert_eq!((s, b["name"].as_str(), b["description"].as_str()), (StatusCode::OK, Some("renamed"), Some("new words")));
    let (s, _, _) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({"grace_period_seconds": -1}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn service_account_keys_inherit_its_grants_and_die_with_it() {
    let t = TestServer::start().await;
    let (s, sa) = t.post("/v1/service-accounts", json!({"name": "legacy", "description": "seed 004", "roles": ["READ"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{sa}");
    assert_eq!(sa["roles"][0]["role"], "READ");
    let (_, key) = create_key(&t, &t.token, json!({"name": "legacy-key", "service_account_id": sa["id"]})).await;
    assert_eq!(key["owner_type"], "service_account");
    let kt = key["bearer_token"].as_str().unwrap().to_string();
    assert_eq!(t.call_as(&kt, Method::GET, "/v1/clusters", None).await.0, StatusCode::OK);
    let create = json!({"name": "by-sa", "provider": "aws", "region": "us-east-1"});
    let (s, _, b) = t.call_as(&kt, Method::POST, "/v1/clusters", Some(create.clone())).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, serde_json::from_str::<Value>(DENIED).unwrap()));
    // Granting the account CREATE takes effect for its existing key at once.
    let (s, grant) = t.post("/v1/role-grants", json!({"principal_type": "service_account", "principal_id": sa["id"], "role": "CREATE"})).await;
    assert_eq!(s, StatusCode::CREATED, "{grant}");
    assert_eq!(t.call_as(&kt, Method::POST, "/v1/clusters", Some(create)).await.0, StatusCode::ACCEPTED);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/role-grants/{}", grant["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);
    let other = json!({"name": "by-sa-2", "provider": "aws", "region": "us-east-1"});
    assert_eq!(t.call_as(&kt, Method::POST, "/v1/clusters", Some(other)).await.0, StatusCode::FORBIDDEN);
    let keys = t.get(&format!("/v1/api-keys?service_account_id={}", sa["id"].as_str().unwrap())).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/service-accounts/{}", sa["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.call_as(&kt, Method::GET, "/v1/clusters", None).await.0, StatusCode::UNAUTHORIZED, "its keys died with it");
}

#[tokio::test]
async fn nobody_escalates_and_every_refusal_is_audited() {
    let t = TestServer::start().await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    // A project manager cannot mint an organization owner key, nor a key in another project.
    let manager = owner_key(&t, json!({"name": "pm", "organization_roles": [], "resources": [{"id": project, "roles": ["projectManager"]}]})).await;
    let mt = manager["bearer_token"].as_str().unwrap().to_string();
    let (s, b) = create_key(&t, &mt, json!({"name": "x", "organization_roles": ["organizationOwner"]})).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, serde_json::from_str::<Value>(DENIED).unwrap()));
    // An organization member with apikey.manage through a grant still cannot mint owners.
    let (_, sa) = t.post("/v1/service-accounts", json!({"name": "keymaster", "roles": ["ORG_MEMBER"]})).await;
    let (_, ka) = create_key(&t, &t.token, json!({"name": "km", "service_account_id": sa["id"]})).await;
    let kt = ka["bearer_token"].as_str().unwrap().to_string();
    let (s, _) = create_key(&t, &kt, json!({"name": "y", "organization_roles": ["organizationMember"]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "ORG_MEMBER lacks apikey.manage");
    // Granting oneself ORG_ADMIN: refused.
    let (_, admin_sa) = t.post("/v1/service-accounts", json!({"name": "cluster-admin", "roles": ["CLUSTER_ADMIN"]})).await;
    let (_, ca) = create_key(&t, &t.token, json!({"name": "ca", "service_account_id": admin_sa["id"]})).await;
    let ct = ca["bearer_token"].as_str().unwrap().to_string();
    let grant = json!({"principal_type": "service_account", "principal_id": admin_sa["id"], "role": "ORG_ADMIN"});
    let (s, _, b) = t.call_as(&ct, Method::POST, "/v1/role-grants", Some(grant)).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, serde_json::from_str::<Value>(DENIED).unwrap()));
    // A CLUSTER_DEVELOPER creating a service account with ADMIN: refused.
    let (_, dev_sa) = t.post("/v1/service-accounts", json!({"name": "dev", "roles": ["CLUSTER_DEVELOPER"]})).await;
    let (_, dk) = create_key(&t, &t.token, json!({"name": "dk", "service_account_id": dev_sa["id"]})).await;
    let dt = dk["bearer_token"].as_str().unwrap().to_string();
    let (s, _, b) = t.call_as(&dt, Method::POST, "/v1/service-accounts", Some(json!({"name": "root", "roles": ["ADMIN"]}))).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, serde_json::from_str::<Value>(DENIED).unwrap()));
    // Even the organization owner cannot hand a project role on a project that does not exist.
    let (s, _) =
        create_key(&t, &t.token, json!({"name": "z", "organization_roles": [], "resources": [{"id": uuid::Uuid::now_v7(), "roles": ["projectViewer"]}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = create_key(&t, &t.token, json!({"name": "z", "organization_roles": ["superuser"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("organization_roles[0]"));
    // Nothing was created by the refused calls, and each refusal is in the audit log.
    let names: Vec<_> = t.get("/v1/service-accounts").await["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    assert!(!names.contains(&"root".to_string()));
    let denials: Vec<_> = audit(&t).await.into_iter().filter(|e| e["outcome"] == "denied").collect();
    for actor in [&manager["id"], &ka["id"], &ca["id"], &dk["id"]] {
        assert!(denials.iter().any(|e| &e["actor"] == actor), "no denial audited for {actor}");
    }
    assert!(denials.iter().any(|e| e["actor"] == ca["id"] && e["action"] == "denied:user.manage"), "granting oneself ORG_ADMIN needs user.manage");
    assert!(denials.iter().any(|e| e["actor"] == dk["id"] && e["action"] == "denied:serviceaccount.manage"));
    assert!(denials.iter().any(|e| e["actor"] == manager["id"] && e["action"] == "denied:apikey.manage"));
    // A project owner mints keys for its project, and no further.
    let po = owner_key(&t, json!({"name": "po", "organization_roles": [], "resources": [{"id": project, "roles": ["projectOwner"]}]})).await;
    let pot = po["bearer_token"].as_str().unwrap().to_string();
    let (s, b) = create_key(&t, &pot, json!({"name": "viewer", "organization_roles": [], "resources": [{"id": project, "roles": ["projectViewer"]}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = create_key(&t, &pot, json!({"name": "owner", "organization_roles": ["organizationOwner"]})).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, serde_json::from_str::<Value>(DENIED).unwrap()));
    let (_, other) = t.post("/v1/projects", json!({"name": "elsewhere"})).await;
    let (s, _) = create_key(&t, &pot, json!({"name": "far", "organization_roles": [], "resources": [{"id": other["id"], "roles": ["projectViewer"]}]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let denials: Vec<_> = audit(&t).await.into_iter().filter(|e| e["outcome"] == "denied" && e["actor"] == po["id"]).collect();
    assert!(denials.iter().any(|e| e["action"] == "denied:grant:organizationOwner"), "{denials:?}");
    assert!(denials.iter().any(|e| e["action"] == "denied:grant:projectViewer"), "{denials:?}");
}

#[tokio::test]
async fn creators_own_what_they_create() {
    let t = TestServer::start().await;
    let creator = owner_key(&t, json!({"name": "pc", "organization_roles": ["projectCreator"]})).await;
    let pt = creator["bearer_token"].as_str().unwrap().to_string();
    let (s, _, p) = t.call_as(&pt, Method::POST, "/v1/projects", Some(json!({"name": "mine"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let pid = p["id"].as_str().unwrap();
    let (s, _, _) = t.call_as(&pt, Method::PATCH, &format!("/v1/projects/{pid}"), Some(json!({"description": "owned"}))).await;
    assert_eq!(s, StatusCode::OK, "projectCreator owns what it creates");
    let default = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = t.call_as(&pt, Method::PATCH, &format!("/v1/projects/{default}"), Some(json!({"description": "not mine"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, sa) = t.post("/v1/service-accounts", json!({"name": "creator", "roles": ["CLUSTER_CREATOR"]})).await;
    let (_, ck) = create_key(&t, &t.token, json!({"name": "ck", "service_account_id": sa["id"]})).await;
    let ct = ck["bearer_token"].as_str().unwrap().to_string();
    let (_, k) = t.post("/v1/clusters", json!({"name": "not-mine", "provider": "aws", "region": "us-east-1"})).await;
    let (s, _, _) = t.call_as(&ct, Method::PATCH, &format!("/v1/clusters/{}", k["cluster"]["id"].as_str().unwrap()), Some(json!({"name": "renamed"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Cluster Creator cannot modify existing clusters (seed 001)");
    let (s, _, mine) = t.call_as(&ct, Method::POST, "/v1/clusters", Some(json!({"name": "mine", "provider": "aws", "region": "us-east-1"}))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) =
        t.call_as(&ct, Method::PATCH, &format!("/v1/clusters/{}", mine["cluster"]["id"].as_str().unwrap()), Some(json!({"name": "mine-renamed"}))).await;
    assert_eq!(s, StatusCode::OK, "CLUSTER_CREATOR becomes CLUSTER_ADMIN of what it creates");
}

#[tokio::test]
async fn rate_limits_per_key_are_adjustable_and_failed_auth_is_limited_per_address() {
    let mut cfg = config(0, 0.0);
    cfg.auth.default_rate_limit = 10;
    cfg.auth.ip_rate_limit = 5;
    let t = TestServer::with(Backend::Sqlite, cfg).await;
    let (s, _, _) = t.call(Method::PATCH, "/v1/organization", Some(json!({"rate_limit": 1000}))).await;
    assert_eq!(s, StatusCode::OK, "the organization raises its keys' default");
    let slow = owner_key(&t, json!({"name": "slow", "rate_limit": 3})).await;
    let st = slow["bearer_token"].as_str().unwrap().to_string();
    while now_ms().rem_euclid(1000) > 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut codes = vec![];
    for _ in 0..6 {
        codes.push(t.call_as(&st, Method::GET, "/v1/projects", None).await.0.as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 3, "{codes:?}");
    assert!(codes.contains(&429), "per-key limit of 3/s applies: {codes:?}");
    let fast = owner_key(&t, json!({"name": "fast"})).await;
    let ft = fast["bearer_token"].as_str().unwrap().to_string();
    for _ in 0..30 {
        assert_eq!(t.call_as(&ft, Method::GET, "/v1/projects", None).await.0, StatusCode::OK, "org limit 1000/s");
    }
    let mut last = None;
    for _ in 0..10 {
        let (s, h, body) = raw(&t, Method::GET, "/v1/projects", &[("authorization", "Bearer wrong".into())]).await;
        last = Some((s, h, body));
        if last.as_ref().unwrap().0 == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    let (s, h, body) = last.unwrap();
    assert_eq!((s, body.as_str()), (StatusCode::TOO_MANY_REQUESTS, LIMITED), "failed authentication is limited per address");
    assert!(h.contains_key("retry-after"));
}

#[tokio::test]
async fn cc_version_is_checked_and_echoed_on_cockroach_routes_only() {
    let t = TestServer::start().await;
    let auth = ("authorization", format!("Bearer {}", t.token));
    let (s, h, _) = raw(&t, Method::GET, "/api/v1/organization", std::slice::from_ref(&auth)).await;
    assert_eq!((s, h["cc-version"].to_str().unwrap()), (StatusCode::OK, "2024-09-16"), "missing means latest");
    let (s, h, _) = raw(&t, Method::GET, "/api/v1/clusters", &[auth.clone(), ("cc-version", "2022-09-20".into())]).await;
    assert_eq!((s, h["cc-version"].to_str().unwrap()), (StatusCode::OK, "2022-09-20"));
    for bad in ["2021-01-01", "latest", "2024-9-16"] {
        let (s, h, body) = raw(&t, Method::GET, "/api/v1/clusters", &[auth.clone(), ("cc-version", bad.into())]).await;
        assert_eq!((s, body.as_str()), (StatusCode::BAD_REQUEST, r#"{"code":3,"message":"invalid Cc-Version","details":[]}"#), "{bad}");
        assert_eq!(h["cc-version"].to_str().unwrap(), "2024-09-16");
        // Other surfaces have no such header: it is neither checked nor echoed there.
        let (s, h, _) = raw(&t, Method::GET, "/v1/clusters", &[auth.clone(), ("cc-version", bad.into())]).await;
        assert_eq!((s, h.contains_key("cc-version")), (StatusCode::OK, false), "{bad}");
    }
    let (s, h, _) = raw(&t, Method::GET, "/health", &[]).await;
    assert_eq!((s, h.contains_key("cc-version")), (StatusCode::OK, false));
    let (_, _, legacy) = raw(&t, Method::GET, "/api/v1/clusters", &[auth.clone(), ("cc-version", "2022-03-31".into())]).await;
    assert!(serde_json::from_str::<Value>(&legacy).unwrap()["clusters"].is_array());
}

#[tokio::test]
async fn audit_events_filter_and_page_and_need_audit_read() {
    let t = TestServer::start().await;
    for i in 0..5 {
        t.post("/v1/projects", json!({"name": format!("p{i}")})).await;
    }
    let all = t.get("/v1/audit-events?action=project.create").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|e| e["actor"] == t.access_key.as_str() && e["outcome"] == "success" && !e["request_id"].as_str().unwrap().is_empty()));
    let page = t.get("/v1/audit-events?action=project.&limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = t.get(&format!("/v1/audit-events?action=project.&limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    let future = t.get("/v1/audit-events?since=2999-01-01T00:00:00Z").await;
    assert!(future["items"].as_array().unwrap().is_empty());
    let by_actor = t.get("/v1/audit-events?actor=system").await;
    assert!(by_actor["items"].as_array().unwrap().iter().all(|e| e["actor"] == "system"));
    let (s, _, _) = t.call(Method::GET, "/v1/audit-events?since=yesterday", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let viewer = owner_key(&t, json!({"name": "v", "organization_roles": [], "resources": [{"id": project, "roles": ["projectViewer"]}]})).await;
    let (s, _, _) = t.call_as(viewer["bearer_token"].as_str().unwrap(), Method::GET, "/v1/audit-events", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn revocation_reaches_another_replica_at_once() {
    let a = TestServer::with(Backend::Postgres, config(0, 0.0)).await;
    let b = a.replica().await;
    let key = owner_key(&a, json!({"name": "shared"})).await;
    let kt = key["bearer_token"].as_str().unwrap().to_string();
    assert_eq!(b.call_as(&kt, Method::GET, "/v1/projects", None).await.0, StatusCode::OK, "replica B accepts (and caches) the key");
    let (s, _, _) = a.call(Method::DELETE, &format!("/v1/api-keys/{}", key["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    loop {
        if b.call_as(&kt, Method::GET, "/v1/projects", None).await.0 == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "replica B still accepts a revoked key");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_rate_limit_budget_across_replicas() {
    let a = TestServer::with(Backend::Postgres, config(0, 0.0)).await;
    let b = a.replica().await;
    let key = owner_key(&a, json!({"name": "budget", "rate_limit": 5})).await;
    let kt = key["bearer_token"].as_str().unwrap().to_string();
    // Start early in a one-second window so the whole exchange fits in it.
    while now_ms().rem_euclid(1000) > 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for i in 0..5 {
        assert_eq!(a.call_as(&kt, Method::GET, "/v1/projects", None).await.0, StatusCode::OK, "request {i} on replica A");
    }
    // After one exchange with the shared counters, replica B knows the budget is spent.
    tokio::time::sleep(dbcloud_server::ratelimit::SYNC_INTERVAL * 3).await;
    let (s, h, _) = b.call_as(&kt, Method::GET, "/v1/projects", None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "replica B admitted a request beyond the shared budget");
    assert_eq!(h["ratelimit-remaining"], "0");
}
