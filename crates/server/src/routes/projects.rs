//! Projects.

use super::PageQuery;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idem::IdemKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use dbcloud_types::{CreateProject, ErrorBody, Page, Project, UpdateProject};
use uuid::Uuid;

/// Create a project.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", security(("bearer" = [])), request_body = CreateProject,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_project(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateProject>) -> ApiResult<Response> {
    let created = s.app.projects().create(&caller, &req.name, &req.description, key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List projects.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Project>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_projects(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<Project>>> {
    Ok(Json(s.app.projects().list(&caller, q.page()?).await?))
}

/// Get a project.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_project(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Project>> {
    Ok(Json(s.app.projects().get(&caller, id).await?))
}

/// Rename or describe a project.
#[utoipa::path(patch, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateProject,
    responses((status = 200, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateProject>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.app.projects().update(&caller, id, req.name.as_deref(), req.description.as_deref()).await?))
}

/// Delete a project that has no clusters.
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_project(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.app.projects().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
