//! [`LocalCatalog`] over the store: ports and supervision leases shared by every replica
//! of this host, the cluster CA with its key sealed under the master key, and the desired
//! state read from the cluster's buckets, database users and allow list.

use crate::local::{ClusterCa, DesiredCidr, DesiredState, DesiredUser, LocalCatalog, LocalError, Result, Supervised};
use async_trait::async_trait;
use dbcloud_core::crypto::MasterKey;
use dbcloud_store::{LocalDesired, Store};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn e(err: dbcloud_core::Error) -> LocalError {
    LocalError(format!("store: {err}"))
}

/// The catalog of one replica (`owner`, as in operation leases) on one host.
pub struct StoreCatalog {
    store: Arc<dyn Store>,
    master_key: MasterKey,
    host: String,
    owner: String,
    lease: Duration,
}

/// This machine's name (every replica on it shares the port space).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

impl StoreCatalog {
    /// A catalog over `store` for replica `owner` on `host`, holding supervision leases for `lease`.
    pub fn new(store: Arc<dyn Store>, master_key: MasterKey, host: String, owner: String, lease: Duration) -> Self {
        StoreCatalog { store, master_key, host, owner, lease }
    }

    fn context(cluster: Uuid) -> String {
        cluster.to_string()
    }
}

#[async_trait]
impl LocalCatalog for StoreCatalog {
    async fn assign_port(&self, cluster: Uuid, node: u32, range: RangeInclusive<u16>, avoid: &[u16]) -> Result<u16> {
        self.store.local_assign_port(&self.host, cluster, node, *range.start(), *range.end(), avoid).await.map_err(e)?.ok_or_else(|| {
            LocalError(format!("no free port left in the local provider's range {}-{}; widen --pg-port-range or delete clusters", range.start(), range.end()))
        })
    }

    async fn ports(&self, cluster: Uuid) -> Result<BTreeMap<u32, u16>> {
        self.store.local_ports(cluster).await.map_err(e)
    }

    async fn release_ports(&self, cluster: Uuid, node: Option<u32>) -> Result<()> {
        self.store.local_release_ports(cluster, node).await.map_err(e)?;
        if node.is_none() {
            // Every port goes only when the cluster is deleted: its CA and lease go too.
            self.store.local_forget(cluster).await.map_err(e)?;
        }
        Ok(())
    }

    async fn save_ca(&self, cluster: Uuid, ca: &ClusterCa) -> Result<()> {
        let sealed = self.master_key.seal(&Self::context(cluster), &ca.key_pem);
        self.store.local_save_ca(cluster, &ca.cert_pem, &sealed).await.map_err(e)
    }

    async fn load_ca(&self, cluster: Uuid) -> Result<Option<ClusterCa>> {
        let Some((cert_pem, sealed)) = self.store.local_load_ca(cluster).await.map_err(e)? else { return Ok(None) };
        let key_pem = self
            .master_key
            .open(&Self::context(cluster), &sealed)
            .ok_or_else(|| LocalError(format!("the CA key of cluster {cluster} does not open with this master key")))?;
        Ok(Some(ClusterCa { cert_pem, key_pem }))
    }

    async fn desired(&self, cluster: Uuid) -> Result<DesiredState> {
        Ok(desired_state(self.store.local_desired(cluster).await.map_err(e)?))
    }

    async fn supervised(&self) -> Result<Vec<Supervised>> {
        let now = dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc());
        let rows = self.store.local_supervised(&self.owner, now, self.lease.as_millis() as i64).await.map_err(e)?;
        Ok(rows.into_iter().map(|(cluster, busy)| Supervised { cluster, busy }).collect())
    }
}

/// The driver's desired state from what the store holds.
pub fn desired_state(d: LocalDesired) -> DesiredState {
    DesiredState {
        databases: d.databases,
        users: d
            .users
            .into_iter()
            // Users stored before their cluster was local-aware hold no verifier: left out.
            .filter(|u| crate::local::scram::is_verifier(&u.verifier))
            .map(|u| DesiredUser { name: u.name, access: u.access, scope: u.scope, verifier: u.verifier })
            .collect(),
        allowlist: d.allowlist.into_iter().map(|(cidr, expires_at)| DesiredCidr { cidr, expires_at }).collect(),
    }
}
