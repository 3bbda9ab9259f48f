//! Resource representations of the native API (`/v1/`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A string enum of the wire format. The spelling is taken as a token tree (not a
/// `literal` fragment) so that utoipa, which reads the `serde(rename)` tokens itself,
/// documents the same spelling serde uses.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire (and storage) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the wire spelling (exact match).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// A cloud provider. `local` is this host: real PostgreSQL instances run by dbcloud.
    Provider { Aws => "aws", Gcp => "gcp", Azure => "azure", Local => "local" }
);
wire_enum!(
    /// Cluster plan.
    Plan { Serverless => "serverless", Dedicated => "dedicated" }
);
wire_enum!(
    /// Cluster lifecycle state.
    ClusterState {
        Creating => "CREATING", Created => "CREATED", CreationFailed => "CREATION_FAILED",
        Scaling => "SCALING", Updating => "UPDATING", Deleting => "DELETING", Deleted => "DELETED",
    }
);
wire_enum!(
    /// Status of one node.
    NodeStatus { Live => "LIVE", NotReady => "NOT_READY" }
);
wire_enum!(
    /// What an operation does. `suspend`/`resume` stop and restart a cluster's nodes (the
    /// cluster's `suspended` attribute flips when they succeed); `allowlist_update` applies
    /// an allow list the store has already replaced.
    OperationKind {
        Create => "create", Delete => "delete", Scale => "scale", Upgrade => "upgrade",
        Suspend => "suspend", Resume => "resume", AllowlistUpdate => "allowlist_update",
    }
);
wire_enum!(
    /// Status of an operation. `CANCELLED`: superseded by a delete of its cluster.
    OperationStatus { Sent => "SENT", InProgress => "IN_PROGRESS", Succeeded => "SUCCEEDED", Failed => "FAILED", Cancelled => "CANCELLED" }
);
wire_enum!(
    /// Access level of a database user.
    Access { Read => "read", ReadWrite => "readwrite" }
);

impl OperationStatus {
    /// Whether the operation still runs (holds the cluster's one operation slot).
    pub fn is_active(self) -> bool {
        matches!(self, OperationStatus::Sent | OperationStatus::InProgress)
    }
}

/// A tenant. Every other object belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Default requests per second of the organization's keys (absent: the server default).
    pub rate_limit: Option<i64>,
    /// Vendor attributes the core stores and echoes without interpreting them (e.g. a
    /// CrateDB `plan_type` or contact `email`). Absent when empty.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Creation time (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A group of clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Project id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Name, unique within the organization.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Number of clusters (not deleted) in the project.
    pub cluster_count: i64,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A cloud connection clusters are deployed into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cloud {
    /// Cloud id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Name, unique within the organization.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// Region name from the provider's catalogue.
    pub region: String,
    /// Virtual network CIDR (IPv4).
    pub virtual_network_cidr: String,
    /// Number of clusters (not deleted) in the cloud.
    pub cluster_count: i64,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One entry of the region catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Region {
    /// Provider.
    pub provider: Provider,
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// Human location, e.g. `N. Virginia`.
    pub location: String,
}

/// One node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    /// Node name, e.g. `prod-1-node-2`.
    pub name: String,
    /// Status.
    pub status: NodeStatus,
}

/// A connection endpoint of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// Kind of endpoint, e.g. `sql`, `http`.
    pub kind: String,
    /// Host name.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// A database cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cluster {
    /// Cluster id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Project the cluster belongs to.
    pub project_id: Uuid,
    /// Cloud the cluster runs in.
    pub cloud_id: Uuid,
    /// Name, unique among the organization's live clusters.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Database version.
    pub version: String,
    /// Number of nodes requested.
    pub node_count: i32,
    /// Node size (instance type), e.g. `m5.xlarge`.
    pub node_size: String,
    /// Monthly spend limit in US cents (serverless only).
    pub spend_limit: Option<i64>,
    /// Lifecycle state.
    pub state: ClusterState,
    /// Why creation failed, when it did.
    pub failure_reason: Option<String>,
    /// Nodes as reported by the provisioner.
    pub nodes: Vec<Node>,
    /// Connection endpoints (empty until the cluster is created).
    pub endpoints: Vec<Endpoint>,
    /// Connection strings of a `local` cluster: a `postgresql://` URI per endpoint (TLS
    /// `verify-full` against the cluster CA; no user or password). Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_strings: Vec<String>,
    /// Number of buckets.
    pub bucket_count: i64,
    /// Vendor attributes the core stores and echoes without interpreting them, e.g.
    /// `labels` or `delete_protection` set through a vendor dialect. Absent when empty.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Principal (API key id) that created the cluster.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The CA certificate of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterCertificate {
    /// PEM certificate of the CA that signs the cluster's server certificates.
    pub certificate: String,
}

/// A bucket of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bucket {
    /// Bucket id.
    pub id: Uuid,
    /// Cluster the bucket lives in.
    pub cluster_id: Uuid,
    /// Name, unique within the cluster.
    pub name: String,
    /// Memory quota in MiB.
    pub memory_quota_mb: i64,
    /// Number of replicas (0–3).
    pub replicas: i32,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A database user of a cluster. The password is never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseUser {
    /// User id.
    pub id: Uuid,
    /// Cluster the user belongs to.
    pub cluster_id: Uuid,
    /// User name, unique within the cluster.
    pub name: String,
    /// Access level.
    pub access: Access,
    /// Optional bucket / database the access is limited to.
    pub scope: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last password change.
    #[serde(with = "time::serde::rfc3339")]
    pub password_changed_at: OffsetDateTime,
}

/// A database user with its password, returned once (creation or password change).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatabaseUserWithPassword {
    /// The user.
    #[serde(flatten)]
    pub user: DatabaseUser,
    /// The password; shown only in this response. A replayed creation (same
    /// `Idempotency-Key`) answers the user without it: passwords are never stored.
    #[schema(required = false)]
    pub password: String,
}

/// An allow-list entry of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AllowlistEntry {
    /// Entry id.
    pub id: Uuid,
    /// Cluster.
    pub cluster_id: Uuid,
    /// Allowed network (canonical CIDR).
    pub cidr: String,
    /// Free text.
    pub comment: String,
    /// When the entry stops applying, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Vendor attributes stored and echoed without interpretation (e.g. CockroachDB's
    /// `ui` and `sql` flags). Absent when empty.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A persisted change of a cluster, run by a provisioner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    /// Operation id.
    pub id: Uuid,
    /// Owning organization.
    pub organization_id: Uuid,
    /// Cluster changed.
    pub cluster_id: Uuid,
    /// What it does.
    pub kind: OperationKind,
    /// Status.
    pub status: OperationStatus,
    /// Current step, human readable (e.g. `starting node 2 of 3`).
    pub step: String,
    /// Progress in percent (0–100).
    pub progress: i32,
    /// Error message when failed.
    pub error: Option<String>,
    /// Operation parameters (e.g. target node count).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Completion time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// A cluster change accepted for asynchronous execution.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterChange {
    /// The cluster as it is now.
    pub cluster: Cluster,
    /// The operation carrying out the change, when one was needed.
    pub operation: Option<Operation>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Health probe answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` or `unavailable`.
    pub status: String,
}
