//! Conformance: bootstrap, projects, clouds, cluster creation and lists, operations and leases, children, idempotency, audit, tenancy.

use super::*;

pub(crate) async fn bootstrap_happens_once(h: &Harness) {
    assert!(h.store.bootstrap("again", &owner_key()).await.unwrap().is_none());
    let org = h.store.get_organization(h.org).await.unwrap();
    assert_eq!(org.name, "test");
    let p = h.store.default_project(h.org).await.unwrap();
    assert_eq!(p.name, "default");
}

pub(crate) async fn projects_crud_and_unique_names(h: &Harness) {
    let ctx = h.ctx();
    let p = h.store.create_project(&ctx, "alpha", "first").await.unwrap();
    assert!(matches!(h.store.create_project(&ctx, "alpha", "").await, Err(Error::AlreadyExists(_))));
    let got = h.store.get_project(h.org, p.id).await.unwrap();
    assert_eq!((got.name.as_str(), got.description.as_str(), got.cluster_count), ("alpha", "first", 0));
    let up = h.store.update_project(&ctx, p.id, Some("beta"), None).await.unwrap();
    assert_eq!((up.name.as_str(), up.description.as_str()), ("beta", "first"));
    let list = h.store.list_projects(h.org, PageReq::first(10)).await.unwrap();
    assert_eq!(list.items.len(), 2, "default + beta");
    h.store.delete_project(&ctx, p.id).await.unwrap();
    assert!(matches!(h.store.get_project(h.org, p.id).await, Err(Error::NotFound(_))));
    let default = h.store.default_project(h.org).await.unwrap();
    assert!(matches!(h.store.delete_project(&ctx, default.id).await, Err(Error::FailedPrecondition(_))));
    assert!(matches!(h.store.update_project(&ctx, Uuid::now_v7(), Some("x"), None).await, Err(Error::NotFound(_))));
}

