//! What lives inside a cluster: buckets, database users, allow-list entries, operations.

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
use dbcloud_app::model::{NewAllowlistEntry, NewBucket};
use dbcloud_app::{buckets, db_users};
use dbcloud_types::*;
use uuid::Uuid;

/// Memory quota of a bucket, in MiB (the service's rule).
pub const BUCKET_QUOTA_MB: std::ops::RangeInclusive<i64> = buckets::QUOTA_MB;
/// Replicas of a bucket (the service's rule).
pub const BUCKET_REPLICAS: std::ops::RangeInclusive<i32> = buckets::REPLICAS;

/// Add a bucket.
#[utoipa::path(post, path = "/v1/clusters/{id}/buckets", tag = "buckets", security(("bearer" = [])), params(("id" = Uuid, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")), request_body = CreateBucket,
    responses((status = 201, body = Bucket), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_bucket(
    State(s): State<AppState>,
    caller: Caller,
    key: IdemKey,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateBucket>,
) -> ApiResult<Response> {
    let new = NewBucket {
        name: req.name,
        memory_quota_mb: req.memory_quota_mb.unwrap_or(buckets::DEFAULT_QUOTA_MB),
        replicas: req.replicas.unwrap_or(buckets::DEFAULT_REPLICAS),
    };
    let created = s.app.buckets().create(&caller, id, new, key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List a cluster's buckets.
#[utoipa::path(get, path = "/v1/clusters/{id}/buckets", tag = "buckets", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Bucket>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_buckets(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Bucket>>> {
    Ok(Json(s.app.buckets().list(&caller, id, q.page()?).await?))
}

/// Remove a bucket.
#[utoipa::path(delete, path = "/v1/clusters/{id}/buckets/{bucket_id}", tag = "buckets", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("bucket_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_bucket(State(s): State<AppState>, caller: Caller, ApiPath((id, bucket)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    s.app.buckets().delete(&caller, id, bucket).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a database user; the password is generated when absent and returned only here.
#[utoipa::path(post, path = "/v1/clusters/{id}/users", tag = "database users", security(("bearer" = [])), params(("id" = Uuid, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create; a replay does not repeat the password")), request_body = CreateDatabaseUser,
    responses((status = 201, body = DatabaseUserWithPassword), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_db_user(
    State(s): State<AppState>,
    caller: Caller,
    key: IdemKey,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateDatabaseUser>,
) -> ApiResult<Response> {
    let new = db_users::NewUser { name: req.name, access: req.access, scope: req.scope, password: req.password };
    let created = s.app.db_users().create(&caller, id, new, key.0.as_deref()).await?;
    if created.replayed {
        // A replay answers the user without a password: it was shown once, with the create.
        return Ok(super::created(StatusCode::CREATED, None, created.map(|u| u.user)));
    }
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List a cluster's database users (never their passwords).
#[utoipa::path(get, path = "/v1/clusters/{id}/users", tag = "database users", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<DatabaseUser>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_db_users(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DatabaseUser>>> {
    Ok(Json(s.app.db_users().list(&caller, id, q.page()?).await?))
}

/// Remove a database user.
#[utoipa::path(delete, path = "/v1/clusters/{id}/users/{user_id}", tag = "database users", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_db_user(State(s): State<AppState>, caller: Caller, ApiPath((id, user)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    s.app.db_users().delete(&caller, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change a database user's password; a generated one is returned once.
#[utoipa::path(put, path = "/v1/clusters/{id}/users/{user_id}/password", tag = "database users", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = ChangePassword,
    responses((status = 200, body = DatabaseUserWithPassword), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn change_password(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<ChangePassword>,
) -> ApiResult<Json<DatabaseUserWithPassword>> {
    Ok(Json(s.app.db_users().set_password(&caller, id, user, req.password.as_deref()).await?))
}

/// Add a network to a cluster's allow list.
#[utoipa::path(post, path = "/v1/clusters/{id}/allowlist", tag = "allow list", security(("bearer" = [])), params(("id" = Uuid, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")), request_body = CreateAllowlistEntry,
    responses((status = 201, body = AllowlistEntry), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_allowlist_entry(
    State(s): State<AppState>,
    caller: Caller,
    key: IdemKey,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateAllowlistEntry>,
) -> ApiResult<Response> {
    let entry = NewAllowlistEntry { cidr: req.cidr, comment: req.comment, expires_at: req.expires_at, attributes: Default::default() };
    let created = s.app.allowlist().add(&caller, id, entry, key.0.as_deref()).await?;
    Ok(super::created(StatusCode::CREATED, None, created))
}

/// List a cluster's allow list.
#[utoipa::path(get, path = "/v1/clusters/{id}/allowlist", tag = "allow list", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<AllowlistEntry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_allowlist(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AllowlistEntry>>> {
    Ok(Json(s.app.allowlist().list(&caller, id, q.page()?).await?))
}

/// Remove an allow-list entry.
#[utoipa::path(delete, path = "/v1/clusters/{id}/allowlist/{entry_id}", tag = "allow list", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("entry_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_allowlist_entry(State(s): State<AppState>, caller: Caller, ApiPath((id, entry)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    s.app.allowlist().delete(&caller, id, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a cluster's operations, oldest first.
#[utoipa::path(get, path = "/v1/clusters/{id}/operations", tag = "operations", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Operation>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_operations(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Operation>>> {
    Ok(Json(s.app.operations().list(&caller, id, q.page()?).await?))
}

/// Get an operation.
#[utoipa::path(get, path = "/v1/operations/{id}", tag = "operations", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Operation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_operation(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Operation>> {
    Ok(Json(s.app.operations().get(&caller, id).await?))
}
