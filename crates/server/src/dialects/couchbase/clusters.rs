//! Clusters: list (paged in the store), create, get, delete, status, health, certificate.

use super::paging::{PageParams, SortField, envelope, paging};
use super::wire::{self, Certificate, ClusterDetail, ClusterHealth, ClusterStatus, ClusterSummary, Envelope};
use super::{CbCaller, CbError, CbIdemKey, CbJson, CbQuery, CbResult, bare, path_id, replayed};
use crate::auth::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use dbcloud_app::clusters::NewCluster;
use dbcloud_app::model::{ClusterFilter, PageReq};
use dbcloud_core::error::Violations;
use dbcloud_core::{Error, cluster};
use dbcloud_types::{Cluster, ClusterState, CreateCluster, Operation, Plan};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa::ToSchema;
use uuid::Uuid;

/// Cluster list filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterParams {
    /// Page number.
    pub page: Option<String>,
    /// Items per page.
    #[serde(rename = "perPage")]
    #[param(rename = "perPage")]
    pub per_page: Option<String>,
    /// Sort field.
    #[serde(rename = "sortBy")]
    #[param(rename = "sortBy")]
    pub sort_by: Option<String>,
    /// Only clusters of this cloud.
    #[serde(rename = "cloudId")]
    #[param(rename = "cloudId")]
    pub cloud_id: Option<String>,
    /// Only clusters of this project.
    #[serde(rename = "projectId")]
    #[param(rename = "projectId")]
    pub project_id: Option<String>,
}

fn query_uuid(v: &mut Violations, value: Option<&str>, field: &str) -> Option<Uuid> {
    value.and_then(|s| v.check(field, Uuid::parse_str(s).map_err(|_| "must be a UUID".to_string())))
}

/// List clusters (`cluster.read`; exactly the clusters the caller can read). Deleted
/// clusters are not listed. One store page and one maintained count per call, whatever the
/// organization's size.
#[utoipa::path(get, path = "/v2/clusters", tag = "couchbase cloud v2", security(("bearer" = [])), params(ClusterParams),
    responses((status = 200, body = Envelope<ClusterSummary>, description = "A page of clusters."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError", body = super::wire::ErrorBody)))]
pub async fn list_clusters(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<ClusterParams>,
) -> CbResult<Json<Envelope<ClusterSummary>>> {
    let p = paging(&PageParams { page: q.page.clone(), per_page: q.per_page.clone(), sort_by: q.sort_by.clone() })?;
    let mut v = Violations::new();
    let cloud_id = query_uuid(&mut v, q.cloud_id.as_deref(), "cloudId");
    let project_id = query_uuid(&mut v, q.project_id.as_deref(), "projectId");
    v.finish()?;
    // Ids are time-ordered (UUIDv7): creation order is id order.
    let filter = ClusterFilter { project_id, cloud_id, by_name: p.field == SortField::Name, descending: p.desc, skip: p.skip(), ..Default::default() };
    let total = s.app.clusters().count(&caller, filter.clone()).await?;
    let data = if p.skip() >= total {
        vec![]
    } else {
        let limit = u32::try_from(p.per_page).unwrap_or(u32::MAX);
        s.app.clusters().list(&caller, filter, PageReq::first(limit)).await?.items.iter().map(ClusterSummary::from).collect()
    };
    Ok(Json(envelope(&s, &headers, &uri, &p, total, data)))
}

/// A server group of a v2 create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2Server {
    /// Node count of the group (1–27).
    pub size: i64,
    /// Services of the group.
    #[serde(default)]
    pub services: Vec<String>,
    /// AWS settings.
    pub aws: Option<V2Instance>,
    /// Azure settings.
    pub azure: Option<V2Instance>,
}

/// Instance settings of a server group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2Instance {
    /// Instance size.
    pub instance_size: Option<String>,
    /// EBS size (AWS, 50–16384).
    pub ebs_size_gib: Option<i64>,
    /// Volume type (Azure).
    pub volume_type: Option<String>,
}

