//! The earliest public form of the API (seed `004`): `/api/v1/orgs/{organizationId}/clusters…`,
//! camelCase JSON, spend limits in whole US dollars, `Cc-Version` ignored. Each handler
//! delegates to the current route of the same operation.

use super::CockroachErrorBody;
use super::catalog::parse_provider;
use super::clusters::{self, cluster_id};
use super::paging::{CockroachPagination, ListQuery, Paging};
use super::shape::{ClusterOut, regions_of, shape};
use super::wire::{CockroachEmpty, CreateBody, CreateSpecBody, I64, ServerlessSpec};
use super::{CCaller, CJson, CQuery, CResult, field};
use crate::auth::Caller;
use crate::idem::IdemKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_types::{Cluster, ClusterState, Plan};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The organization of the path must be the caller's (else 403).
async fn own_org(caller: &Caller, org: &str) -> CResult<()> {
    match Uuid::try_parse(org) {
        Ok(id) if id == caller.org() => Ok(()),
        Ok(_) => Err(caller.denied("organization", org).await.into()),
        Err(_) => Err(field("organizationId", "must be a UUID")),
    }
}

/// A cluster in the legacy camelCase shape (`spendLimit` in dollars).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyCluster {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `v<major>.<minor>.<patch>`.
    pub cockroach_version: String,
    /// `SERVERLESS` or `DEDICATED`.
    pub plan: &'static str,
    /// `GCP`, `AWS` or `AZURE`.
    pub cloud_provider: String,
    /// `CREATING`, `CREATED`, `CREATION_FAILED`, `LOCKED` or `DELETED`.
    pub state: &'static str,
    /// Who created it.
    pub creator_id: String,
    /// `NOT_SET` or the running operation.
    pub long_running_operation_status: &'static str,
    /// Serverless settings (null for a dedicated cluster).
    pub serverless: Option<LegacyServerlessOut>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339, once deleted.
    pub deleted_at: Option<String>,
}

/// `serverless` of a legacy cluster.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyServerlessOut {
    /// Region names.
    pub regions: Vec<String>,
    /// Whole US dollars per month.
    pub spend_limit: i64,
}

/// `{"cluster"}`: the answer of a legacy create.
#[derive(Serialize, ToSchema)]
pub struct LegacyClusterAnswer {
    /// The cluster.
    pub cluster: LegacyCluster,
}

/// The legacy cluster list.
#[derive(Serialize, ToSchema)]
pub struct LegacyClusterList {
    /// The page's clusters.
    pub clusters: Vec<LegacyCluster>,
    /// Only when there is a next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<CockroachPagination>,
}

/// A legacy cluster with its regions and nodes.
#[derive(Serialize, ToSchema)]
pub struct LegacyClusterDetail {
    /// The cluster.
    pub cluster: LegacyCluster,
    /// Its regions.
    pub regions: Vec<LegacyRegion>,
}

/// A region of a legacy cluster.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyRegion {
    /// Region name.
    pub name: String,
    /// SQL host.
    pub sql_dns: String,
    /// DB Console host.
    pub ui_dns: String,
    /// Nodes (the first region's, for a dedicated cluster).
    pub nodes: Vec<LegacyNode>,
}

/// A node of a legacy cluster.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyNode {
    /// Node name.
    pub name: String,
    /// Its region.
    pub region_name: String,
    /// Node status.
    pub status: String,
}

/// `{"regions": [name, …]}` of the legacy region list.
#[derive(Serialize, ToSchema)]
pub struct RegionNames {
    /// Region names.
    pub regions: Vec<String>,
}

/// The current shape of a cluster as the legacy paths read it (version `2022-03-31`).
fn current<'a>(c: &'a Cluster, place: &'a (String, String)) -> ClusterOut<'a> {
    shape(c, Some(place), "2022-03-31", None)
}

