//! What the local driver keeps in (and reads from) the store: node ports, the cluster CA,
//! the desired state of roles, databases and the allow list, and which clusters this
//! replica supervises. [`LocalCatalog`] is the trait the store implements;
//! [`MemoryCatalog`] is an in-memory implementation (tests, and the reference semantics).

use super::{Result, err};
use async_trait::async_trait;
use dbcloud_types::{Access, Cluster};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

/// A cluster's CA: certificate (public) and private key (to be sealed under the master key
/// before it is stored). Debug never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterCa {
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM PKCS#8 private key.
    pub key_pem: String,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// A database user as it must exist in the cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct DesiredUser {
    /// Role name.
    pub name: String,
    /// `read` or `readwrite`.
    pub access: Access,
    /// The one database (bucket) the user may connect to; `None`: every database.
    pub scope: Option<String>,
    /// SCRAM-SHA-256 verifier of the password (see [`super::scram_verifier`]).
    pub verifier: String,
}

impl std::fmt::Debug for DesiredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredUser")
            .field("name", &self.name)
            .field("access", &self.access)
            .field("scope", &self.scope)
            .field("verifier", &"<redacted>")
            .finish()
    }
}

/// An allow-list entry: a CIDR that may connect over TCP (with TLS and a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCidr {
    /// Canonical CIDR, e.g. `203.0.113.0/24`.
    pub cidr: String,
    /// When the entry stops applying.
    pub expires_at: Option<OffsetDateTime>,
}

/// Roles, databases and allow list of one cluster, as the store holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Databases (one per bucket).
    pub databases: Vec<String>,
    /// Login roles.
    pub users: Vec<DesiredUser>,
    /// Allow list.
    pub allowlist: Vec<DesiredCidr>,
}

/// A cluster this replica supervises.
#[derive(Debug, Clone)]
pub struct Supervised {
    /// The cluster as stored.
    pub cluster: Cluster,
    /// Whether an operation of the cluster runs (the supervisor then leaves it alone).
    pub busy: bool,
}

/// The store's side of the local driver.
///
/// Guarantees the store must give: `assign_port` is idempotent per `(cluster, node)` and
/// never hands out a port held by another `(cluster, node)` of the same host, also with
/// several replicas on that host (a unique index on `(host, port)` and a retry on conflict);
/// ports stay reserved until `release_ports`; `supervised` hands each cluster to one replica
/// at a time (a lease renewed on each call, taken over when it expires).
#[async_trait]
pub trait LocalCatalog: Send + Sync + 'static {
    /// The port of node `node` of `cluster`: the one already assigned, else the lowest free
    /// port of `range` not in `avoid` (ports the driver found taken by other programs).
    async fn assign_port(&self, cluster: Uuid, node: u32, range: RangeInclusive<u16>, avoid: &[u16]) -> Result<u16>;
    /// Every assigned port of `cluster`, by node.
    async fn ports(&self, cluster: Uuid) -> Result<BTreeMap<u32, u16>>;
    /// Frees the port of one node (`Some`) or of every node (`None`) of `cluster`.
    async fn release_ports(&self, cluster: Uuid, node: Option<u32>) -> Result<()>;
    /// Stores the cluster CA (sealing its key) unless one is stored already (the first one
    /// saved wins; the driver reads it back with `load_ca`). Called before any node starts.
    async fn save_ca(&self, cluster: Uuid, ca: &ClusterCa) -> Result<()>;
    /// The stored CA of `cluster`, its key opened.
    async fn load_ca(&self, cluster: Uuid) -> Result<Option<ClusterCa>>;
    /// The desired roles, databases and allow list of `cluster`.
    async fn desired(&self, cluster: Uuid) -> Result<DesiredState>;
    /// The `local` clusters this replica supervises now (claims or renews their leases).
    async fn supervised(&self) -> Result<Vec<Supervised>>;
}

/// An in-memory [`LocalCatalog`]: ports, CAs and desired states in maps; `supervised`
/// returns every cluster registered with [`MemoryCatalog::supervise`].
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    ports: Mutex<BTreeMap<(Uuid, u32), u16>>,
    cas: Mutex<BTreeMap<Uuid, ClusterCa>>,
    desired: Mutex<BTreeMap<Uuid, DesiredState>>,
    supervised: Mutex<BTreeMap<Uuid, Supervised>>,
}

impl MemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the desired state of `cluster`.
    pub fn set_desired(&self, cluster: Uuid, desired: DesiredState) {
        self.desired.lock().expect("lock").insert(cluster, desired);
    }

    /// Supervises `cluster` (replacing what was registered for it).
    pub fn supervise(&self, cluster: Cluster, busy: bool) {
        self.supervised.lock().expect("lock").insert(cluster.id, Supervised { cluster, busy });
    }

    /// Stops supervising `cluster`.
    pub fn unsupervise(&self, cluster: Uuid) {
        self.supervised.lock().expect("lock").remove(&cluster);
    }

    /// The ports of `cluster`, in node order.
    pub fn ports_of(&self, cluster: Uuid) -> Vec<u16> {
        self.ports.lock().expect("lock").iter().filter(|((c, _), _)| *c == cluster).map(|(_, p)| *p).collect()
    }

    /// Every reserved port (all clusters).
    pub fn all_ports(&self) -> BTreeSet<u16> {
        self.ports.lock().expect("lock").values().copied().collect()
    }
}

#[async_trait]
impl LocalCatalog for MemoryCatalog {
    async fn assign_port(&self, cluster: Uuid, node: u32, range: RangeInclusive<u16>, avoid: &[u16]) -> Result<u16> {
        let mut ports = self.ports.lock().expect("lock");
        if let Some(p) = ports.get(&(cluster, node)) {
            return Ok(*p);
        }
        let used: BTreeSet<u16> = ports.values().copied().collect();
        let port = range.clone().find(|p| !used.contains(p) && !avoid.contains(p)).ok_or_else(|| {
            err(format!("no free port left in the local provider's range {}-{}; widen --pg-port-range or delete clusters", range.start(), range.end()))
        })?;
        ports.insert((cluster, node), port);
        Ok(port)
    }

    async fn ports(&self, cluster: Uuid) -> Result<BTreeMap<u32, u16>> {
        Ok(self.ports.lock().expect("lock").iter().filter(|((c, _), _)| *c == cluster).map(|((_, n), p)| (*n, *p)).collect())
    }

    async fn release_ports(&self, cluster: Uuid, node: Option<u32>) -> Result<()> {
        self.ports.lock().expect("lock").retain(|(c, n), _| !(*c == cluster && node.is_none_or(|x| x == *n)));
        Ok(())
    }

    async fn save_ca(&self, cluster: Uuid, ca: &ClusterCa) -> Result<()> {
        self.cas.lock().expect("lock").entry(cluster).or_insert_with(|| ca.clone());
        Ok(())
    }

    async fn load_ca(&self, cluster: Uuid) -> Result<Option<ClusterCa>> {
        Ok(self.cas.lock().expect("lock").get(&cluster).cloned())
    }

    async fn desired(&self, cluster: Uuid) -> Result<DesiredState> {
        Ok(self.desired.lock().expect("lock").get(&cluster).cloned().unwrap_or_default())
    }

    async fn supervised(&self) -> Result<Vec<Supervised>> {
        Ok(self.supervised.lock().expect("lock").values().cloned().collect())
    }
}
