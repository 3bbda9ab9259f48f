//! Buckets of a cluster: list, create, delete (by name or id), quota updates. Bucket
//! changes need a ready cluster ([`dbcloud_app::buckets::check_ready`]).

use super::wire::{BucketOut, BucketSpecOut, bucket_location, bucket_name};
use super::{CbCaller, CbError, CbIdemKey, CbJson, CbResult, bare, path_id, replayed};
use crate::auth::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_app::Permission;
use dbcloud_app::buckets::{check_name, check_quota, check_ready, check_replicas};
use dbcloud_app::model::{BucketChange, NewBucket};
use dbcloud_core::Error;
use dbcloud_core::error::Violations;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use uuid::Uuid;

/// BucketSpec.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketSpec {
    /// Name.
    pub name: String,
    /// Memory quota (MiB, ≥ 100).
    pub memory_quota: i64,
    /// Replicas (0–3, default 1).
    pub replicas: Option<i32>,
    /// `seqno` (default); `lww` is not supported by the core.
    pub conflict_resolution: Option<String>,
}

/// A bucket named in a body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct V2BucketName {
    /// Name.
    pub name: String,
}

/// Bucket quota change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketQuota {
    /// Memory quota (MiB, ≥ 100).
    pub memory_quota: i64,
}

/// List buckets (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<BucketOut>, description = "The cluster's buckets."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn list_buckets(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Vec<BucketOut>>> {
    let id = path_id(&id, "cluster")?;
    Ok(Json(s.app.buckets().list_all(&caller, id).await?.iter().map(BucketOut::from).collect()))
}

