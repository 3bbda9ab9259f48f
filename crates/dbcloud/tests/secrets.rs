//! Secrets never rest in the clear: after creating, using and rotating keys (every
//! credential form) and creating a database user, none of the secrets appear in the SQLite
//! files, in the server's debug logs, or in the audit log.

mod common;

use base64::Engine;
use common::{Proc, credentials};
use serde_json::{Value, json};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_database_the_logs_or_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Proc::spawn(dir.path(), None, &[("DBCLOUD_LOG", "debug,sqlx=debug"), ("DBCLOUD_PROVISION_STEP_MS", "0")]);
    let creds = credentials(dir.path());
    let owner = creds["bearer_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let post = |path: &str, token: &str, body: Value| http.post(format!("{url}{path}")).bearer_auth(token).json(&body).send();

    let key: Value = post("/v1/api-keys", &owner, json!({"name": "k", "organization_roles": ["organizationOwner"]})).await.unwrap().json().await.unwrap();
    let (ak, secret) = (key["id"].as_str().unwrap().to_string(), key["secret"].as_str().unwrap().to_string());
    let bearer = key["bearer_token"].as_str().unwrap().to_string();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ak}:{secret}"));
    let ts = now_ms().to_string();
    let sig = dbcloud_core::signing::sign(&secret, "GET", "/v1/clouds", &ts);
    for headers in [
        vec![("authorization", format!("Bearer {bearer}"))],
        vec![("authorization", format!("Basic {basic}"))],
        vec![("authorization", format!("Bearer {basic}"))],
        vec![("authorization", format!("Bearer {ak}:{sig}")), ("couchbase-timestamp", ts.clone())],
    ] {
        let mut rb = http.get(format!("{url}/v1/clouds"));
        for (k, v) in &headers {
            rb = rb.header(*k, v);
        }
        assert_eq!(rb.send().await.unwrap().status(), 200, "{headers:?}");
    }
    // A failed attempt with a wrong secret must not log what was sent either.
    let wrong = format!("{ak}_{}", "W".repeat(43));
    assert_eq!(http.get(format!("{url}/v1/clouds")).bearer_auth(&wrong).send().await.unwrap().status(), 401);
    let rotated: Value = post(&format!("/v1/api-keys/{ak}/rotate"), &owner, json!({"grace_period_seconds": 30})).await.unwrap().json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap_or_else(|| panic!("{rotated}")).to_string();
    let change: Value =
        post("/v1/clusters", &owner, json!({"name": "secrets-test", "provider": "aws", "region": "us-east-1"})).await.unwrap().json().await.unwrap();
    let cluster = change["cluster"]["id"].as_str().unwrap();
    let user: Value =
        post(&format!("/v1/clusters/{cluster}/users"), &owner, json!({"name": "app", "access": "readwrite"})).await.unwrap().json().await.unwrap();
    let password = user["password"].as_str().unwrap().to_string();
    let audit: Value = http.get(format!("{url}/v1/audit-events?limit=500")).bearer_auth(&owner).send().await.unwrap().json().await.unwrap();
    let audit = audit.to_string();
    assert!(audit.contains(&ak), "the audit log names the key id");
    let log = server.kill().join("\n");
    assert!(log.contains("DEBUG") || log.contains("debug"), "debug logging was on");

    let mut db = vec![];
    for f in ["dbcloud.db", "dbcloud.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            db.extend(b);
        }
    }
    assert!(db.len() > 10_000, "the database was read");
    let db = String::from_utf8_lossy(&db).to_string();
    let secrets = [
        ("bootstrap secret", creds["secret"].as_str().unwrap().to_string()),
        ("created secret", secret.clone()),
        ("rotated secret", new_secret.clone()),
        ("bearer token", bearer.clone()),
        ("basic credential", basic.clone()),
        ("database user password", password.clone()),
        ("wrong secret sent", "W".repeat(43)),
    ];
    for (what, s) in &secrets {
        assert!(!db.contains(s.as_str()), "{what} found in the SQLite files");
        assert!(!log.contains(s.as_str()), "{what} found in the logs");
        assert!(!audit.contains(s.as_str()), "{what} found in the audit log");
    }
}
