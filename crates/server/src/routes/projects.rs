//! Projects.

use super::PageQuery;
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
use dbcloud_core::perms::{Permission, Role, Scope, Target};
use dbcloud_core::validate;
use dbcloud_types::{CreateProject, ErrorBody, Page, Project, UpdateProject};
use uuid::Uuid;

/// Create a project.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", security(("bearer" = [])), request_body = CreateProject,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_project(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateProject>) -> ApiResult<Response> {
    caller.require(Permission::ProjectCreate, Target::Organization).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::display_name(&req.name));
    let description = v.check("description", validate::free_text(&req.description, 1024));
    v.finish()?;
    let (name, description) = (name.expect("checked"), description.expect("checked"));
    idem::create(
        &s,
        &caller,
        key,
        "POST /v1/projects",
        &req,
        StatusCode::CREATED,
        |ctx| {
            let (s, caller) = (s.clone(), caller.clone());
            async move {
                let p = s.store.create_project(&ctx, &name, &description).await?;
                // projectCreator owns what it creates.
                let t = Target::Project(p.id);
                super::grants::grant_creator(&s, &caller, Permission::ProjectRead, t, Role::ProjectOwner, Scope::Project(p.id)).await;
                Ok(p)
            }
        },
        |p| (StatusCode::CREATED, Json(p)).into_response(),
    )
    .await
}

/// List projects.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Project>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_projects(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<Project>>> {
    caller.require_somewhere(Permission::ProjectRead).await?;
    let mut page = s.store.list_projects(caller.org(), q.page()?).await?;
    page.items.retain(|p| caller.principal.can(Permission::ProjectRead, Target::Project(p.id)));
    Ok(Json(page))
}

/// Get a project.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_project(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Project>> {
    caller.require(Permission::ProjectRead, Target::Project(id)).await?;
    Ok(Json(s.store.get_project(caller.org(), id).await?))
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
    caller.require(Permission::ProjectUpdate, Target::Project(id)).await?;
    let (name, description) = super::rename(req.name.as_deref(), req.description.as_deref())?;
    Ok(Json(s.store.update_project(&caller.ctx(None), id, name.as_deref(), description.as_deref()).await?))
}

/// Delete a project that has no clusters.
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_project(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    caller.require(Permission::ProjectDelete, Target::Project(id)).await?;
    s.store.delete_project(&caller.ctx(None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
