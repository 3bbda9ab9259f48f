//! A `local` cluster of three nodes through the native API, with real connections: a row
//! written on the primary is read on each streaming standby (which refuses writes), and a
//! scale to one node stops and removes the standbys. Skipped, saying so, only when no
//! PostgreSQL server binaries are installed.

mod common;
#[path = "../../provision/tests/local_common/mod.rs"]
mod local_common;

use common::{Backend, TestServer, config};
use local_common::{Rustls, connect, listening, stop_all_under};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        stop_all_under(&self.0.join("clusters"));
    }
}

async fn wait(t: &TestServer, id: &str, within: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let c = t.get(&format!("/v1/clusters/{id}")).await;
        if done(&c) {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {within:?}: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `host:port` of each connection string, in node order.
fn node_addrs(c: &Value) -> Vec<(String, SocketAddr)> {
    c["connection_strings"]
        .as_array()
        .expect("connection strings")
        .iter()
        .map(|u| {
            let rest = u.as_str().unwrap().strip_prefix("postgresql://").unwrap();
            let hostport = rest.split('/').next().unwrap();
            let (host, port) = hostport.rsplit_once(':').unwrap();
            (host.to_string(), SocketAddr::new(host.parse().unwrap(), port.parse().unwrap()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_and_a_scale_to_one_removes_the_standbys() {
    if dbcloud_provision::local::install::discover(None).is_empty() {
        eprintln!("SKIPPED: no PostgreSQL server binaries on this machine (Debian: apt-get install postgresql)");
        return;
    }
    let dir = tempfile::Builder::new().prefix("dbr").tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cfg = config(0, 0.0);
    cfg.local = Some(local_common::config(dir.path(), 26400));
    let _cleanup = Cleanup(dir.path().to_path_buf());
    let t = TestServer::with(Backend::Sqlite, cfg).await;

    let (s, b) = t.post("/v1/clusters", json!({"name": "trio", "provider": "local", "region": "local", "node_count": 3})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id = b["cluster"]["id"].as_str().unwrap().to_string();
    let c = wait(&t, &id, Duration::from_secs(120), "three LIVE nodes", |c| {
        c["state"] == "CREATION_FAILED"
            || (c["state"] == "CREATED" && c["nodes"].as_array().is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["status"] == "LIVE")))
    })
    .await;
    assert_eq!(c["state"], "CREATED", "{c}");
    let nodes = node_addrs(&c);
    assert_eq!(nodes.len(), 3, "{c}");
    let ca = t.get(&format!("/v1/clusters/{id}/certificate")).await["certificate"].as_str().unwrap().to_string();
    for (path, body) in [
        ("buckets", json!({"name": "orders"})),
        ("users", json!({"name": "app", "access": "readwrite", "password": "app-password-1"})),
        ("allowlist", json!({"cidr": "127.0.0.1/32"})),
    ] {
        let (s, b) = t.post(&format!("/v1/clusters/{id}/{path}"), body).await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {b}");
    }

    // Written on the primary, read on every standby; a standby refuses writes.
    let (host, primary) = nodes[0].clone();
    let app = connect(primary, "127.0.0.1", Rustls::new(&ca, &host), "app", "app-password-1", "orders").await.expect("the primary");
    app.batch_execute("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (42)").await.unwrap();
    for (host, standby) in &nodes[1..] {
        let client = connect(*standby, "127.0.0.1", Rustls::new(&ca, host), "app", "app-password-1", "orders").await.expect("a standby accepts the user");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen = client.query_opt("SELECT id FROM items WHERE id = 42", &[]).await.ok().flatten().is_some();
            if seen {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the row never reached the standby at {standby}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let recovery: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
        assert!(recovery, "{standby} is a standby");
        assert!(client.execute("INSERT INTO items VALUES (43)", &[]).await.is_err(), "a standby refuses writes");
    }

    // Scale to one: the standbys stop and their data directories go; the primary keeps the data.
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/clusters/{id}"), Some(json!({"node_count": 1}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let c = wait(&t, &id, Duration::from_secs(120), "one node", |c| {
        c["state"] == "CREATED" && c["nodes"].as_array().is_some_and(|n| n.len() == 1) && c["node_count"] == 1
    })
    .await;
    assert_eq!(node_addrs(&c).len(), 1, "{c}");
    for (i, (_, standby)) in nodes[1..].iter().enumerate() {
        assert!(!listening(standby.port()), "standby {} still listens on {standby}", i + 2);
        assert!(!dir.path().join("clusters").join(&id).join(format!("node-{}", i + 2)).exists(), "node-{} directory removed", i + 2);
    }
    let app = connect(primary, "127.0.0.1", Rustls::new(&ca, &host), "app", "app-password-1", "orders").await.expect("the primary after the scale");
    let n: i64 = app.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert!(s.is_success());
    wait(&t, &id, Duration::from_secs(60), "DELETED", |c| c["state"] == "DELETED").await;
    assert!(!dir.path().join("clusters").join(&id).exists());
}
