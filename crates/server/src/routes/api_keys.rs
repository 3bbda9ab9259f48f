//! API keys: create (secret shown once), list, get, rename, rotate, revoke.

use super::grants::{ensure_grantable, parse_role};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_core::error::Violations;
use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Permission, Scope, Target};
use dbcloud_core::{Error, validate};
use dbcloud_store::{ApiKeyRecord, KeyOwner, NewApiKey, PageReq};
use dbcloud_types::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::IntoParams;

/// Largest per-key rate limit (requests per second).
pub const MAX_RATE_LIMIT: i64 = 1_000_000;
/// Longest expiry of a new key, in days.
pub const MAX_EXPIRY_DAYS: f64 = 3650.0;
/// Longest grace period of a rotated secret, in seconds (a week).
pub const MAX_GRACE_PERIOD_SECONDS: i64 = 604_800;

/// The wire form of a stored key (never its secret).
pub fn render(k: &ApiKeyRecord) -> ApiKey {
    let now = time::OffsetDateTime::now_utc();
    let state = if k.state != "active" {
        ApiKeyState::Revoked
    } else if k.expires_at.is_some_and(|e| e <= now) {
        ApiKeyState::Expired
    } else {
        ApiKeyState::Active
    };
    let mut organization_roles = vec![];
    let mut projects: BTreeMap<uuid::Uuid, Vec<String>> = BTreeMap::new();
    for g in &k.own_grants {
        match g.scope {
            Scope::Organization => organization_roles.push(g.role.as_str().to_string()),
            Scope::Project(p) => projects.entry(p).or_default().push(g.role.as_str().to_string()),
            Scope::Cluster(_) => {}
        }
    }
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

fn check_rate_limit(v: &mut Violations, field: &str, r: Option<i64>) {
    if r.is_some_and(|r| !(1..=MAX_RATE_LIMIT).contains(&r)) {
        v.add(field, format!("must be between 1 and {MAX_RATE_LIMIT} requests per second"));
    }
}

/// Whether the caller may manage `k`: holders of `apikey.manage`, the key itself, and keys
/// of the same user.
async fn may_manage(caller: &Caller, k: &ApiKeyRecord) -> ApiResult<()> {
    let own = k.access_key == caller.principal.key_id || matches!((caller.owner, k.owner), (KeyOwner::User(a), KeyOwner::User(b)) if a == b);
    if own { Ok(()) } else { caller.require(Permission::ApikeyManage, Target::Organization).await }
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
    let mut v = Violations::new();
    let name = v.check("name", validate::display_name(&req.name));
    let description = v.check("description", validate::free_text(&req.description, 1024));
    let expiry = req.expiry.unwrap_or(0.0);
    if !(0.0..=MAX_EXPIRY_DAYS).contains(&expiry) || expiry.is_nan() {
        v.add("expiry", format!("must be between 0 (never expires) and {MAX_EXPIRY_DAYS} days"));
    }
    let mut cidrs = vec![];
    for (i, c) in req.allowed_cidrs.iter().enumerate() {
        if let Some(c) = v.check(&format!("allowed_cidrs[{i}]"), validate::cidr(c)) {
            cidrs.push(c);
        }
    }
    check_rate_limit(&mut v, "rate_limit", req.rate_limit);
    let mut grants = vec![];
    for (i, r) in req.organization_roles.iter().flatten().enumerate() {
        if let Some(role) = parse_role(&mut v, &format!("organization_roles[{i}]"), r) {
            grants.push(Grant { role, scope: Scope::Organization });
        }
    }
    for (i, res) in req.resources.iter().enumerate() {
        for (j, r) in res.roles.iter().enumerate() {
            if let Some(role) = parse_role(&mut v, &format!("resources[{i}].roles[{j}]"), r) {
                grants.push(Grant { role, scope: Scope::Project(res.id) });
            }
        }
    }
    let inherits = req.service_account_id.is_some() || req.user_id.is_some();
    if req.service_account_id.is_some() && req.user_id.is_some() {
        v.add("service_account_id", "give service_account_id or user_id, not both");
    }
    if inherits && !grants.is_empty() {
        v.add("organization_roles", "a key for a service account or user inherits its grants; give no roles");
    }
    if !inherits && req.organization_roles.is_none() {
        v.add("organization_roles", "required (it may be empty when resources give project roles)");
    }
    if !inherits && grants.is_empty() && req.organization_roles.is_some() {
        v.add("organization_roles", "a key needs at least one role");
    }
    v.finish()?;

    let owner = match (req.service_account_id, req.user_id) {
        (Some(sa), _) => {
            caller.require(Permission::ApikeyManage, Target::Organization).await?;
            let account = s.store.get_service_account(caller.org(), sa).await.map_err(|e| super::missing_as_field(e, "service_account_id"))?;
            let inherited = account_grants(&account.roles);
            ensure_grantable(&s, &caller, &inherited).await?;
            KeyOwner::ServiceAccount(sa)
        }
        (None, Some(u)) => {
            let user = s.store.get_user(caller.org(), u).await.map_err(|e| super::missing_as_field(e, "user_id"))?;
            if caller.owner != KeyOwner::User(u) {
                caller.require(Permission::ApikeyManage, Target::Organization).await?;
                ensure_grantable(&s, &caller, &account_grants(&user.roles)).await?;
            }
            KeyOwner::User(u)
        }
        (None, None) => {
            // Project owners mint keys for their projects; the grant check keeps them there.
            caller.require_somewhere(Permission::ApikeyManage).await?;
            ensure_grantable(&s, &caller, &grants).await?;
            KeyOwner::Key
        }
    };
    let key = NewKey::generate();
    let expires_at = (expiry > 0.0).then(|| dbcloud_core::now() + time::Duration::seconds_f64(expiry * 86_400.0));
    let new = NewApiKey {
        access_key: key.access_key.clone(),
        name: name.expect("checked"),
        description: description.expect("checked"),
        secret_hash: key.secret_hash.clone(),
        secret_enc: Some(s.auth.cfg.master_key.seal(&key.access_key, &key.secret)),
        grants: if owner == KeyOwner::Key { grants } else { vec![] },
        owner,
        allowed_cidrs: cidrs,
        expires_at,
        rate_limit: req.rate_limit,
    };
    s.store.create_api_key(&caller.ctx(None), &new).await?;
    let stored = s.store.get_api_key(caller.org(), &key.access_key).await?;
    let body = ApiKeyWithSecret { key: render(&stored), bearer_token: key.bearer_token(), secret: key.secret.clone() };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The core grants behind a list of wire grants.
pub fn account_grants(roles: &[RoleGrant]) -> Vec<Grant> {
    let mut v = Violations::new();
    roles
        .iter()
        .filter_map(|g| {
            let role = parse_role(&mut v, "role", &g.role)?;
            let scope = super::grants::parse_scope(&mut v, "scope", Some(&g.scope))?;
            Some(Grant { role, scope })
        })
        .collect()
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
    caller.require(Permission::ApikeyManage, Target::Organization).await?;
    let owner = match (q.service_account_id, q.user_id) {
        (Some(sa), None) => Some(KeyOwner::ServiceAccount(sa)),
        (None, Some(u)) => Some(KeyOwner::User(u)),
        (None, None) => None,
        _ => return Err(Error::field("user_id", "filter by service_account_id or user_id, not both").into()),
    };
    let after_key = match q.cursor.as_deref() {
        Some(c) => {
            Some(c.strip_prefix("k1.").filter(|k| dbcloud_core::keys::is_access_key(k)).ok_or_else(|| Error::field("cursor", "malformed cursor"))?.to_string())
        }
        None => None,
    };
    let page = PageReq { after: None, after_key, limit: dbcloud_core::cursor::page_size(q.limit)? };
    let keys = s.store.list_api_keys(caller.org(), owner, page).await?;
    Ok(Json(Page { items: keys.items.iter().map(render).collect(), next_cursor: keys.next_cursor }))
}

/// Get an API key (never its secret).
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_api_key(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKey>> {
    let k = s.store.get_api_key(caller.org(), &id).await?;
    may_manage(&caller, &k).await?;
    Ok(Json(render(&k)))
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
    let k = s.store.get_api_key(caller.org(), &id).await?;
    may_manage(&caller, &k).await?;
    let mut v = Violations::new();
    let name = req.name.as_deref().and_then(|n| v.check("name", validate::display_name(n)));
    let description = req.description.as_deref().and_then(|d| v.check("description", validate::free_text(d, 1024)));
    check_rate_limit(&mut v, "rate_limit", req.rate_limit);
    if req.name.is_none() && req.description.is_none() && req.rate_limit.is_none() {
        v.add("body", "nothing to change: give name, description or rate_limit");
    }
    v.finish()?;
    if req.rate_limit.is_some() {
        caller.require(Permission::ApikeyManage, Target::Organization).await?;
    }
    let k = s.store.update_api_key(&caller.ctx(None), &id, name.as_deref(), description.as_deref(), req.rate_limit).await?;
    s.identity_changed().await;
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
    let k = s.store.get_api_key(caller.org(), &id).await?;
    may_manage(&caller, &k).await?;
    if !(0..=MAX_GRACE_PERIOD_SECONDS).contains(&req.grace_period_seconds) {
        return Err(Error::field("grace_period_seconds", format!("must be between 0 and {MAX_GRACE_PERIOD_SECONDS}")).into());
    }
    let fresh = NewKey::generate();
    let sealed = s.auth.cfg.master_key.seal(&id, &fresh.secret);
    let until = (req.grace_period_seconds > 0).then(|| dbcloud_core::now() + time::Duration::seconds(req.grace_period_seconds));
    let k = s.store.rotate_api_key(&caller.ctx(None), &id, &fresh.secret_hash, Some(&sealed), until).await?;
    s.identity_changed().await;
    Ok(Json(ApiKeyWithSecret { key: render(&k), bearer_token: dbcloud_core::keys::bearer_token(&id, &fresh.secret), secret: fresh.secret.clone() }))
}

/// Revoke a key: every later call with it fails, on every replica.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_api_key(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ApiKey>> {
    let k = s.store.get_api_key(caller.org(), &id).await?;
    may_manage(&caller, &k).await?;
    let k = s.store.revoke_api_key(&caller.ctx(None), &id).await?;
    s.identity_changed().await;
    Ok(Json(render(&k)))
}
