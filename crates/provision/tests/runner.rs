//! The runner over a real store: operations finish, several replicas never run the same
//! operation at once, and a dead replica's operations are taken over after its lease.

use async_trait::async_trait;
use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_provision::runner::{Runner, RunnerConfig};
use dbcloud_provision::simulated::{Simulated, SimulatedConfig};
use dbcloud_provision::{Provisioner, Step};
use dbcloud_store::*;
use dbcloud_types::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn stores() -> Vec<(Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let lite: Arc<dyn Store> = Arc::new(sqlite::SqliteStore::open(&dir.path().join("r.db")).await.unwrap());
    let schema = format!("dbcloud_test_{}", Uuid::new_v4().simple());
    let pg: Arc<dyn Store> =
        Arc::new(postgres::PgStore::connect(&pg_url(), Some(&schema)).await.unwrap_or_else(|e| panic!("PostgreSQL at {} is required: {e}", pg_url())));
    vec![(lite, Some(dir)), (pg, None)]
}

async fn setup(store: &Arc<dyn Store>, n: usize, nodes: i32) -> (Uuid, Vec<Uuid>) {
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
    let mut ids = vec![];
    for i in 0..n {
        let new = NewCluster {
            attributes: Default::default(),
            allowlist: vec![],
            id: dbcloud_core::new_id(),
            project_id: None,
            cloud: CloudRef::ProviderRegion(Provider::Aws, "us-east-1".into()),
            name: format!("c-{i}"),
            plan: Plan::Dedicated,
            version: "7.6.2".into(),
            node_count: nodes,
            node_size: None,
            spend_limit: None,
        };
        let op = NewOperation::new(OperationKind::Create, serde_json::json!({}));
        ids.push(store.create_cluster(&ctx, &new, &op).await.unwrap().cluster.id);
    }
    (org, ids)
}

/// Records every step it is asked for, to detect two replicas doing the same work.
struct Recording {
    inner: Simulated,
    seen: Mutex<Vec<(Uuid, usize, Vec<NodeStatus>)>>,
}

#[async_trait]
impl Provisioner for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    async fn next_step(&self, op: &Operation, c: &Cluster) -> Step {
        self.seen.lock().unwrap().push((op.id, c.nodes.len(), c.nodes.iter().map(|n| n.status).collect()));
        self.inner.next_step(op, c).await
    }
}

async fn wait_all(store: &Arc<dyn Store>, org: Uuid, ids: &[Uuid], state: ClusterState, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut done = 0;
        for id in ids {
            if store.get_cluster(org, *id).await.unwrap().state == state {
                done += 1;
            }
        }
        if done == ids.len() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{done}/{} clusters reached {state} in time", ids.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cfg(owner: &str, lease_ms: u64) -> RunnerConfig {
    RunnerConfig { owner: owner.into(), lease: Duration::from_millis(lease_ms), poll_interval: Duration::from_millis(20), max_concurrent: 8 }
}

#[tokio::test]
async fn two_replicas_run_each_operation_exactly_once() {
    for (store, _dir) in stores().await {
        let (org, ids) = setup(&store, 12, 3).await;
        let prov = Arc::new(Recording {
            inner: Simulated::new(SimulatedConfig { step_delay: Duration::from_millis(5), failure_rate: 0.0 }),
            seen: Mutex::new(vec![]),
        });
        let (tx, rx) = watch::channel(false);
        let a = Runner::new(store.clone(), prov.clone(), cfg("a", 5_000));
        let b = Runner::new(store.clone(), prov.clone(), cfg("b", 5_000));
        let ta = tokio::spawn(a.run(rx.clone()));
        let tb = tokio::spawn(b.run(rx));
        wait_all(&store, org, &ids, ClusterState::Created, Duration::from_secs(30)).await;
        tx.send(true).unwrap();
        ta.await.unwrap();
        tb.await.unwrap();
        let seen = prov.seen.lock().unwrap().clone();
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "a step was executed twice ({} backend)", store.backend());
        // 3 nodes: 3 starts, 3 LIVE transitions, 1 final step, per cluster.
        assert_eq!(seen.len(), ids.len() * 7, "{} backend", store.backend());
        for id in &ids {
            let c = store.get_cluster(org, *id).await.unwrap();
            assert!(c.nodes.iter().all(|n| n.status == NodeStatus::Live) && c.nodes.len() == 3);
            assert!(!c.endpoints.is_empty());
            let ops = store.list_operations(org, *id, PageReq::first(10)).await.unwrap().items;
            assert_eq!(ops[0].status, OperationStatus::Succeeded);
            assert_eq!(ops[0].progress, 100);
        }
    }
}

