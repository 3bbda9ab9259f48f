//! `kill -9` of `dbcloud serve` during 50 concurrent cluster creations: after a restart
//! every acknowledged cluster exists and reaches CREATED, and retrying every request with
//! its Idempotency-Key creates no duplicate. The restarted process keeps its replica
//! identity (`<data-dir>/replica-id`), so it takes back its own interrupted operations at
//! once instead of waiting for their leases to expire: with leases of 60 s, all 50 are
//! CREATED within 20 s of the restart (about 1 s on a quiet machine; the margin is for a
//! loaded one, where every step's synchronous commit waits on a busy disk). Runs the real
//! binary on both backends.

mod common;

use common::{Proc, credentials};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

const CLUSTERS: usize = 50;
/// Operation leases of the server: an operation the restart did not take back at once would
/// wait this long.
const LEASE_SECONDS: &str = "60";
/// All creations must be CREATED this soon after the restart (well under the lease).
const RESUME_WITHIN: Duration = Duration::from_secs(20);

fn spawn(data_dir: &Path, database_url: Option<&str>) -> Proc {
    Proc::spawn(
        data_dir,
        database_url,
        &[("DBCLOUD_PROVISION_STEP_MS", "60"), ("DBCLOUD_POLL_MS", "50"), ("DBCLOUD_LEASE_SECONDS", LEASE_SECONDS), ("DBCLOUD_LOG", "warn")],
    )
}

fn token(data_dir: &Path) -> String {
    credentials(data_dir)["bearer_token"].as_str().unwrap().to_string()
}

async fn create(http: &reqwest::Client, url: &str, token: &str, i: usize) -> Result<Value, String> {
    let r = http
        .post(format!("{url}/v1/clusters"))
        .bearer_auth(token)
        .header("idempotency-key", format!("crash-key-{i}"))
        .json(&json!({"name": format!("crash-{i}"), "provider": "aws", "region": "us-east-1", "node_count": 3}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!("status {}", r.status()));
    }
    r.json().await.map_err(|e| e.to_string())
}

async fn all_clusters(http: &reqwest::Client, url: &str, token: &str) -> Vec<Value> {
    let v: Value = http.get(format!("{url}/v1/clusters?limit=500")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn crash_and_recover(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn(dir.path(), database_url);
    let token = token(dir.path());
    let creds_before = std::fs::read(dir.path().join("bootstrap-credentials.json")).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();

    // Fire all creations at once; kill -9 the server once some have been acknowledged.
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..CLUSTERS {
        let (http, url, token, ack_tx) = (http.clone(), first.url.clone(), token.clone(), ack_tx.clone());
        tokio::spawn(async move {
            let _ = ack_tx.send((i, create(&http, &url, &token, i).await));
        });
    }
    drop(ack_tx);
    let mut acked: HashMap<usize, String> = HashMap::new();
    let mut answered = 0;
    let mut child = first.child;
    while let Some((i, res)) = ack_rx.recv().await {
        answered += 1;
        if let Ok(v) = res {
            acked.insert(i, v["cluster"]["id"].as_str().unwrap().to_string());
        }
        if acked.len() >= CLUSTERS / 3 && answered < CLUSTERS {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    let _ = child.wait();
    while let Some((i, res)) = ack_rx.recv().await {
        if let Ok(v) = res {
            acked.insert(i, v["cluster"]["id"].as_str().unwrap().to_string());
        }
    }
    assert!(!acked.is_empty(), "some creations were acknowledged before the kill");
    eprintln!("{} of {CLUSTERS} creations acknowledged before kill -9", acked.len());

    let replica_id = std::fs::read_to_string(dir.path().join("replica-id")).unwrap();
    let restarted = tokio::time::Instant::now();
    let second = spawn(dir.path(), database_url);
    assert_eq!(std::fs::read_to_string(dir.path().join("replica-id")).unwrap(), replica_id, "the replica identity is kept");
    let listening = restarted.elapsed();
    assert_eq!(std::fs::read(dir.path().join("bootstrap-credentials.json")).unwrap(), creds_before, "bootstrap is never redone");
    let url = second.url.clone();
    let log = second.log.clone();
    let mut child = second.child;

    // Every acknowledged cluster survived the crash.
    let survivors = all_clusters(&http, &url, &token).await;
    let ids: HashSet<String> = survivors.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    for (i, id) in &acked {
        assert!(ids.contains(id), "acknowledged cluster crash-{i} ({id}) was lost");
    }
    // Every client retries its request with its key, at once: acknowledged ones get the same cluster back.
    let retries = futures::future::join_all((0..CLUSTERS).map(|i| create(&http, &url, &token, i))).await;
    for (i, v) in retries.into_iter().enumerate() {
        let v = v.unwrap_or_else(|e| panic!("retry of crash-{i}: {e}"));
        if let Some(id) = acked.get(&i) {
            assert_eq!(v["cluster"]["id"].as_str().unwrap(), id, "retry of crash-{i} returned another cluster");
        }
    }
    let retried = restarted.elapsed();
    // All reach CREATED with their nodes LIVE, once each, within RESUME_WITHIN of the restart.
    let deadline = restarted + RESUME_WITHIN;
    let clusters = loop {
        let cs = all_clusters(&http, &url, &token).await;
        if cs.len() == CLUSTERS && cs.iter().all(|c| c["state"] == "CREATED") {
            eprintln!(
                "all {CLUSTERS} clusters CREATED {:.2} s after the restart (listening after {:.2} s, every request retried after {:.2} s)",
                restarted.elapsed().as_secs_f64(),
                listening.as_secs_f64(),
                retried.as_secs_f64()
            );
            break cs;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            let states: Vec<_> = cs.iter().map(|c| format!("{}={}", c["name"], c["state"])).collect();
            let log = log.lock().unwrap().join("\n");
            panic!("not all clusters reached CREATED within {RESUME_WITHIN:?} of the restart: {} clusters: {states:?}\nserver log:\n{log}", cs.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let names: HashSet<_> = clusters.iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), CLUSTERS, "no duplicates");
    for c in &clusters {
        let nodes = c["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "{c}");
        assert!(nodes.iter().all(|n| n["status"] == "LIVE"), "{c}");
        let node_names: HashSet<_> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(node_names.len(), 3, "no node was started twice: {c}");
    }
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_during_creations_on_sqlite() {
    crash_and_recover(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_during_creations_on_postgres() {
    let base = std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = sqlx::PgPool::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base} is required: {e}"));
    let db = format!("dbcloud_crash_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&admin).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    crash_and_recover(Some(&format!("{prefix}/{db}"))).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db} WITH (FORCE)"))).execute(&admin).await.unwrap();
}