/// CreateCluster of the v2 API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2CreateCluster {
    /// Name.
    pub name: Option<String>,
    /// Cloud.
    pub cloud_id: Option<String>,
    /// Project.
    pub project_id: Option<String>,
    /// Server groups.
    pub servers: Option<Vec<V2Server>>,
    /// Support package (accepted, not kept).
    pub support_package: Option<Value>,
    /// Version; absent, empty or `latest`: the latest.
    pub version: Option<String>,
}

const V2_SERVICES: [&str; 6] = ["data", "index", "query", "search", "eventing", "analytics"];

/// The core version a v2 `version` names: `None` (the default, i.e. latest) for an absent,
/// empty or `latest` one.
pub fn core_version(v: Option<&str>) -> Result<Option<String>, String> {
    match v {
        None | Some("" | "latest") => Ok(None),
        Some(x @ ("enterprise-6.5.0" | "enterprise-6.5.1" | "enterprise-6.6.0")) => Ok(Some(x.trim_start_matches("enterprise-").to_string())),
        Some(_) => Err("must be latest, enterprise-6.5.0, enterprise-6.5.1 or enterprise-6.6.0".into()),
    }
}

fn required_uuid(v: &mut Violations, value: Option<&str>, field: &str) -> Option<Uuid> {
    match value {
        None => {
            v.add(field, "is required");
            None
        }
        Some(s) => v.check(field, Uuid::parse_str(s).map_err(|_| "must be a UUID".to_string())),
    }
}

/// Maps a v2 create request onto the core's create request (§5.1): (request, cloud, project).
pub fn core_create(req: &V2CreateCluster) -> Result<(CreateCluster, Uuid, Uuid), Error> {
    let mut v = Violations::new();
    if req.name.is_none() {
        v.add("name", "is required");
    }
    let cloud = required_uuid(&mut v, req.cloud_id.as_deref(), "cloudId");
    let project = required_uuid(&mut v, req.project_id.as_deref(), "projectId");
    let version = v.check("version", core_version(req.version.as_deref())).flatten();
    let mut node_count = None;
    let mut node_size = None;
    if let Some(servers) = &req.servers {
        if servers.is_empty() {
            v.add("servers", "must list at least one server group");
        }
        let mut total = 0;
        for (i, g) in servers.iter().enumerate() {
            if !(1..=27).contains(&g.size) {
                v.add(format!("servers[{i}].size"), "must be between 1 and 27");
            }
            total += g.size;
            if g.services.is_empty() || g.services.iter().any(|s| !V2_SERVICES.contains(&s.as_str())) {
                v.add(format!("servers[{i}].services"), "must list services among data, index, query, search, eventing, analytics");
            }
            if let Some(ebs) = g.aws.as_ref().and_then(|a| a.ebs_size_gib)
                && !(50..=16384).contains(&ebs)
            {
                v.add(format!("servers[{i}].aws.ebsSizeGib"), "must be between 50 and 16384");
            }
            if node_size.is_none() {
                node_size = g.aws.as_ref().or(g.azure.as_ref()).and_then(|a| a.instance_size.clone());
            }
        }
        node_count = Some(i32::try_from(total).unwrap_or(i32::MAX));
    }
    v.finish()?;
    let (cloud, project) = (cloud.expect("checked"), project.expect("checked"));
    let core = CreateCluster {
        name: req.name.clone().unwrap_or_default(),
        project_id: Some(project),
        cloud_id: Some(cloud),
        plan: Some(Plan::Dedicated),
        version,
        node_count,
        node_size,
        ..Default::default()
    };
    Ok((core, cloud, project))
}

