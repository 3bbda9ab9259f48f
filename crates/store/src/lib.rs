#![forbid(unsafe_code)]
// The query files (`common.rs`, `*_impl.rs`) are compiled once per backend on purpose: the
// same SQL against `sqlx::Sqlite` and `sqlx::Postgres` without `sqlx::Any`.
#![allow(clippy::duplicate_mod)]
//! Persistence for dbcloud: the [`Store`] trait and its two implementations, SQLite (the
//! embedded default, WAL) and PostgreSQL (the scale-out backend shared by replicas).
//!
//! Both implementations compile the same query code against their own driver: `rows.rs`
//! (SELECT lists and row mapping), `common.rs`
//! (row mapping, audit, transactions, the `Store` impl that delegates), `org_impl.rs`
//! (organization, projects, clouds), `clusters_impl.rs`, `children_impl.rs` (buckets,
//! database users, allow lists), `operations_impl.rs` (operations, audit log),
//! `identity_impl.rs`, `sessions_impl.rs`; only connection set-up and migrations differ. Every mutation writes its audit
//! event, and its idempotency record when the request carried an `Idempotency-Key`, in
//! the same transaction as the change itself.
//!
//! Benchmarks and tests fill a store with many synthetic rows through `seed::Seed`
//! (`seed.rs`; `seed_impl.rs` per backend), implemented by [`sqlite::SqliteStore`] and
//! [`postgres::PgStore`] but not part of the [`Store`] trait, and compiled only with the
//! cargo feature `seed`, which the crates that seed enable in their dev-dependencies (so
//! `dbcloud serve` does not contain it). They keep the concrete store they opened as both an
//! `Arc<dyn Store>` and an `Arc<dyn Seed>`.

pub mod local;
pub mod postgres;
pub mod records;
#[cfg(feature = "seed")]
pub mod seed;
pub mod sessions;
pub mod sqlite;

use async_trait::async_trait;
use dbcloud_core::Result;
use dbcloud_types::*;
use std::sync::Arc;
use uuid::Uuid;

pub use local::{LocalDesired, LocalNodeStatus, LocalStore, LocalUser};
pub use records::*;
pub use sessions::{LoginCandidate, NewSession, SessionRecord, SessionStore};

