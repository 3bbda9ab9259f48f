//! API keys (the keys of service accounts: the only keys the vendor's API has) and service
//! accounts in the vendor's shapes. The service makes every change with its no-escalation
//! checks.

use super::CockroachErrorBody;
use super::paging::{CockroachPagination, ListQuery, Paging};
use super::roles::{BuiltInRole, BuiltInRoleOut, grants_of_roles};
use super::{CCaller, CJson, CQuery, CResult, field, rfc3339};
use crate::auth::Caller;
use crate::idem::IdemKey;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use dbcloud_app::identity::keys::NewKey;
use dbcloud_app::model::{ApiKeyRecord, KeyOwner};
use dbcloud_types::{ServiceAccount, UpdateServiceAccount};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// `ApiKey`.
#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    id: String,
    name: String,
    service_account_id: String,
    created_at: String,
}

fn key(k: &ApiKeyRecord) -> KeyOut {
    let sa = match k.owner {
        KeyOwner::ServiceAccount(id) => id.to_string(),
        _ => String::new(),
    };
    KeyOut { id: k.access_key.clone(), name: k.name.clone(), service_account_id: sa, created_at: rfc3339(k.created_at) }
}

/// Whether a key belongs to a service account: the only keys the vendor's API has (its
/// `service_account_id` is a required UUID), so the only ones this dialect shows.
fn is_service_account_key(k: &ApiKeyRecord) -> bool {
    matches!(k.owner, KeyOwner::ServiceAccount(_))
}

/// A service account's key by id; other keys are not found here (they are native-only).
async fn service_account_key(s: &AppState, caller: &Caller, id: &str) -> CResult<ApiKeyRecord> {
    let k = s.app.api_keys().get(caller, id).await?;
    if is_service_account_key(&k) { Ok(k) } else { Err(dbcloud_core::Error::NotFound(format!("api key {id}")).into()) }
}

pub(super) fn uuid(name: &str, v: &str) -> CResult<Uuid> {
    Uuid::try_parse(v).map_err(|_| field(name, "must be a UUID"))
}

/// `ListApiKeysResponse`.
#[derive(Serialize, ToSchema)]
pub struct KeyList {
    api_keys: Vec<KeyOut>,
    pagination: CockroachPagination,
}

/// List the organization's API keys (optionally one service account's), by creation time.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = KeyList, description = "ListApiKeysResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_api_keys(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<KeyList>> {
    let owner = match q.service_account_id.as_deref() {
        Some(id) => Some(KeyOwner::ServiceAccount(uuid("service_account_id", id)?)),
        None => None,
    };
    let keys: Vec<ApiKeyRecord> = s.app.api_keys().list_all(&caller, owner).await?.into_iter().filter(is_service_account_key).collect();
    let paging = Paging::new(&q, "api-keys", q.service_account_id.as_deref().unwrap_or(""), s.app.master_key())?;
    let (keys, next) = paging.apply(keys, |k| format!("{}/{}", rfc3339(k.created_at), k.access_key), |k| Some(k.created_at));
    Ok(Json(KeyList { api_keys: keys.iter().map(key).collect(), pagination: paging.render(next, version) }))
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Name.
    pub name: String,
    /// The service account the key acts for.
    #[serde(alias = "serviceAccountId")]
    pub service_account_id: String,
}

/// `CreateApiKeyResponse`.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    api_key: KeyOut,
    secret: String,
}

/// Create an API key for a service account; the secret key is in this answer only.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = CreateKey,
    responses((status = 200, body = CreatedKey, description = "CreateApiKeyResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn create_api_key(State(s): State<AppState>, CCaller(caller): CCaller, CJson(req): CJson<CreateKey>) -> CResult<Json<CreatedKey>> {
    let sa = uuid("service_account_id", &req.service_account_id)?;
    let new = NewKey { name: req.name, service_account_id: Some(sa), ..Default::default() };
    let created = s.app.api_keys().create(&caller, new).await?;
    Ok(Json(CreatedKey { api_key: key(&created.key), secret: created.bearer_token }))
}

/// Get an API key.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = KeyOut, description = "ApiKey"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_api_key(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<KeyOut>> {
    Ok(Json(key(&service_account_key(&s, &caller, &id).await?)))
}

