//! CrateDB Cloud API v2 dialect (`/api/v2/`): seed 002's curl and the real `croud` CLI.
//! Split in modules: `croud` (the real CLI), `changes` (§6 and input rules), `roles` (every
//! role × route), `lists` (the unpaged cluster list), `deploy` (into an existing project).

mod changes;
#[path = "../common/mod.rs"]
mod common;
mod croud;
mod deploy;
mod lists;
mod roles;

use common::*;
use serde_json::Value;
use std::time::Duration;
use tokio::process::Command;

/// Runs a command with a timeout; returns exit success, stdout and stderr.
async fn run(cmd: &mut Command, secs: u64) -> (bool, String, String) {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(secs), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s: {cmd:?}"))
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Seed 002: `curl -s -u KEY:SECRET $URL/api/v2/users/me` answers the user, and sets no cookie.
#[tokio::test]
async fn seed_002_curl_users_me() {
    let t = TestServer::start().await;
    let (ok, out, err) =
        run(Command::new("curl").args(["-s", "-i", "-u", &format!("{}:{}", t.access_key, t.secret), &format!("{}/api/v2/users/me", t.url)]), 30).await;
    assert!(ok, "curl failed: {err}");
    let (head, body) = out.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    for k in ["uid", "email", "username", "name", "is_superuser", "status", "organization_id", "organization_roles", "project_roles"] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["organization_id"], t.org.as_str());
    assert_eq!(v["organization_roles"][0]["role_fqn"], "org_admin");

    // Wrong secret: 401 in the vendor shape; unknown paths: 404 JSON.
    let r = t.http.get(format!("{}/api/v2/users/me/", t.url)).basic_auth(&t.access_key, Some("wrong")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"message": "Authentication required.", "success": false}));
    let r = t.http.get(format!("{}/api/v2/nothing/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
}
