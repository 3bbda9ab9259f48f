//! `kill -9` of `dbcloud serve` while it creates a `local` (real PostgreSQL) cluster: after a
//! restart the cluster is CREATED with every node LIVE, each instance runs once (re-adopted,
//! never started twice), and `dbcloud clusters connect` reaches it through psql with TLS
//! `verify-full`; a delete then leaves no process or directory. Skipped, saying so, only
//! when no PostgreSQL server binaries are installed.

mod common;

use common::{Proc, credentials};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(dir: &Path) -> Proc {
    Proc::spawn(dir, None, &[("DBCLOUD_PG_PORT_RANGE", "26500-26540"), ("DBCLOUD_POLL_MS", "50"), ("DBCLOUD_LOG", "warn")])
}

/// PostgreSQL server processes (postmasters) whose command line names `id`.
fn postmasters_of(id: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| {
            let args: Vec<String> = c.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            args.first().is_some_and(|a| a.ends_with("/postgres")) && args.iter().any(|a| a.contains(id))
        })
        .count()
}

fn installed() -> bool {
    let found = std::fs::read_dir("/usr/lib/postgresql").map(|d| d.flatten().any(|v| v.path().join("bin/initdb").exists())).unwrap_or(false)
        || Command::new("initdb").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: no PostgreSQL server binaries on this machine (Debian: apt-get install postgresql)");
    }
    found
}

async fn cluster(http: &reqwest::Client, url: &str, token: &str, id: &str) -> Value {
    http.get(format!("{url}/v1/clusters/{id}")).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_during_a_local_create_ends_in_a_working_cluster() {
    if !installed() {
        return;
    }
    let dir = tempfile::Builder::new().prefix("dbk").tempdir().unwrap();
    let first = spawn(dir.path());
    let creds = credentials(dir.path());
    let token = creds["bearer_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    let r = http
        .post(format!("{}/v1/clusters", first.url))
        .bearer_auth(&token)
        .json(&json!({"name": "crashy", "provider": "local", "node_count": 2, "region": "local"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["cluster"]["id"].as_str().unwrap().to_string();
    // Kill -9 once the create has started building the primary's data directory.
    let node1 = dir.path().join("clusters").join(&id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !node1.exists() {
        assert!(Instant::now() < deadline, "the create never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let state_at_kill = cluster(&http, &first.url, &token, &id).await["state"].clone();
    first.kill();
    eprintln!("killed dbcloud serve with the cluster {state_at_kill}");

    let second = spawn(dir.path());
    let url = second.url.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    let c = loop {
        let c = cluster(&http, &url, &token, &id).await;
        let live = c["nodes"].as_array().is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["status"] == "LIVE"));
        if c["state"] == "CREATED" && live {
            break c;
        }
        assert!(c["state"] != "CREATION_FAILED" && Instant::now() < deadline, "after the restart: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(postmasters_of(&id), 2, "each node runs exactly once: {c}");

    // It works: a database, a user, the allow list, then psql through `dbcloud clusters connect`.
    for (path, body) in [
        ("buckets", json!({"name": "orders"})),
        ("users", json!({"name": "app", "access": "readwrite", "password": "app-password-1"})),
        ("allowlist", json!({"cidr": "127.0.0.1/32"})),
    ] {
        let r = http.post(format!("{url}/v1/clusters/{id}/{path}")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{path}");
    }
    let cfg = tempfile::tempdir().unwrap();
    let mut psql = Command::new(env!("CARGO_BIN_EXE_dbcloud"))
        .args(["clusters", "connect", "crashy", "--user", "app", "--database", "orders"])
        .env("DBCLOUD_CONFIG_DIR", cfg.path())
        .env("DBCLOUD_URL", &url)
        .env("DBCLOUD_ACCESS_KEY", creds["access_key"].as_str().unwrap())
        .env("DBCLOUD_SECRET", creds["secret"].as_str().unwrap())
        .env("PGPASSWORD", "app-password-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    psql.stdin.take().unwrap().write_all(b"SELECT 40 + 2 AS answer;\n").unwrap();
    let out = psql.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("42"), "psql through dbcloud clusters connect: {stdout}\n{stderr}");

    // Delete: no process or directory left.
    let r = http.delete(format!("{url}/v1/clusters/{id}")).bearer_auth(&token).send().await.unwrap();
    assert!(r.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster(&http, &url, &token, &id).await["state"] != "DELETED" {
        assert!(Instant::now() < deadline, "the delete did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(postmasters_of(&id), 0, "no instance of the deleted cluster runs");
    assert!(!dir.path().join("clusters").join(&id).exists(), "its directory is removed");
    second.kill();
}