/// Create a cluster (`cluster.create` on the project); **201 Created** with `Location:
/// /v2/clusters/<id>` and no body (the vendor document's create has no body; clients read
/// the id from `Location`). A replay with the same `Idempotency-Key` answers the same.
#[utoipa::path(post, path = "/v2/clusters", tag = "couchbase cloud v2", security(("bearer" = [])), request_body = V2CreateCluster,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, description = "Created; no body.", headers(("Location" = String, description = "The cluster's URL."))), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError", body = super::wire::ErrorBody)))]
pub async fn create_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, key: CbIdemKey, CbJson(req): CbJson<V2CreateCluster>) -> CbResult<Response> {
    let (spec, cloud, project) = core_create(&req)?;
    cluster::check_create(&spec)?;
    // A missing reference is a request error naming its field (spec §4).
    let missing = s.app.clusters().missing_references(&caller, project, cloud).await?;
    if missing.project {
        return Err(Error::field("projectId", format!("project {project} not found")).into());
    }
    if missing.cloud {
        return Err(Error::field("cloudId", format!("cloud {cloud} not found")).into());
    }
    let created = s.app.clusters().create(&caller, NewCluster { spec, ..Default::default() }, key.0.as_deref()).await?;
    let location = format!("/v2/clusters/{}", created.value.cluster.id);
    Ok(replayed(bare(StatusCode::CREATED, Some(location)), created.replayed))
}

/// The last operation of a cluster, when its v2 status needs it.
async fn last_op(s: &AppState, caller: &Caller, c: &Cluster) -> CbResult<Option<Operation>> {
    if !wire::status_needs_last_op(c) {
        return Ok(None);
    }
    Ok(s.app.clusters().latest_operations(caller, &[c.id]).await?.into_iter().next())
}

/// Get a cluster (`cluster.read` on it).
#[utoipa::path(get, path = "/v2/clusters/{id}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ClusterDetail, description = "The cluster."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn get_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<ClusterDetail>> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().get(&caller, id).await?;
    let op = last_op(&s, &caller, &c).await?;
    Ok(Json(wire::cluster_detail(&c, op.as_ref())))
}

/// Delete a cluster (`cluster.delete` on it); 202 with `Location`. A running create or
/// scale is superseded (it ends cancelled).
#[utoipa::path(delete, path = "/v2/clusters/{id}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, description = "Deletion started; no body.", headers(("Location" = String, description = "The cluster's URL."))), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn delete_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    s.app.clusters().delete(&caller, id).await?;
    Ok(bare(StatusCode::ACCEPTED, Some(format!("/v2/clusters/{id}"))))
}

/// Cluster status (`cluster.read` on it).
#[utoipa::path(get, path = "/v2/clusters/{id}/status", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ClusterStatus, description = "The cluster's v2 status."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn cluster_status(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<ClusterStatus>> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().get(&caller, id).await?;
    let op = last_op(&s, &caller, &c).await?;
    Ok(Json(ClusterStatus { status: wire::status(&c, op.as_ref()) }))
}

/// Cluster health (`cluster.read` on it); stats only while `ready`.
#[utoipa::path(get, path = "/v2/clusters/{id}/health", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ClusterHealth, description = "The cluster's health."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn cluster_health(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<ClusterHealth>> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().get(&caller, id).await?;
    let op = last_op(&s, &caller, &c).await?;
    let st = wire::status(&c, op.as_ref());
    let buckets = if st == "ready" { s.app.buckets().list_all(&caller, id).await? } else { vec![] };
    Ok(Json(wire::cluster_health(&c, st, &buckets)))
}

/// The cluster's CA certificate as PEM (`cluster.read` on the cluster). The provisioner
/// issues it; the simulated one derives a self-signed Ed25519 CA from the cluster, the same
/// on every call and replica (`dbcloud_provision::ca`). 404 once the cluster is deleted.
#[utoipa::path(get, path = "/v2/clusters/{id}/certificate", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Certificate, description = "The cluster's CA certificate."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn get_certificate(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Certificate>> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().get(&caller, id).await?;
    if c.state == ClusterState::Deleted {
        return Err(CbError::not_found(format!("cluster {id}")));
    }
    let pem = s.app.clusters().certificate(&caller, id).await?.ok_or_else(|| CbError::not_found(format!("certificate of cluster {id}")))?;
    Ok(Json(Certificate { certificate: pem }))
}
