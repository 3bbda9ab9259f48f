//! Cluster calls of the vendor dialects whose cluster documents carry more than the native
//! API shows: each cluster's region, newest operation and allow list (batched, so a list of
//! N clusters costs a fixed number of queries per page), operations started with the vendor's
//! own parameters (shown back as operation data), and a create into a new project.

use super::{Clusters, NewCluster};
use crate::Caller;
use crate::model::{NewAllowlistEntry, PageReq};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Error, Result, cluster};
use dbcloud_store::{ClusterUpdate, NewOperation};
use dbcloud_types::{AllowlistEntry, Cloud, Cluster, ClusterChange, ClusterState, Operation, OperationKind, Project, UpdateCluster};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// What a vendor cluster document shows besides the cluster itself.
#[derive(Debug, Clone, Default)]
pub struct ClusterDetails {
    /// The cloud the cluster runs in (its provider and region).
    pub cloud: Option<Cloud>,
    /// The newest operation (the running one while one runs: one runs at a time).
    pub newest_operation: Option<Operation>,
    /// The allow list.
    pub allowlist: Vec<AllowlistEntry>,
}

/// Whether an operation holds `c` (a scale, upgrade, suspend or allow-list update must wait).
fn running(c: &Cluster) -> bool {
    matches!(c.state, ClusterState::Creating | ClusterState::Scaling | ClusterState::Updating)
}

/// `base` (an object) with `extra`'s keys added (theirs win).
fn merged(base: Value, extra: Value) -> Value {
    match (base, extra) {
        (Value::Object(mut b), Value::Object(e)) => {
            b.extend(e);
            Value::Object(b)
        }
        (b, _) => b,
    }
}

impl Clusters<'_> {
    /// The details of clusters the caller has read (from [`Clusters::list`] or
    /// [`Clusters::get`]), in the order given: three queries whatever their number (clouds,
    /// newest operations, allow lists), one more per 500 clouds of the organization.
    pub async fn details(&self, caller: &Caller, clusters: &[Cluster]) -> Result<Vec<ClusterDetails>> {
        if clusters.is_empty() {
            return Ok(vec![]);
        }
        let store = self.app.store();
        let org = caller.org();
        let ids: Vec<Uuid> = clusters.iter().map(|c| c.id).collect();
        let mut cloud_ids: Vec<Uuid> = clusters.iter().map(|c| c.cloud_id).collect();
        cloud_ids.sort();
        cloud_ids.dedup();
        let clouds: HashMap<Uuid, Cloud> = if let [one] = cloud_ids.as_slice() {
            store.get_cloud(org, *one).await.ok().map(|c| (c.id, c)).into_iter().collect()
        } else {
            crate::buckets::all_pages(|p| store.list_clouds(org, None, p)).await?.into_iter().map(|c| (c.id, c)).collect()
        };
        let mut newest: HashMap<Uuid, Operation> = store.latest_operations(org, &ids).await?.into_iter().map(|o| (o.cluster_id, o)).collect();
        let mut allow: HashMap<Uuid, Vec<AllowlistEntry>> = HashMap::new();
        for e in store.allowlists_of(org, &ids).await? {
            allow.entry(e.cluster_id).or_default().push(e);
        }
        Ok(clusters
            .iter()
            .map(|c| ClusterDetails {
                cloud: clouds.get(&c.cloud_id).cloned(),
                newest_operation: newest.remove(&c.id),
                allowlist: allow.remove(&c.id).unwrap_or_default(),
            })
            .collect())
    }

    /// Where a create that names a project but no cloud goes: the organization's first
    /// cloud, if it has one (`cluster.create` somewhere).
    pub async fn first_cloud(&self, caller: &Caller) -> Result<Option<Cloud>> {
        caller.require_somewhere(Permission::ClusterCreate).await?;
        Ok(self.app.store().list_clouds(caller.org(), None, PageReq::first(1)).await?.items.into_iter().next())
    }

    /// Creates a project named `project_name` (checked by `name_rule` besides the common
    /// rules) and a cluster in it (`cluster.create` organization-wide, checked before the
    /// project is written, and `project.create`).
    pub async fn create_in_new_project(
        &self,
        caller: &Caller,
        project_name: &str,
        name_rule: fn(&str) -> std::result::Result<(), String>,
        mut new: NewCluster,
    ) -> Result<(Project, ClusterChange)> {
        cluster::check_create(&new.spec)?;
        caller.require(Permission::ClusterCreate, Target::Organization).await?;
        let project = self.app.projects().create_named(caller, project_name, name_rule).await?;
        new.spec.project_id = Some(project.id);
        let created = self.create(caller, new, None).await?;
        Ok((project, created.value))
    }

    /// Scales a cluster to `node_count` nodes (`cluster.update`), recording `params` with the
    /// operation besides `node_count` and `from`. A cluster running an operation is
    /// [`Error::Busy`] before anything else is checked; the same node count is a bad
    /// `node_count`.
    pub async fn scale_with(&self, caller: &Caller, id: Uuid, node_count: i32, params: Value) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterUpdate).await?;
        if running(&c) {
            return Err(Error::busy(c.id, c.state));
        }
        if node_count == c.node_count {
            return Err(Error::field("node_count", format!("the cluster already runs {node_count} node(s)")));
        }
        let plan = cluster::check_update(&c, &UpdateCluster { node_count: Some(node_count), ..Default::default() })?;
        let base = serde_json::json!({ "node_count": plan.scale_to.unwrap_or(node_count), "from": c.node_count });
        let update = ClusterUpdate { scale: Some(NewOperation::new(OperationKind::Scale, merged(base, params))), ..Default::default() };
        let change = self.app.store().update_cluster(&caller.ctx(None), id, &update).await;
        self.app.0.clusters.invalidate(id);
        let change = change?;
        self.app.0.runner.wake();
        Ok(change)
    }

    /// [`Clusters::set_suspended`] recording `params` with the operation.
    pub async fn set_suspended_with(&self, caller: &Caller, id: Uuid, suspend: bool, params: Value) -> Result<ClusterChange> {
        let c = self.authorized(caller, id, Permission::ClusterUpdate).await?;
        let kind = cluster::check_suspend(&c, suspend)?;
        let op = NewOperation::new(kind, params);
        self.start(caller, id, &op, if suspend { "cluster.suspend" } else { "cluster.resume" }).await
    }
}

