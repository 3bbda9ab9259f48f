//! The caller's organization and the region catalogue.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_types::{ErrorBody, Organization, Page, Provider, Region, UpdateOrganization};
use serde::Deserialize;
use utoipa::IntoParams;

/// The caller's own organization.
#[utoipa::path(get, path = "/v1/organization", tag = "organization", security(("bearer" = [])),
    responses((status = 200, body = Organization), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_organization(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Organization>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    Ok(Json(s.store.get_organization(caller.org()).await?))
}

/// Change organization settings: the default rate limit of its keys.
#[utoipa::path(patch, path = "/v1/organization", tag = "organization", security(("bearer" = [])), request_body = UpdateOrganization,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_organization(State(s): State<AppState>, caller: Caller, ApiJson(req): ApiJson<UpdateOrganization>) -> ApiResult<Json<Organization>> {
    caller.require(Permission::OrgUpdate, Target::Organization).await?;
    if req.rate_limit.is_some_and(|r| !(1..=super::api_keys::MAX_RATE_LIMIT).contains(&r)) {
        return Err(dbcloud_core::Error::field("rate_limit", "must be between 1 and 1000000 requests per second").into());
    }
    let o = s.store.set_org_rate_limit(&caller.ctx(None), req.rate_limit).await?;
    s.identity_changed().await;
    Ok(Json(o))
}

/// Region filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// Only this provider (`aws`, `gcp`, `azure`).
    pub provider: Option<Provider>,
}

/// Available regions, per provider: the whole catalogue in one page (`next_cursor` is
/// always `null`), in the `{items, next_cursor}` envelope of every list.
#[utoipa::path(get, path = "/v1/regions", tag = "regions", security(("bearer" = [])), params(RegionQuery),
    responses((status = 200, body = Page<Region>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_regions(caller: Caller, ApiQuery(q): ApiQuery<RegionQuery>) -> ApiResult<Json<Page<Region>>> {
    caller.require_somewhere(Permission::CloudRead).await?;
    Ok(Json(Page { items: dbcloud_core::regions::regions(q.provider), next_cursor: None }))
}
