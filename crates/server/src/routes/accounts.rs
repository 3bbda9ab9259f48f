//! Service accounts and users: principals that hold grants; keys created for them inherit
//! those grants.

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
use dbcloud_types::*;
use uuid::Uuid;

/// Create a service account with roles (any vocabulary, including the legacy ADMIN,
/// CREATE, DELETE, EDIT, READ). Nobody can create one with more authority than they hold.
#[utoipa::path(post, path = "/v1/service-accounts", tag = "service accounts", security(("bearer" = [])), request_body = CreateServiceAccount,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = ServiceAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_service_account(
    State(s): State<AppState>,
    caller: Caller,
    key: IdemKey,
    ApiJson(req): ApiJson<CreateServiceAccount>,
) -> ApiResult<Response> {
    let created = s.app.service_accounts().create(&caller, &req.name, &req.description, &req.roles, &req.grants, key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List service accounts.
#[utoipa::path(get, path = "/v1/service-accounts", tag = "service accounts", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<ServiceAccount>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_service_accounts(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<ServiceAccount>>> {
    Ok(Json(s.app.service_accounts().list(&caller, q.page()?).await?))
}

/// Get a service account with its grants.
#[utoipa::path(get, path = "/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ServiceAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_service_account(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<ServiceAccount>> {
    Ok(Json(s.app.service_accounts().get(&caller, id).await?))
}

/// Rename or describe a service account.
#[utoipa::path(patch, path = "/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateServiceAccount,
    responses((status = 200, body = ServiceAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_service_account(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateServiceAccount>,
) -> ApiResult<Json<ServiceAccount>> {
    Ok(Json(s.app.service_accounts().update(&caller, id, req.name.as_deref(), req.description.as_deref()).await?))
}

/// Delete a service account; its keys are revoked with it.
#[utoipa::path(delete, path = "/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_service_account(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.app.service_accounts().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a user to the organization (console login comes later; keys can be created for them).
#[utoipa::path(post, path = "/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateUser>) -> ApiResult<Response> {
    let created = s.app.users().create(&caller, &req.email, &req.name, &req.roles, &req.grants, key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List the organization's users.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<User>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<User>>> {
    Ok(Json(s.app.users().list(&caller, q.page()?).await?))
}

/// Get a user with their grants.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_user(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<User>> {
    Ok(Json(s.app.users().get(&caller, id).await?))
}

/// Remove a user; their grants go and their keys are revoked.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_user(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    s.app.users().delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
