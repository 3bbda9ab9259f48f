//! Service accounts and users: principals that hold grants; keys created for them inherit
//! those grants.

use super::PageQuery;
use super::grants::{ensure_grantable, parse_grants};
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
use dbcloud_core::validate;
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
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::display_name(&req.name));
    let description = v.check("description", validate::free_text(&req.description, 1024));
    let grants = parse_grants(&mut v, &req.roles, &req.grants);
    v.finish()?;
    ensure_grantable(&s, &caller, &grants).await?;
    let (name, description) = (name.expect("checked"), description.expect("checked"));
    let r = idem::create(
        &s,
        &caller,
        key,
        "POST /v1/service-accounts",
        &req,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_service_account(&ctx, &name, &description, &grants).await }
        },
        |sa| (StatusCode::CREATED, Json(sa)).into_response(),
    )
    .await?;
    Ok(r)
}

/// List service accounts.
#[utoipa::path(get, path = "/v1/service-accounts", tag = "service accounts", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<ServiceAccount>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_service_accounts(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<ServiceAccount>>> {
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    Ok(Json(s.store.list_service_accounts(caller.org(), q.page()?).await?))
}

/// Get a service account with its grants.
#[utoipa::path(get, path = "/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ServiceAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_service_account(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<ServiceAccount>> {
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    Ok(Json(s.store.get_service_account(caller.org(), id).await?))
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
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    let (name, description) = super::rename(req.name.as_deref(), req.description.as_deref())?;
    Ok(Json(s.store.update_service_account(&caller.ctx(None), id, name.as_deref(), description.as_deref()).await?))
}

/// Delete a service account; its keys are revoked with it.
#[utoipa::path(delete, path = "/v1/service-accounts/{id}", tag = "service accounts", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_service_account(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    let sa = s.store.get_service_account(caller.org(), id).await?;
    ensure_grantable(&s, &caller, &super::api_keys::account_grants(&sa.roles)).await?;
    s.store.delete_service_account(&caller.ctx(None), id).await?;
    s.identity_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a user to the organization (console login comes later; keys can be created for them).
#[utoipa::path(post, path = "/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(State(s): State<AppState>, caller: Caller, key: IdemKey, ApiJson(req): ApiJson<CreateUser>) -> ApiResult<Response> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let mut v = Violations::new();
    let email = req.email.trim().to_ascii_lowercase();
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.') && !email.chars().any(char::is_whitespace));
    if !valid_email {
        v.add("email", "must be an e-mail address");
    }
    let name = if req.name.trim().is_empty() { Some(email.clone()) } else { v.check("name", validate::display_name(&req.name)) };
    let grants = parse_grants(&mut v, &req.roles, &req.grants);
    v.finish()?;
    ensure_grantable(&s, &caller, &grants).await?;
    let name = name.expect("checked");
    idem::create(
        &s,
        &caller,
        key,
        "POST /v1/users",
        &req,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_user(&ctx, &email, &name, &grants).await }
        },
        |u| (StatusCode::CREATED, Json(u)).into_response(),
    )
    .await
}

/// List the organization's users.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<User>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<Json<Page<User>>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    Ok(Json(s.store.list_users(caller.org(), q.page()?).await?))
}

/// Get a user with their grants.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_user(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<User>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    Ok(Json(s.store.get_user(caller.org(), id).await?))
}

/// Remove a user; their grants go and their keys are revoked.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_user(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<StatusCode> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let u = s.store.get_user(caller.org(), id).await?;
    ensure_grantable(&s, &caller, &super::api_keys::account_grants(&u.roles)).await?;
    s.store.delete_user(&caller.ctx(None), id).await?;
    s.identity_changed().await;
    Ok(StatusCode::NO_CONTENT)
}
