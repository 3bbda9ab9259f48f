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

mod basics;
mod changes;
mod counts;
mod local;

use basics::*;
use changes::*;
use counts::*;
use local::*;

fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Harness {
    store: Arc<dyn Store>,
    /// The same store, for bulk synthetic rows.
    seeder: Arc<dyn seed::Seed>,
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
        let store = sqlite::SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        Self::finish(store, Some(dir), None).await
    }

    async fn postgres() -> Self {
        let schema = format!("dbcloud_test_{}", Uuid::new_v4().simple());
        let store = postgres::PgStore::connect(&pg_url(), Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required for the conformance suite (set DBCLOUD_TEST_DATABASE_URL): {e}", pg_url()));
        Self::finish(store, None, Some(schema)).await
    }

    async fn finish(store: impl Store + seed::Seed, dir: Option<tempfile::TempDir>, schema: Option<String>) -> Self {
        let store = Arc::new(store);
        let org = store.bootstrap("test", &owner_key()).await.unwrap().expect("fresh store bootstraps");
        Harness { store: store.clone(), seeder: store, org, _dir: dir, schema }
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
    project_and_cloud_counts_follow_clusters,
    numbered_pages_of_projects_and_clouds,
    children_pages_by_name,
);