/// Create a bucket (`cluster.update` on the cluster; the cluster must be ready); 201
/// BucketSpec with defaults and `Location`.
#[utoipa::path(post, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = V2BucketSpec,
    responses((status = 201, body = BucketSpecOut, description = "The bucket as stored.", headers(("Location" = String, description = "The bucket's URL."))), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn create_bucket(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    key: CbIdemKey,
    CbJson(req): CbJson<V2BucketSpec>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    let name = check_name(&mut v, "name", &req.name);
    check_quota(&mut v, "memoryQuota", req.memory_quota);
    let replicas = req.replicas.unwrap_or(dbcloud_app::buckets::DEFAULT_REPLICAS);
    check_replicas(&mut v, "replicas", replicas);
    match req.conflict_resolution.as_deref() {
        None | Some("seqno") => {}
        Some("lww") => v.add("conflictResolution", "lww is not supported by this server; use seqno"),
        Some(_) => v.add("conflictResolution", "must be seqno or lww"),
    }
    v.finish()?;
    let c = s.app.clusters().authorized(&caller, id, Permission::ClusterUpdate).await?;
    check_ready(&c)?;
    let new = NewBucket { name: name.expect("checked"), memory_quota_mb: req.memory_quota, replicas };
    let created = s.app.buckets().create(&caller, id, new, key.0.as_deref()).await?;
    let b = &created.value;
    let mut r = (StatusCode::CREATED, Json(BucketSpecOut::from(b))).into_response();
    if let Ok(l) = HeaderValue::from_str(&bucket_location(id, &b.name)) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(replayed(r, created.replayed))
}

async fn remove_bucket(s: &AppState, caller: &Caller, id: Uuid, name: &str) -> CbResult<Response> {
    let c = s.app.clusters().authorized(caller, id, Permission::ClusterUpdate).await?;
    let b = s.app.buckets().by_name(caller, id, name).await?;
    check_ready(&c)?;
    s.app.buckets().delete(caller, id, b.id).await?;
    Ok(bare(StatusCode::ACCEPTED, Some(bucket_location(id, &b.name))))
}

/// Delete a bucket by name in the body (`cluster.update` on the cluster); 202 with `Location`.
#[utoipa::path(delete, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = V2BucketName,
    responses((status = 202, headers(("Location" = String))), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn delete_bucket_by_name(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2BucketName>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    remove_bucket(&s, &caller, id, &req.name).await
}

/// Delete a bucket by id (`cluster.update` on the cluster); 202.
#[utoipa::path(delete, path = "/v2/clusters/{id}/buckets/{bucketId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("bucketId" = String, Path)),
    responses((status = 202), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn delete_bucket(State(s): State<AppState>, CbCaller(caller): CbCaller, Path((id, bucket_id)): Path<(String, String)>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let name = bucket_name(&bucket_id).ok_or_else(|| CbError::not_found(format!("bucket {bucket_id}")))?;
    remove_bucket(&s, &caller, id, &name).await
}

/// A JSON array body (the shared JSON extractor takes objects only), parsed after the
/// caller is authorized; a malformed body or item is a 422 naming the place.
pub(super) fn json_array<T: DeserializeOwned>(body: &[u8]) -> CbResult<Vec<T>> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Error::field("body", format!("malformed JSON ({e})")))?;
    let serde_json::Value::Array(items) = v else {
        return Err(Error::field("body", "a JSON array is required").into());
    };
    items.into_iter().enumerate().map(|(i, item)| serde_json::from_value(item).map_err(|e| Error::field(format!("[{i}]"), e.to_string()).into())).collect()
}

/// The checked core change of one BucketSpec of a bulk update; `prefix` names its place.
fn check_bucket_change(v: &mut Violations, prefix: &str, b: &V2BucketSpec) -> Option<BucketChange> {
    let name = check_name(v, &format!("{prefix}name"), &b.name);
    check_quota(v, &format!("{prefix}memoryQuota"), b.memory_quota);
    if let Some(r) = b.replicas {
        check_replicas(v, &format!("{prefix}replicas"), r);
    }
    match b.conflict_resolution.as_deref() {
        None | Some("seqno") => {}
        Some(_) => v.add(format!("{prefix}conflictResolution"), "cannot change (this bucket uses seqno)"),
    }
    Some(BucketChange { name: name?, memory_quota_mb: Some(b.memory_quota), replicas: b.replicas })
}

/// Update `memoryQuota` and `replicas` of every listed bucket (`cluster.update` on the
/// cluster; the cluster must be ready); 201 with the buckets as stored. All or nothing: an
/// unknown name (404) or a bad spec (422) changes no bucket.
#[utoipa::path(put, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Vec<V2BucketSpec>,
    responses((status = 201, body = Vec<BucketSpecOut>, description = "The buckets as stored."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn update_buckets(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>, body: bytes::Bytes) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().authorized(&caller, id, Permission::ClusterUpdate).await?;
    let req: Vec<V2BucketSpec> = json_array(&body)?;
    let mut v = Violations::new();
    if req.is_empty() {
        v.add("body", "list at least one bucket");
    }
    let mut changes: Vec<BucketChange> = vec![];
    for (i, b) in req.iter().enumerate() {
        if let Some(ch) = check_bucket_change(&mut v, &format!("[{i}]."), b) {
            if changes.iter().any(|x| x.name == ch.name) {
                v.add(format!("[{i}].name"), format!("bucket {} is listed twice", ch.name));
            }
            changes.push(ch);
        }
    }
    v.finish()?;
    check_ready(&c)?;
    let out = s.app.buckets().update_many(&caller, id, changes).await?;
    Ok((StatusCode::CREATED, Json(out.iter().map(BucketSpecOut::from).collect::<Vec<_>>())).into_response())
}

/// Change one bucket's memory quota (`cluster.update` on the cluster; ready cluster); 202.
#[utoipa::path(put, path = "/v2/clusters/{id}/buckets/{bucketId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("bucketId" = String, Path)), request_body = V2BucketQuota,
    responses((status = 202), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn update_bucket(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path((id, bucket_id)): Path<(String, String)>,
    CbJson(req): CbJson<V2BucketQuota>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = s.app.clusters().authorized(&caller, id, Permission::ClusterUpdate).await?;
    // An id that names no possible bucket names no bucket.
    let name = bucket_name(&bucket_id)
        .filter(|n| check_name(&mut Violations::new(), "name", n).is_some())
        .ok_or_else(|| CbError::not_found(format!("bucket {bucket_id}")))?;
    let mut v = Violations::new();
    check_quota(&mut v, "memoryQuota", req.memory_quota);
    v.finish()?;
    check_ready(&c)?;
    let change = BucketChange { name: name.clone(), memory_quota_mb: Some(req.memory_quota), replicas: None };
    s.app.buckets().update_many(&caller, id, vec![change]).await?;
    Ok(bare(StatusCode::ACCEPTED, Some(bucket_location(id, &name))))
}
