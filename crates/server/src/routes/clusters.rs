//! Clusters: create, list, get, update, delete. Changes that need work run as operations.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idem::{self, IdemKey};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_core::cluster;
use dbcloud_core::perms::{Permission, Role, Scope, Target};
use dbcloud_store::{CloudRef, ClusterFilter, ClusterUpdate, NewCluster, NewOperation};
use dbcloud_types::{Cluster, ClusterChange, ClusterState, CreateCluster, ErrorBody, OperationKind, Page, UpdateCluster};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Loads a cluster of the caller's organization and checks `p` on it.
pub async fn authorized_cluster(s: &AppState, caller: &Caller, id: Uuid, p: Permission) -> ApiResult<Cluster> {
    let c = match s.clusters.get(caller.org(), id) {
        Some(c) => c,
        None => {
            let c = s.store.get_cluster(caller.org(), id).await?;
            s.clusters.put(&c);
            c
        }
    };
    caller.require(p, Target::Cluster { project: c.project_id, cluster: c.id }).await?;
    Ok(c)
}

/// Creates a cluster from a checked spec, with its create operation, in the store; the
/// creator becomes CLUSTER_ADMIN of it when it could not already change it (every API
/// surface creates clusters through here).
pub async fn provision(
    s: &AppState,
    caller: &Caller,
    ctx: dbcloud_store::Ctx,
    spec: cluster::CreateSpec,
    project: Uuid,
    cloud: CloudRef,
    attributes: serde_json::Map<String, serde_json::Value>,
) -> dbcloud_core::Result<ClusterChange> {
    let new = NewCluster {
        attributes,
        allowlist: vec![],
        id: dbcloud_core::new_id(),
        project_id: Some(project),
        cloud,
        name: spec.name,
        plan: spec.plan,
        version: spec.version,
        node_count: spec.node_count,
        node_size: spec.node_size,
        spend_limit: spec.spend_limit,
    };
    let op = NewOperation::new(OperationKind::Create, serde_json::json!({ "node_count": new.node_count }));
    let change = s.store.create_cluster(&ctx, &new, &op).await?;
    // CLUSTER_CREATOR administers the clusters it creates.
    let (id, project) = (change.cluster.id, change.cluster.project_id);
    let t = Target::Cluster { project, cluster: id };
    super::grants::grant_creator(s, caller, Permission::ClusterUpdate, t, Role::ClusterAdmin, Scope::Cluster(id)).await;
    Ok(change)
}

/// Starts `op` on a cluster through the store (which refuses a busy one), dropping the
/// cluster's cached copy whatever the outcome and waking the runner once it started.
pub async fn start_operation(s: &AppState, caller: &Caller, id: Uuid, op: &NewOperation, action: &str) -> dbcloud_core::Result<ClusterChange> {
    let change = s.store.start_operation(&caller.ctx(None), id, op, action).await;
    s.clusters.invalidate(id);
    let change = change?;
    s.runner.wake();
    Ok(change)
}

/// The operation upgrading `c` to `version` (checked with `cluster::check_upgrade`).
pub fn upgrade_operation(c: &Cluster, version: &str) -> NewOperation {
    NewOperation::new(OperationKind::Upgrade, serde_json::json!({"version": version, "current_version": c.version, "target_version": version}))
}

fn accepted(change: ClusterChange) -> Response {
    let location = format!("/v1/clusters/{}", change.cluster.id);
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(change)).into_response()
}

/// Create a cluster. Answers 202: the cluster is `CREATING` and an operation brings it up.
#[utoipa::path(post, path = "/v1/clusters", tag = "clusters", security(("bearer" = [])), request_body = CreateCluster,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 202, body = ClusterChange, headers(("Location" = String, description = "The cluster's URL."))), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_cluster(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateCluster>) -> ApiResult<Response> {
    let spec = cluster::check_create(&req)?;
    let project = match req.project_id {
        Some(p) => p,
        None => s.store.default_project(caller.org()).await?.id,
    };
    caller.require(Permission::ClusterCreate, Target::Project(project)).await?;
    let cloud = match (req.cloud_id, req.provider, &req.region) {
        (Some(id), _, _) => CloudRef::Id(id),
        (None, Some(p), Some(r)) => CloudRef::ProviderRegion(p, r.clone()),
        _ => return Err(ApiError::bad_request("invalid argument: cloud_id: required unless provider and region are given")),
    };
    let runner = s.runner.clone();
    let r = idem::create(
        &s,
        &caller,
        key,
        "POST /v1/clusters",
        &req,
        StatusCode::ACCEPTED,
        |ctx| {
            let (s, caller) = (s.clone(), caller.clone());
            async move { provision(&s, &caller, ctx, spec, project, cloud, Default::default()).await }
        },
        accepted,
    )
    .await?;
    runner.wake();
    Ok(r)
}

