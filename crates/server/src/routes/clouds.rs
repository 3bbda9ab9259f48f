//! Clouds (cloud connections clusters are deployed into).

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idem::IdemKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
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
    let created = s.app.clouds().create(&caller, &req.name, req.provider, &req.region, req.virtual_network_cidr.as_deref(), key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
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
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.app.clouds().list(&caller, q.provider, page).await?))
}

/// Get a cloud with all its details.
#[utoipa::path(get, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Cloud), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Cloud>> {
    Ok(Json(s.app.clouds().get(&caller, id).await?))
}

/// Rename a cloud or change its network (only while it has no clusters).
#[utoipa::path(patch, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateCloud,
    responses((status = 200, body = Cloud), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>, ApiJson(req): ApiJson<UpdateCloud>) -> ApiResult<Json<Cloud>> {
    Ok(Json(s.app.clouds().update(&caller, id, req.name.as_deref(), req.virtual_network_cidr.as_deref()).await?))
}

/// Delete a cloud that has no clusters.
#[utoipa::path(delete, path = "/v1/clouds/{id}", tag = "clouds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_cloud(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.app.clouds().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
