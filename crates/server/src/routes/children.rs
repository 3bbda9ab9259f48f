//! What lives inside a cluster: buckets, database users, allow-list entries, operations.

use super::PageQuery;
use super::clusters::authorized_cluster;
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
use dbcloud_core::perms::Permission;
use dbcloud_core::{Error, secret, validate};
use dbcloud_store::{NewAllowlistEntry, NewBucket, NewDbUser};
use dbcloud_types::*;
use uuid::Uuid;

/// Memory quota of a bucket, in MiB.
pub const BUCKET_QUOTA_MB: std::ops::RangeInclusive<i64> = 100..=1_048_576;
/// Replicas of a bucket.
pub const BUCKET_REPLICAS: std::ops::RangeInclusive<i32> = 0..=3;

fn created<T: serde::Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

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
    authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::identifier(&req.name, 100, true));
    let quota = req.memory_quota_mb.unwrap_or(100);
    if !BUCKET_QUOTA_MB.contains(&quota) {
        v.add("memory_quota_mb", format!("must be between {} and {}", BUCKET_QUOTA_MB.start(), BUCKET_QUOTA_MB.end()));
    }
    let replicas = req.replicas.unwrap_or(1);
    if !BUCKET_REPLICAS.contains(&replicas) {
        v.add("replicas", format!("must be between {} and {}", BUCKET_REPLICAS.start(), BUCKET_REPLICAS.end()));
    }
    v.finish()?;
    let new = NewBucket { name: name.expect("checked"), memory_quota_mb: quota, replicas };
    let r = idem::create(
        &s,
        &caller,
        key,
        &format!("POST /v1/clusters/{id}/buckets"),
        &req,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_bucket(&ctx, id, &new).await }
        },
        created,
    )
    .await;
    s.clusters.invalidate(id);
    r
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
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(s.store.list_buckets(caller.org(), id, q.page()?).await?))
}

/// Remove a bucket.
#[utoipa::path(delete, path = "/v1/clusters/{id}/buckets/{bucket_id}", tag = "buckets", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("bucket_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_bucket(State(s): State<AppState>, caller: Caller, ApiPath((id, bucket)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    let deleted = s.store.delete_bucket(&caller.ctx(None), id, bucket).await;
    s.clusters.invalidate(id);
    deleted?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolves the password of a create or change: the one given (checked), or a generated one.
pub(crate) fn password(given: Option<&str>) -> Result<String, Error> {
    match given {
        Some(p) => secret::check_password(p).map(|_| p.to_string()).map_err(|e| Error::field("password", e)),
        None => Ok(secret::generate_password()),
    }
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
    authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::identifier(&req.name, 63, false));
    let scope = req.scope.as_deref().and_then(|sc| v.check("scope", validate::identifier(sc, 100, true)));
    let pw = v.check("password", password(req.password.as_deref()).map_err(|_| "must be 12 to 128 characters without control characters".into()));
    v.finish()?;
    let pw = pw.expect("checked");
    let new = NewDbUser { name: name.expect("checked"), access: req.access, scope, password_hash: secret::hash_password(&pw) };
    // The recorded request identity never includes the password.
    let identity = serde_json::json!({"name": req.name, "access": req.access, "scope": req.scope, "password_given": req.password.is_some()});
    idem::create(
        &s,
        &caller,
        key,
        &format!("POST /v1/clusters/{id}/users"),
        &identity,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_db_user(&ctx, id, &new).await }
        },
        |user| created(DatabaseUserWithPassword { user, password: pw }),
    )
    .await
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
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(s.store.list_db_users(caller.org(), id, q.page()?).await?))
}

/// Remove a database user.
#[utoipa::path(delete, path = "/v1/clusters/{id}/users/{user_id}", tag = "database users", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_db_user(State(s): State<AppState>, caller: Caller, ApiPath((id, user)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    s.store.delete_db_user(&caller.ctx(None), id, user).await?;
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
    authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    let pw = password(req.password.as_deref())?;
    let user = s.store.set_db_user_password(&caller.ctx(None), id, user, &secret::hash_password(&pw)).await?;
    Ok(Json(DatabaseUserWithPassword { user, password: pw }))
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
    authorized_cluster(&s, &caller, id, Permission::AllowlistManage).await?;
    let mut v = Violations::new();
    let cidr = v.check("cidr", validate::cidr(&req.cidr));
    let comment = v.check("comment", validate::free_text(&req.comment, 256));
    if req.expires_at.is_some_and(|e| e <= time::OffsetDateTime::now_utc()) {
        v.add("expires_at", "must be in the future");
    }
    v.finish()?;
    let new =
        NewAllowlistEntry { cidr: cidr.expect("checked"), comment: comment.expect("checked"), expires_at: req.expires_at, attributes: Default::default() };
    idem::create(
        &s,
        &caller,
        key,
        &format!("POST /v1/clusters/{id}/allowlist"),
        &req,
        StatusCode::CREATED,
        |ctx| {
            let store = s.store.clone();
            async move { store.create_allowlist_entry(&ctx, id, &new).await }
        },
        created,
    )
    .await
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
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(s.store.list_allowlist(caller.org(), id, q.page()?).await?))
}

/// Remove an allow-list entry.
#[utoipa::path(delete, path = "/v1/clusters/{id}/allowlist/{entry_id}", tag = "allow list", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("entry_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_allowlist_entry(State(s): State<AppState>, caller: Caller, ApiPath((id, entry)): ApiPath<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    authorized_cluster(&s, &caller, id, Permission::AllowlistManage).await?;
    s.store.delete_allowlist_entry(&caller.ctx(None), id, entry).await?;
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
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(s.store.list_operations(caller.org(), id, q.page()?).await?))
}

/// Get an operation.
#[utoipa::path(get, path = "/v1/operations/{id}", tag = "operations", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Operation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_operation(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Operation>> {
    let op = s.store.get_operation(caller.org(), id).await?;
    authorized_cluster(&s, &caller, op.cluster_id, Permission::ClusterRead).await?;
    Ok(Json(op))
}
