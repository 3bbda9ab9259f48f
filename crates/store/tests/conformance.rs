//! The store conformance suite: every test runs against SQLite (a fresh file) and against
//! PostgreSQL (a fresh schema on the server named by `DBCLOUD_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A PostgreSQL that does not answer fails
//! the suite; it is never skipped.

use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_core::{Error, time_to_ms};
use dbcloud_store::*;
use dbcloud_types::*;
use std::sync::Arc;
use uuid::Uuid;

fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Harness {
    store: Arc<dyn Store>,
    org: Uuid,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

fn owner_key() -> NewApiKey {
    let k = NewKey::generate();
    NewApiKey {
        access_key: k.access_key,
        name: "owner".into(),
        description: String::new(),
        secret_hash: k.secret_hash,
        grants: vec![Grant { role: Role::OrganizationOwner, scope: Scope::Organization }],
        allowed_cidrs: vec![],
        expires_at: None,
        secret_enc: None,
        owner: KeyOwner::Key,
        rate_limit: None,
    }
}

impl Harness {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(sqlite::SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        Self::finish(store, Some(dir), None).await
    }

    async fn postgres() -> Self {
        let schema = format!("dbcloud_test_{}", Uuid::new_v4().simple());
        let store = postgres::PgStore::connect(&pg_url(), Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required for the conformance suite (set DBCLOUD_TEST_DATABASE_URL): {e}", pg_url()));
        Self::finish(Arc::new(store), None, Some(schema)).await
    }

    async fn finish(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>, schema: Option<String>) -> Self {
        let org = store.bootstrap("test", &owner_key()).await.unwrap().expect("fresh store bootstraps");
        Harness { store, org, _dir: dir, schema }
    }

    fn ctx(&self) -> Ctx {
        Ctx { organization_id: self.org, actor: "dbc_test".into(), request_id: "req-1".into(), source_ip: "127.0.0.1".into(), idempotency: None }
    }

    async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&pool).await.unwrap();
        }
    }

    async fn cloud(&self, name: &str) -> Cloud {
        let new = NewCloud { name: name.into(), provider: Provider::Aws, region: "us-east-1".into(), vpc_cidr: "10.0.0.0/16".into() };
        self.store.create_cloud(&self.ctx(), &new).await.unwrap()
    }

    async fn cluster(&self, name: &str, cloud: Uuid, project: Option<Uuid>) -> ClusterChange {
        let new = new_cluster(name, CloudRef::Id(cloud), project);
        self.store.create_cluster(&self.ctx(), &new, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await.unwrap()
    }

    /// Drives every running operation of `cluster` to its end, as the runner would.
    async fn finish_ops(&self, cluster: Uuid, state: ClusterState) {
        let ops = self.store.list_operations(self.org, cluster, PageReq::first(100)).await.unwrap();
        for op in ops.items.iter().filter(|o| o.status.is_active()) {
            let now = time_to_ms(time::OffsetDateTime::now_utc());
            self.store.claim_operation(op.id, "me", now, 10_000).await.unwrap().expect("claimable");
            let step = OperationStep { status: OperationStatus::Succeeded, step: "done".into(), progress: 100, error: None };
            let patch = ClusterPatch { state: Some(state), ..Default::default() };
            assert!(self.store.advance_operation(op.id, "me", 10_000, &step, &patch).await.unwrap());
        }
    }
}

fn new_cluster(name: &str, cloud: CloudRef, project: Option<Uuid>) -> NewCluster {
    NewCluster {
        attributes: Default::default(),
        allowlist: vec![],
        id: dbcloud_core::new_id(),
        project_id: project,
        cloud,
        name: name.into(),
        plan: Plan::Dedicated,
        version: "7.6.2".into(),
        node_count: 3,
        node_size: None,
        spend_limit: None,
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[tokio::test] async fn $name() { let h = super::Harness::sqlite().await; super::$name(&h).await; h.cleanup().await; } )*
        }
        mod postgres_backend {
            $( #[tokio::test] async fn $name() { let h = super::Harness::postgres().await; super::$name(&h).await; h.cleanup().await; } )*
        }
    };
}