#[tokio::test]
async fn a_dead_replicas_operations_are_taken_over() {
    for (store, _dir) in stores().await {
        let (org, ids) = setup(&store, 2, 5).await;
        let slow = Arc::new(Simulated::new(SimulatedConfig { step_delay: Duration::from_millis(150), failure_rate: 0.0 }));
        let (_tx, rx) = watch::channel(false);
        let dead = Runner::new(store.clone(), slow.clone(), cfg("dead", 600));
        let task = tokio::spawn(dead.run(rx.clone()));
        // Let it make some progress, then kill it without releasing its leases.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.get_cluster(org, ids[0]).await.unwrap().nodes.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        let _ = task.await;
        let partial = store.get_cluster(org, ids[0]).await.unwrap();
        assert_eq!(partial.state, ClusterState::Creating);
        let fast = Arc::new(Simulated::new(SimulatedConfig { step_delay: Duration::ZERO, failure_rate: 0.0 }));
        let heir = Runner::new(store.clone(), fast, cfg("heir", 600));
        let (tx2, rx2) = watch::channel(false);
        let t2 = tokio::spawn(heir.run(rx2));
        wait_all(&store, org, &ids, ClusterState::Created, Duration::from_secs(20)).await;
        tx2.send(true).unwrap();
        t2.await.unwrap();
        for id in &ids {
            let c = store.get_cluster(org, *id).await.unwrap();
            assert_eq!(c.nodes.len(), 5, "resumed where the dead replica stopped, no duplicate nodes");
            let names: HashSet<_> = c.nodes.iter().map(|n| n.name.clone()).collect();
            assert_eq!(names.len(), 5);
        }
    }
}

#[tokio::test]
async fn injected_failures_end_in_creation_failed_with_a_reason() {
    for (store, _dir) in stores().await {
        let (org, ids) = setup(&store, 3, 2).await;
        let failing = Arc::new(Simulated::new(SimulatedConfig { step_delay: Duration::ZERO, failure_rate: 1.0 }));
        let (tx, rx) = watch::channel(false);
        let t = tokio::spawn(Runner::new(store.clone(), failing, cfg("f", 5_000)).run(rx));
        wait_all(&store, org, &ids, ClusterState::CreationFailed, Duration::from_secs(20)).await;
        tx.send(true).unwrap();
        t.await.unwrap();
        for id in &ids {
            let c = store.get_cluster(org, *id).await.unwrap();
            assert!(c.failure_reason.as_deref().is_some_and(|r| r.contains("simulated provisioning failure")));
            let op = &store.list_operations(org, *id, PageReq::first(10)).await.unwrap().items[0];
            assert_eq!(op.status, OperationStatus::Failed);
            assert!(op.error.is_some());
        }
    }
}

#[tokio::test]
async fn a_replica_restarted_under_its_identity_resumes_its_operations_at_once() {
    for (store, _dir) in stores().await {
        let (org, ids) = setup(&store, 3, 5).await;
        let slow = Arc::new(Simulated::new(SimulatedConfig { step_delay: Duration::from_millis(150), failure_rate: 0.0 }));
        // A lease of a minute: waiting for it would fail the test.
        let (_tx, rx) = watch::channel(false);
        let task = tokio::spawn(Runner::new(store.clone(), slow.clone(), cfg("replica-7", 60_000)).run(rx));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.get_cluster(org, ids[0]).await.unwrap().nodes.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort(); // like kill -9: the leases stay
        let _ = task.await;
        let now = dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc());
        assert!(store.claimable_operations(now, 10).await.unwrap().is_empty(), "held by the dead run's leases");
        // Another identity waits for the leases; the same identity takes them back at once.
        let fast = Arc::new(Simulated::new(SimulatedConfig { step_delay: Duration::ZERO, failure_rate: 0.0 }));
        let (tx_other, rx_other) = watch::channel(false);
        let other = tokio::spawn(Runner::new(store.clone(), fast.clone(), cfg("replica-8", 60_000)).run(rx_other));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.get_cluster(org, ids[0]).await.unwrap().state, ClusterState::Creating, "another replica waits for the lease");
        tx_other.send(true).unwrap();
        other.await.unwrap();
        let started = tokio::time::Instant::now();
        let (tx, rx) = watch::channel(false);
        let again = tokio::spawn(Runner::new(store.clone(), fast, cfg("replica-7", 60_000)).run(rx));
        wait_all(&store, org, &ids, ClusterState::Created, Duration::from_secs(5)).await;
        eprintln!("{}: the restarted replica finished its 3 interrupted creations in {:?}", store.backend(), started.elapsed());
        tx.send(true).unwrap();
        again.await.unwrap();
        for id in &ids {
            let c = store.get_cluster(org, *id).await.unwrap();
            let names: HashSet<_> = c.nodes.iter().map(|n| n.name.clone()).collect();
            assert_eq!((c.nodes.len(), names.len()), (5, 5), "resumed where it stopped, no duplicate nodes");
        }
    }
}