impl crate::allowlist::Allowlist<'_> {
    /// Replaces a cluster's whole allow list, atomically, and starts the allow-list update
    /// that applies it (`allowlist.manage`), recording `params(current, new)` with the
    /// operation. Entries are checked as by [`crate::allowlist::Allowlist::replace`] (fields
    /// `[i].cidr`, `[i].comment`); a cluster running an operation is [`Error::Busy`].
    pub async fn replace_with(
        &self,
        caller: &Caller,
        cluster_id: Uuid,
        entries: Vec<NewAllowlistEntry>,
        params: impl FnOnce(&[AllowlistEntry], &[NewAllowlistEntry]) -> Value,
    ) -> Result<Vec<AllowlistEntry>> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::AllowlistManage).await?;
        let mut v = dbcloud_core::error::Violations::new();
        let mut checked: Vec<NewAllowlistEntry> = vec![];
        for (i, e) in entries.iter().enumerate() {
            if let Some(e) = crate::allowlist::check_into(&mut v, &format!("[{i}]"), e) {
                if checked.iter().any(|x| x.cidr == e.cidr) {
                    v.add(format!("[{i}].cidr"), format!("{} is listed twice", e.cidr));
                }
                checked.push(e);
            }
        }
        v.finish()?;
        cluster::check_accepts_children(&c)?;
        if running(&c) {
            return Err(Error::busy(c.id, c.state));
        }
        let org = caller.org();
        let current = crate::buckets::all_pages(|p| self.app.store().list_allowlist(org, cluster_id, p)).await?;
        let op = NewOperation::new(OperationKind::AllowlistUpdate, params(&current, &checked));
        let out = self.app.store().replace_allowlist(&caller.ctx(None), cluster_id, &checked, Some(&op)).await;
        self.app.0.clusters.invalidate(cluster_id);
        let (list, _) = out?;
        self.app.0.runner.wake();
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::merged;
    use serde_json::json;

    #[test]
    fn vendor_parameters_are_added_to_the_operation_data() {
        let m = merged(json!({"node_count": 3, "from": 2}), json!({"target_product_unit": 2}));
        assert_eq!(m, json!({"node_count": 3, "from": 2, "target_product_unit": 2}));
        assert_eq!(merged(json!({"a": 1}), json!(null)), json!({"a": 1}));
    }
}
