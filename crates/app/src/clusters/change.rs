//! Changing a cluster: metadata at any time, scale/upgrade/suspend/resume when idle, and a
//! delete that supersedes whatever runs.

use super::Clusters;
use crate::Caller;
use dbcloud_core::perms::Permission;
use dbcloud_core::{Error, Result, cluster};
use dbcloud_store::{ClusterUpdate, NewOperation};
use dbcloud_types::{ClusterChange, ClusterState, OperationKind, UpdateCluster};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A change to a cluster; fields left `None` stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ClusterChanges {
    /// New name.
    pub name: Option<String>,
    /// New spend limit (serverless).
    pub spend_limit: Option<i64>,
    /// New node count (dedicated): runs a scale operation; the cluster must be idle.
    pub node_count: Option<i32>,
    /// Vendor attributes to merge (a `null` value removes the key), e.g. labels or delete
    /// protection.
    pub attributes: Option<Map<String, Value>>,
}

impl Clusters<'_> {
    /// Changes a cluster (`cluster.update`). Metadata (name, spend limit, attributes) is
    /// accepted while the cluster is being created or runs an operation; a new node count
    /// starts a scale operation, refused with [`Error::Busy`] while another runs.
    pub async fn update(&self, caller: &Caller, id: Uuid, ch: ClusterChanges) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterUpdate).await?;
        let plan = if ch.name.is_none() && ch.spend_limit.is_none() && ch.node_count.is_none() {
            if ch.attributes.is_none() {
                return Err(Error::field("body", "nothing to change: give name, spend_limit or node_count"));
            }
            if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
                return Err(Error::FailedPrecondition(format!("cluster {id} is {}", c.state)));
            }
            cluster::UpdatePlan::default()
        } else {
            cluster::check_update(&c, &UpdateCluster { name: ch.name, spend_limit: ch.spend_limit, node_count: ch.node_count })?
        };
        let scale = plan.scale_to.map(|n| NewOperation::new(OperationKind::Scale, serde_json::json!({ "node_count": n, "from": c.node_count })));
        let update = ClusterUpdate { name: plan.name, spend_limit: plan.spend_limit, scale, attributes: ch.attributes };
        let change = self.app.store().update_cluster(&caller.ctx(None), id, &update).await;
        self.app.0.clusters.invalidate(id);
        let change = change?;
        if change.operation.is_some() {
            self.app.0.runner.wake();
        }
        Ok(change)
    }

    /// Deletes a cluster (`cluster.delete`): it goes DELETING and ends DELETED. A running
    /// create, scale or other operation is superseded (it ends CANCELLED). Refused while
    /// delete protection is on.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterDelete).await?;
        cluster::check_delete(&c)?;
        let op = NewOperation::new(OperationKind::Delete, serde_json::json!({ "from": c.state }));
        let change = self.app.store().delete_cluster(&caller.ctx(None), id, &op).await;
        self.app.0.clusters.invalidate(id);
        let change = change?;
        self.app.0.runner.wake();
        Ok(change)
    }

    /// Upgrades a cluster to `version` (`cluster.update`; idle, running, not older).
    pub async fn upgrade(&self, caller: &Caller, id: Uuid, version: &str) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterUpdate).await?;
        let version = cluster::check_upgrade(&c, version)?;
        crate::local::check_upgrade(self.app, &c, &version).await?;
        let op = NewOperation::new(OperationKind::Upgrade, serde_json::json!({"version": version, "current_version": c.version, "target_version": version}));
        self.start(caller, id, &op, "cluster.upgrade").await
    }

    /// Suspends (`true`) or resumes (`false`) a cluster's nodes (`cluster.update`; idle).
    pub async fn set_suspended(&self, caller: &Caller, id: Uuid, suspend: bool) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterUpdate).await?;
        let kind = cluster::check_suspend(&c, suspend)?;
        let op = NewOperation::new(kind, serde_json::json!({}));
        self.start(caller, id, &op, if suspend { "cluster.suspend" } else { "cluster.resume" }).await
    }
}
