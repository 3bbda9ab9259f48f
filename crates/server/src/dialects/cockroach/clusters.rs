//! Clusters in the vendor's shape: list (store pages behind sealed tokens), get, delete and
//! the spend-limit PUT. Create is in `create.rs`, PATCH in `update.rs`.

use super::CockroachErrorBody;
use super::paging::{ClusterCursor, CockroachPagination, ListQuery, Paging};
use super::shape::{ClusterOut, busy, render_one, shape};
use super::wire::{CockroachEmpty, SpendLimitBody};
use super::{CCaller, CJson, CQuery, CResult, field};
use crate::auth::Caller;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dbcloud_app::Permission;
use dbcloud_app::clusters::ClusterChanges;
use dbcloud_app::model::{ClusterFilter, PageReq};
use dbcloud_types::{Cluster, ClusterChange, ClusterState, Plan};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Parses a cluster id of a path (400 naming `cluster_id` when malformed).
pub fn cluster_id(s: &str) -> CResult<Uuid> {
    Uuid::try_parse(s).map_err(|_| field("cluster_id", "must be a UUID"))
}

/// A cluster the caller holds `p` on that is not deleted (404 once it is): the vendor
/// answers changes of a deleted cluster, and reads of its sub-resources, with "not found".
pub async fn live(s: &AppState, caller: &Caller, id: Uuid, p: Permission) -> CResult<Cluster> {
    let c = s.app.clusters().authorized(caller, id, p).await?;
    if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
        return Err(dbcloud_core::Error::NotFound(format!("cluster {id}")).into());
    }
    Ok(c)
}

/// Get a cluster (also when deleted).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ClusterOut, description = "Cluster"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody),
        (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
) -> CResult<Response> {
    let id = cluster_id(&id)?;
    let c = s.app.clusters().get(&caller, id).await?;
    Ok(Json(render_one(&s, &caller, &c, version).await).into_response())
}

/// Delete a cluster; answers the cluster with `state: DELETED` while teardown continues. A
/// create or scale that is still running is superseded (it ends cancelled).
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ClusterOut, description = "the deleted Cluster"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody),
        (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn delete_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
) -> CResult<Response> {
    let change = remove(&s, &caller, cluster_id(&id)?).await?;
    Ok(Json(render_one(&s, &caller, &change.cluster, version).await).into_response())
}

/// Deletes a cluster that is not deleted yet (404 when it is; delete protection is a 400).
pub async fn remove(s: &AppState, caller: &Caller, id: Uuid) -> CResult<ClusterChange> {
    let c = live(s, caller, id, Permission::ClusterDelete).await?;
    s.app.clusters().delete(caller, id).await.map_err(|e| busy(&c, e))
}

/// Sets a serverless cluster's spend limit (in cents) under a dialect's unit.
pub async fn set_spend_limit(s: &AppState, caller: &Caller, id: Uuid, cents: i64) -> CResult<()> {
    let c = live(s, caller, id, Permission::ClusterUpdate).await?;
    if c.plan != Plan::Serverless {
        return Err(dbcloud_core::Error::FailedPrecondition("ADVANCED clusters have no spend limit".into()).into());
    }
    if !(0..=i32::MAX as i64).contains(&cents) {
        return Err(field("spend_limit", "must be a non-negative int32"));
    }
    let changes = ClusterChanges { spend_limit: Some(cents), ..Default::default() };
    s.app.clusters().update(caller, id, changes).await.map_err(|e| busy(&c, e))?;
    Ok(())
}

/// Legacy: set the spend limit of a serverless cluster (US cents), under any `Cc-Version`.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster_id}/spend-limit", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = SpendLimitBody,
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CockroachEmpty, description = "{}"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody),
        (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn spend_limit(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(body): CJson<SpendLimitBody>,
) -> CResult<Json<CockroachEmpty>> {
    let id = cluster_id(&id)?;
    set_spend_limit(&s, &caller, id, body.spend_limit.0).await?;
    Ok(Json(CockroachEmpty {}))
}

/// List clusters (exactly those the caller may read) by name (or creation time), with page
/// tokens; each page is one store page, whatever the organization's size.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ListOut, description = "ListClustersResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_clusters(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Response> {
    let inactive = q.show_inactive == Some(true);
    let by_name = match q.sort_by.as_deref() {
        None | Some("NAME") => true,
        Some("CREATED_AT") | Some("DELETED_AT") => false,
        Some(_) => return Err(field("pagination.sort_by", "must be NAME, CREATED_AT or DELETED_AT")),
    };
    let filter = format!("{}{}", if inactive { "inactive" } else { "" }, if by_name { "" } else { "/created" });
    let paging = Paging::new(&q, "clusters", &filter, s.app.master_key())?;
    let (next, items) = page_of_clusters(&s, &caller, &paging, inactive, by_name).await?;
    let places = s.app.clouds().places_of(&caller, &items).await?;
    let by_id: HashMap<Uuid, (String, String)> = places.into_iter().map(|(id, (p, r))| (id, (p.as_str().to_string(), r))).collect();
    let default = s.app.projects().default_project_id(&caller).await.ok();
    let clusters: Vec<ClusterOut> = items.iter().map(|c| shape(c, by_id.get(&c.cloud_id), version, default)).collect();
    Ok(Json(ListOut { clusters, pagination: paging.render(next, version) }).into_response())
}

/// `ListClustersResponse`.
#[derive(Serialize, ToSchema)]
struct ListOut<'a> {
    clusters: Vec<ClusterOut<'a>>,
    pagination: CockroachPagination,
}

/// One store page of the clusters the caller may read (the service filters by what the
/// caller may see), by keyset on name and id (`by_name`) or on the time-ordered id:
/// `(next position, clusters)`. Clusters created after the page's snapshot time, and (unless
/// `inactive`) failed and deleting ones, are left out of the page, never out of the walk.
pub async fn page_of_clusters(s: &AppState, caller: &Caller, paging: &Paging, inactive: bool, by_name: bool) -> CResult<(Option<String>, Vec<Cluster>)> {
    let after = match &paging.after {
        None => None,
        Some(k) => Some(ClusterCursor::parse(k, by_name).ok_or_else(|| field("pagination.page", "invalid page token"))?),
    };
    let filter = ClusterFilter { include_deleted: inactive, by_name, descending: paging.desc, ..Default::default() };
    let page = PageReq { after: after.as_ref().map(|a| a.id), after_key: after.and_then(|a| a.name), limit: paging.limit as u32 };
    let got = s.app.clusters().list(caller, filter, page).await?;
    let next = got.next_cursor.as_ref().and(got.items.last()).map(|c| ClusterCursor::of(c, by_name).render());
    let items: Vec<Cluster> = got
        .items
        .into_iter()
        .filter(|c| c.created_at <= paging.as_of)
        .filter(|c| inactive || !matches!(c.state, ClusterState::Deleting | ClusterState::CreationFailed))
        .collect();
    Ok((next, items))
}
