//! Projects: list what the caller may read, create (names in the vendor pattern), rename,
//! delete.

use super::wire;
use super::{CrCaller, CrJson, CrResult, own_org, path_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_app::vendor::check_name_pattern;
use dbcloud_core::Error;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Projects the caller may read.
#[utoipa::path(get, path = "/api/v2/projects/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<wire::Project>, description = "The projects."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn list_projects(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Vec<wire::Project>>> {
    let items = s.app.projects().list_all(&caller).await?;
    Ok(Json(items.iter().map(wire::Project::from).collect()))
}

/// Projects of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/projects/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<wire::Project>, description = "The organization's projects."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_org_projects(state: State<AppState>, caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Vec<wire::Project>>> {
    own_org(&caller.0, &org)?;
    list_projects(state, caller).await
}

/// Create-project body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProjectBody {
    /// Name.
    pub name: String,
    /// Organization (must be the caller's).
    pub organization_id: Option<String>,
}

/// Create a project (201).
#[utoipa::path(post, path = "/api/v2/projects/", tag = "cratedb cloud v2", security(("basic" = [])), request_body = CreateProjectBody,
    responses((status = 201, body = wire::Project, description = "The new project."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 409, description = "Conflict", body = super::ErrorDoc)))]
pub async fn create_project(State(s): State<AppState>, CrCaller(caller): CrCaller, CrJson(req): CrJson<CreateProjectBody>) -> CrResult<Response> {
    if req.organization_id.as_deref().is_some_and(|o| Uuid::parse_str(o).ok() != Some(caller.org())) {
        return Err(Error::field("organization_id", "unknown organization").into());
    }
    let p = s.app.projects().create_named(&caller, &req.name, check_name_pattern).await?;
    Ok((StatusCode::CREATED, Json(wire::Project::from(&p))).into_response())
}

/// A project.
#[utoipa::path(get, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 200, body = wire::Project, description = "The project."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn get_project(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<wire::Project>> {
    let p = s.app.projects().get(&caller, path_id(&id)?).await?;
    Ok(Json(wire::Project::from(&p)))
}

/// Project edit body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditProjectBody {
    /// New name.
    pub name: Option<String>,
}

/// Rename a project.
#[utoipa::path(patch, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)), request_body = EditProjectBody,
    responses((status = 200, body = wire::Project, description = "The project as edited."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Name taken", body = super::ErrorDoc)))]
pub async fn edit_project(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<EditProjectBody>,
) -> CrResult<Json<wire::Project>> {
    let p = s.app.projects().rename_named(&caller, path_id(&id)?, req.name.as_deref(), check_name_pattern).await?;
    Ok(Json(wire::Project::from(&p)))
}

/// Delete a project (204); 409 while it holds clusters.
#[utoipa::path(delete, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 204, description = "Deleted; no content."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc),
        (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "The project holds clusters", body = super::ErrorDoc)))]
pub async fn delete_project(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<StatusCode> {
    s.app.projects().delete(&caller, path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
