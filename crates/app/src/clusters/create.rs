//! Creating a cluster: the same rules, transaction and answer for every surface.

use super::Clusters;
use crate::Caller;
use crate::idempotency::{self, Created};
use crate::identity::grants::grant_creator;
use dbcloud_core::perms::{Permission, Role, Scope, Target};
use dbcloud_core::{Error, Result, cluster};
use dbcloud_store::{CloudRef, NewAllowlistEntry, NewOperation};
use dbcloud_types::{ClusterChange, CreateCluster, OperationKind};
use serde_json::{Map, Value};

/// A create request: the core fields (name, project, cloud or provider and region, plan,
/// version, nodes, spend limit), the vendor attributes a dialect keeps with the cluster, and
/// allow-list entries written in the same transaction (e.g. a dialect's default entry).
#[derive(Debug, Clone, Default)]
pub struct NewCluster {
    /// The core fields, checked by [`dbcloud_core::cluster::check_create`].
    pub spec: CreateCluster,
    /// Vendor attributes stored and echoed with the cluster.
    pub attributes: Map<String, Value>,
    /// Initial allow list (checked like any entry).
    pub allowlist: Vec<NewAllowlistEntry>,
}

impl Clusters<'_> {
    /// Creates a cluster (`cluster.create` on its project; the organization's default
    /// project when none is named) with its create operation, once per `idempotency_key`.
    /// The caller becomes CLUSTER_ADMIN of the cluster when it could not otherwise change it.
    pub async fn create(&self, caller: &Caller, new: NewCluster, idempotency_key: Option<&str>) -> Result<Created<ClusterChange>> {
        let new = crate::local::prepare_create(self.app, caller, new).await?;
        let spec = cluster::check_create(&new.spec)?;
        let allowlist =
            new.allowlist.iter().enumerate().map(|(i, e)| crate::allowlist::check_entry(&format!("allowlist[{i}]"), e)).collect::<Result<Vec<_>>>()?;
        let project = match new.spec.project_id {
            Some(p) => p,
            None => self.app.store().default_project(caller.org()).await?.id,
        };
        caller.require(Permission::ClusterCreate, Target::Project(project)).await?;
        let cloud = match (new.spec.cloud_id, new.spec.provider, &new.spec.region) {
            (Some(id), _, _) => CloudRef::Id(id),
            (None, Some(p), Some(r)) => CloudRef::ProviderRegion(p, r.clone()),
            _ => return Err(Error::field("cloud_id", "required unless provider and region are given")),
        };
        let identity = serde_json::json!({ "spec": new.spec, "project": project, "attributes": new.attributes, "allowlist": allowlist.iter().map(|e| (&e.cidr, &e.comment)).collect::<Vec<_>>() });
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "cluster.create", &identity, |ctx| async move {
            let record = dbcloud_store::NewCluster {
                id: dbcloud_core::new_id(),
                project_id: Some(project),
                cloud,
                name: spec.name,
                plan: spec.plan,
                version: spec.version,
                node_count: spec.node_count,
                node_size: spec.node_size,
                spend_limit: spec.spend_limit,
                attributes: new.attributes,
                allowlist,
            };
            let op = NewOperation::new(OperationKind::Create, serde_json::json!({ "node_count": record.node_count }));
            store.create_cluster(&ctx, &record, &op).await
        })
        .await?;
        if !created.replayed {
            let (id, project) = (created.value.cluster.id, created.value.cluster.project_id);
            // CLUSTER_CREATOR administers the clusters it creates.
            let t = Target::Cluster { project, cluster: id };
            grant_creator(self.app, caller, Permission::ClusterUpdate, t, Role::ClusterAdmin, Scope::Cluster(id)).await;
        }
        self.app.0.runner.wake();
        Ok(created)
    }
}

/// Which references of a create request name nothing in the caller's organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissingReferences {
    /// The project does not exist.
    pub project: bool,
    /// The cloud does not exist.
    pub cloud: bool,
}

impl Clusters<'_> {
    /// Whether the project and cloud a create names exist in the caller's organization
    /// (checked before the permission, so that a surface can answer a missing reference as a
    /// request error naming its field). Reveals nothing beyond the caller's organization.
    pub async fn missing_references(&self, caller: &Caller, project: uuid::Uuid, cloud: uuid::Uuid) -> Result<MissingReferences> {
        fn missing<T>(r: Result<T>) -> Result<bool> {
            match r {
                Ok(_) => Ok(false),
                Err(Error::NotFound(_)) => Ok(true),
                Err(e) => Err(e),
            }
        }
        let store = self.app.store();
        Ok(MissingReferences { project: missing(store.get_project(caller.org(), project).await)?, cloud: missing(store.get_cloud(caller.org(), cloud).await)? })
    }
}