/// A cluster in the legacy camelCase shape (`spendLimit` in dollars).
fn legacy(c: &Cluster, provider: &str, region: &str) -> LegacyCluster {
    let place = (provider.to_string(), region.to_string());
    let full = current(c, &place);
    let op = full.operation_status;
    let serverless = (c.plan == Plan::Serverless)
        .then(|| LegacyServerlessOut { regions: regions_of(c, region).into_iter().map(|(r, _)| r).collect(), spend_limit: c.spend_limit.unwrap_or(0) / 100 });
    LegacyCluster {
        id: c.id,
        name: c.name.clone(),
        cockroach_version: full.cockroach_version,
        plan: if c.plan == Plan::Serverless { "SERVERLESS" } else { "DEDICATED" },
        cloud_provider: full.cloud_provider,
        state: full.state,
        creator_id: c.created_by.clone(),
        long_running_operation_status: if op.ends_with("UNSPECIFIED") { "NOT_SET" } else { op },
        serverless,
        created_at: full.created_at,
        updated_at: full.updated_at,
        deleted_at: full.deleted_at,
    }
}

async fn cloud(s: &AppState, caller: &Caller, c: &Cluster) -> (String, String) {
    let places = s.app.clouds().places_of(caller, std::slice::from_ref(c)).await.unwrap_or_default();
    places.get(&c.cloud_id).map(|(p, r)| (p.as_str().to_ascii_uppercase(), r.clone())).unwrap_or_default()
}

/// `serverless` of a legacy create.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyServerless {
    /// Regions (default: the provider's first serverless region).
    pub regions: Option<Vec<String>>,
    /// Whole US dollars per month.
    #[serde(alias = "spend_limit")]
    #[serde(rename = "spendLimit")]
    pub spend_limit: Option<I64>,
}

/// Legacy create body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyCreate {
    /// Name.
    pub name: String,
    /// `GCP` (default) or `AWS`.
    pub provider: Option<String>,
    /// Serverless specification (the only kind offered here).
    pub serverless: Option<LegacyServerless>,
}

fn dollars_to_cents(field_name: &str, d: Option<I64>) -> CResult<Option<I64>> {
    match d {
        None => Ok(None),
        Some(I64(d)) if (0..=i32::MAX as i64 / 100).contains(&d) => Ok(Some(I64(d * 100))),
        Some(_) => Err(field(field_name, "must be a non-negative number of US dollars")),
    }
}

