//! The `local` provider end to end through the native API, with real connections: a real
//! server (port 0, temporary data directory) creates a PostgreSQL cluster, its database
//! users log in over TLS `verify-full` with the CA the API hands out, a `read` user cannot
//! write, an allow list without the client's address refuses it, and a delete leaves no
//! process, port or directory. Skipped, saying so, only when no PostgreSQL server binaries
//! are installed.

mod common;
#[path = "../../provision/tests/local_common/mod.rs"]
mod local_common;

use common::{Backend, TestServer, assert_error, config};
use local_common::{Rustls, connect, listening, processes_mentioning, refused, stop_all_under};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// Stops every instance under the data directory when the test ends, passed or not.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        stop_all_under(&self.0.join("clusters"));
    }
}

fn installed() -> bool {
    let found = !dbcloud_provision::local::install::discover(None).is_empty();
    if !found {
        eprintln!("SKIPPED: no PostgreSQL server binaries on this machine (Debian: apt-get install postgresql); the local provider cannot be tested");
    }
    found
}

async fn local_server(base: u16) -> (TestServer, tempfile::TempDir, Cleanup) {
    let dir = tempfile::Builder::new().prefix("dbl").tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cfg = config(0, 0.0);
    cfg.local = Some(local_common::config(dir.path(), base));
    let cleanup = Cleanup(dir.path().to_path_buf());
    (TestServer::with(Backend::Sqlite, cfg).await, dir, cleanup)
}

