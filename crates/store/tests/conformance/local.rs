//! Conformance: the `local` provider's catalog — ports, the sealed CA, desired state, supervision leases, node status.

use super::*;

pub(crate) async fn local_ports_cas_desired_state_and_supervision(h: &Harness) {
    let ctx = h.ctx();
    let local = NewCloud { name: "here".into(), provider: Provider::Local, region: "local".into(), vpc_cidr: "10.0.0.0/16".into() };
    let local = h.store.create_cloud(&ctx, &local).await.unwrap();
    let (a, b) = (h.cluster("pg-a", local.id, None).await.cluster.id, h.cluster("pg-b", local.id, None).await.cluster.id);
    let sim = h.cluster("sim", h.cloud("aws").await.id, None).await.cluster.id;

    // Ports: idempotent per (cluster, node), never shared on a host, `avoid` skipped, freed.
    assert_eq!(h.store.local_assign_port("h1", a, 1, 30000, 30002, &[]).await.unwrap(), Some(30000));
    assert_eq!(h.store.local_assign_port("h1", a, 1, 30000, 30002, &[]).await.unwrap(), Some(30000));
    assert_eq!(h.store.local_assign_port("h1", b, 1, 30000, 30002, &[30001]).await.unwrap(), Some(30002));
    assert_eq!(h.store.local_assign_port("h1", a, 2, 30000, 30002, &[]).await.unwrap(), Some(30001));
    assert_eq!(h.store.local_assign_port("h1", b, 2, 30000, 30002, &[]).await.unwrap(), None, "the range is full");
    assert_eq!(h.store.local_ports(a).await.unwrap(), [(1, 30000), (2, 30001)].into_iter().collect());
    h.store.local_release_ports(a, Some(2)).await.unwrap();
    assert_eq!(h.store.local_assign_port("h1", b, 2, 30000, 30002, &[]).await.unwrap(), Some(30001));
    h.store.local_release_ports(b, None).await.unwrap();
    assert!(h.store.local_ports(b).await.unwrap().is_empty());

    // The CA: the first one saved wins; forgotten with the cluster.
    h.store.local_save_ca(a, "CERT-1", "SEALED-1").await.unwrap();
    h.store.local_save_ca(a, "CERT-2", "SEALED-2").await.unwrap();
    assert_eq!(h.store.local_load_ca(a).await.unwrap(), Some(("CERT-1".to_string(), "SEALED-1".to_string())));
    assert_eq!(h.store.local_load_ca(b).await.unwrap(), None);

    // The desired state is the cluster's buckets, users (with what their hash column holds) and allow list.
    h.store.create_bucket(&ctx, a, &NewBucket { name: "orders".into(), memory_quota_mb: 100, replicas: 0 }).await.unwrap();
    let u = NewDbUser { name: "app".into(), access: Access::Read, scope: Some("orders".into()), password_hash: "SCRAM-SHA-256$x".into() };
    h.store.create_db_user(&ctx, a, &u).await.unwrap();
    let e = NewAllowlistEntry { cidr: "127.0.0.1/32".into(), comment: String::new(), expires_at: None, attributes: Default::default() };
    h.store.create_allowlist_entry(&ctx, a, &e).await.unwrap();
    let d = h.store.local_desired(a).await.unwrap();
    assert_eq!(d.databases, ["orders"]);
    assert_eq!(d.users, [LocalUser { name: "app".into(), access: Access::Read, scope: Some("orders".into()), verifier: "SCRAM-SHA-256$x".into() }]);
    assert_eq!(d.allowlist, [("127.0.0.1/32".to_string(), None)]);

    // Supervision: every live local cluster goes to one replica at a time, busy while an
    // operation runs; another replica takes over once the lease expires.
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    let mine = h.store.local_supervised("r1", now, 10_000).await.unwrap();
    let ids: Vec<Uuid> = mine.iter().map(|(c, _)| c.id).collect();
    assert!(ids.contains(&a) && ids.contains(&b) && !ids.contains(&sim), "{ids:?}");
    assert!(mine.iter().all(|(_, busy)| *busy), "their create operations run");
    assert!(h.store.local_supervised("r2", now + 1_000, 10_000).await.unwrap().is_empty(), "held by r1");
    h.finish_ops(a, ClusterState::Created).await;
    assert!(h.store.local_supervised("r1", now + 2_000, 10_000).await.unwrap().iter().any(|(c, busy)| c.id == a && !busy));
    let taken = h.store.local_supervised("r2", now + 20_000, 10_000).await.unwrap();
    assert_eq!(taken.len(), 2, "r2 takes the expired leases");

    // Node status: recorded when no operation runs, with the organization to audit.
    let nodes = vec![Node { name: "pg-a-node-1".into(), status: NodeStatus::Live }];
    let step = OperationStep { status: OperationStatus::Succeeded, step: "done".into(), progress: 100, error: None };
    let op = h.store.start_operation(&ctx, a, &NewOperation::new(OperationKind::Resume, serde_json::json!({})), "cluster.resume").await.unwrap();
    let op = op.operation.expect("an operation").id;
    let t = time_to_ms(time::OffsetDateTime::now_utc());
    h.store.claim_operation(op, "me", t, 10_000).await.unwrap().expect("claimable");
    assert_eq!(h.store.local_set_node_status(a, 1, NodeStatus::NotReady).await.unwrap(), None, "nodes still empty, and an operation runs");
    assert!(h.store.advance_operation(op, "me", 10_000, &step, &ClusterPatch { nodes: Some(nodes), ..Default::default() }).await.unwrap());
    assert_eq!(h.store.local_set_node_status(a, 1, NodeStatus::NotReady).await.unwrap(), Some(h.org));
    assert_eq!(h.store.local_set_node_status(a, 1, NodeStatus::NotReady).await.unwrap(), None, "unchanged");
    assert_eq!(h.store.get_cluster(h.org, a).await.unwrap().nodes[0].status, NodeStatus::NotReady);

    h.store.local_forget(a).await.unwrap();
    assert_eq!(h.store.local_load_ca(a).await.unwrap(), None);
}
