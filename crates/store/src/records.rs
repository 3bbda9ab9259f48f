//! Inputs and internal records of the store (the wire types are in `dbcloud-types`).

use dbcloud_core::perms::Grant;
use dbcloud_types::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Who makes a change, for the audit event and idempotency record written with it.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Organization acted in.
    pub organization_id: Uuid,
    /// Actor (access key id, or `system`).
    pub actor: String,
    /// Request id of the HTTP request.
    pub request_id: String,
    /// Source address.
    pub source_ip: String,
    /// The idempotency record to write with a create, if the request carried a key.
    pub idempotency: Option<IdempotencyKey>,
}

/// An `Idempotency-Key` of a create request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// Principal the key belongs to (keys are per caller).
    pub principal: String,
    /// The client's key.
    pub key: String,
    /// Hash of method, path and body, to refuse a reused key with a different request.
    pub request_hash: String,
    /// HTTP status of the original answer.
    pub status: u16,
}

/// A recorded answer to an idempotent create.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// Hash of the original request.
    pub request_hash: String,
    /// HTTP status of the original answer.
    pub status: u16,
    /// Body of the original answer (secrets are never recorded).
    pub body: serde_json::Value,
}

/// Message of the [`dbcloud_core::Error::Aborted`] returned when a concurrent request
/// with the same idempotency key committed first.
pub const IDEMPOTENCY_RACE: &str = "a request with the same Idempotency-Key completed concurrently";

/// The order of a numbered page of projects or clouds; ties (and [`ListOrder::Id`]) go by id.
/// Names compare byte by byte on both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By name.
    Name,
    /// By id.
    Id,
}

/// A page of projects or clouds by number (page-number paging): `limit` items after the
/// first `skip` in `order`.
#[derive(Debug, Clone, Default)]
pub struct NumberedPage {
    /// Sort order.
    pub order: ListOrder,
    /// Reverse the order (ids too).
    pub descending: bool,
    /// Items before the page.
    pub skip: u64,
    /// Page size.
    pub limit: u32,
    /// Only these ids (the projects a caller may read); `None`: all.
    pub only: Option<Vec<Uuid>>,
}

/// A page of a cluster's buckets or database users by name (keyset): those created at or
/// before `as_of`, after `after` in the order (names compare byte by byte on both backends).
#[derive(Debug, Clone)]
pub struct NamePage {
    /// The last name of the previous page.
    pub after: Option<String>,
    /// Reverse name order.
    pub descending: bool,
    /// Snapshot time: children created later are left out.
    pub as_of: time::OffsetDateTime,
    /// Page size.
    pub limit: u32,
}

/// Keyset page request.
#[derive(Debug, Clone)]
pub struct PageReq {
    /// Return items after this id.
    pub after: Option<Uuid>,
    /// Return keys after this access key id (API key lists).
    pub after_key: Option<String>,
    /// Page size.
    pub limit: u32,
}

impl PageReq {
    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        PageReq { after: None, after_key: None, limit }
    }
}

/// Who an API key belongs to, which decides its grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    /// The key carries roles of its own (Capella style).
    Key,
    /// The key inherits the service account's grants (CockroachDB style).
    ServiceAccount(Uuid),
    /// The key inherits the user's grants (CrateDB style).
    User(Uuid),
}

impl KeyOwner {
    /// Storage spelling of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyOwner::Key => "key",
            KeyOwner::ServiceAccount(_) => "service_account",
            KeyOwner::User(_) => "user",
        }
    }

    /// The owner id, for service accounts and users.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            KeyOwner::Key => None,
            KeyOwner::ServiceAccount(u) | KeyOwner::User(u) => Some(*u),
        }
    }
}

/// A new API key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Access key id.
    pub access_key: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// SHA-256 of the secret.
    pub secret_hash: String,
    /// The secret sealed under the master key (for HMAC verification).
    pub secret_enc: Option<String>,
    /// Roles of the key itself (owner `Key`).
    pub grants: Vec<Grant>,
    /// Owner.
    pub owner: KeyOwner,
    /// CIDRs allowed to use the key (empty: any).
    pub allowed_cidrs: Vec<String>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Requests per second for this key.
    pub rate_limit: Option<i64>,
}

