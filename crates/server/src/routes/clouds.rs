//! Clouds (cloud connections clusters are deployed into).

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idem::{self, IdemKey};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{regions, validate};
use dbcloud_store::NewCloud;
use dbcloud_types::{Cloud, CreateCloud, ErrorBody, Page, Provider, UpdateCloud};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Create a cloud.
#[utoipa::path(post, path = "/v1/clouds", tag = "clouds", security(("bearer" = [])), request_body = CreateCloud,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = Cloud), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_cloud(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateCloud>) -> ApiResult<Response> {
    caller.require(Permission::CloudManage, Target::Organization).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::display_name(&req.name));
    if !regions::is_valid(req.provider, &req.region) {
        v.add("region", format!("`{}` is not a region of {}; see GET /v1/regions?provider={}", req.region, req.provider, req.provider));
    }
    let vpc = v.check("virtual_network_cidr", validate::vpc_cidr(req.virtual_network_cidr.as_deref().unwrap_or("10.0.0.0/16")));
    v.finish()?;
    let new = NewCloud { name: name.expect("checked"), provider: req.provider, region: req.region.clone(), vpc_cidr: vpc.expect("checked") };
    idem::create(
        &s,
        &caller,
        key,
        "POST /v1/clouds",
        &req,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_cloud(&ctx, &new).await }
        },
        |c| (StatusCode::CREATED, Json(c)).into_response(),
    )
    .await
}

/// Cloud list filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CloudQuery {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List clouds.
#[utoipa::path(get, path = "/v1/clouds", tag = "clouds", security(("bearer" = [])), params(CloudQuery),
    responses((status = 200, body = Page<Cloud>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_clouds(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<CloudQuery>) -> ApiResult<Json<Page<Cloud>>> {
    caller.require_somewhere(Permission::CloudRead).await?;
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.store.list_clouds(caller.org(), q.provider, page).await?))
}

/// Get a cloud with all its details.
#[utoipa::path(get, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Cloud), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Cloud>> {
    caller.require_somewhere(Permission::CloudRead).await?;
    Ok(Json(s.store.get_cloud(caller.org(), id).await?))
}

/// Rename a cloud or change its network (only while it has no clusters).
#[utoipa::path(patch, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateCloud,
    responses((status = 200, body = Cloud), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>, ApiJson(req): ApiJson<UpdateCloud>) -> ApiResult<Json<Cloud>> {
    caller.require(Permission::CloudManage, Target::Organization).await?;
    let mut v = Violations::new();
    let name = req.name.as_deref().and_then(|n| v.check("name", validate::display_name(n)));
    let vpc = req.virtual_network_cidr.as_deref().and_then(|c| v.check("virtual_network_cidr", validate::vpc_cidr(c)));
    if req.name.is_none() && req.virtual_network_cidr.is_none() {
        v.add("body", "nothing to change: give name or virtual_network_cidr");
    }
    v.finish()?;
    Ok(Json(s.store.update_cloud(&caller.ctx(None), id, name.as_deref(), vpc.as_deref()).await?))
}

/// Delete a cloud that has no clusters.
#[utoipa::path(delete, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    caller.require(Permission::CloudManage, Target::Organization).await?;
    s.store.delete_cloud(&caller.ctx(None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
