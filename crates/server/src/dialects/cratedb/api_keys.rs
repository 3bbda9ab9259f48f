//! The caller's own API keys: list, create (secret shown once), get, delete (revoke).

use super::users::key_uid;
use super::wire::{self, Dc, ts};
use super::{CrCaller, CrResult, not_found};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dbcloud_app::Caller;
use dbcloud_app::model::{ApiKeyRecord, KeyOwner};
use uuid::Uuid;

/// The user id the caller's keys are shown under: its user's or service account's, or a
/// synthetic one for a key with roles of its own.
fn owner_uid(caller: &Caller) -> Uuid {
    match caller.owner {
        KeyOwner::Key => key_uid(&caller.principal.key_id),
        KeyOwner::User(id) | KeyOwner::ServiceAccount(id) => id,
    }
}

fn key_doc(k: &ApiKeyRecord, uid: Uuid) -> wire::ApiKey {
    wire::ApiKey {
        key: k.access_key.clone(),
        user_id: uid,
        active: k.state == "active",
        dc: Dc::new(k.created_at, k.updated_at),
        // Until the first use there is none (the document has no null here).
        last_used: k.last_used_at.map(ts),
        secret: None,
        success: None,
    }
}

/// The caller's own API keys (never a secret).
#[utoipa::path(get, path = "/api/v2/users/me/api-keys/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<wire::ApiKey>, description = "The caller's API keys."), (status = 401, description = "Authentication required", body = super::ErrorDoc)))]
pub async fn list_api_keys(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Vec<wire::ApiKey>>> {
    let keys = s.app.api_keys().own(&caller).await?;
    let uid = owner_uid(&caller);
    Ok(Json(keys.iter().map(|k| key_doc(k, uid)).collect()))
}

/// Create an API key for the caller (200, flat, secret shown once). The key inherits the
/// caller's grants: a user's or service account's key inherits its owner's, a key with
/// roles of its own passes on a copy of them.
#[utoipa::path(post, path = "/api/v2/users/me/api-keys/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = wire::ApiKey, description = "The new key, with its secret."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn create_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<wire::ApiKey>> {
    let created = s.app.api_keys().create_own(&caller, "croud", "created through the CrateDB Cloud v2 API").await?;
    let mut v = key_doc(&created.key, owner_uid(&caller));
    v.secret = Some(created.secret.clone());
    v.success = Some(true);
    Ok(Json(v))
}

/// One of the caller's keys (never its secret).
#[utoipa::path(get, path = "/api/v2/users/me/api-keys/{key}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("key" = String, Path)),
    responses((status = 200, body = wire::ApiKey, description = "The key."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn get_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(key): Path<String>) -> CrResult<Json<wire::ApiKey>> {
    let keys = s.app.api_keys().own(&caller).await?;
    let k = keys.iter().find(|k| k.access_key == key).ok_or_else(not_found)?;
    Ok(Json(key_doc(k, owner_uid(&caller))))
}

/// Delete (revoke) one of the caller's keys (204); it stops working at once, on every replica.
#[utoipa::path(delete, path = "/api/v2/users/me/api-keys/{key}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("key" = String, Path)),
    responses((status = 204, description = "Deleted; no content."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn delete_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(key): Path<String>) -> CrResult<StatusCode> {
    s.app.api_keys().revoke_own(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
