//! Clusters: create, list, get, update, delete. Changes that need work run as operations.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idem::IdemKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_app::clusters::ClusterChanges;
use dbcloud_app::model::ClusterFilter;
use dbcloud_types::{Cluster, ClusterChange, ClusterState, CreateCluster, ErrorBody, Page, UpdateCluster};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

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
    let new = dbcloud_app::clusters::NewCluster { spec: req, ..Default::default() };
    let created = s.app.clusters().create(&caller, new, key.0.as_deref()).await?;
    let location = format!("/v1/clusters/{}", created.value.cluster.id);
    Ok(super::created(StatusCode::ACCEPTED, Some(location), created))
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
    let filter = ClusterFilter { project_id: q.project_id, cloud_id: q.cloud_id, state: q.state, name: q.name.clone(), ..Default::default() };
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.app.clusters().list(&caller, filter, page).await?))
}

/// Get a cluster with its nodes and endpoints. Deleted clusters stay readable (state `DELETED`).
#[utoipa::path(get, path = "/v1/clusters/{id}", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Cluster), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cluster(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Cluster>> {
    Ok(Json(s.app.clusters().get(&caller, id).await?))
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
    let changes = ClusterChanges { name: req.name, spend_limit: req.spend_limit, node_count: req.node_count, attributes: None };
    let change = s.app.clusters().update(&caller, id, changes).await?;
    if change.operation.is_some() {
        return Ok(accepted(change));
    }
    Ok(Json(change).into_response())
}

/// Delete a cluster. Answers 202: the cluster is `DELETING` and ends `DELETED`.
#[utoipa::path(delete, path = "/v1/clusters/{id}", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = ClusterChange, headers(("Location" = String, description = "The cluster's URL."))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_cluster(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    Ok(accepted(s.app.clusters().delete(&caller, id).await?))
}