/// Identity and access: keys, service accounts, users, grants, rate counters, replay guard.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Lists API keys of an organization (optionally of one owner).
    async fn list_api_keys(&self, org: Uuid, owner: Option<KeyOwner>, page: PageReq) -> Result<Page<ApiKeyRecord>>;
    /// An API key of the organization.
    async fn get_api_key(&self, org: Uuid, access_key: &str) -> Result<ApiKeyRecord>;
    /// Renames / describes a key or changes its rate limit.
    async fn update_api_key(&self, ctx: &Ctx, access_key: &str, name: Option<&str>, description: Option<&str>, rate_limit: Option<i64>)
    -> Result<ApiKeyRecord>;
    /// Replaces a key's secret; the old one stays valid until `prev_valid_until` (if any).
    async fn rotate_api_key(
        &self,
        ctx: &Ctx,
        access_key: &str,
        secret_hash: &str,
        secret_enc: Option<&str>,
        prev_valid_until: Option<time::OffsetDateTime>,
    ) -> Result<ApiKeyRecord>;
    /// Revokes a key: every later call with it fails.
    async fn revoke_api_key(&self, ctx: &Ctx, access_key: &str) -> Result<ApiKeyRecord>;
    /// Records a successful use (time and address).
    async fn touch_api_key(&self, access_key: &str, at: time::OffsetDateTime, ip: &str) -> Result<()>;
    /// Sets the organization's default rate limit.
    async fn set_org_rate_limit(&self, ctx: &Ctx, limit: Option<i64>) -> Result<Organization>;
    /// Renames the context's organization and/or merges vendor attributes into it (a `null`
    /// value removes the key), with its audit event, in one transaction.
    async fn update_organization(&self, ctx: &Ctx, name: Option<&str>, attributes: Option<&serde_json::Map<String, serde_json::Value>>)
    -> Result<Organization>;

    /// Creates a service account with grants.
    async fn create_service_account(&self, ctx: &Ctx, name: &str, description: &str, grants: &[dbcloud_core::perms::Grant]) -> Result<ServiceAccount>;
    /// Lists service accounts.
    async fn list_service_accounts(&self, org: Uuid, page: PageReq) -> Result<Page<ServiceAccount>>;
    /// A service account.
    async fn get_service_account(&self, org: Uuid, id: Uuid) -> Result<ServiceAccount>;
    /// Renames / describes a service account.
    async fn update_service_account(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<ServiceAccount>;
    /// Deletes a service account, its grants, and revokes its keys.
    async fn delete_service_account(&self, ctx: &Ctx, id: Uuid) -> Result<()>;

    /// Creates a user with grants.
    async fn create_user(&self, ctx: &Ctx, email: &str, name: &str, grants: &[dbcloud_core::perms::Grant]) -> Result<User>;
    /// Lists users.
    async fn list_users(&self, org: Uuid, page: PageReq) -> Result<Page<User>>;
    /// A user.
    async fn get_user(&self, org: Uuid, id: Uuid) -> Result<User>;
    /// Deletes a user, their grants, and revokes their keys.
    async fn delete_user(&self, ctx: &Ctx, id: Uuid) -> Result<()>;

    /// Grants a role.
    async fn create_grant(&self, ctx: &Ctx, principal: &PrincipalRef, grant: &dbcloud_core::perms::Grant) -> Result<RoleGrant>;
    /// Removes a grant; returns it.
    async fn delete_grant(&self, ctx: &Ctx, id: Uuid) -> Result<RoleGrant>;
    /// A grant.
    async fn get_grant(&self, org: Uuid, id: Uuid) -> Result<RoleGrant>;
    /// Lists grants (optionally of one principal).
    async fn list_grants(&self, org: Uuid, principal: Option<&PrincipalRef>, page: PageReq) -> Result<Page<RoleGrant>>;

    /// Records the signature of a non-idempotent signed request; `false` if it was seen
    /// before (a replay). Entries are kept until `expires_at`.
    async fn use_signature(&self, access_key: &str, signature: &str, now: time::OffsetDateTime, expires_at: time::OffsetDateTime) -> Result<bool>;
    /// Reserves up to `want` requests of the fixed window of `bucket` that starts at
    /// `window_start_ms`, never letting the window's count pass `limit`: one atomic
    /// conditional upsert, so replicas sharing the store together never get more than
    /// `limit` per window. Returns `(granted, count)`: what this call was given (0 once the
    /// window is spent) and the window's count after it. `want` 0 only reads the count.
    async fn rate_reserve(&self, bucket: &str, window_start_ms: i64, want: i64, limit: i64) -> Result<(i64, i64)>;
    /// Lists audit events with filters, oldest first.
    async fn list_audit_filtered(&self, org: Uuid, filter: &AuditFilter, page: PageReq) -> Result<Page<AuditEvent>>;
}

/// Everything dbcloud persists. Implementations must be safe to share between replicas:
/// nothing that correctness depends on may live only in one process.
#[async_trait]
pub trait Store: IdentityStore + SessionStore + LocalStore + LocalNodeStatus {
    /// Name of the backend (`sqlite` or `postgres`).
    fn backend(&self) -> &'static str;
    /// Checks the database answers.
    async fn ping(&self) -> Result<()>;

    /// Creates the first organization, its default project and its owner key, if the
    /// store holds no organization yet. Returns the organization id, or `None` when the
    /// store was already bootstrapped (then nothing is written).
    async fn bootstrap(&self, org_name: &str, key: &NewApiKey) -> Result<Option<Uuid>>;
    /// An organization by id.
    async fn get_organization(&self, id: Uuid) -> Result<Organization>;
    /// Stores a new API key of the context's organization.
    async fn create_api_key(&self, ctx: &Ctx, key: &NewApiKey) -> Result<()>;
    /// Looks up an API key by access key id.
    async fn find_api_key(&self, access_key: &str) -> Result<Option<ApiKeyRecord>>;

    /// A stored response for an `Idempotency-Key`, if one was recorded.
    async fn idempotent_response(&self, org: Uuid, principal: &str, key: &str) -> Result<Option<StoredResponse>>;