/// Polls the cluster until `done` holds (bounded).
async fn wait(t: &TestServer, id: &str, within: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let c = t.get(&format!("/v1/clusters/{id}")).await;
        if done(&c) {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {within:?}: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_cluster_is_a_real_database_through_the_api() {
    if !installed() {
        return;
    }
    let (t, dir, _cleanup) = local_server(26200).await;

    // The region catalogue lists `local`.
    let regions = t.get("/v1/regions?provider=local").await;
    assert!(regions.to_string().contains("\"local\""), "{regions}");

    // A version that is not installed is a 400 before anything runs.
    let (s, b) = t.post("/v1/clusters", json!({"name": "old", "provider": "local", "region": "local", "version": "9", "node_count": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let msg = assert_error(&b, 3);
    assert!(msg.contains("not installed") || msg.contains("PostgreSQL"), "{msg}");

    let started = std::time::Instant::now();
    let (s, b) = t.post("/v1/clusters", json!({"name": "shop", "provider": "local", "region": "local", "node_count": 1})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id = b["cluster"]["id"].as_str().or(b["id"].as_str()).expect("cluster id").to_string();
    let c = wait(&t, &id, Duration::from_secs(60), "the cluster is CREATED", |c| c["state"] == "CREATED" || c["state"] == "CREATION_FAILED").await;
    assert_eq!(c["state"], "CREATED", "{c}");
    eprintln!("local cluster CREATED {:?} after the create request", started.elapsed());
    assert_eq!(c["nodes"][0]["status"], "LIVE", "{c}");
    let endpoint = &c["endpoints"][0];
    let (host, port) = (endpoint["host"].as_str().unwrap().to_string(), endpoint["port"].as_u64().unwrap() as u16);
    let uri = c["connection_strings"][0].as_str().expect("connection strings");
    assert!(uri.starts_with(&format!("postgresql://{host}:{port}/")) && uri.contains("sslmode=verify-full") && !uri.contains('@'), "{uri}");
    let addr = SocketAddr::new(host.parse().unwrap(), port);
    // The CockroachDB dialect's connection string is served from the same data.
    let crdb = t.get(&format!("/api/v1/clusters/{id}/connection-string?sql_user=app&database=orders")).await;
    assert_eq!(crdb["connection_string"], format!("postgresql://app@{host}:{port}/orders?sslmode=verify-full"), "{crdb}");
    assert_eq!((crdb["params"]["Host"].as_str(), crdb["params"]["Port"].as_str()), (Some(host.as_str()), Some(port.to_string().as_str())));

    // The CA from the API verifies the server (verify-full: chain and host name).
    let cert = t.get(&format!("/v1/clusters/{id}/certificate")).await;
    let ca = cert["certificate"].as_str().expect("PEM").to_string();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // A database, two users, and the allow list.
    let (s, b) = t.post(&format!("/v1/clusters/{id}/buckets"), json!({"name": "orders"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.post(&format!("/v1/clusters/{id}/users"), json!({"name": "app", "access": "readwrite"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let app_pw = b["password"].as_str().expect("password once").to_string();
    let (s, b) = t.post(&format!("/v1/clusters/{id}/users"), json!({"name": "reader", "access": "read", "password": "reader-password-1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.post(&format!("/v1/clusters/{id}/allowlist"), json!({"cidr": "127.0.0.1/32", "comment": "this host"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let entry = b["id"].as_str().unwrap().to_string();

    let tls = || Rustls::new(&ca, &host);
    let app = connect(addr, "127.0.0.1", tls(), "app", &app_pw, "orders").await.expect("the readwrite user logs in with TLS verify-full");
    app.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'pen')").await.unwrap();
    let reader = connect(addr, "127.0.0.1", tls(), "reader", "reader-password-1", "orders").await.expect("the read user logs in");
    let n: i64 = reader.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    assert!(reader.batch_execute("CREATE TABLE mine (x int)").await.is_err(), "a read user cannot create a table");
    assert!(reader.execute("INSERT INTO items VALUES (2, 'ink')", &[]).await.is_err(), "a read user cannot insert");
    let wrong = refused(connect(addr, "127.0.0.1", tls(), "app", "not-the-password", "orders").await, "a wrong password");
    assert!(wrong.contains("password authentication failed"), "{wrong}");
    let other_ca = dbcloud_provision::local::tls::new_ca(uuid::Uuid::new_v4()).unwrap().cert_pem;
    refused(connect(addr, "127.0.0.1", Rustls::new(&other_ca, &host), "app", &app_pw, "orders").await, "another CA");

    // The password is stored only as a SCRAM verifier.
    let (s, _, b) = t
        .call(Method::PUT, &format!("/v1/clusters/{id}/users/{}/password", users(&t, &id, "reader").await), Some(json!({"password": "reader-password-2"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(connect(addr, "127.0.0.1", tls(), "reader", "reader-password-2", "orders").await.is_ok(), "the new password works");
    refused(connect(addr, "127.0.0.1", tls(), "reader", "reader-password-1", "orders").await, "the old password");

    // From 127.0.0.2 (not listed) the connection is refused; listing it lets it in.
    refused(connect(addr, "127.0.0.2", tls(), "app", &app_pw, "orders").await, "a source outside the allow list");
    let (s, b) = t.post(&format!("/v1/clusters/{id}/allowlist"), json!({"cidr": "127.0.0.2/32", "comment": "second"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(connect(addr, "127.0.0.2", tls(), "app", &app_pw, "orders").await.is_ok(), "accepted once listed");
    // Without 127.0.0.1 in the list, this host is refused too.
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/clusters/{id}/allowlist/{entry}"), None).await;
    assert!(s.is_success(), "{b}");
    refused(connect(addr, "127.0.0.1", tls(), "app", &app_pw, "orders").await, "an allow list without 127.0.0.1");

    // A node killed with SIGKILL is seen, reported (audit) and restarted; data intact.
    let node_dir = dir.path().join("clusters").join(&id).join("node-1");
    let pid = dbcloud_provision::local::instance::running_pid(&node_dir).expect("the primary runs");
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let org: uuid::Uuid = t.org.parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = t.store().list_audit(org, dbcloud_store::PageReq::first(500)).await.unwrap().items;
        let seen: Vec<_> = events.iter().filter(|e| e.action == "cluster.node_status").map(|e| e.details["status"].clone()).collect();
        let back = dbcloud_provision::local::instance::running_pid(&node_dir).is_some_and(|p| p != pid);
        if back && seen.contains(&json!("NOT_READY")) && seen.contains(&json!("LIVE")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the killed node was not reported and restarted: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let app = connect(addr, "127.0.0.2", tls(), "app", &app_pw, "orders").await.expect("the restarted node accepts connections");
    let n: i64 = app.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1, "data intact after the restart");

    // Delete: no process, port or directory left.
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert!(s.is_success(), "{b}");
    wait(&t, &id, Duration::from_secs(60), "the cluster is DELETED", |c| c["state"] == "DELETED").await;
    assert!(processes_mentioning(&id).is_empty(), "no process of the cluster is left");
    assert!(!listening(port), "port {port} is free");
    assert!(!dir.path().join("clusters").join(&id).exists(), "the cluster directory is removed");
}

async fn users(t: &TestServer, cluster: &str, name: &str) -> String {
    let page = t.get(&format!("/v1/clusters/{cluster}/users")).await;
    page["items"].as_array().unwrap().iter().find(|u| u["name"] == name).expect("user")["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_on_local_without_the_provider_are_a_clear_400() {
    // A server without the local provider (as when PostgreSQL is missing) still serves, and
    // a create on `local` says why it cannot.
    let t = TestServer::start().await;
    let (s, b) = t.post("/v1/clusters", json!({"name": "nope", "provider": "local", "region": "local", "node_count": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(assert_error(&b, 3).contains("local provider"), "{b}");
    // Simulated clouds behave as before.
    let (s, b) = t.post("/v1/clusters", json!({"name": "sim", "provider": "aws", "region": "us-east-1", "node_count": 1})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
}