conformance!(
    bootstrap_happens_once,
    projects_crud_and_unique_names,
    clouds_crud_and_guarded_delete,
    cluster_create_defaults_and_cloud_by_region,
    cluster_names_unique_among_live_clusters,
    list_clusters_filters_and_cursor_pages,
    one_operation_per_cluster,
    leases_are_exclusive_and_expire,
    delete_flow_keeps_deleted_cluster_readable,
    buckets_users_allowlist,
    idempotency_record_written_with_create,
    audit_events_written_with_changes,
    other_organizations_see_nothing,
    node_operations_change_version_and_attributes,
    allowlist_replaced_atomically,
    buckets_updated_all_or_none,
    organization_update_and_audit_paging,
    vendor_attributes_renames_and_batch_reads,
    counts_visibility_and_page_numbers,
    delete_supersedes_the_running_operation,
    rate_reservations_never_pass_the_limit,
    local_ports_cas_desired_state_and_supervision,
);

async fn bootstrap_happens_once(h: &Harness) {
    assert!(h.store.bootstrap("again", &owner_key()).await.unwrap().is_none());
    let org = h.store.get_organization(h.org).await.unwrap();
    assert_eq!(org.name, "test");
    let p = h.store.default_project(h.org).await.unwrap();
    assert_eq!(p.name, "default");
}