pub(crate) async fn clouds_crud_and_guarded_delete(h: &Harness) {
    let ctx = h.ctx();
    let c = h.cloud("east").await;
    assert_eq!(h.store.get_cloud(h.org, c.id).await.unwrap(), c);
    let dup = NewCloud { name: "east".into(), provider: Provider::Gcp, region: "us-east1".into(), vpc_cidr: "10.0.0.0/16".into() };
    assert!(matches!(h.store.create_cloud(&ctx, &dup).await, Err(Error::AlreadyExists(_))));
    let gcp = NewCloud { name: "g".into(), ..dup };
    h.store.create_cloud(&ctx, &gcp).await.unwrap();
    let only_gcp = h.store.list_clouds(h.org, Some(Provider::Gcp), PageReq::first(10)).await.unwrap();
    assert_eq!(only_gcp.items.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["g"]);
    let k = h.cluster("in-east", c.id, None).await;
    assert_eq!(h.store.get_cloud(h.org, c.id).await.unwrap().cluster_count, 1);
    assert!(matches!(h.store.delete_cloud(&ctx, c.id).await, Err(Error::FailedPrecondition(_))));
    assert!(matches!(h.store.update_cloud(&ctx, c.id, None, Some("10.9.0.0/16")).await, Err(Error::FailedPrecondition(_))));
    let renamed = h.store.update_cloud(&ctx, c.id, Some("east-2"), None).await.unwrap();
    assert_eq!(renamed.name, "east-2");
    h.finish_ops(k.cluster.id, ClusterState::Created).await;
    h.store.delete_cluster(&ctx, k.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    h.finish_ops(k.cluster.id, ClusterState::Deleted).await;
    h.store.delete_cloud(&ctx, c.id).await.unwrap();
    assert!(matches!(h.store.get_cloud(h.org, c.id).await, Err(Error::NotFound(_))));
}

pub(crate) async fn cluster_create_defaults_and_cloud_by_region(h: &Harness) {
    let ctx = h.ctx();
    let op = NewOperation::new(OperationKind::Create, serde_json::json!({"node_count": 3}));
    let new = new_cluster("by-region", CloudRef::ProviderRegion(Provider::Gcp, "europe-west1".into()), None);
    let change = h.store.create_cluster(&ctx, &new, &op).await.unwrap();
    let c = &change.cluster;
    assert_eq!(c.state, ClusterState::Creating);
    assert_eq!(c.project_id, h.store.default_project(h.org).await.unwrap().id);
    assert_eq!(c.node_size, "n2-standard-4", "provider default size");
    let op = change.operation.expect("create operation");
    assert_eq!((op.status, op.kind, op.cluster_id), (OperationStatus::Sent, OperationKind::Create, c.id));
    let cloud = h.store.get_cloud(h.org, c.cloud_id).await.unwrap();
    assert_eq!((cloud.provider, cloud.region.as_str()), (Provider::Gcp, "europe-west1"));
    // A second cluster in the same provider and region reuses the cloud.
    let again = new_cluster("by-region-2", CloudRef::ProviderRegion(Provider::Gcp, "europe-west1".into()), None);
    let c2 = h.store.create_cluster(&ctx, &again, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await.unwrap();
    assert_eq!(c2.cluster.cloud_id, c.cloud_id);
    let bad = new_cluster("bad-region", CloudRef::ProviderRegion(Provider::Gcp, "us-east-1".into()), None);
    let err = h.store.create_cluster(&ctx, &bad, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await;
    assert!(matches!(err, Err(Error::InvalidArgument { .. })));
    let missing = new_cluster("no-cloud", CloudRef::Id(Uuid::now_v7()), None);
    let err = h.store.create_cluster(&ctx, &missing, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await;
    assert!(matches!(err, Err(Error::InvalidArgument { .. })), "{err:?}");
    assert!(matches!(h.store.get_cluster(h.org, missing.id).await, Err(Error::NotFound(_))), "nothing half-written");
}

pub(crate) async fn cluster_names_unique_among_live_clusters(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let first = h.cluster("same", cloud.id, None).await;
    let dup = new_cluster("same", CloudRef::Id(cloud.id), None);
    let err = h.store.create_cluster(&ctx, &dup, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await;
    assert!(matches!(err, Err(Error::AlreadyExists(_))), "{err:?}");
    h.finish_ops(first.cluster.id, ClusterState::Created).await;
    h.store.delete_cluster(&ctx, first.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    h.finish_ops(first.cluster.id, ClusterState::Deleted).await;
    h.cluster("same", cloud.id, None).await;
}

pub(crate) async fn list_clusters_filters_and_cursor_pages(h: &Harness) {
    let ctx = h.ctx();
    let a = h.cloud("a").await;
    let b = h.cloud("b").await;
    let p = h.store.create_project(&ctx, "p", "").await.unwrap();
    for i in 0..7 {
        let (cloud, project) = if i % 2 == 0 { (a.id, None) } else { (b.id, Some(p.id)) };
        h.cluster(&format!("k-{i}"), cloud, project).await;
    }
    let all = h.store.list_clusters(h.org, &ClusterFilter::default(), PageReq::first(100)).await.unwrap();
    assert_eq!(all.items.len(), 7);
    assert!(all.next_cursor.is_none());
    let names: Vec<_> = all.items.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, (0..7).map(|i| format!("k-{i}")).collect::<Vec<_>>(), "creation order");
    // Pages of 3 walk the same list with no gaps or repeats.
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = h.store.list_clusters(h.org, &ClusterFilter::default(), PageReq { after, after_key: None, limit: 3 }).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|c| c.name.clone()));
        match page.next_cursor {
            Some(c) => after = Some(dbcloud_core::cursor::decode(&c).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, names);
    let in_b = h.store.list_clusters(h.org, &ClusterFilter { cloud_id: Some(b.id), ..Default::default() }, PageReq::first(100)).await.unwrap();
    assert_eq!(in_b.items.len(), 3);
    let in_p = h.store.list_clusters(h.org, &ClusterFilter { project_id: Some(p.id), ..Default::default() }, PageReq::first(100)).await.unwrap();
    assert!(in_p.items.iter().all(|c| c.project_id == p.id) && in_p.items.len() == 3);
    let named = h.store.list_clusters(h.org, &ClusterFilter { name: Some("k-4".into()), ..Default::default() }, PageReq::first(100)).await.unwrap();
    assert_eq!(named.items.len(), 1);
    let created = ClusterFilter { state: Some(ClusterState::Created), ..Default::default() };
    assert!(h.store.list_clusters(h.org, &created, PageReq::first(100)).await.unwrap().items.is_empty());
    assert_eq!(h.store.get_project(h.org, p.id).await.unwrap().cluster_count, 3);
}

pub(crate) async fn one_operation_per_cluster(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("busy", cloud.id, None).await;
    // While CREATING, a scale may not start (a delete may: it supersedes the create, see
    // `delete_supersedes_the_running_operation`).
    let scale = ClusterUpdate { scale: Some(NewOperation::new(OperationKind::Scale, serde_json::json!({"node_count": 5}))), ..Default::default() };
    assert!(matches!(h.store.update_cluster(&ctx, k.cluster.id, &scale).await, Err(Error::Busy { .. })));
    h.finish_ops(k.cluster.id, ClusterState::Created).await;
    let started = h.store.update_cluster(&ctx, k.cluster.id, &scale).await.unwrap();
    assert_eq!(started.cluster.state, ClusterState::Scaling);
    let again = ClusterUpdate { scale: Some(NewOperation::new(OperationKind::Scale, serde_json::json!({"node_count": 4}))), ..Default::default() };
    assert!(matches!(h.store.update_cluster(&ctx, k.cluster.id, &again).await, Err(Error::Busy { .. })));
    // A rename alone needs no operation and is fine meanwhile.
    let renamed = h.store.update_cluster(&ctx, k.cluster.id, &ClusterUpdate { name: Some("busy-2".into()), ..Default::default() }).await.unwrap();
    assert_eq!(renamed.cluster.name, "busy-2");
    let ops = h.store.list_operations(h.org, k.cluster.id, PageReq::first(10)).await.unwrap();
    assert_eq!(ops.items.iter().filter(|o| o.status.is_active()).count(), 1);
}

pub(crate) async fn leases_are_exclusive_and_expire(h: &Harness) {
    let cloud = h.cloud("c").await;
    let k = h.cluster("leased", cloud.id, None).await;
    let op = k.operation.unwrap().id;
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    assert_eq!(h.store.claimable_operations(now, 10).await.unwrap(), vec![op]);
    let (claimed, cluster) = h.store.claim_operation(op, "a", now, 5_000).await.unwrap().expect("free lease");
    assert_eq!((claimed.status, cluster.id), (OperationStatus::InProgress, k.cluster.id));
    assert!(h.store.claim_operation(op, "b", now + 1, 5_000).await.unwrap().is_none(), "held by a");
    assert!(h.store.claimable_operations(now + 1, 10).await.unwrap().is_empty());
    let step = OperationStep { status: OperationStatus::InProgress, step: "node 1".into(), progress: 10, error: None };
    let nodes = vec![Node { name: "leased-node-1".into(), status: NodeStatus::NotReady }];
    let patch = ClusterPatch { nodes: Some(nodes.clone()), ..Default::default() };
    assert!(!h.store.advance_operation(op, "b", 5_000, &step, &patch).await.unwrap(), "b holds no lease");
    assert!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().nodes.is_empty(), "b changed nothing");
    assert!(h.store.advance_operation(op, "a", 5_000, &step, &patch).await.unwrap());
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().nodes, nodes);
    // After the lease expires (a died), b takes over and a is fenced off.
    let later = time_to_ms(time::OffsetDateTime::now_utc()) + 60_000;
    assert_eq!(h.store.claimable_operations(later, 10).await.unwrap(), vec![op]);
    let (resumed, c) = h.store.claim_operation(op, "b", later, 5_000).await.unwrap().expect("expired lease");
    assert_eq!((resumed.step.as_str(), c.nodes.len()), ("node 1", 1), "resumes from the persisted step");
    assert!(!h.store.advance_operation(op, "a", 5_000, &step, &patch).await.unwrap());
    let done = OperationStep { status: OperationStatus::Succeeded, step: "ready".into(), progress: 100, error: None };
    assert!(h.store.advance_operation(op, "b", 5_000, &done, &ClusterPatch { state: Some(ClusterState::Created), ..Default::default() }).await.unwrap());
    let finished = h.store.get_operation(h.org, op).await.unwrap();
    assert!(finished.finished_at.is_some() && finished.status == OperationStatus::Succeeded);
    assert!(h.store.claimable_operations(later, 10).await.unwrap().is_empty());
    // release_leases frees what an owner holds.
    let k2 = h.cluster("leased-2", cloud.id, None).await;
    let op2 = k2.operation.unwrap().id;
    h.store.claim_operation(op2, "c", now, 600_000).await.unwrap().unwrap();
    assert_eq!(h.store.release_leases("c").await.unwrap(), 1);
    assert!(h.store.claim_operation(op2, "d", now + 1, 5_000).await.unwrap().is_some());
}

pub(crate) async fn delete_flow_keeps_deleted_cluster_readable(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("doomed", cloud.id, None).await;
    h.finish_ops(k.cluster.id, ClusterState::Created).await;
    let d = h.store.delete_cluster(&ctx, k.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(d.cluster.state, ClusterState::Deleting);
    assert_eq!(d.operation.unwrap().kind, OperationKind::Delete);
    let again = h.store.delete_cluster(&ctx, k.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await;
    assert!(matches!(again, Err(Error::FailedPrecondition(_))));
    h.finish_ops(k.cluster.id, ClusterState::Deleted).await;
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().state, ClusterState::Deleted);
    let live = h.store.list_clusters(h.org, &ClusterFilter::default(), PageReq::first(10)).await.unwrap();
    assert!(live.items.is_empty(), "deleted clusters are not listed by default");
    let deleted = ClusterFilter { state: Some(ClusterState::Deleted), ..Default::default() };
    assert_eq!(h.store.list_clusters(h.org, &deleted, PageReq::first(10)).await.unwrap().items.len(), 1);
    let b = NewBucket { name: "late".into(), memory_quota_mb: 100, replicas: 1 };
    assert!(matches!(h.store.create_bucket(&ctx, k.cluster.id, &b).await, Err(Error::FailedPrecondition(_))));
}

pub(crate) async fn buckets_users_allowlist(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("kids", cloud.id, None).await.cluster.id;
    let b = h.store.create_bucket(&ctx, k, &NewBucket { name: "travel".into(), memory_quota_mb: 256, replicas: 2 }).await.unwrap();
    let dup = h.store.create_bucket(&ctx, k, &NewBucket { name: "travel".into(), memory_quota_mb: 100, replicas: 1 }).await;
    assert!(matches!(dup, Err(Error::AlreadyExists(_))));
    h.store.create_bucket(&ctx, k, &NewBucket { name: "beer".into(), memory_quota_mb: 100, replicas: 0 }).await.unwrap();
    assert_eq!(h.store.get_cluster(h.org, k).await.unwrap().bucket_count, 2);
    let listed = h.store.list_buckets(h.org, k, PageReq::first(10)).await.unwrap();
    assert_eq!(listed.items[0], b);
    h.store.delete_bucket(&ctx, k, b.id).await.unwrap();
    assert!(matches!(h.store.delete_bucket(&ctx, k, b.id).await, Err(Error::NotFound(_))));
    assert_eq!(h.store.get_cluster(h.org, k).await.unwrap().bucket_count, 1);

    let u = NewDbUser { name: "app".into(), access: Access::ReadWrite, scope: Some("beer".into()), password_hash: "s$h".into() };
    let user = h.store.create_db_user(&ctx, k, &u).await.unwrap();
    assert!(matches!(h.store.create_db_user(&ctx, k, &u).await, Err(Error::AlreadyExists(_))));
    let changed = h.store.set_db_user_password(&ctx, k, user.id, "s$h2").await.unwrap();
    assert!(changed.password_changed_at >= user.password_changed_at);
    assert_eq!(h.store.list_db_users(h.org, k, PageReq::first(10)).await.unwrap().items.len(), 1);
    h.store.delete_db_user(&ctx, k, user.id).await.unwrap();
    assert!(h.store.list_db_users(h.org, k, PageReq::first(10)).await.unwrap().items.is_empty());

    let expiry = dbcloud_core::now() + time::Duration::days(1);
    let e = NewAllowlistEntry { cidr: "203.0.113.0/24".into(), comment: "office".into(), expires_at: Some(expiry), attributes: Default::default() };
    let entry = h.store.create_allowlist_entry(&ctx, k, &e).await.unwrap();
    assert_eq!(entry.expires_at, Some(expiry));
    assert!(matches!(h.store.create_allowlist_entry(&ctx, k, &e).await, Err(Error::AlreadyExists(_))));
    assert_eq!(h.store.list_allowlist(h.org, k, PageReq::first(10)).await.unwrap().items, vec![entry.clone()]);
    h.store.delete_allowlist_entry(&ctx, k, entry.id).await.unwrap();
    assert!(matches!(h.store.list_allowlist(h.org, Uuid::now_v7(), PageReq::first(10)).await, Err(Error::NotFound(_))));
}

pub(crate) async fn idempotency_record_written_with_create(h: &Harness) {
    let mut ctx = h.ctx();
    ctx.idempotency = Some(IdempotencyKey { principal: "dbc_test".into(), key: "k1".into(), request_hash: "h1".into(), status: 201 });
    let p = h.store.create_project(&ctx, "idem", "").await.unwrap();
    let stored = h.store.idempotent_response(h.org, "dbc_test", "k1").await.unwrap().expect("recorded");
    assert_eq!((stored.status, stored.request_hash.as_str()), (201, "h1"));
    assert_eq!(stored.body["id"], serde_json::json!(p.id));
    // Same key again: the second create is refused as a race and writes nothing.
    let err = h.store.create_project(&ctx, "idem-2", "").await;
    assert!(matches!(&err, Err(Error::Aborted(m)) if m == IDEMPOTENCY_RACE), "{err:?}");
    let names: Vec<_> = h.store.list_projects(h.org, PageReq::first(10)).await.unwrap().items.into_iter().map(|p| p.name).collect();
    assert!(!names.contains(&"idem-2".to_string()), "nothing half-written: {names:?}");
    assert!(h.store.idempotent_response(h.org, "someone-else", "k1").await.unwrap().is_none(), "keys are per principal");
}

pub(crate) async fn audit_events_written_with_changes(h: &Harness) {
    let ctx = h.ctx();
    let p = h.store.create_project(&ctx, "audited", "").await.unwrap();
    h.store.delete_project(&ctx, p.id).await.unwrap();
    let _ = h.store.create_project(&ctx, "audited", "").await.unwrap();
    let events = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["organization.bootstrap", "apikey.create", "project.create", "project.delete", "project.create"]);
    let del = &events[3];
    assert_eq!((del.actor.as_str(), del.request_id.as_str(), del.outcome.as_str()), ("dbc_test", "req-1", "success"));
    assert_eq!(del.target, format!("project:{}", p.id));
    // A failed change leaves no event.
    assert!(h.store.create_project(&ctx, "audited", "").await.is_err());
    assert_eq!(h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.len(), 5);
}

pub(crate) async fn other_organizations_see_nothing(h: &Harness) {
    let cloud = h.cloud("c").await;
    let k = h.cluster("mine", cloud.id, None).await;
    let other = Uuid::now_v7();
    assert!(matches!(h.store.get_cluster(other, k.cluster.id).await, Err(Error::NotFound(_))));
    assert!(matches!(h.store.get_cloud(other, cloud.id).await, Err(Error::NotFound(_))));
    assert!(h.store.list_clusters(other, &ClusterFilter::default(), PageReq::first(10)).await.unwrap().items.is_empty());
    let mut foreign = h.ctx();
    foreign.organization_id = other;
    let b = NewBucket { name: "x".into(), memory_quota_mb: 100, replicas: 1 };
    assert!(matches!(h.store.create_bucket(&foreign, k.cluster.id, &b).await, Err(Error::NotFound(_))));
    assert!(matches!(h.store.get_operation(other, k.operation.unwrap().id).await, Err(Error::NotFound(_))));
}
