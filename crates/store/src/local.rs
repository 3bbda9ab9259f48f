//! What the `local` PostgreSQL provider keeps in the store ([`LocalStore`], a supertrait of
//! [`crate::Store`]; `local_impl.rs` is compiled for both backends like `common.rs`): the
//! ports of instances, each cluster's CA (its key sealed by the caller), the desired
//! roles, databases and allow list, and which replica supervises which cluster.

use async_trait::async_trait;
use dbcloud_core::Result;
use dbcloud_types::{Access, Cluster};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// A database user of a `local` cluster as stored: its SCRAM verifier, never a password.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// Role name.
    pub name: String,
    /// Access level.
    pub access: Access,
    /// The one database it may connect to, if limited.
    pub scope: Option<String>,
    /// What the `password_hash` column holds (a SCRAM-SHA-256 verifier for `local` clusters).
    pub verifier: String,
}

impl std::fmt::Debug for LocalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUser").field("name", &self.name).field("access", &self.access).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// Roles, databases and allow list of a cluster, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalDesired {
    /// Bucket names, sorted.
    pub databases: Vec<String>,
    /// Database users, by name.
    pub users: Vec<LocalUser>,
    /// Allow-list CIDRs with their expiry.
    pub allowlist: Vec<(String, Option<OffsetDateTime>)>,
}

/// The store's side of the local provider.
#[async_trait]
pub trait LocalStore: Send + Sync + 'static {
    /// The port of `(cluster, node)` on `host`: the one assigned, else the lowest port of
    /// `first..=last` held by no other `(cluster, node)` of `host` and not in `avoid`
    /// (`None`: none left). Safe against other replicas assigning at the same time.
    async fn local_assign_port(&self, host: &str, cluster: Uuid, node: u32, first: u16, last: u16, avoid: &[u16]) -> Result<Option<u16>>;
    /// The assigned ports of `cluster`, by node.
    async fn local_ports(&self, cluster: Uuid) -> Result<BTreeMap<u32, u16>>;
    /// Frees the port of one node (`Some`) or of every node (`None`) of `cluster`.
    async fn local_release_ports(&self, cluster: Uuid, node: Option<u32>) -> Result<()>;
    /// Stores the CA of `cluster` unless one is stored (the first one saved wins).
    async fn local_save_ca(&self, cluster: Uuid, cert_pem: &str, sealed_key: &str) -> Result<()>;
    /// The stored CA of `cluster`: certificate and sealed key.
    async fn local_load_ca(&self, cluster: Uuid) -> Result<Option<(String, String)>>;
    /// Forgets the CA and supervision lease of a deleted cluster.
    async fn local_forget(&self, cluster: Uuid) -> Result<()>;
    /// The stored roles, databases and allow list of `cluster`.
    async fn local_desired(&self, cluster: Uuid) -> Result<LocalDesired>;
    /// Claims (or renews) the supervision lease of every live cluster of a `local` cloud
    /// that is free, expired or already `owner`'s, until `now_ms + lease_ms`; returns the
    /// clusters `owner` holds, each with whether an operation of it runs.
    async fn local_supervised(&self, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Vec<(Cluster, bool)>>;
}

/// Node status reported by the local supervisor.
#[async_trait]
pub trait LocalNodeStatus: Send + Sync + 'static {
    /// Sets the status of node `index` (1-based) of `cluster` unless an operation of the
    /// cluster runs (it owns the node list then); returns the cluster's organization when
    /// the status changed.
    async fn local_set_node_status(&self, cluster: Uuid, index: u32, status: dbcloud_types::NodeStatus) -> Result<Option<Uuid>>;
}
