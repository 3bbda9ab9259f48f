//! The life of a local cluster: delete leaves no process, port or directory; suspend/resume
//! keep data; a restarted driver adopts running instances and resumes half-done work; a
//! replica killed in the middle of a create (through the real runner and store) is taken
//! over and ends in a working cluster; versions and upgrades are checked.

mod local_common;

use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_provision::local::instance::{admin_client, node_dir, running_pid};
use dbcloud_provision::runner::{Runner, RunnerConfig};
use dbcloud_store::*;
use dbcloud_types::*;
use local_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The uid a process runs as.
fn uid_of(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn delete_leaves_no_process_port_or_directory() {
    let h = Harness::new(25592);
    let mut c = create(&h, "gone", 2).await;
    let dir = h.driver.cluster_dir(c.id);
    let ports = h.catalog.ports_of(c.id);
    let pids: Vec<i32> = (1..=2).map(|i| running_pid(&node_dir(&dir, i)).unwrap()).collect();
    if rustix::process::geteuid().is_root() {
        assert_eq!(h.driver.os_user(), Some("postgres"));
        assert!(pids.iter().all(|p| uid_of(*p) != 0), "instances never run as root");
        let meta = std::fs::metadata(node_dir(&dir, 1)).unwrap();
        assert_ne!(std::os::unix::fs::MetadataExt::uid(&meta), 0, "data directories belong to the OS account");
    }
    assert!(ports.iter().all(|p| listening(*p)));
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Delete, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert_eq!(c.state, ClusterState::Deleted);
    assert!(c.endpoints.is_empty() && c.nodes.is_empty());
    assert!(!dir.exists(), "cluster directory removed");
    assert!(pids.iter().all(|p| !dbcloud_provision::local::instance::postgres_alive(*p)), "no process left");
    assert!(processes_mentioning(&c.id.to_string()).is_empty());
    assert!(ports.iter().all(|p| !listening(*p)), "no port left open");
    assert!(h.catalog.ports_of(c.id).is_empty(), "ports freed");
    // Deleting again (a resumed delete) is harmless.
    assert_eq!(drive(h.driver.as_ref(), &mut c, OperationKind::Delete, serde_json::json!({})).await.status, OperationStatus::Succeeded);
}

#[tokio::test]
async fn suspend_and_resume_keep_the_data_and_the_supervisor_leaves_a_suspended_cluster_alone() {
    let h = Harness::new(25632);
    let mut c = create(&h, "nap", 1).await;
    let dir = h.driver.cluster_dir(c.id);
    let port = h.catalog.ports_of(c.id)[0];
    admin_client(&dir, port, "postgres").await.unwrap().batch_execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')").await.unwrap();
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Suspend, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert_eq!(c.attributes.get("suspended"), Some(&serde_json::json!(true)));
    assert!(c.nodes.iter().all(|n| n.status == NodeStatus::NotReady));
    assert!(running_pid(&node_dir(&dir, 1)).is_none() && !listening(port));
    h.catalog.supervise(c.clone(), false);
    assert!(h.driver.supervise_once().await.is_empty());
    assert!(running_pid(&node_dir(&dir, 1)).is_none(), "a suspended cluster is not restarted");
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Resume, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert_eq!(c.attributes.get("suspended"), Some(&serde_json::json!(false)));
    assert!(c.nodes.iter().all(|n| n.status == NodeStatus::Live));
    let v: String = admin_client(&dir, port, "postgres").await.unwrap().query_one("SELECT v FROM kept", &[]).await.unwrap().get(0);
    assert_eq!(v, "still here");
}

#[tokio::test]
async fn a_restarted_driver_adopts_instances_and_redoes_half_made_nodes() {
    let h = Harness::new(25672);
    let mut c = create(&h, "adopt", 1).await;
    let dir = h.driver.cluster_dir(c.id);
    let pid = running_pid(&node_dir(&dir, 1)).unwrap();

    // dbcloud restarts: the instance kept running and is adopted, never started twice.
    let again = h.restarted();
    h.catalog.supervise(c.clone(), false);
    assert!(again.supervise_once().await.is_empty(), "adopted without events");
    let op = drive(again.as_ref(), &mut c, OperationKind::Create, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "a create resumed after its last step converges: {:?}", op.error);
    assert_eq!(running_pid(&node_dir(&dir, 1)), Some(pid), "same postmaster");

    // A standby whose base backup was interrupted (a half-written node-2.tmp) is redone.
    std::fs::create_dir_all(dir.join("node-2.tmp/base")).unwrap();
    std::fs::write(dir.join("node-2.tmp/base/junk"), "half").unwrap();
    h.catalog.supervise(c.clone(), true);
    let op = drive(again.as_ref(), &mut c, OperationKind::Scale, serde_json::json!({"node_count": 2})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert!(!dir.join("node-2.tmp").exists());
    assert!(running_pid(&node_dir(&dir, 2)).is_some());

    // A primary whose copy was interrupted: a fresh cluster with only node-1.tmp on disk.
    let mut fresh = cluster("fresh", 1);
    let fdir = again.cluster_dir(fresh.id);
    std::fs::create_dir_all(fdir.join("node-1.tmp/global")).unwrap();
    let op = drive(again.as_ref(), &mut fresh, OperationKind::Create, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert!(!fdir.join("node-1.tmp").exists());
    let port = h.catalog.ports_of(fresh.id)[0];
    admin_client(&fdir, port, "postgres").await.unwrap().simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn versions_and_upgrades_are_checked() {
    let h = Harness::new(25712);
    let installed = h.driver.versions();
    assert!(installed.iter().all(|v| v.parse::<u32>().is_ok_and(|m| m >= 14)), "{installed:?}");
    let missing = h.driver.check_version("99").unwrap_err().to_string();
    assert!(missing.contains("99 is not installed") && missing.contains(&installed[0]), "{missing}");

    let mut bad = cluster("wrong", 1);
    bad.version = "7.6.2".into();
    let op = drive(h.driver.as_ref(), &mut bad, OperationKind::Create, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(bad.state, ClusterState::CreationFailed);
    assert!(bad.failure_reason.as_deref().is_some_and(|r| r.contains("7 is not installed")), "{:?}", bad.failure_reason);
    assert!(h.catalog.all_ports().is_empty(), "a refused create reserves no port");

    let mut c = create(&h, "upg", 1).await;
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Upgrade, serde_json::json!({"version": "99"})).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(op.error.as_deref().is_some_and(|e| e.contains("99 is not installed")), "{:?}", op.error);
    assert_eq!(c.state, ClusterState::Created);
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Upgrade, serde_json::json!({"version": installed[0]})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert_eq!(c.version, installed[0]);
}

async fn store_with_cluster(path: &std::path::Path, nodes: i32) -> (Arc<dyn Store>, Ctx, Uuid) {
    let store: Arc<dyn Store> = Arc::new(sqlite::SqliteStore::open(path).await.unwrap());
    let k = NewKey::generate();
    let key = NewApiKey {
        access_key: k.access_key,
        name: "o".into(),
        description: String::new(),
        secret_hash: k.secret_hash,
        grants: vec![Grant { role: Role::OrganizationOwner, scope: Scope::Organization }],
        allowed_cidrs: vec![],
        expires_at: None,
        secret_enc: None,
        owner: KeyOwner::Key,
        rate_limit: None,
    };
    let org = store.bootstrap("t", &key).await.unwrap().unwrap();
    let ctx = Ctx { organization_id: org, actor: "t".into(), request_id: "r".into(), source_ip: "-".into(), idempotency: None };
    let new = NewCluster {
        attributes: Default::default(),
        allowlist: vec![],
        id: dbcloud_core::new_id(),
        project_id: None,
        cloud: CloudRef::ProviderRegion(Provider::Aws, "us-east-1".into()),
        name: "ledger".into(),
        plan: Plan::Dedicated,
        version: "15".into(),
        node_count: nodes,
        node_size: None,
        spend_limit: None,
    };
    let id = store.create_cluster(&ctx, &new, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await.unwrap().cluster.id;
    (store, ctx, id)
}

use uuid::Uuid;

fn runner_cfg(owner: &str) -> RunnerConfig {
    RunnerConfig { owner: owner.into(), lease: Duration::from_millis(800), poll_interval: Duration::from_millis(20), max_concurrent: 4 }
}

#[tokio::test]
async fn a_replica_killed_during_a_create_is_taken_over_and_the_cluster_works() {
    let h = Harness::new(25752);
    let (store, ctx, id) = store_with_cluster(&h.data().join("store.db"), 3).await;
    let org = ctx.organization_id;

    // The first replica gets as far as the first node, then dies without releasing its lease.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let first = tokio::spawn(Runner::new(store.clone(), h.driver.clone(), runner_cfg("first")).run(rx));
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.get_cluster(org, id).await.unwrap().nodes.is_empty() {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.abort();
    let _ = first.await;
    assert_eq!(store.get_cluster(org, id).await.unwrap().state, ClusterState::Creating);

    // A restarted replica (a new driver over the same data) takes the operation over.
    let heir = h.restarted();
    let (tx2, rx2) = tokio::sync::watch::channel(false);
    let second = tokio::spawn(Runner::new(store.clone(), heir.clone(), runner_cfg("heir")).run(rx2));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let c = store.get_cluster(org, id).await.unwrap();
        if c.state == ClusterState::Created {
            break;
        }
        assert!(c.state == ClusterState::Creating, "{:?} {:?}", c.state, c.failure_reason);
        assert!(Instant::now() < deadline, "the heir did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = store.get_cluster(org, id).await.unwrap();
    assert_eq!(c.nodes.len(), 3);
    assert!(c.nodes.iter().all(|n| n.status == NodeStatus::Live));
    let dir = heir.cluster_dir(id);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty(), "no half-made node left: {leftovers:?}");
    let postmasters = processes_mentioning(&id.to_string());
    assert_eq!(postmasters.len(), 3, "exactly one postmaster per node: {postmasters:?}");
    let ports = h.catalog.ports_of(id);
    admin_client(&dir, ports[0], "postgres").await.unwrap().batch_execute("CREATE TABLE x (v int); INSERT INTO x VALUES (1)").await.unwrap();

    // Delete through the store and the runner: nothing remains.
    store.delete_cluster(&ctx, id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.get_cluster(org, id).await.unwrap().state != ClusterState::Deleted {
        assert!(Instant::now() < deadline, "delete did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tx2.send(true).unwrap();
    second.await.unwrap();
    assert!(!dir.exists());
    assert!(processes_mentioning(&id.to_string()).is_empty());
    assert!(ports.iter().all(|p| !listening(*p)));
    assert!(h.catalog.ports_of(id).is_empty());
}
