//! Clusters: the one place that decides who may see and change a cluster, and how.
//!
//! Reads go through a short-lived per-replica cache that every change drops. Changes of
//! metadata (name, spend limit, labels and other attributes) are not operations: they are
//! accepted while an operation runs. Changes that need work (create, scale, upgrade,
//! suspend/resume, delete) are operations the runner carries out; one runs at a time per
//! cluster, except that a delete supersedes whatever runs.

mod change;
mod create;
mod vendor;

pub use change::ClusterChanges;
pub use create::{MissingReferences, NewCluster};
pub use vendor::ClusterDetails;

use crate::model::{ClusterFilter, PageReq};
use crate::{App, Caller};
use dbcloud_core::Result;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_store::NewOperation;
use dbcloud_types::{Cluster, ClusterChange, Operation, Page};
use uuid::Uuid;

/// Cluster use cases (see [`App::clusters`]).
pub struct Clusters<'a> {
    pub(crate) app: &'a App,
}

impl Clusters<'_> {
    /// A cluster of the caller's organization, if the caller holds `p` on it (deleted
    /// clusters stay readable).
    pub async fn authorized(&self, caller: &Caller, id: Uuid, p: Permission) -> Result<Cluster> {
        let cache = &self.app.0.clusters;
        let c = match cache.get(caller.org(), id) {
            Some(c) => c,
            None => {
                let c = self.app.store().get_cluster(caller.org(), id).await?;
                cache.put(&c);
                c
            }
        };
        caller.require(p, Target::Cluster { project: c.project_id, cluster: c.id }).await?;
        Ok(c)
    }

    /// Reads a cluster (`cluster.read`).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Cluster> {
        let c = self.authorized(caller, id, Permission::ClusterRead).await?;
        Ok(self.app.with_connection_strings(c).await)
    }

    /// One page of the clusters the caller may read, with `filter` (its `visible` is set
    /// here). A caller that may read no cluster at all is refused; one that may read some
    /// lists exactly those.
    pub async fn list(&self, caller: &Caller, mut filter: ClusterFilter, page: PageReq) -> Result<Page<Cluster>> {
        let visible = caller.visibility(Permission::ClusterRead);
        if visible.is_nothing() {
            return Err(caller.denied(Permission::ClusterRead.as_str(), "any").await);
        }
        filter.visible = Some(visible);
        self.app.store().list_clusters(caller.org(), &filter, page).await
    }

    /// How many clusters [`Clusters::list`] would list with `filter`, over all pages (from
    /// maintained counts: constant cost whatever the organization's size).
    pub async fn count(&self, caller: &Caller, mut filter: ClusterFilter) -> Result<u64> {
        let visible = caller.visibility(Permission::ClusterRead);
        if visible.is_nothing() {
            return Err(caller.denied(Permission::ClusterRead.as_str(), "any").await);
        }
        filter.visible = Some(visible);
        self.app.store().count_clusters(caller.org(), &filter).await
    }

    /// Every cluster the caller may read with `filter`, page by page (for surfaces whose
    /// vendor list has no paging).
    pub async fn list_all(&self, caller: &Caller, filter: ClusterFilter) -> Result<Vec<Cluster>> {
        let mut out = vec![];
        let mut page = PageReq::first(dbcloud_core::cursor::MAX_PAGE_SIZE);
        loop {
            let p = self.list(caller, filter.clone(), page.clone()).await?;
            let last = p.items.last().map(|c| (c.id, c.name.clone()));
            out.extend(p.items);
            match (p.next_cursor, last) {
                (Some(_), Some((id, name))) => {
                    page.after = Some(id);
                    page.after_key = Some(name);
                }
                _ => return Ok(out),
            }
        }
    }

    /// The newest operation of each of `clusters` (which the caller has read) — one query,
    /// for rendering lists.
    pub async fn latest_operations(&self, caller: &Caller, clusters: &[Uuid]) -> Result<Vec<Operation>> {
        self.app.store().latest_operations(caller.org(), clusters).await
    }

    /// The PEM CA certificate that signs the cluster's server certificates, when its
    /// provisioner issues one (`cluster.read`).
    pub async fn certificate(&self, caller: &Caller, id: Uuid) -> Result<Option<String>> {
        let c = self.get(caller, id).await?;
        Ok(self.app.0.runner.provisioner().ca_certificate(&c))
    }

    /// Starts `op` through the store (which refuses a busy cluster), dropping the cached
    /// cluster whatever the outcome and waking the runner once started.
    pub(crate) async fn start(&self, caller: &Caller, id: Uuid, op: &NewOperation, action: &str) -> Result<ClusterChange> {
        let change = self.app.store().start_operation(&caller.ctx(None), id, op, action).await;
        self.app.0.clusters.invalidate(id);
        let change = change?;
        self.app.0.runner.wake();
        Ok(change)
    }
}