async fn projects_crud_and_unique_names(h: &Harness) {
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

async fn clouds_crud_and_guarded_delete(h: &Harness) {
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

async fn cluster_create_defaults_and_cloud_by_region(h: &Harness) {
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

async fn cluster_names_unique_among_live_clusters(h: &Harness) {
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

async fn list_clusters_filters_and_cursor_pages(h: &Harness) {
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

async fn one_operation_per_cluster(h: &Harness) {
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

async fn leases_are_exclusive_and_expire(h: &Harness) {
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

async fn delete_flow_keeps_deleted_cluster_readable(h: &Harness) {
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

async fn buckets_users_allowlist(h: &Harness) {
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

async fn idempotency_record_written_with_create(h: &Harness) {
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

async fn audit_events_written_with_changes(h: &Harness) {
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

async fn other_organizations_see_nothing(h: &Harness) {
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

/// Claims `op` and records one final step with `patch`.
async fn finish_with(h: &Harness, op: Uuid, patch: ClusterPatch) {
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    h.store.claim_operation(op, "me", now, 10_000).await.unwrap().expect("claimable");
    let step = OperationStep { status: OperationStatus::Succeeded, step: "done".into(), progress: 100, error: None };
    assert!(h.store.advance_operation(op, "me", 10_000, &step, &patch).await.unwrap());
}

async fn node_operations_change_version_and_attributes(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("ops", cloud.id, None).await;
    let id = k.cluster.id;
    // Not idle while CREATING: refused, nothing written.
    let up = NewOperation::new(OperationKind::Upgrade, serde_json::json!({"version": "7.7.0"}));
    assert!(matches!(h.store.start_operation(&ctx, id, &up, "cluster.upgrade").await, Err(Error::Busy { .. })));
    h.finish_ops(id, ClusterState::Created).await;
    let started = h.store.start_operation(&ctx, id, &up, "cluster.upgrade").await.unwrap();
    assert_eq!(started.cluster.state, ClusterState::Updating);
    assert_eq!(started.operation.as_ref().map(|o| (o.kind, o.status)), Some((OperationKind::Upgrade, OperationStatus::Sent)));
    // A second operation while one runs: refused.
    let again = NewOperation::new(OperationKind::Suspend, serde_json::json!({}));
    assert!(matches!(h.store.start_operation(&ctx, id, &again, "cluster.suspend").await, Err(Error::Busy { .. })));
    finish_with(h, up.id, ClusterPatch { state: Some(ClusterState::Created), version: Some("7.7.0".into()), ..Default::default() }).await;
    let c = h.store.get_cluster(h.org, id).await.unwrap();
    assert_eq!((c.state, c.version.as_str()), (ClusterState::Created, "7.7.0"));
    // Suspend: the attribute is merged by the final step, other attributes stay.
    let mut attrs = serde_json::Map::new();
    attrs.insert("channel".into(), serde_json::json!("stable"));
    h.store.update_cluster(&ctx, id, &ClusterUpdate { attributes: Some(attrs), ..Default::default() }).await.unwrap();
    h.store.start_operation(&ctx, id, &again, "cluster.suspend").await.unwrap();
    let mut flag = serde_json::Map::new();
    flag.insert("suspended".into(), serde_json::json!(true));
    finish_with(h, again.id, ClusterPatch { state: Some(ClusterState::Created), attributes: Some(flag), ..Default::default() }).await;
    let c = h.store.get_cluster(h.org, id).await.unwrap();
    assert_eq!(serde_json::Value::Object(c.attributes), serde_json::json!({"channel": "stable", "suspended": true}));
    let actions: Vec<String> = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "cluster.upgrade" || *a == "cluster.suspend").count(), 2, "{actions:?}");
}

async fn allowlist_replaced_atomically(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("allow", cloud.id, None).await;
    let id = k.cluster.id;
    let entry = |c: &str| NewAllowlistEntry { cidr: c.into(), comment: format!("net {c}"), expires_at: None, attributes: Default::default() };
    h.store.create_allowlist_entry(&ctx, id, &entry("10.0.0.0/8")).await.unwrap();
    // The create operation still runs: a replacement with an operation is refused and the old list stays.
    let op = NewOperation::new(OperationKind::AllowlistUpdate, serde_json::json!({}));
    let busy = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24")], Some(&op)).await;
    assert!(matches!(busy, Err(Error::Busy { .. })), "{busy:?}");
    assert_eq!(allowlist_cidrs(h, id).await, ["10.0.0.0/8"]);
    // A duplicate network fails the whole replacement.
    let dup = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24"), entry("192.0.2.0/24")], None).await;
    assert!(matches!(dup, Err(Error::AlreadyExists(_))), "{dup:?}");
    assert_eq!(allowlist_cidrs(h, id).await, ["10.0.0.0/8"]);
    h.finish_ops(id, ClusterState::Created).await;
    let (list, op_out) = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24"), entry("2001:db8::/32")], Some(&op)).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(op_out.map(|o| (o.kind, o.status)), Some((OperationKind::AllowlistUpdate, OperationStatus::Sent)));
    assert_eq!(allowlist_cidrs(h, id).await, ["192.0.2.0/24", "2001:db8::/32"]);
    // The cluster's state is untouched by an allow-list operation.
    assert_eq!(h.store.get_cluster(h.org, id).await.unwrap().state, ClusterState::Created);
    h.finish_ops(id, ClusterState::Created).await;
    let (list, _) = h.store.replace_allowlist(&ctx, id, &[], None).await.unwrap();
    assert!(list.is_empty());
    assert!(allowlist_cidrs(h, id).await.is_empty());
    let replaced = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.iter().filter(|e| e.action == "allowlist.replace").count();
    assert_eq!(replaced, 2);
}

async fn buckets_updated_all_or_none(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let id = h.cluster("bkt", cloud.id, None).await.cluster.id;
    for n in ["a", "b"] {
        h.store.create_bucket(&ctx, id, &NewBucket { name: n.into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    }
    let ch = |n: &str, q: Option<i64>, r: Option<i32>| BucketChange { name: n.into(), memory_quota_mb: q, replicas: r };
    let missing = h.store.update_buckets(&ctx, id, &[ch("a", Some(500), None), ch("nope", Some(200), None)]).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let list = h.store.list_buckets(h.org, id, PageReq::first(10)).await.unwrap().items;
    assert!(list.iter().all(|b| b.memory_quota_mb == 100), "nothing changed: {list:?}");
    let out = h.store.update_buckets(&ctx, id, &[ch("b", None, Some(2)), ch("a", Some(300), None)]).await.unwrap();
    assert_eq!(out.iter().map(|b| (b.name.as_str(), b.memory_quota_mb, b.replicas)).collect::<Vec<_>>(), [("b", 100, 2), ("a", 300, 1)]);
    let updates = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.iter().filter(|e| e.action == "bucket.update").count();
    assert_eq!(updates, 2);
    let mut foreign = h.ctx();
    foreign.organization_id = Uuid::now_v7();
    assert!(matches!(h.store.update_buckets(&foreign, id, &[ch("a", Some(1), None)]).await, Err(Error::NotFound(_))));
}

async fn organization_update_and_audit_paging(h: &Harness) {
    let ctx = h.ctx();
    let mut attrs = serde_json::Map::new();
    attrs.insert("plan_type".into(), serde_json::json!(5));
    attrs.insert("email".into(), serde_json::json!("ops@example.com"));
    let o = h.store.update_organization(&ctx, Some("renamed"), Some(&attrs)).await.unwrap();
    assert_eq!(o.name, "renamed");
    let mut clear = serde_json::Map::new();
    clear.insert("email".into(), serde_json::Value::Null);
    let o = h.store.update_organization(&ctx, None, Some(&clear)).await.unwrap();
    assert_eq!((o.name.as_str(), serde_json::Value::Object(o.attributes.clone())), ("renamed", serde_json::json!({"plan_type": 5})));
    assert_eq!(h.store.get_organization(h.org).await.unwrap(), o);
    // Newest-first pages with a `before` cursor end with an empty page.
    for i in 0..5 {
        h.store.create_project(&ctx, &format!("p{i}"), "").await.unwrap();
    }
    let all = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    let mut seen = vec![];
    let mut filter = AuditFilter { newest_first: true, ..Default::default() };
    loop {
        let page = h.store.list_audit_filtered(h.org, &filter, PageReq::first(3)).await.unwrap().items;
        if page.is_empty() {
            break;
        }
        filter.before = page.last().map(|e| e.id);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let mut expected: Vec<Uuid> = all.iter().map(|e| e.id).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let one = AuditFilter { id: Some(expected[0]), ..Default::default() };
    assert_eq!(h.store.list_audit_filtered(h.org, &one, PageReq::first(5)).await.unwrap().items.len(), 1);
    let p = h.store.create_project(&ctx, "target_%", "").await.unwrap();
    let by_target = AuditFilter { target_prefix: Some(format!("project:{}", p.id)), ..Default::default() };
    assert_eq!(h.store.list_audit_filtered(h.org, &by_target, PageReq::first(5)).await.unwrap().items.len(), 1);
    let none = AuditFilter { target_prefix: Some("project:%".into()), ..Default::default() };
    assert!(h.store.list_audit_filtered(h.org, &none, PageReq::first(5)).await.unwrap().items.is_empty());
}

async fn vendor_attributes_renames_and_batch_reads(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let a = h.cluster("attr-a", cloud.id, None).await.cluster.id;
    let b = h.cluster("attr-b", cloud.id, None).await.cluster.id;
    let lonely = h.cluster("attr-c", cloud.id, None).await.cluster.id;
    // Cluster attributes merge; null removes a key.
    let set = |v: serde_json::Value| ClusterUpdate { attributes: v.as_object().cloned(), ..Default::default() };
    h.store.update_cluster(&ctx, a, &set(serde_json::json!({"labels": {"x": "1"}, "tier": "gold"}))).await.unwrap();
    let c = h.store.update_cluster(&ctx, a, &set(serde_json::json!({"tier": null, "delete_protection": "ENABLED"}))).await.unwrap().cluster;
    assert_eq!(serde_json::Value::Object(c.attributes.clone()), serde_json::json!({"labels": {"x": "1"}, "delete_protection": "ENABLED"}));
    assert_eq!(h.store.get_cluster(h.org, a).await.unwrap().attributes, c.attributes, "stored");
    // Bucket rename: unique per cluster, audited.
    let b1 = h.store.create_bucket(&ctx, a, &NewBucket { name: "one".into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    h.store.create_bucket(&ctx, a, &NewBucket { name: "two".into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    assert!(matches!(h.store.rename_bucket(&ctx, a, b1.id, "two").await, Err(Error::AlreadyExists(_))));
    assert_eq!(h.store.rename_bucket(&ctx, a, b1.id, "uno").await.unwrap().name, "uno");
    assert!(matches!(h.store.rename_bucket(&ctx, a, Uuid::nil(), "x").await, Err(Error::NotFound(_))));
    // Allow-list entry attributes and comment.
    let attrs = serde_json::json!({"ui": false, "sql": true}).as_object().cloned().unwrap();
    let e = h
        .store
        .create_allowlist_entry(&ctx, b, &NewAllowlistEntry { cidr: "10.0.0.0/8".into(), comment: "n".into(), expires_at: None, attributes: attrs.clone() })
        .await
        .unwrap();
    let listed = h.store.list_allowlist(h.org, b, PageReq::first(10)).await.unwrap().items;
    assert_eq!(listed[0].attributes, attrs);
    let flipped = serde_json::json!({"ui": true, "sql": true}).as_object().cloned().unwrap();
    let e2 = h.store.set_allowlist_entry(&ctx, b, e.id, Some("renamed"), Some(&flipped)).await.unwrap();
    assert_eq!((e2.comment.as_str(), &e2.attributes), ("renamed", &flipped));
    // Batch reads: the newest operation per cluster and every allow list, in one call each.
    let newest = h.store.latest_operations(h.org, &[a, b, lonely]).await.unwrap();
    assert_eq!(newest.len(), 3);
    assert!(newest.iter().all(|o| o.kind == OperationKind::Create));
    let lists = h.store.allowlists_of(h.org, &[a, b]).await.unwrap();
    assert_eq!(lists.iter().map(|e| (e.cluster_id, e.cidr.as_str())).collect::<Vec<_>>(), vec![(b, "10.0.0.0/8")]);
    assert!(h.store.latest_operations(h.org, &[]).await.unwrap().is_empty());
    assert!(h.store.latest_operations(Uuid::nil(), &[a]).await.unwrap().is_empty(), "other organizations see nothing");
    let audit = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    assert!(audit.iter().any(|e| e.action == "bucket.rename") && audit.iter().any(|e| e.action == "allowlist.update"));
    // Lists by name (keyset on name and id), both directions.
    for desc in [false, true] {
        let filter = ClusterFilter { by_name: true, descending: desc, ..Default::default() };
        let (mut names, mut page) = (vec![], PageReq::first(2));
        loop {
            let got = h.store.list_clusters(h.org, &filter, page.clone()).await.unwrap();
            names.extend(got.items.iter().map(|c| c.name.clone()));
            match (got.next_cursor, got.items.last()) {
                (Some(_), Some(last)) => page = PageReq { after: Some(last.id), after_key: Some(last.name.clone()), limit: 2 },
                _ => break,
            }
        }
        let mut want = vec!["attr-a", "attr-b", "attr-c"];
        if desc {
            want.reverse();
        }
        assert_eq!(names, want);
    }
}

async fn allowlist_cidrs(h: &Harness, id: Uuid) -> Vec<String> {
    let mut v: Vec<String> = h.store.list_allowlist(h.org, id, PageReq::first(100)).await.unwrap().items.into_iter().map(|e| e.cidr).collect();
    v.sort();
    v
}

async fn counts_visibility_and_page_numbers(h: &Harness) {
    use dbcloud_core::perms::Visibility;
    let ctx = h.ctx();
    let (c1, c2) = (h.cloud("one").await, h.cloud("two").await);
    let p = h.store.create_project(&ctx, "side", "").await.unwrap();
    let mut ids = vec![];
    for (i, (cloud, project)) in [(c1.id, None), (c1.id, None), (c2.id, Some(p.id)), (c2.id, Some(p.id)), (c1.id, Some(p.id))].into_iter().enumerate() {
        ids.push(h.cluster(&format!("n-{i}"), cloud, project).await.cluster.id);
    }
    let count = |f: ClusterFilter| async move { h.store.count_clusters(h.org, &f).await.unwrap() };
    assert_eq!(count(ClusterFilter::default()).await, 5);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 3);
    assert_eq!(count(ClusterFilter { cloud_id: Some(c1.id), ..Default::default() }).await, 3);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), cloud_id: Some(c2.id), ..Default::default() }).await, 2);
    // Visibility: one project plus one cluster of another project, counted and listed alike.
    let only = Visibility::Only { projects: [p.id].into(), clusters: [ids[0]].into() };
    let f = ClusterFilter { visible: Some(only.clone()), ..Default::default() };
    assert_eq!(count(f.clone()).await, 4);
    let listed = h.store.list_clusters(h.org, &f, PageReq::first(10)).await.unwrap().items;
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[3], ids[4]]);
    let nothing = ClusterFilter { visible: Some(Visibility::Only { projects: Default::default(), clusters: Default::default() }), ..Default::default() };
    assert_eq!(count(nothing.clone()).await, 0);
    assert!(h.store.list_clusters(h.org, &nothing, PageReq::first(10)).await.unwrap().items.is_empty());
    // Page numbers: skip, in either order.
    let second = h.store.list_clusters(h.org, &ClusterFilter { skip: 2, ..Default::default() }, PageReq::first(2)).await.unwrap();
    assert_eq!(second.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[2], ids[3]]);
    assert!(second.next_cursor.is_some());
    let last = h.store.list_clusters(h.org, &ClusterFilter { skip: 4, descending: true, ..Default::default() }, PageReq::first(2)).await.unwrap();
    assert_eq!(last.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[0]]);
    // Counts follow deletes (the maintained counters, and the filtered count alike).
    h.finish_ops(ids[4], ClusterState::Created).await;
    h.store.delete_cluster(&ctx, ids[4], &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(count(ClusterFilter::default()).await, 5, "a deleting cluster still counts");
    h.finish_ops(ids[4], ClusterState::Deleted).await;
    assert_eq!(count(ClusterFilter::default()).await, 4);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 2);
    assert_eq!(count(ClusterFilter { state: Some(ClusterState::Deleted), ..Default::default() }).await, 1);
    assert_eq!(count(ClusterFilter { include_deleted: true, ..Default::default() }).await, 5);
    // Seeded clusters are counted too.
    h.store.seed_clusters(h.org, p.id, c2.id, "seed", 7).await.unwrap();
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 9);
}

async fn delete_supersedes_the_running_operation(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let mut new = new_cluster("busy", CloudRef::Id(cloud.id), None);
    new.allowlist = vec![NewAllowlistEntry { cidr: "0.0.0.0/0".into(), comment: "default".into(), expires_at: None, attributes: Default::default() }];
    let k = h.store.create_cluster(&ctx, &new, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await.unwrap();
    assert_eq!(allowlist_cidrs(h, k.cluster.id).await, vec!["0.0.0.0/0"], "the initial allow list is written with the cluster");
    let create = k.operation.unwrap();
    // A runner holds the create's lease.
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    assert!(h.store.claim_operation(create.id, "runner-a", now, 60_000).await.unwrap().is_some());
    let d = h.store.delete_cluster(&ctx, k.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(d.cluster.state, ClusterState::Deleting);
    let cancelled = h.store.get_operation(h.org, create.id).await.unwrap();
    assert_eq!(cancelled.status, OperationStatus::Cancelled);
    assert!(cancelled.finished_at.is_some() && cancelled.error.as_deref().is_some_and(|e| e.contains("superseded")));
    // The runner's next step of the create is refused and changes nothing.
    let step = OperationStep { status: OperationStatus::Succeeded, step: "ready".into(), progress: 100, error: None };
    let patch = ClusterPatch { state: Some(ClusterState::Created), ..Default::default() };
    assert!(!h.store.advance_operation(create.id, "runner-a", 60_000, &step, &patch).await.unwrap());
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().state, ClusterState::Deleting);
    let audit = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    let del = audit.iter().find(|e| e.action == "cluster.delete").unwrap();
    assert_eq!(del.details["superseded_operations"], 1);
    h.finish_ops(k.cluster.id, ClusterState::Deleted).await;
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().state, ClusterState::Deleted);
}

async fn rate_reservations_never_pass_the_limit(h: &Harness) {
    // 40 concurrent reservations of 3 against a limit of 50: exactly 50 are granted.
    let window = 1_700_000_001_000;
    let calls = (0..40).map(|_| {
        let store = h.store.clone();
        tokio::spawn(async move { store.rate_reserve("key:a", window, 3, 50).await.unwrap() })
    });
    let mut granted = 0;
    for c in calls {
        let (g, count) = c.await.unwrap();
        assert!((0..=3).contains(&g) && count <= 50, "grant {g}, count {count}");
        granted += g;
    }
    assert_eq!(granted, 50, "the grants add up to the limit, never more");
    assert_eq!(h.store.rate_reserve("key:a", window, 3, 50).await.unwrap(), (0, 50), "a spent window grants nothing");
    assert_eq!(h.store.rate_reserve("key:a", window, 0, 50).await.unwrap(), (0, 50), "want 0 reads");
    // A partial grant near the limit; a wish above the limit is cut to it; buckets and windows are separate.
    assert_eq!(h.store.rate_reserve("key:b", window, 7, 10).await.unwrap(), (7, 7));
    assert_eq!(h.store.rate_reserve("key:b", window, 7, 10).await.unwrap(), (3, 10));
    assert_eq!(h.store.rate_reserve("key:c", window, 500, 10).await.unwrap(), (10, 10));
    assert_eq!(h.store.rate_reserve("key:a", window + 1_000, 3, 50).await.unwrap(), (3, 3));
    assert_eq!(h.store.rate_reserve("key:d", window, 0, 50).await.unwrap(), (0, 0), "an unknown window reads 0");
    // A lowered limit grants nothing more once the count is at or over it.
    assert_eq!(h.store.rate_reserve("key:a", window, 1, 20).await.unwrap(), (0, 50));
    // The first reservation of a window starting on a ten-second mark sweeps older windows.
    let later = window - 1_000 + 60_000;
    assert_eq!(later % 10_000, 0);
    assert_eq!(h.store.rate_reserve("key:e", later, 1, 5).await.unwrap(), (1, 1));
    assert_eq!(h.store.rate_reserve("key:a", window, 0, 50).await.unwrap(), (0, 0), "swept");
    assert_eq!(h.store.rate_reserve("key:e", later, 0, 5).await.unwrap(), (0, 1), "the current window stays");
}

async fn local_ports_cas_desired_state_and_supervision(h: &Harness) {
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