    /// Creates a project.
    async fn create_project(&self, ctx: &Ctx, name: &str, description: &str) -> Result<Project>;
    /// Lists projects.
    async fn list_projects(&self, org: Uuid, page: PageReq) -> Result<Page<Project>>;
    /// One numbered page of projects and how many there are in all (both only `page.only` when given).
    async fn page_projects(&self, org: Uuid, page: &NumberedPage) -> Result<(u64, Vec<Project>)>;
    /// A project by id.
    async fn get_project(&self, org: Uuid, id: Uuid) -> Result<Project>;
    /// Changes a project's name and/or description.
    async fn update_project(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<Project>;
    /// Deletes a project without live clusters (its deleted clusters' records go with it).
    async fn delete_project(&self, ctx: &Ctx, id: Uuid) -> Result<()>;
    /// The organization's default project.
    async fn default_project(&self, org: Uuid) -> Result<Project>;

    /// Creates a cloud.
    async fn create_cloud(&self, ctx: &Ctx, new: &NewCloud) -> Result<Cloud>;
    /// Lists clouds, optionally of one provider.
    async fn list_clouds(&self, org: Uuid, provider: Option<Provider>, page: PageReq) -> Result<Page<Cloud>>;
    /// One numbered page of clouds and how many there are in all (both only `page.only` when given).
    async fn page_clouds(&self, org: Uuid, page: &NumberedPage) -> Result<(u64, Vec<Cloud>)>;
    /// A cloud by id.
    async fn get_cloud(&self, org: Uuid, id: Uuid) -> Result<Cloud>;
    /// Renames a cloud or changes its network (the latter only while it has no clusters).
    async fn update_cloud(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, vpc_cidr: Option<&str>) -> Result<Cloud>;
    /// Deletes a cloud without live clusters.
    async fn delete_cloud(&self, ctx: &Ctx, id: Uuid) -> Result<()>;

    /// Creates a cluster (state CREATING) and its create operation, atomically.
    async fn create_cluster(&self, ctx: &Ctx, new: &NewCluster, op: &NewOperation) -> Result<ClusterChange>;
    /// Lists clusters with filters, by id order.
    async fn list_clusters(&self, org: Uuid, filter: &ClusterFilter, page: PageReq) -> Result<Page<Cluster>>;
    /// How many clusters `list_clusters` would list with `filter` (all pages). Without a
    /// state or name filter this reads maintained per-project counts, not the clusters.
    async fn count_clusters(&self, org: Uuid, filter: &ClusterFilter) -> Result<u64>;
    /// A cluster by id (deleted clusters stay readable).
    async fn get_cluster(&self, org: Uuid, id: Uuid) -> Result<Cluster>;
    /// Applies a checked update: rename, spend limit, and a scale operation when `scale` is given.
    async fn update_cluster(&self, ctx: &Ctx, id: Uuid, change: &ClusterUpdate) -> Result<ClusterChange>;
    /// Starts deleting a cluster: state DELETING and a delete operation.
    async fn delete_cluster(&self, ctx: &Ctx, id: Uuid, op: &NewOperation) -> Result<ClusterChange>;
    /// Starts an operation on an idle cluster (upgrade, suspend, resume): moves the cluster
    /// into the state [`dbcloud_core::cluster::operation_state`] names for the kind, records
    /// the operation (SENT) and the audit event `action`, atomically. A cluster that is not
    /// CREATED or already runs an operation gives `Aborted` and nothing is written.
    async fn start_operation(&self, ctx: &Ctx, id: Uuid, op: &NewOperation, action: &str) -> Result<ClusterChange>;

    /// The newest operation of each of `clusters` (of the organization) that has one — the
    /// running one when one runs. One query, for rendering lists.
    async fn latest_operations(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<Operation>>;
    /// The allow-list entries of each of `clusters` (of the organization), in creation order.
    /// One query, for rendering lists.
    async fn allowlists_of(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<AllowlistEntry>>;

    /// Adds a bucket.
    async fn create_bucket(&self, ctx: &Ctx, cluster: Uuid, new: &NewBucket) -> Result<Bucket>;
    /// Lists a cluster's buckets.
    async fn list_buckets(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Bucket>>;
    /// One page of a cluster's buckets by name, and whether more follow.
    async fn page_buckets_by_name(&self, org: Uuid, cluster: Uuid, page: &NamePage) -> Result<(Vec<Bucket>, bool)>;
    /// Removes a bucket.
    async fn delete_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()>;
    /// Renames a bucket (409 when the cluster has one of that name), audited.
    async fn rename_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, name: &str) -> Result<Bucket>;
    /// Changes an allow-list entry's comment and/or replaces its attributes, audited.
    async fn set_allowlist_entry(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        id: Uuid,
        comment: Option<&str>,
        attributes: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<AllowlistEntry>;
    /// Changes quota and/or replicas of buckets named in `changes`, all or none, with one
    /// `bucket.update` audit event per bucket in the same transaction. An unknown name gives
    /// `NotFound` and nothing changes. Returns the buckets as stored, in the order given.
    async fn update_buckets(&self, ctx: &Ctx, cluster: Uuid, changes: &[BucketChange]) -> Result<Vec<Bucket>>;

    /// Adds a database user.
    async fn create_db_user(&self, ctx: &Ctx, cluster: Uuid, new: &NewDbUser) -> Result<DatabaseUser>;
    /// Lists a cluster's database users.
    async fn list_db_users(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<DatabaseUser>>;
    /// One page of a cluster's database users by name, and whether more follow.
    async fn page_db_users_by_name(&self, org: Uuid, cluster: Uuid, page: &NamePage) -> Result<(Vec<DatabaseUser>, bool)>;
    /// Removes a database user.
    async fn delete_db_user(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()>;
    /// Replaces a database user's password hash.
    async fn set_db_user_password(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, password_hash: &str) -> Result<DatabaseUser>;

    /// Adds an allow-list entry.
    async fn create_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, new: &NewAllowlistEntry) -> Result<AllowlistEntry>;
    /// Lists a cluster's allow list.
    async fn list_allowlist(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<AllowlistEntry>>;
    /// Removes an allow-list entry.
    async fn delete_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()>;
    /// Replaces a cluster's whole allow list with `entries` (empty: none), optionally
    /// recording an operation that applies it, with the `allowlist.replace` audit event, in
    /// one transaction: on any failure (duplicate network, another operation running) the
    /// old list stays. Returns the new list and the operation.
    async fn replace_allowlist(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        entries: &[NewAllowlistEntry],
        op: Option<&NewOperation>,
    ) -> Result<(Vec<AllowlistEntry>, Option<Operation>)>;

    /// Lists a cluster's operations.
    async fn list_operations(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Operation>>;
    /// An operation by id.
    async fn get_operation(&self, org: Uuid, id: Uuid) -> Result<Operation>;

    /// Ids of running operations whose lease is free or expired at `now_ms`.
    async fn claimable_operations(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>>;
    /// Takes the lease of an operation if it is free or expired; returns it with its cluster.
    async fn claim_operation(&self, id: Uuid, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Option<(Operation, Cluster)>>;
    /// Records a step of an operation and the matching cluster change, if `owner` still
    /// holds the lease (which is extended). `false` when the lease was lost.
    async fn advance_operation(&self, id: Uuid, owner: &str, lease_ms: i64, step: &OperationStep, cluster: &ClusterPatch) -> Result<bool>;
    /// Gives up every lease `owner` holds (graceful shutdown), so others resume at once.
    async fn release_leases(&self, owner: &str) -> Result<u64>;

    /// Appends an audit event outside any other change (failed authentication, denials).
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// Lists audit events of an organization, oldest first.
    async fn list_audit(&self, org: Uuid, page: PageReq) -> Result<Page<AuditEvent>>;

    /// Tells other replicas that keys or grants changed, so they drop cached credentials
    /// (PostgreSQL `NOTIFY`; nothing to do for the single-process SQLite store).
    async fn publish_identity_change(&self) -> Result<()>;
    /// Notices of identity changes made by other replicas (PostgreSQL `LISTEN`); `None`
    /// when there can be no other replica. A lost connection also yields a notice.
    async fn identity_changes(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>>;
}

/// Opens the store named by `database_url`: `postgres://…` or `postgresql://…` for
/// PostgreSQL, `sqlite://PATH` or a bare path for SQLite. Applies migrations.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(database_url, None).await?))
    } else {
        let path = database_url.strip_prefix("sqlite://").unwrap_or(database_url);
        Ok(Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path)).await?))
    }
}