/// `PATCH /api/v1/api-keys/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameKey {
    /// New name.
    pub name: String,
}

/// Rename an API key.
#[utoipa::path(patch, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)), request_body = RenameKey,
    responses((status = 200, body = KeyOut, description = "ApiKey"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn update_api_key(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<RenameKey>,
) -> CResult<Json<KeyOut>> {
    service_account_key(&s, &caller, &id).await?;
    let k = s.app.api_keys().update(&caller, &id, Some(&req.name), None, None).await?;
    Ok(Json(key(&k)))
}

/// Delete (revoke) an API key at once, on every replica; answers it.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = KeyOut, description = "ApiKey"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn delete_api_key(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<KeyOut>> {
    service_account_key(&s, &caller, &id).await?;
    let k = s.app.api_keys().revoke(&caller, &id).await?;
    Ok(Json(key(&k)))
}

/// `ServiceAccount`.
#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    id: Uuid,
    name: String,
    description: String,
    creator_name: String,
    created_at: String,
    roles: Vec<BuiltInRoleOut>,
    group_roles: Vec<Value>,
}

fn account(sa: &ServiceAccount) -> AccountOut {
    AccountOut {
        id: sa.id,
        name: sa.name.clone(),
        description: sa.description.clone(),
        creator_name: sa.created_by.clone(),
        created_at: rfc3339(sa.created_at),
        roles: sa.roles.iter().map(BuiltInRoleOut::of).collect(),
        group_roles: vec![],
    }
}

/// `ListServiceAccountsResponse`.
#[derive(Serialize, ToSchema)]
pub struct AccountList {
    service_accounts: Vec<AccountOut>,
    pagination: CockroachPagination,
}

/// List service accounts by name.
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = AccountList, description = "ListServiceAccountsResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_service_accounts(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<AccountList>> {
    let all = s.app.service_accounts().list_all(&caller).await?;
    let paging = Paging::new(&q, "service-accounts", "", s.app.master_key())?;
    let (accounts, next) = paging.apply(all, |a| format!("{}/{}", a.name, a.id), |a| Some(a.created_at));
    Ok(Json(AccountList { service_accounts: accounts.iter().map(account).collect(), pagination: paging.render(next, version) }))
}

/// `POST /api/v1/service-accounts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Roles to grant.
    #[serde(default)]
    pub roles: Vec<BuiltInRole>,
}

/// Create a service account with roles (never more than the caller holds).
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = CreateAccount,
    responses((status = 200, body = AccountOut, description = "ServiceAccount"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn create_service_account(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    key: IdemKey,
    CJson(req): CJson<CreateAccount>,
) -> CResult<Json<AccountOut>> {
    let grants = grants_of_roles(&req.roles)?;
    let created = s.app.service_accounts().create_with(&caller, &req.name, &req.description, grants, key.0.as_deref()).await?;
    Ok(Json(account(&created.value)))
}

/// Get a service account.
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AccountOut, description = "ServiceAccount"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_service_account(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<AccountOut>> {
    let sa = s.app.service_accounts().get(&caller, uuid("id", &id)?).await?;
    Ok(Json(account(&sa)))
}

/// Rename or re-describe a service account.
#[utoipa::path(patch, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateServiceAccount,
    responses((status = 200, body = AccountOut, description = "ServiceAccount"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn update_service_account(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<UpdateServiceAccount>,
) -> CResult<Json<AccountOut>> {
    let sa = s.app.service_accounts().update(&caller, uuid("id", &id)?, req.name.as_deref(), req.description.as_deref()).await?;
    Ok(Json(account(&sa)))
}

/// Delete a service account with its keys and grants; answers it.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AccountOut, description = "ServiceAccount"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn delete_service_account(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<AccountOut>> {
    let id = uuid("id", &id)?;
    let sa = s.app.service_accounts().get(&caller, id).await?;
    s.app.service_accounts().delete(&caller, id).await?;
    Ok(Json(account(&sa)))
}
