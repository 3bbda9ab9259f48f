//! A 3-node local cluster with real streaming standbys: a row inserted on the primary is read
//! on each standby; `kill -9` of the primary is seen by the supervisor, which restarts it with
//! its data intact (and the standbys stream again); scaling to 1 removes the standbys.

mod local_common;

use dbcloud_provision::local::instance::{admin_client, node_dir, running_pid};
use dbcloud_types::*;
use local_common::*;
use std::time::{Duration, Instant};

async fn count_on(dir: &std::path::Path, port: u16) -> Option<i64> {
    let c = admin_client(dir, port, "postgres").await.ok()?;
    c.query_one("SELECT count(*) FROM t", &[]).await.ok().map(|r| r.get(0))
}

async fn wait_count(dir: &std::path::Path, port: u16, want: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = count_on(dir, port).await;
        if got == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: expected {want} rows, saw {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn three_nodes_replicate_survive_kill_9_and_scale_down() {
    let h = Harness::new(25552);
    let mut c = create(&h, "trio", 3).await;
    let dir = h.driver.cluster_dir(c.id);
    let ports = h.catalog.ports_of(c.id);
    assert_eq!(ports.len(), 3);
    assert_eq!(c.endpoints.iter().filter(|e| e.kind == "sql").count(), 1);
    assert_eq!(c.endpoints.iter().filter(|e| e.kind == "sql-standby").count(), 2);

    // A row written on the primary is read on each standby; standbys refuse writes.
    let primary = admin_client(&dir, ports[0], "postgres").await.unwrap();
    primary.batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)").await.unwrap();
    for (i, port) in ports.iter().enumerate().skip(1) {
        wait_count(&dir, *port, 1, &format!("standby {}", i + 1)).await;
        let standby = admin_client(&dir, *port, "postgres").await.unwrap();
        assert!(standby.batch_execute("INSERT INTO t VALUES (9)").await.is_err(), "a standby is read-only");
    }

    // kill -9 of the primary: reported NOT_READY, restarted, LIVE, data intact.
    h.catalog.supervise(c.clone(), false);
    assert!(h.driver.supervise_once().await.is_empty(), "a healthy cluster gives no events");
    let pid = running_pid(&node_dir(&dir, 1)).expect("primary runs");
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), rustix::process::Signal::KILL).unwrap();
    let seen_at = Instant::now();
    let mut events = vec![];
    while !events.iter().any(|e: &dbcloud_provision::local::NodeEvent| e.index == 1 && e.status == NodeStatus::Live) {
        assert!(seen_at.elapsed() < Duration::from_secs(40), "primary not restarted; events: {events:?}");
        events.extend(h.driver.supervise_once().await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let down = events.iter().position(|e| e.index == 1 && e.status == NodeStatus::NotReady).expect("NOT_READY reported first");
    let up = events.iter().position(|e| e.index == 1 && e.status == NodeStatus::Live).unwrap();
    assert!(down < up, "{events:?}");
    assert!(events[up].detail.contains("restarted"), "{events:?}");
    let new_pid = running_pid(&node_dir(&dir, 1)).unwrap();
    assert_ne!(new_pid, pid);
    wait_count(&dir, ports[0], 1, "primary after kill -9").await;
    let primary = admin_client(&dir, ports[0], "postgres").await.unwrap();
    primary.batch_execute("INSERT INTO t VALUES (2)").await.unwrap();
    for port in &ports[1..] {
        wait_count(&dir, *port, 2, "standby after the primary's restart").await;
    }

    // Scale to 1: the standbys are stopped and removed, their ports and slots freed.
    let standby_pids: Vec<i32> = (2..=3).filter_map(|i| running_pid(&node_dir(&dir, i))).collect();
    assert_eq!(standby_pids.len(), 2);
    h.catalog.supervise(c.clone(), true);
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Scale, serde_json::json!({"node_count": 1})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    assert_eq!(c.node_count, 1);
    assert_eq!(c.nodes.len(), 1);
    assert_eq!(c.endpoints.len(), 1);
    assert!(!node_dir(&dir, 2).exists() && !node_dir(&dir, 3).exists());
    assert!(standby_pids.iter().all(|p| !dbcloud_provision::local::instance::postgres_alive(*p)), "standby processes gone");
    assert!(!listening(ports[1]) && !listening(ports[2]));
    assert_eq!(h.catalog.ports_of(c.id), vec![ports[0]]);
    let slots: i64 = primary.query_one("SELECT count(*) FROM pg_replication_slots", &[]).await.unwrap().get(0);
    assert_eq!(slots, 0, "replication slots of removed standbys are dropped");
    wait_count(&dir, ports[0], 2, "primary after scale down").await;

    // And back to 2: a new standby catches up.
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Scale, serde_json::json!({"node_count": 2})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
    let ports = h.catalog.ports_of(c.id);
    wait_count(&dir, ports[1], 2, "new standby").await;
}
