//! CockroachDB Cloud API v1 (`/api/v1/`), in progress: clusters (list with `Cc-Version`
//! shapes and page tokens, get, delete), nodes, available regions, organization.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::clusters::authorized_cluster;
use axum::http::StatusCode;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::State;
use axum::{Extension, Json};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_store::ClusterFilter;
use dbcloud_types::{Cluster, ClusterState, Code, ErrorBody, Plan, Provider};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::IntoParams;

/// List parameters (`pagination.*` as the vendor names them).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Token from a previous `next_page`.
    #[serde(rename = "pagination.page")]
    pub page: Option<String>,
    /// Page size (default 100, at most 500).
    #[serde(rename = "pagination.limit")]
    pub limit: Option<i64>,
    /// Legacy token (`Cc-Version: 2022-03-31`).
    #[serde(rename = "pagination.start_key")]
    pub start_key: Option<String>,
    /// Include deleted clusters.
    pub show_inactive: Option<bool>,
}

fn plan(c: &Cluster, version: &str) -> &'static str {
    let new_names = version >= "2024-09-16";
    match (c.plan, new_names) {
        (Plan::Serverless, true) => "BASIC",
        (Plan::Dedicated, true) => "ADVANCED",
        (Plan::Serverless, false) => "SERVERLESS",
        (Plan::Dedicated, false) => "DEDICATED",
    }
}

fn state(s: ClusterState) -> (&'static str, &'static str) {
    match s {
        ClusterState::Creating => ("CREATING", "UNSPECIFIED"),
        ClusterState::Created => ("CREATED", "UNSPECIFIED"),
        ClusterState::CreationFailed => ("CREATION_FAILED", "UNSPECIFIED"),
        ClusterState::Scaling => ("LOCKED", "CRDB_SCALE_RUNNING"),
        ClusterState::Updating => ("LOCKED", "CRDB_EDIT_CLUSTER_RUNNING"),
        ClusterState::Deleting | ClusterState::Deleted => ("DELETED", "UNSPECIFIED"),
    }
}

/// A core cluster in the vendor's shape.
pub fn render(c: &Cluster, provider_region: Option<&(String, String)>, version: &str) -> Value {
    let (provider, region) = provider_region.cloned().unwrap_or_default();
    let (st, mut op) = state(c.state);
    if op == "UNSPECIFIED" && version < "2023-04-10" {
        op = "CLUSTER_STATUS_UNSPECIFIED";
    }
    let sql_dns = c.endpoints.iter().find(|e| e.kind == "sql").map(|e| e.host.clone()).unwrap_or_default();
    let config = match c.plan {
        Plan::Serverless => json!({"serverless": {"routing_id": format!("{}-{}", c.name, &c.id.simple().to_string()[..4]),
            "upgrade_type": "AUTOMATIC", "usage_limits": {"provisioned_virtual_cpus": "0", "request_unit_limit": "0", "storage_mib_limit": "0"}}}),
        Plan::Dedicated => json!({"dedicated": {"machine_type": c.node_size, "num_virtual_cpus": 4, "storage_gib": 150, "memory_gib": 16.0, "disk_iops": 450}}),
    };
    json!({
        "id": c.id,
        "name": c.name,
        "cockroach_version": format!("v{}", c.version),
        "upgrade_status": "FINALIZED",
        "plan": plan(c, version),
        "cloud_provider": provider.to_ascii_uppercase(),
        "provider": provider.to_ascii_uppercase(),
        "state": st,
        "operation_status": op,
        "creator_id": c.created_by,
        "config": config,
        "regions": [{"name": region, "sql_dns": sql_dns, "ui_dns": "", "internal_dns": "", "node_count": c.nodes.len(), "primary": true}],
        "sql_dns": sql_dns,
        "cidr_range": "",
        "labels": {},
        "is_customer_cloud_account": false,
        "delete_protection": "DISABLED",
        "network_visibility": "PUBLIC",
        "egress_traffic_policy": "UNSPECIFIED",
        "parent_id": "root",
        "account_id": "",
        "customer_cloud_account": null,
        "created_at": c.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "updated_at": c.updated_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "deleted_at": if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) { json!(c.updated_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()) } else { Value::Null },
    })
}

/// Provider and region of a cluster's cloud.
async fn cloud_of(s: &AppState, org: uuid::Uuid, c: &Cluster) -> Option<(String, String)> {
    s.store.get_cloud(org, c.cloud_id).await.ok().map(|k| (k.provider.as_str().to_string(), k.region))
}

/// Get a cluster (also when deleted).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cluster(
    State(s): State<AppState>,
    caller: Caller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<Value>> {
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(render(&c, cloud_of(&s, caller.org(), &c).await.as_ref(), version)))
}