/// A stored API key with everything authentication needs.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// Access key id.
    pub access_key: String,
    /// Organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// SHA-256 of the secret.
    pub secret_hash: String,
    /// The sealed secret.
    pub secret_enc: Option<String>,
    /// The previous secret's hash, valid until `prev_valid_until` (rotation grace).
    pub prev_secret_hash: Option<String>,
    /// The previous sealed secret.
    pub prev_secret_enc: Option<String>,
    /// End of the rotation grace period.
    pub prev_valid_until: Option<OffsetDateTime>,
    /// Roles of the key itself.
    pub own_grants: Vec<Grant>,
    /// Effective grants: its own, its owner's and any granted to the key.
    pub grants: Vec<Grant>,
    /// Owner.
    pub owner: KeyOwner,
    /// CIDRs allowed to use the key (empty: any).
    pub allowed_cidrs: Vec<String>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// `active` or `revoked`.
    pub state: String,
    /// Requests per second for this key.
    pub rate_limit: Option<i64>,
    /// The organization's default requests per second.
    pub org_rate_limit: Option<i64>,
    /// Creator key id.
    pub created_by: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// Last use.
    pub last_used_at: Option<OffsetDateTime>,
    /// Address of the last use.
    pub last_used_ip: Option<String>,
}

/// A principal that can hold grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRef {
    /// `user`, `service_account` or `api_key`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// Audit list filters.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Events before this time.
    pub until: Option<OffsetDateTime>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action (exact) or, ending in `.`, this action prefix.
    pub action: Option<String>,
    /// Only this event.
    pub id: Option<Uuid>,
    /// Only events whose target starts with this text (e.g. `cluster:<id>`).
    pub target_prefix: Option<String>,
    /// Only events strictly older than this event id (ids are time-ordered).
    pub before: Option<Uuid>,
    /// Newest first instead of oldest first (then `PageReq::after` is not used).
    pub newest_first: bool,
}

/// A new cloud.
#[derive(Debug, Clone)]
pub struct NewCloud {
    /// Name.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// Region.
    pub region: String,
    /// Virtual network CIDR.
    pub vpc_cidr: String,
}

/// Where a new cluster goes.
#[derive(Debug, Clone)]
pub enum CloudRef {
    /// An existing cloud.
    Id(Uuid),
    /// The organization's cloud for this provider and region, created on first use.
    ProviderRegion(Provider, String),
}

/// A new cluster.
#[derive(Debug, Clone)]
pub struct NewCluster {
    /// Id.
    pub id: Uuid,
    /// Project; the default project when `None`.
    pub project_id: Option<Uuid>,
    /// Cloud.
    pub cloud: CloudRef,
    /// Name.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Version.
    pub version: String,
    /// Node count.
    pub node_count: i32,
    /// Node size; the provider default when `None`.
    pub node_size: Option<String>,
    /// Spend limit.
    pub spend_limit: Option<i64>,
    /// Vendor attributes stored with the cluster (see [`dbcloud_types::Cluster::attributes`]).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Allow-list entries written with the cluster, in the same transaction.
    pub allowlist: Vec<NewAllowlistEntry>,
}

/// A new operation.
#[derive(Debug, Clone)]
pub struct NewOperation {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: OperationKind,
    /// Parameters.
    pub params: serde_json::Value,
}

impl NewOperation {
    /// A new operation of `kind` with `params`.
    pub fn new(kind: OperationKind, params: serde_json::Value) -> Self {
        NewOperation { id: dbcloud_core::new_id(), kind, params }
    }
}

