//! API keys: create (secret shown once), list, get, rename, rotate, revoke.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_app::identity::keys::{KeyState, KeyWithSecret, NewKey, own_roles};
use dbcloud_app::model::{ApiKeyRecord, KeyOwner};
use dbcloud_core::Error;
use dbcloud_types::*;
use serde::Deserialize;
use utoipa::IntoParams;

/// Largest per-key rate limit (requests per second).
pub const MAX_RATE_LIMIT: i64 = dbcloud_app::org::MAX_RATE_LIMIT;
/// Longest expiry of a new key, in days.
pub const MAX_EXPIRY_DAYS: f64 = dbcloud_app::identity::keys::MAX_EXPIRY_DAYS;
/// Longest grace period of a rotated secret, in seconds (a week).
pub const MAX_GRACE_PERIOD_SECONDS: i64 = dbcloud_app::identity::keys::MAX_GRACE_SECONDS;

/// The wire form of a stored key (never its secret).
pub fn render(k: &ApiKeyRecord) -> ApiKey {
    let now = time::OffsetDateTime::now_utc();
    let state = match KeyState::of(k, now) {
        KeyState::Active => ApiKeyState::Active,
        KeyState::Revoked => ApiKeyState::Revoked,
        KeyState::Expired => ApiKeyState::Expired,
    };
    let (organization_roles, projects) = own_roles(k);
    ApiKey {
        id: k.access_key.clone(),
        name: k.name.clone(),
        description: k.description.clone(),
        owner_type: k.owner.kind().into(),
        owner_id: k.owner.id(),
        organization_roles,
        resources: projects.into_iter().map(|(id, roles)| ResourceRoles { id, roles }).collect(),
        allowed_cidrs: k.allowed_cidrs.clone(),
        expires_at: k.expires_at,
        state,
        rate_limit: k.rate_limit,
        created_by: k.created_by.clone(),
        created_at: k.created_at,
        updated_at: k.updated_at,
        last_used_at: k.last_used_at,
        last_used_ip: k.last_used_ip.clone(),
        previous_secret_valid_until: k.prev_valid_until.filter(|u| *u > now),
    }
}

/// The wire form of a key with its secret (create and rotate answers only).
fn with_secret(k: KeyWithSecret) -> ApiKeyWithSecret {
    ApiKeyWithSecret { key: render(&k.key), bearer_token: k.bearer_token, secret: k.secret }
}

/// Create an API key. The secret and bearer token are in this response only.
///
/// A key gets roles of its own (`organization_roles`, `resources`), or inherits the grants of
/// the service account (`service_account_id`) or user (`user_id`) it is created for. Nobody
/// can create a key with more authority than they hold. Seed 003's camelCase field names
/// (`organizationRoles`, `allowedCIDRs`, …) are accepted as aliases.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api keys", security(("bearer" = [])), request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyWithSecret), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create_api_key(State(s): State<AppState>, caller: Caller, ApiJson(req): ApiJson<CreateApiKey>) -> ApiResult<Response> {
    let new = NewKey {
        name: req.name,
        description: req.description,
        expiry_days: req.expiry,
        organization_roles: req.organization_roles,
        project_roles: req.resources.into_iter().map(|r| (r.id, r.roles)).collect(),
        allowed_cidrs: req.allowed_cidrs,
        rate_limit: req.rate_limit,
        service_account_id: req.service_account_id,
        user_id: req.user_id,
    };
    let k = s.app.api_keys().create(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(with_secret(k))).into_response())
}

/// The core grants behind a list of wire grants (kept for the dialects not yet on the
/// service layer).
pub fn account_grants(roles: &[RoleGrant]) -> Vec<dbcloud_core::perms::Grant> {
    dbcloud_app::identity::grants::grants_of(roles)
}

/// Key list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// Only keys of this service account.
    pub service_account_id: Option<uuid::Uuid>,
    /// Only keys of this user.
    pub user_id: Option<uuid::Uuid>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api keys", security(("bearer" = [])), params(KeyQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_api_keys(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<KeyQuery>) -> ApiResult<Json<Page<ApiKey>>> {
    let owner = match (q.service_account_id, q.user_id) {
        (Some(sa), None) => Some(KeyOwner::ServiceAccount(sa)),
        (None, Some(u)) => Some(KeyOwner::User(u)),
        (None, None) => None,
        _ => return Err(Error::field("user_id", "filter by service_account_id or user_id, not both").into()),
    };
    let after = match q.cursor.as_deref() {
        Some(c) => Some(c.strip_prefix("k1.").ok_or_else(|| Error::field("cursor", "malformed cursor"))?.to_string()),
        None => None,
    };
    let keys = s.app.api_keys().list(&caller, owner, after, dbcloud_core::cursor::page_size(q.limit)?).await?;
    Ok(Json(Page { items: keys.items.iter().map(render).collect(), next_cursor: keys.next_cursor }))
}

/// Get an API key (never its secret).
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_api_key(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(render(&s.app.api_keys().get(&caller, &id).await?)))
}

/// Rename or describe a key, or change its rate limit (that needs `apikey.manage`).
#[utoipa::path(patch, path = "/v1/api-keys/{id}", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateApiKey,
    responses((status = 200, body = ApiKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateApiKey>,
) -> ApiResult<Json<ApiKey>> {
    let k = s.app.api_keys().update(&caller, &id, req.name.as_deref(), req.description.as_deref(), req.rate_limit).await?;
    Ok(Json(render(&k)))
}

/// Rotate a key's secret. The new secret is in this response only; the old one keeps working
/// for the grace period (never beyond the key's expiry, which does not change).
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)), request_body = RotateApiKey,
    responses((status = 200, body = ApiKeyWithSecret), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rotate_api_key(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RotateApiKey>,
) -> ApiResult<Json<ApiKeyWithSecret>> {
    Ok(Json(with_secret(s.app.api_keys().rotate(&caller, &id, req.grace_period_seconds).await?)))
}

/// Revoke a key: every later call with it fails, on every replica.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_api_key(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(render(&s.app.api_keys().revoke(&caller, &id).await?)))
}
