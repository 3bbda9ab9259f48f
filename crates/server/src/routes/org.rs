//! The caller's organization and the region catalogue.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use dbcloud_types::{ErrorBody, Organization, Page, Provider, Region, UpdateOrganization};
use serde::Deserialize;
use utoipa::IntoParams;

/// The caller's own organization.
#[utoipa::path(get, path = "/v1/organization", tag = "organization", security(("bearer" = [])),
    responses((status = 200, body = Organization), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_organization(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Organization>> {
    Ok(Json(s.app.org().get(&caller).await?))
}

/// Change organization settings: the default rate limit of its keys.
#[utoipa::path(patch, path = "/v1/organization", tag = "organization", security(("bearer" = [])), request_body = UpdateOrganization,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_organization(State(s): State<AppState>, caller: Caller, ApiJson(req): ApiJson<UpdateOrganization>) -> ApiResult<Json<Organization>> {
    Ok(Json(s.app.org().set_rate_limit(&caller, req.rate_limit).await?))
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
pub async fn list_regions(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<RegionQuery>) -> ApiResult<Json<Page<Region>>> {
    Ok(Json(Page { items: s.app.clouds().regions(&caller, q.provider).await?, next_cursor: None }))
}
