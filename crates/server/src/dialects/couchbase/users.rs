//! Database users of a cluster: list, create, update (password), delete. A v2 user holds
//! one grant: one bucket (or `*`, all buckets) with `data_reader` and/or `data_writer`.

use super::wire::DbUserOut;
use super::{CbCaller, CbJson, CbResult, bare, path_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use dbcloud_app::Permission;
use dbcloud_app::db_users::NewUser;
use dbcloud_core::error::Violations;
use dbcloud_core::{Error, cluster, secret};
use dbcloud_types::Access;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A bucket grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketRole {
    /// Bucket name (`*`: all buckets).
    pub bucket_name: String,
    /// `data_reader` and/or `data_writer`.
    pub bucket_access: Vec<String>,
}

/// CreateDatabaseUser.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2CreateDbUser {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Linked organization user (accepted, not kept).
    pub user_id: Option<String>,
    /// Bucket grants.
    pub buckets: Option<Vec<V2BucketRole>>,
    /// `data_reader` or `data_writer`.
    pub all_buckets_access: Option<String>,
}

/// UpdateDatabaseUser: every field optional.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2UpdateDbUser {
    /// Must equal the path's user name when given.
    pub username: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// Linked organization user (accepted, not kept).
    pub user_id: Option<String>,
    /// Bucket grants.
    pub buckets: Option<Vec<V2BucketRole>>,
    /// `data_reader` or `data_writer`.
    pub all_buckets_access: Option<String>,
}

fn access_of(roles: &[String]) -> Result<Access, String> {
    if roles.is_empty() || roles.iter().any(|r| r != "data_reader" && r != "data_writer") {
        return Err("must list data_reader and/or data_writer".into());
    }
    Ok(if roles.iter().any(|r| r == "data_writer") { Access::ReadWrite } else { Access::Read })
}

/// The one grant (scope, access) of `buckets` / `allBucketsAccess`.
fn grant_of(buckets: Option<&[V2BucketRole]>, all_buckets: Option<&str>, v: &mut Violations) -> Option<(Option<String>, Access)> {
    let mut grants: Vec<(Option<String>, Access)> = vec![];
    if let Some(a) = all_buckets
        && let Some(a) = v.check("allBucketsAccess", access_of(&[a.to_string()]))
    {
        grants.push((None, a));
    }
    for (i, b) in buckets.into_iter().flatten().enumerate() {
        let scope = if b.bucket_name == "*" { None } else { Some(b.bucket_name.clone()) };
        if let Some(a) = v.check(&format!("buckets[{i}].bucketAccess"), access_of(&b.bucket_access)) {
            grants.push((scope, a));
        }
    }
    grants.dedup();
    match grants.len() {
        0 => {
            if all_buckets.is_none() && buckets.is_none_or(|b| b.is_empty()) {
                v.add("buckets", "at least one of buckets and allBucketsAccess is required");
            }
            None
        }
        1 => grants.pop(),
        _ => {
            v.add("buckets", "this server keeps one grant per database user: give one bucket or allBucketsAccess");
            None
        }
    }
}

fn check_user_id(v: &mut Violations, user_id: Option<&str>) {
    if let Some(u) = user_id {
        v.check("userId", Uuid::parse_str(u).map_err(|_| "must be a UUID".to_string()));
    }
}

/// List database users (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<DbUserOut>, description = "The cluster's database users."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn list_db_users(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Vec<DbUserOut>>> {
    let id = path_id(&id, "cluster")?;
    Ok(Json(s.app.db_users().list_all(&caller, id).await?.iter().map(DbUserOut::from).collect()))
}

/// Create a database user (`dbuser.manage` on the cluster); 201, no body.
#[utoipa::path(post, path = "/v2/clusters/{id}/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = V2CreateDbUser,
    responses((status = 201, description = "Created; no body."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn create_db_user(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2CreateDbUser>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    let name = dbcloud_app::db_users::check_name(&mut v, "username", &req.username);
    v.check("password", secret::check_password(&req.password));
    check_user_id(&mut v, req.user_id.as_deref());
    let grant = grant_of(req.buckets.as_deref(), req.all_buckets_access.as_deref(), &mut v);
    v.finish()?;
    let (scope, access) = grant.expect("checked");
    s.app.clusters().authorized(&caller, id, Permission::DbuserManage).await?;
    if let Some(b) = &scope
        && !s.app.buckets().list_all(&caller, id).await?.iter().any(|x| &x.name == b)
    {
        return Err(Error::field("buckets", format!("bucket {b} does not exist")).into());
    }
    let new = NewUser { name: name.expect("checked"), access, scope, password: Some(req.password) };
    s.app.db_users().create(&caller, id, new, None).await?;
    Ok(bare(StatusCode::CREATED, None))
}

/// Delete a database user by name (`dbuser.manage` on the cluster); 204.
#[utoipa::path(delete, path = "/v2/clusters/{id}/users/{username}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("username" = String, Path)),
    responses((status = 204), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn delete_db_user(State(s): State<AppState>, CbCaller(caller): CbCaller, Path((id, username)): Path<(String, String)>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    s.app.clusters().authorized(&caller, id, Permission::DbuserManage).await?;
    let u = s.app.db_users().by_name(&caller, id, &username).await?;
    s.app.db_users().delete(&caller, id, u.id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}

/// Update a database user (`dbuser.manage` on the cluster); 204. The core changes only the
/// password of an existing user: a grant given here must equal the user's current one.
#[utoipa::path(put, path = "/v2/clusters/{id}/users/{username}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("username" = String, Path)), request_body = V2UpdateDbUser,
    responses((status = 204), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn update_db_user(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path((id, username)): Path<(String, String)>,
    CbJson(req): CbJson<V2UpdateDbUser>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    if req.username.as_deref().is_some_and(|u| u != username) {
        v.add("username", "must equal the user name of the path");
    }
    if let Some(p) = &req.password {
        v.check("password", secret::check_password(p));
    }
    check_user_id(&mut v, req.user_id.as_deref());
    let wants_grant = req.buckets.is_some() || req.all_buckets_access.is_some();
    let grant = if wants_grant { grant_of(req.buckets.as_deref(), req.all_buckets_access.as_deref(), &mut v) } else { None };
    v.finish()?;
    let c = s.app.clusters().authorized(&caller, id, Permission::DbuserManage).await?;
    let u = s.app.db_users().by_name(&caller, id, &username).await?;
    if let Some((scope, access)) = grant
        && (scope != u.scope || access != u.access)
    {
        return Err(Error::field("buckets", "this server cannot change the access of an existing database user; delete and recreate it").into());
    }
    cluster::check_accepts_children(&c)?;
    if let Some(p) = &req.password {
        s.app.db_users().set_password(&caller, id, u.id, Some(p)).await?;
    }
    Ok(bare(StatusCode::NO_CONTENT, None))
}