/// Create a serverless cluster (legacy path; `spendLimit` in US dollars).
#[utoipa::path(post, path = "/api/v1/orgs/{organizationId}/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = LegacyCreate,
    params(("organizationId" = String, Path)),
    responses((status = 200, body = LegacyClusterAnswer, description = "{\"cluster\": LegacyCluster}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn create_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    key: IdemKey,
    Path(org): Path<String>,
    CJson(body): CJson<LegacyCreate>,
) -> CResult<Json<LegacyClusterAnswer>> {
    own_org(&caller, &org).await?;
    let provider = body.provider.clone().unwrap_or_else(|| "GCP".into());
    let p = parse_provider(Some(&provider))?.ok_or_else(|| field("provider", "must be GCP or AWS"))?;
    let sv = body.serverless.unwrap_or_default();
    let regions = sv.regions.unwrap_or_else(|| dbcloud_core::regions::regions(Some(p)).into_iter().take(1).map(|r| r.name).collect());
    let spend_limit = dollars_to_cents("serverless.spendLimit", sv.spend_limit)?;
    let spec = CreateSpecBody { serverless: Some(ServerlessSpec { regions: Some(regions), spend_limit, ..Default::default() }), ..Default::default() };
    let req = CreateBody { name: body.name, provider, plan: None, spec };
    let c = super::create::create(&s, &caller, "2023-04-10", key, req).await?.value.cluster;
    let (provider, region) = cloud(&s, &caller, &c).await;
    Ok(Json(LegacyClusterAnswer { cluster: legacy(&c, &provider, &region) }))
}

/// List the organization's clusters (legacy path).
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ListQuery),
    responses((status = 200, body = LegacyClusterList, description = "{\"clusters\": [LegacyCluster]}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_clusters(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(org): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<LegacyClusterList>> {
    own_org(&caller, &org).await?;
    let paging = Paging::new(&q, "orgs/clusters", "", s.app.master_key())?;
    let (next, items) = clusters::page_of_clusters(&s, &caller, &paging, false, true).await?;
    let places = s.app.clouds().places_of(&caller, &items).await?;
    let by_id: HashMap<_, _> = places.into_iter().map(|(id, (p, r))| (id, (p.as_str().to_ascii_uppercase(), r))).collect();
    let clusters = items
        .iter()
        .map(|c| {
            let (p, r) = by_id.get(&c.cloud_id).cloned().unwrap_or_default();
            legacy(c, &p, &r)
        })
        .collect();
    let pagination = next.is_some().then(|| paging.render(next, "2022-09-20"));
    Ok(Json(LegacyClusterList { clusters, pagination }))
}

/// Get a cluster with its regions and nodes (legacy path).
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters/{clusterId}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = LegacyClusterDetail, description = "{\"cluster\": LegacyCluster, \"regions\": [...]}"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_cluster(State(s): State<AppState>, CCaller(caller): CCaller, Path((org, id)): Path<(String, String)>) -> CResult<Json<LegacyClusterDetail>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    let c = s.app.clusters().get(&caller, id).await?;
    let (provider, region) = cloud(&s, &caller, &c).await;
    let nodes: Vec<LegacyNode> = if c.plan == Plan::Dedicated && c.state != ClusterState::Deleted {
        c.nodes.iter().map(|n| LegacyNode { name: n.name.clone(), region_name: region.clone(), status: n.status.as_str().to_string() }).collect()
    } else {
        vec![]
    };
    let place = (provider.clone(), region.clone());
    let mut nodes = Some(nodes);
    let regions = current(&c, &place)
        .regions
        .into_iter()
        .map(|r| LegacyRegion { name: r.name, sql_dns: r.sql_dns, ui_dns: r.ui_dns, nodes: nodes.take().unwrap_or_default() })
        .collect();
    Ok(Json(LegacyClusterDetail { cluster: legacy(&c, &provider, &region), regions }))
}

/// Legacy spend-limit body (whole US dollars).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacySpendLimit {
    /// US dollars per month.
    #[serde(rename = "spendLimit", alias = "spend_limit")]
    pub spend_limit: I64,
}

/// Set a serverless cluster's spend limit in whole US dollars (legacy path); answers `{}`.
#[utoipa::path(put, path = "/api/v1/orgs/{organizationId}/clusters/{clusterId}/spend-limit", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = LegacySpendLimit,
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = CockroachEmpty, description = "{}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn spend_limit(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((org, id)): Path<(String, String)>,
    CJson(body): CJson<LegacySpendLimit>,
) -> CResult<Json<CockroachEmpty>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    let cents = dollars_to_cents("spendLimit", Some(body.spend_limit))?.map(|c| c.0).unwrap_or(0);
    clusters::set_spend_limit(&s, &caller, id, cents).await?;
    Ok(Json(CockroachEmpty {}))
}

/// Delete a cluster (legacy path); answers `{}`.
#[utoipa::path(delete, path = "/api/v1/orgs/{organizationId}/clusters/{clusterId}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = CockroachEmpty, description = "{}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn delete_cluster(State(s): State<AppState>, CCaller(caller): CCaller, Path((org, id)): Path<(String, String)>) -> CResult<Json<CockroachEmpty>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    clusters::remove(&s, &caller, id).await?;
    Ok(Json(CockroachEmpty {}))
}

/// Region names of a provider (legacy path): `{"regions": ["us-central1", …]}`.
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters/available-regions", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("provider" = Option<String>, Query)),
    responses((status = 200, body = RegionNames, description = "{\"regions\": [string]}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn available_regions(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(org): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<RegionNames>> {
    own_org(&caller, &org).await?;
    let provider = parse_provider(q.provider.as_deref())?;
    let names: Vec<String> = s.app.clouds().regions(&caller, provider).await?.into_iter().map(|r| r.name).collect();
    Ok(Json(RegionNames { regions: names }))
}
