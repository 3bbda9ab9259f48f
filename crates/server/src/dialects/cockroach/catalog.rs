//! The region catalogue, the caller's organization and a cluster's nodes in the vendor's
//! shapes.

use super::CockroachErrorBody;
use super::clusters::cluster_id;
use super::paging::{CockroachPagination, ListQuery, Paging};
use super::shape::regions_of;
use super::{CCaller, CQuery, CResult, field, rfc3339};
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use dbcloud_types::{Plan, Provider};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The region catalogue in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/clusters/available-regions", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = RegionList, description = "ListAvailableRegionsResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody)))]
pub async fn available_regions(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<RegionList>> {
    let provider = parse_provider(q.provider.as_deref())?;
    let catalogue = s.app.clouds().regions(&caller, provider).await?;
    let paging = Paging::new(&q, "available-regions", q.provider.as_deref().unwrap_or(""), s.app.master_key())?;
    let (regions, next) = paging.apply(catalogue, |r| format!("{}/{}", r.provider.as_str(), r.name), |_| None);
    let regions = regions
        .into_iter()
        .map(|r| RegionOut { name: r.name, location: r.location, provider: r.provider.as_str().to_ascii_uppercase(), serverless: true, distance: 0.0 })
        .collect();
    Ok(Json(RegionList { regions, pagination: paging.render(next, version) }))
}

/// Parses an optional `provider` parameter.
pub fn parse_provider(p: Option<&str>) -> CResult<Option<Provider>> {
    match p {
        None | Some("") => Ok(None),
        Some(p) => Provider::parse(&p.to_ascii_lowercase()).map(Some).ok_or_else(|| field("provider", "must be GCP, AWS or AZURE")),
    }
}

/// The caller's organization in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/organization", tag = "cockroachdb cloud", security(("bearer" = [])),
    responses((status = 200, body = OrganizationOut, description = "Organization"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn organization(State(s): State<AppState>, CCaller(caller): CCaller) -> CResult<Json<OrganizationOut>> {
    let o = s.app.org().get(&caller).await?;
    let label: String = o.name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Ok(Json(OrganizationOut { id: o.id, name: o.name, label, created_at: rfc3339(o.created_at), cockroach_cloud_service_principals: None }))
}

/// The nodes of a cluster (none for BASIC and STANDARD plans).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/nodes", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path), ListQuery),
    responses((status = 200, body = NodeList, description = "ListClusterNodesResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn nodes(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<NodeList>> {
    let id = cluster_id(&id)?;
    let c = s.app.clusters().get(&caller, id).await?;
    let places = s.app.clouds().places_of(&caller, std::slice::from_ref(&c)).await?;
    let region = places.get(&c.cloud_id).map(|(_, r)| r.clone()).unwrap_or_default();
    // Nodes are spread over the cluster's regions in order, as many per region as it asks for.
    let mut slots: Vec<String> = regions_of(&c, &region).into_iter().flat_map(|(r, n)| std::iter::repeat_n(r, n.max(0) as usize)).collect();
    let mut nodes: Vec<(String, String, &'static str)> = match c.plan {
        Plan::Serverless => vec![],
        Plan::Dedicated => c
            .nodes
            .iter()
            .map(|n| {
                let r = if slots.is_empty() { region.clone() } else { slots.remove(0) };
                (r, n.name.clone(), n.status.as_str())
            })
            .collect(),
    };
    if let Some(r) = &q.region_name {
        nodes.retain(|(reg, _, _)| reg == r);
    }
    let paging = Paging::new(&q, &format!("nodes/{id}"), q.region_name.as_deref().unwrap_or(""), s.app.master_key())?;
    let (nodes, next) = paging.apply(nodes, |(r, n, _)| format!("{r}/{n}"), |_| None);
    let nodes = nodes.into_iter().map(|(region_name, name, status)| NodeOut { name, region_name, status }).collect();
    Ok(Json(NodeList { nodes, pagination: paging.render(next, version) }))
}

/// `Organization`.
#[derive(Serialize, ToSchema)]
pub struct OrganizationOut {
    id: uuid::Uuid,
    name: String,
    label: String,
    created_at: String,
    cockroach_cloud_service_principals: Option<Value>,
}

/// `CloudProviderRegion`.
#[derive(Serialize, ToSchema)]
pub struct RegionOut {
    name: String,
    location: String,
    provider: String,
    serverless: bool,
    distance: f64,
}

/// `ListAvailableRegionsResponse`.
#[derive(Serialize, ToSchema)]
pub struct RegionList {
    regions: Vec<RegionOut>,
    pagination: CockroachPagination,
}

/// `Node`.
#[derive(Serialize, ToSchema)]
pub struct NodeOut {
    name: String,
    region_name: String,
    status: &'static str,
}

/// `ListClusterNodesResponse`.
#[derive(Serialize, ToSchema)]
pub struct NodeList {
    nodes: Vec<NodeOut>,
    pagination: CockroachPagination,
}
