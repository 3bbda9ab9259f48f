//! Clouds, projects and organization users: the organization's catalogues. Clouds and
//! projects are read one page at a time (with the total) through the service; organization
//! users are read through the service and paged here.

use super::paging::{PageParams, Row, cut, envelope, paging};
use super::wire::{CloudDetail, CloudSummary, Envelope, OrgUser, ProjectOut};
use super::{CbCaller, CbIdemKey, CbJson, CbQuery, CbResult, bare, path_id, replayed};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

/// List clouds (`cloud.read`).
#[utoipa::path(get, path = "/v2/clouds", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Envelope<CloudSummary>, description = "A page of clouds."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError", body = super::wire::ErrorBody)))]
pub async fn list_clouds(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Envelope<CloudSummary>>> {
    let p = paging(&q)?;
    let (total, clouds) = s.app.clouds().page(&caller, p.numbered()).await?;
    let data = clouds.iter().map(CloudSummary::from).collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, total, data)))
}

/// Get a cloud (`cloud.read`).
#[utoipa::path(get, path = "/v2/clouds/{cloudId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("cloudId" = String, Path)),
    responses((status = 200, body = CloudDetail, description = "The cloud."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn get_cloud(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<CloudDetail>> {
    let id = path_id(&id, "cloud")?;
    let c = s.app.clouds().get(&caller, id).await?;
    Ok(Json(CloudDetail::from(&c)))
}

/// Create a project.
#[derive(Debug, Deserialize, ToSchema)]
pub struct V2CreateProject {
    /// Name.
    pub name: String,
}

/// List projects (`project.read`; only the projects the caller can read).
#[utoipa::path(get, path = "/v2/projects", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Envelope<ProjectOut>, description = "A page of projects."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError", body = super::wire::ErrorBody)))]
pub async fn list_projects(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Envelope<ProjectOut>>> {
    let p = paging(&q)?;
    let (total, projects) = s.app.projects().page(&caller, p.numbered()).await?;
    let data = projects.iter().map(ProjectOut::from).collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, total, data)))
}

/// Create a project (`project.create` at organization scope); 201 Project.
#[utoipa::path(post, path = "/v2/projects", tag = "couchbase cloud v2", security(("bearer" = [])), request_body = V2CreateProject,
    responses((status = 201, body = ProjectOut, description = "The project."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityAlreadyExists", body = super::wire::ErrorBody)))]
pub async fn create_project(State(s): State<AppState>, CbCaller(caller): CbCaller, key: CbIdemKey, CbJson(req): CbJson<V2CreateProject>) -> CbResult<Response> {
    // The body is checked before the permission (spec §2.3's order).
    dbcloud_core::validate::display_name(&req.name).map_err(|e| dbcloud_core::Error::field("name", e))?;
    let created = s.app.projects().create(&caller, &req.name, "", key.0.as_deref()).await?;
    let r = (StatusCode::CREATED, Json(ProjectOut::from(&created.value))).into_response();
    Ok(replayed(r, created.replayed))
}

/// Get a project (`project.read` on it).
#[utoipa::path(get, path = "/v2/projects/{projectId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("projectId" = String, Path)),
    responses((status = 200, body = ProjectOut, description = "The project."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn get_project(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<ProjectOut>> {
    let id = path_id(&id, "project")?;
    Ok(Json(ProjectOut::from(&s.app.projects().get(&caller, id).await?)))
}

/// Delete a project without live clusters (`project.delete` on it); 204.
#[utoipa::path(delete, path = "/v2/projects/{projectId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("projectId" = String, Path)),
    responses((status = 204), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn delete_project(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Response> {
    let id = path_id(&id, "project")?;
    s.app.projects().delete(&caller, id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}

/// List organization users (`org.read` at organization scope); service accounts are not listed.
#[utoipa::path(get, path = "/v2/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Envelope<OrgUser>, description = "A page of the organization's users."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError", body = super::wire::ErrorBody)))]
pub async fn list_org_users(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Envelope<OrgUser>>> {
    let p = paging(&q)?;
    let users = s.app.users().list_all(&caller).await?;
    let rows = users.iter().map(|u| Row { name: u.name.clone(), created: u.created_at, id: u.id.to_string(), value: OrgUser::from(u) }).collect();
    let (total, data) = cut(&p, rows);
    Ok(Json(envelope(&s, &headers, &uri, &p, total, data)))
}