/// Cluster list filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClusterQuery {
    /// Only clusters of this project.
    pub project_id: Option<Uuid>,
    /// Only clusters in this cloud.
    pub cloud_id: Option<Uuid>,
    /// Only clusters in this state (`DELETED` clusters are listed only when asked for).
    pub state: Option<ClusterState>,
    /// Only the cluster with this exact name.
    pub name: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List clusters, in creation order, by cursor pages.
#[utoipa::path(get, path = "/v1/clusters", tag = "clusters", security(("bearer" = [])), params(ClusterQuery),
    responses((status = 200, body = Page<Cluster>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_clusters(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<ClusterQuery>) -> ApiResult<Json<Page<Cluster>>> {
    let mut filter = ClusterFilter { project_id: q.project_id, cloud_id: q.cloud_id, state: q.state, name: q.name.clone(), ..Default::default() };
    if !caller.principal.can(Permission::ClusterRead, Target::Organization) {
        // Callers with project-scoped grants list one project at a time.
        match q.project_id {
            Some(p) => caller.require(Permission::ClusterRead, Target::Project(p)).await?,
            None => {
                let projects: Vec<Uuid> = caller
                    .principal
                    .grants
                    .iter()
                    .filter_map(|g| match g.scope {
                        dbcloud_core::perms::Scope::Project(p) if g.role.grants(Permission::ClusterRead) => Some(p),
                        _ => None,
                    })
                    .collect();
                match projects.as_slice() {
                    [one] => filter.project_id = Some(*one),
                    _ => return Err(dbcloud_core::Error::PermissionDenied.into()),
                }
            }
        }
    }
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.store.list_clusters(caller.org(), &filter, page).await?))
}

/// Get a cluster with its nodes and endpoints. Deleted clusters stay readable (state `DELETED`).
#[utoipa::path(get, path = "/v1/clusters/{id}", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Cluster), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cluster(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Cluster>> {
    Ok(Json(authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?))
}

/// Change a cluster: rename, set the spend limit (serverless), or scale (dedicated; runs an
/// operation and answers 202).
#[utoipa::path(patch, path = "/v1/clusters/{id}", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateCluster,
    responses((status = 200, body = ClusterChange), (status = 202, body = ClusterChange, headers(("Location" = String, description = "The cluster's URL."))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_cluster(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateCluster>,
) -> ApiResult<Response> {
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    let plan = cluster::check_update(&c, &req)?;
    let scale = plan.scale_to.map(|n| NewOperation::new(OperationKind::Scale, serde_json::json!({ "node_count": n, "from": c.node_count })));
    let update = ClusterUpdate { name: plan.name, spend_limit: plan.spend_limit, scale, attributes: None };
    let change = s.store.update_cluster(&caller.ctx(None), id, &update).await;
    s.clusters.invalidate(id);
    let change = change?;
    if change.operation.is_some() {
        s.runner.wake();
        return Ok(accepted(change));
    }
    Ok(Json(change).into_response())
}

/// Delete a cluster. Answers 202: the cluster is `DELETING` and ends `DELETED`.
#[utoipa::path(delete, path = "/v1/clusters/{id}", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = ClusterChange, headers(("Location" = String, description = "The cluster's URL."))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_cluster(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterDelete).await?;
    cluster::check_delete(&c)?;
    let op = NewOperation::new(OperationKind::Delete, serde_json::json!({}));
    let change = s.store.delete_cluster(&caller.ctx(None), id, &op).await;
    s.clusters.invalidate(id);
    let change = change?;
    s.runner.wake();
    Ok(accepted(change))
}
