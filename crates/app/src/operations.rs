//! Operations of clusters (read-only: the runner writes them).

use crate::model::PageReq;
use crate::{App, Caller};
use dbcloud_core::Result;
use dbcloud_types::{Operation, Page};
use uuid::Uuid;

/// Operation use cases (see [`App::operations`]).
pub struct Operations<'a> {
    pub(crate) app: &'a App,
}

impl Operations<'_> {
    /// One page of a cluster's operations, oldest first (`cluster.read`).
    pub async fn list(&self, caller: &Caller, cluster_id: Uuid, page: PageReq) -> Result<Page<Operation>> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().list_operations(caller.org(), cluster_id, page).await
    }

    /// Every operation of a cluster, oldest first (`cluster.read`).
    pub async fn list_all(&self, caller: &Caller, cluster_id: Uuid) -> Result<Vec<Operation>> {
        self.app.clusters().get(caller, cluster_id).await?;
        let org = caller.org();
        crate::buckets::all_pages(|p| self.app.store().list_operations(org, cluster_id, p)).await
    }

    /// An operation (`cluster.read` on its cluster).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Operation> {
        let op = self.app.store().get_operation(caller.org(), id).await?;
        self.app.clusters().get(caller, op.cluster_id).await?;
        Ok(op)
    }
}