/// A checked cluster update.
#[derive(Debug, Clone, Default)]
pub struct ClusterUpdate {
    /// New name.
    pub name: Option<String>,
    /// New spend limit.
    pub spend_limit: Option<i64>,
    /// A scale operation to start (the cluster goes SCALING).
    pub scale: Option<NewOperation>,
    /// Attributes to merge into the stored ones (a `null` value removes the key).
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Cluster list filters.
#[derive(Debug, Clone, Default)]
pub struct ClusterFilter {
    /// Only this project.
    pub project_id: Option<Uuid>,
    /// Only this cloud.
    pub cloud_id: Option<Uuid>,
    /// Only this state (DELETED clusters are listed only when asked for).
    pub state: Option<ClusterState>,
    /// Only this exact name.
    pub name: Option<String>,
    /// With `state` absent: list clusters in every state, DELETED included.
    pub include_deleted: bool,
    /// Order by name (then id) instead of by id (creation order); the page's `after` is
    /// then the last id and `after_key` the last name.
    pub by_name: bool,
    /// Newest (or last name) first.
    pub descending: bool,
    /// Only what the caller may see ([`dbcloud_core::perms::Principal::visibility`]);
    /// `None`: everything.
    pub visible: Option<dbcloud_core::perms::Visibility>,
    /// Skip this many clusters first (page-number paging; the page's `after` is then unused).
    pub skip: u64,
}

/// A new bucket.
#[derive(Debug, Clone)]
pub struct NewBucket {
    /// Name.
    pub name: String,
    /// Memory quota in MiB.
    pub memory_quota_mb: i64,
    /// Replicas.
    pub replicas: i32,
}

/// A new database user.
#[derive(Debug, Clone)]
pub struct NewDbUser {
    /// Name.
    pub name: String,
    /// Access.
    pub access: Access,
    /// Scope.
    pub scope: Option<String>,
    /// Salted password hash.
    pub password_hash: String,
}

/// A new allow-list entry.
#[derive(Debug, Clone)]
pub struct NewAllowlistEntry {
    /// Canonical CIDR.
    pub cidr: String,
    /// Comment.
    pub comment: String,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Vendor attributes (see [`dbcloud_types::AllowlistEntry::attributes`]).
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// One recorded step of an operation.
#[derive(Debug, Clone)]
pub struct OperationStep {
    /// New status.
    pub status: OperationStatus,
    /// Step description.
    pub step: String,
    /// Progress percent.
    pub progress: i32,
    /// Error, when failed.
    pub error: Option<String>,
}

/// Cluster fields an operation step changes.
#[derive(Debug, Clone, Default)]
pub struct ClusterPatch {
    /// New state.
    pub state: Option<ClusterState>,
    /// New node list.
    pub nodes: Option<Vec<Node>>,
    /// New endpoints.
    pub endpoints: Option<Vec<Endpoint>>,
    /// New node count.
    pub node_count: Option<i32>,
    /// Failure reason.
    pub failure_reason: Option<String>,
    /// New database version (a successful upgrade).
    pub version: Option<String>,
    /// Attributes to merge into the stored ones (a `null` value removes the key), e.g.
    /// `suspended` when a suspend or resume succeeds.
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A checked change of one bucket (fields left `None` stay as they are).
#[derive(Debug, Clone)]
pub struct BucketChange {
    /// Bucket name (the bucket must exist).
    pub name: String,
    /// New memory quota in MiB.
    pub memory_quota_mb: Option<i64>,
    /// New number of replicas.
    pub replicas: Option<i32>,
}

/// An audit event: who did what to which object, from where, with what outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Event id (time-ordered).
    pub id: Uuid,
    /// Organization (absent for failed authentication with no known key).
    pub organization_id: Option<Uuid>,
    /// Time.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Actor: access key id, or `anonymous` / `system`.
    pub actor: String,
    /// Source address.
    pub source_ip: String,
    /// Action, e.g. `cluster.create`.
    pub action: String,
    /// Target, e.g. `cluster:<id>`.
    pub target: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// Request id.
    pub request_id: String,
    /// Extra non-secret details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}
