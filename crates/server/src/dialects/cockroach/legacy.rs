//! The earliest public form of the API (seed `004`): `/api/v1/orgs/{organizationId}/clusters…`,
//! camelCase JSON, spend limits in whole US dollars, `Cc-Version` ignored. Each handler
//! delegates to the current route of the same operation.

use super::catalog::parse_provider;
use super::clusters::{self, cluster_id};
use super::docs::CockroachErrorBody;
use super::paging::{ListQuery, Paging};
use super::shape::{regions_of, render};
use super::wire::{CreateBody, CreateSpecBody, I64, ServerlessSpec};
use super::{CCaller, CJson, CQuery, CResult, field};
use crate::auth::Caller;
use crate::idem::IdemKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_types::{Cluster, ClusterState, Plan};
use serde::Deserialize;
use serde_json::{Value, json};
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
fn legacy(c: &Cluster, provider: &str, region: &str) -> Value {
    let full = render(c, Some(&(provider.to_string(), region.to_string())), "2022-03-31", None);
    let op = full["operation_status"].as_str().unwrap_or_default();
    let regions: Vec<String> = regions_of(c, region).into_iter().map(|(r, _)| r).collect();
    json!({
        "id": c.id,
        "name": c.name,
        "cockroachVersion": full["cockroach_version"],
        "plan": if c.plan == Plan::Serverless { "SERVERLESS" } else { "DEDICATED" },
        "cloudProvider": full["cloud_provider"],
        "state": full["state"],
        "creatorId": c.created_by,
        "longRunningOperationStatus": if op.ends_with("UNSPECIFIED") { "NOT_SET" } else { op },
        "serverless": if c.plan == Plan::Serverless { json!({"regions": regions, "spendLimit": c.spend_limit.unwrap_or(0) / 100}) } else { Value::Null },
        "createdAt": full["created_at"],
        "updatedAt": full["updated_at"],
        "deletedAt": full["deleted_at"],
    })
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
    responses((status = 200, body = super::docs::LegacyClusterAnswer, description = "{\"cluster\": LegacyCluster}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn create_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    key: IdemKey,
    Path(org): Path<String>,
    CJson(body): CJson<LegacyCreate>,
) -> CResult<Json<Value>> {
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
    Ok(Json(json!({"cluster": legacy(&c, &provider, &region)})))
}

/// List the organization's clusters (legacy path).
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ListQuery),
    responses((status = 200, body = super::docs::LegacyClusterList, description = "{\"clusters\": [LegacyCluster]}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_clusters(State(s): State<AppState>, CCaller(caller): CCaller, Path(org): Path<String>, CQuery(q): CQuery<ListQuery>) -> CResult<Json<Value>> {
    own_org(&caller, &org).await?;
    let paging = Paging::new(&q, "orgs/clusters", "", s.app.master_key())?;
    let (next, items) = clusters::page_of_clusters(&s, &caller, &paging, false, true).await?;
    let places = s.app.clouds().places_of(&caller, &items).await?;
    let by_id: HashMap<_, _> = places.into_iter().map(|(id, (p, r))| (id, (p.as_str().to_ascii_uppercase(), r))).collect();
    let list: Vec<Value> = items
        .iter()
        .map(|c| {
            let (p, r) = by_id.get(&c.cloud_id).cloned().unwrap_or_default();
            legacy(c, &p, &r)
        })
        .collect();
    let mut out = json!({ "clusters": list });
    if next.is_some() {
        out["pagination"] = serde_json::to_value(paging.render(next, "2022-09-20")).unwrap_or_default();
    }
    Ok(Json(out))
}

/// Get a cluster with its regions and nodes (legacy path).
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters/{clusterId}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = super::docs::LegacyClusterDetail, description = "{\"cluster\": LegacyCluster, \"regions\": [...]}"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_cluster(State(s): State<AppState>, CCaller(caller): CCaller, Path((org, id)): Path<(String, String)>) -> CResult<Json<Value>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    let c = s.app.clusters().get(&caller, id).await?;
    let (provider, region) = cloud(&s, &caller, &c).await;
    let full = render(&c, Some(&(provider.clone(), region.clone())), "2022-03-31", None);
    let nodes: Vec<Value> = if c.plan == Plan::Dedicated && c.state != ClusterState::Deleted {
        c.nodes.iter().map(|n| json!({"name": n.name, "regionName": region, "status": n.status.as_str()})).collect()
    } else {
        vec![]
    };
    let regions: Vec<Value> = full["regions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| json!({"name": r["name"], "sqlDns": r["sql_dns"], "uiDns": r["ui_dns"], "nodes": if i == 0 { json!(nodes) } else { json!([]) }}))
        .collect();
    Ok(Json(json!({"cluster": legacy(&c, &provider, &region), "regions": regions})))
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
    responses((status = 200, body = super::wire::CockroachEmpty, description = "{}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn spend_limit(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((org, id)): Path<(String, String)>,
    CJson(body): CJson<LegacySpendLimit>,
) -> CResult<Json<Value>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    let cents = dollars_to_cents("spendLimit", Some(body.spend_limit))?.map(|c| c.0).unwrap_or(0);
    clusters::set_spend_limit(&s, &caller, id, cents).await?;
    Ok(Json(json!({})))
}

/// Delete a cluster (legacy path); answers `{}`.
#[utoipa::path(delete, path = "/api/v1/orgs/{organizationId}/clusters/{clusterId}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("clusterId" = String, Path)),
    responses((status = 200, body = super::wire::CockroachEmpty, description = "{}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn delete_cluster(State(s): State<AppState>, CCaller(caller): CCaller, Path((org, id)): Path<(String, String)>) -> CResult<Json<Value>> {
    own_org(&caller, &org).await?;
    let id = cluster_id(&id)?;
    clusters::remove(&s, &caller, id).await?;
    Ok(Json(json!({})))
}

/// Region names of a provider (legacy path): `{"regions": ["us-central1", …]}`.
#[utoipa::path(get, path = "/api/v1/orgs/{organizationId}/clusters/available-regions", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("organizationId" = String, Path), ("provider" = Option<String>, Query)),
    responses((status = 200, body = super::docs::RegionNames, description = "{\"regions\": [string]}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn available_regions(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(org): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    own_org(&caller, &org).await?;
    let provider = parse_provider(q.provider.as_deref())?;
    let names: Vec<String> = s.app.clouds().regions(&caller, provider).await?.into_iter().map(|r| r.name).collect();
    Ok(Json(json!({ "regions": names })))
}