/// Delete a cluster; answers the cluster with `state: DELETED` while teardown continues.
/// A cluster that is still being created or changed answers 503 (code 14) with `Retry-After`.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the deleted Cluster"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete_cluster(
    State(s): State<AppState>,
    caller: Caller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> ApiResult<Json<Value>> {
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterDelete).await?;
    if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
        return Err(dbcloud_core::Error::NotFound(format!("cluster {id}")).into());
    }
    let op = dbcloud_store::NewOperation::new(dbcloud_types::OperationKind::Delete, json!({}));
    let change = dbcloud_core::cluster::check_delete(&c);
    let change = match change {
        Ok(()) => s.store.delete_cluster(&caller.ctx(None), id, &op).await,
        Err(e) => Err(e),
    };
    s.clusters.invalidate(id);
    let change = change.map_err(|e| match e {
        dbcloud_core::Error::Aborted(_) => {
            let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, format!("cluster {id} is locked: an operation is in progress"));
            err.retry_after = Some(1);
            err
        }
        other => other.into(),
    })?;
    s.runner.wake();
    Ok(Json(render(&change.cluster, cloud_of(&s, caller.org(), &change.cluster).await.as_ref(), version)))
}

/// Available-regions parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// `GCP`, `AWS` or `AZURE`.
    pub provider: Option<String>,
    /// Only regions offering serverless clusters (every catalogue region does).
    pub serverless: Option<bool>,
}

/// The region catalogue in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/clusters/available-regions", tag = "cockroachdb cloud", security(("bearer" = [])), params(RegionQuery),
    responses((status = 200, description = "ListAvailableRegionsResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn available_regions(caller: Caller, ApiQuery(q): ApiQuery<RegionQuery>) -> ApiResult<Json<Value>> {
    caller.require_somewhere(Permission::CloudRead).await?;
    let provider = match q.provider.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Provider::parse(&p.to_ascii_lowercase()).ok_or_else(|| dbcloud_core::Error::field("provider", "must be GCP, AWS or AZURE"))?),
    };
    let regions: Vec<Value> = dbcloud_core::regions::regions(provider)
        .into_iter()
        .map(|r| json!({"name": r.name, "location": r.location, "provider": r.provider.as_str().to_ascii_uppercase(), "serverless": true, "distance": 0.0}))
        .collect();
    Ok(Json(json!({"regions": regions, "pagination": null})))
}

/// The caller's organization in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/organization", tag = "cockroachdb cloud", security(("bearer" = [])),
    responses((status = 200, description = "Organization"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn organization(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let o = s.store.get_organization(caller.org()).await?;
    let label: String = o.name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Ok(Json(json!({
        "id": o.id,
        "name": o.name,
        "label": label,
        "created_at": o.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "cockroach_cloud_service_principals": null,
    })))
}

/// The nodes of a cluster (none for serverless plans).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/nodes", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "ListClusterNodesResponse"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn nodes(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<uuid::Uuid>) -> ApiResult<Json<Value>> {
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let region = cloud_of(&s, caller.org(), &c).await.map(|(_, r)| r).unwrap_or_default();
    let nodes: Vec<Value> = match c.plan {
        Plan::Serverless => vec![],
        Plan::Dedicated => c.nodes.iter().map(|n| json!({"name": n.name, "region_name": region, "status": n.status.as_str()})).collect(),
    };
    Ok(Json(json!({"nodes": nodes, "pagination": null})))
}

/// List clusters (CockroachDB Cloud shape): `{"clusters": [...], "pagination": ...}`.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListClustersResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_clusters(
    State(s): State<AppState>,
    caller: Caller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Permission::ClusterRead, Target::Organization).await?;
    if q.limit.is_some_and(|l| l < 0) {
        return Err(dbcloud_core::Error::field("pagination.limit", "must not be negative").into());
    }
    let limit = q.limit.map(|l| l.clamp(1, 500) as u32);
    let token = q.page.as_deref().or(q.start_key.as_deref()).filter(|t| !t.is_empty());
    let page = super::super::routes::page(token, limit).map_err(|_| dbcloud_core::Error::field("pagination.page", "invalid page token"))?;
    let filter = ClusterFilter::default();
    let mut clusters = s.store.list_clusters(caller.org(), &filter, page).await?;
    if q.show_inactive == Some(true) {
        let deleted = ClusterFilter { state: Some(ClusterState::Deleted), ..Default::default() };
        clusters.items.extend(s.store.list_clusters(caller.org(), &deleted, dbcloud_store::PageReq::first(500)).await?.items);
    }
    let clouds = s.store.list_clouds(caller.org(), None, dbcloud_store::PageReq::first(500)).await?;
    let by_id: HashMap<_, _> = clouds.items.into_iter().map(|c| (c.id, (c.provider.as_str().to_string(), c.region))).collect();
    let items: Vec<Value> = clusters.items.iter().map(|c| render(c, by_id.get(&c.cloud_id), version)).collect();
    let pagination = match (&clusters.next_cursor, token) {
        (None, None) => Value::Null,
        (next, _) if version == "2022-03-31" => json!({"next": next.clone().unwrap_or_default(), "last": "", "limit": limit.unwrap_or(100), "order": "ASC"}),
        (next, _) => json!({"next_page": next.clone().unwrap_or_default(), "previous_page": ""}),
    };
    Ok(Json(json!({"clusters": items, "pagination": pagination})))
}

/// The dialect's routes, added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    r
        .routes(routes!(list_clusters))
        .routes(routes!(get_cluster, delete_cluster))
        .routes(routes!(nodes))
        .routes(routes!(available_regions))
        .routes(routes!(organization))
}
