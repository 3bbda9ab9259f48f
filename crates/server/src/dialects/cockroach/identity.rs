//! API keys, service accounts, role grants and the audit log in the vendor's shapes. The
//! changes go through the native handlers, so the same permission and no-escalation checks
//! apply.

use super::paging::{ListQuery, Paging};
use super::{CCaller, CJson, CQuery, CResult, field, rfc3339};
use crate::auth::Caller;
use crate::dialects::all_pages;
use crate::extract::{ApiJson, ApiPath};
use crate::idem::IdemKey;
use crate::routes::{accounts, api_keys, grants};
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_store::{AuditEvent, AuditFilter, KeyOwner, PageReq, PrincipalRef};
use dbcloud_types::{
    ApiKey, CreateApiKey, CreateRoleGrant, CreateServiceAccount, ErrorBody, GrantScope, RoleGrant, RoleSpec, ServiceAccount, UpdateApiKey, UpdateServiceAccount,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

async fn body_json(r: Response) -> CResult<Value> {
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.map_err(|e| dbcloud_core::Error::Internal(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| dbcloud_core::Error::Internal(e.to_string()).into())
}

fn key(k: &ApiKey) -> Value {
    json!({"id": k.id, "name": k.name, "service_account_id": k.owner_id.map(|o| o.to_string()).unwrap_or_default(), "created_at": rfc3339(k.created_at)})
}

/// Whether a key belongs to a service account: the only keys the vendor's API has (its
/// `service_account_id` is a required UUID), so the only ones this dialect shows.
fn is_service_account_key(k: &ApiKey) -> bool {
    k.owner_type == KeyOwner::ServiceAccount(Uuid::nil()).kind() && k.owner_id.is_some()
}

/// A service account's key by id; other keys are not found here (they are native-only).
async fn service_account_key(s: &AppState, caller: &Caller, id: &str) -> CResult<ApiKey> {
    let k = api_keys::get_api_key(State(s.clone()), caller.clone(), ApiPath(id.to_string())).await?.0;
    if is_service_account_key(&k) { Ok(k) } else { Err(dbcloud_core::Error::NotFound(format!("api key {id}")).into()) }
}

/// A grant as a BuiltInRole.
fn built_in(g: &RoleGrant) -> Value {
    let kind = match g.scope.kind.as_str() {
        "project" => "FOLDER",
        "cluster" => "CLUSTER",
        _ => "ORGANIZATION",
    };
    let mut resource = json!({"type": kind});
    if let Some(id) = g.scope.id {
        resource["id"] = json!(id);
    }
    json!({"name": cockroach_name(&g.role), "resource": resource})
}

/// A role of another vocabulary by its CockroachDB equivalent (the same permissions), so
/// that grants made elsewhere (the console's owner, `/v1/users`) fit the vendor's enum.
fn cockroach_name(role: &str) -> &str {
    match role {
        "organizationOwner" | "ADMIN" => "ORG_ADMIN",
        "organizationMember" => "ORG_MEMBER",
        "READ" => "CLUSTER_MONITOR",
        other => other,
    }
}

fn account(sa: &ServiceAccount) -> Value {
    json!({
        "id": sa.id, "name": sa.name, "description": sa.description, "creator_name": sa.created_by,
        "created_at": rfc3339(sa.created_at), "roles": sa.roles.iter().map(built_in).collect::<Vec<_>>(), "group_roles": [],
    })
}

fn uuid(name: &str, v: &str) -> CResult<Uuid> {
    Uuid::try_parse(v).map_err(|_| field(name, "must be a UUID"))
}

/// List the organization's API keys (optionally one service account's), by creation time.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListApiKeysResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_api_keys(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    caller.require(Permission::ApikeyManage, Target::Organization).await?;
    let owner = match q.service_account_id.as_deref() {
        Some(id) => Some(KeyOwner::ServiceAccount(uuid("service_account_id", id)?)),
        None => None,
    };
    let keys: Vec<ApiKey> =
        all_pages(|p| s.store.list_api_keys(caller.org(), owner, p)).await?.iter().map(api_keys::render).filter(is_service_account_key).collect();
    let paging = Paging::new(&q, "api-keys", q.service_account_id.as_deref().unwrap_or(""), &s.auth.cfg.master_key)?;
    let (keys, next) = paging.apply(keys, |k| format!("{}/{}", rfc3339(k.created_at), k.id), |k| Some(k.created_at));
    Ok(Json(json!({"api_keys": keys.iter().map(key).collect::<Vec<_>>(), "pagination": paging.render(next, version)})))
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Name.
    pub name: String,
    /// The service account the key acts for.
    #[serde(alias = "serviceAccountId")]
    pub service_account_id: String,
}

/// Create an API key for a service account; the secret key is in this answer only.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = Object,
    responses((status = 200, description = "CreateApiKeyResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_api_key(State(s): State<AppState>, CCaller(caller): CCaller, CJson(req): CJson<CreateKey>) -> CResult<Json<Value>> {
    caller.require(Permission::ApikeyManage, Target::Organization).await?;
    let sa = uuid("service_account_id", &req.service_account_id)?;
    s.store.get_service_account(caller.org(), sa).await?;
    let native = CreateApiKey {
        name: req.name,
        description: String::new(),
        expiry: None,
        organization_roles: None,
        resources: vec![],
        allowed_cidrs: vec![],
        service_account_id: Some(sa),
        user_id: None,
        rate_limit: None,
    };
    let created = body_json(api_keys::create_api_key(State(s.clone()), caller.clone(), ApiJson(native)).await?).await?;
    let k: ApiKey = serde_json::from_value(created.clone()).map_err(|e| dbcloud_core::Error::Internal(e.to_string()))?;
    Ok(Json(json!({"api_key": key(&k), "secret": created["bearer_token"]})))
}

/// Get an API key.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "ApiKey"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_api_key(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<Value>> {
    Ok(Json(key(&service_account_key(&s, &caller, &id).await?)))
}

/// `PATCH /api/v1/api-keys/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameKey {
    /// New name.
    pub name: String,
}

/// Rename an API key.
#[utoipa::path(patch, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "ApiKey"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_api_key(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>, CJson(req): CJson<RenameKey>) -> CResult<Json<Value>> {
    service_account_key(&s, &caller, &id).await?;
    let k = api_keys::update_api_key(State(s), caller, ApiPath(id), ApiJson(UpdateApiKey { name: Some(req.name), ..Default::default() })).await?;
    Ok(Json(key(&k.0)))
}

/// Delete (revoke) an API key at once, on every replica; answers it.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "ApiKey"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_api_key(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<Value>> {
    service_account_key(&s, &caller, &id).await?;
    let k = api_keys::revoke_api_key(State(s), caller, ApiPath(id)).await?;
    Ok(Json(key(&k.0)))
}

/// List service accounts by name.
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListServiceAccountsResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_service_accounts(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
    let all = all_pages(|p| s.store.list_service_accounts(caller.org(), p)).await?;
    let paging = Paging::new(&q, "service-accounts", "", &s.auth.cfg.master_key)?;
    let (accounts, next) = paging.apply(all, |a| format!("{}/{}", a.name, a.id), |a| Some(a.created_at));
    Ok(Json(json!({"service_accounts": accounts.iter().map(account).collect::<Vec<_>>(), "pagination": paging.render(next, version)})))
}

/// A role at a resource, as the vendor names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltInRole {
    /// Role name, e.g. `CLUSTER_ADMIN` or legacy `ADMIN`.
    pub name: String,
    /// Where it applies.
    pub resource: Resource,
}

/// `BuiltInRole.resource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// `ORGANIZATION`, `FOLDER` or `CLUSTER`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Folder or cluster id (may be omitted for ORGANIZATION).
    pub id: Option<String>,
}

fn role_spec(f: &str, r: &BuiltInRole) -> CResult<RoleSpec> {
    let kind = match r.resource.kind.as_str() {
        "ORGANIZATION" => "organization",
        "FOLDER" => "project",
        "CLUSTER" => "cluster",
        _ => return Err(field(&format!("{f}.resource.type"), "must be ORGANIZATION, FOLDER or CLUSTER")),
    };
    let id = match (kind, r.resource.id.as_deref()) {
        ("organization", _) => None,
        (_, Some(id)) => Some(uuid(&format!("{f}.resource.id"), id)?),
        (_, None) => return Err(field(&format!("{f}.resource.id"), "required for FOLDER and CLUSTER")),
    };
    Ok(RoleSpec { role: r.name.clone(), scope: Some(GrantScope { kind: kind.into(), id }) })
}

/// `POST /api/v1/service-accounts`.
#[derive(Debug, Deserialize)]
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
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = Object,
    responses((status = 200, description = "ServiceAccount"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_service_account(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    key: IdemKey,
    CJson(req): CJson<CreateAccount>,
) -> CResult<Json<Value>> {
    let grants = req.roles.iter().enumerate().map(|(i, r)| role_spec(&format!("roles[{i}]"), r)).collect::<CResult<Vec<_>>>()?;
    let native = CreateServiceAccount { name: req.name, description: req.description, roles: vec![], grants };
    let r = accounts::create_service_account(State(s), caller, key, ApiJson(native)).await?;
    let sa: ServiceAccount = serde_json::from_value(body_json(r).await?).map_err(|e| dbcloud_core::Error::Internal(e.to_string()))?;
    Ok(Json(account(&sa)))
}

/// Get a service account.
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "ServiceAccount"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_service_account(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<Value>> {
    let sa = accounts::get_service_account(State(s), caller, ApiPath(uuid("id", &id)?)).await?;
    Ok(Json(account(&sa.0)))
}

/// Rename or re-describe a service account.
#[utoipa::path(patch, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 200, description = "ServiceAccount"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_service_account(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<UpdateServiceAccount>,
) -> CResult<Json<Value>> {
    let sa = accounts::update_service_account(State(s), caller, ApiPath(uuid("id", &id)?), ApiJson(req)).await?;
    Ok(Json(account(&sa.0)))
}

/// Delete a service account with its keys and grants; answers it.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "ServiceAccount"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_service_account(State(s): State<AppState>, CCaller(caller): CCaller, Path(id): Path<String>) -> CResult<Json<Value>> {
    let id = uuid("id", &id)?;
    let sa = accounts::get_service_account(State(s.clone()), caller.clone(), ApiPath(id)).await?.0;
    accounts::delete_service_account(State(s), caller, ApiPath(id)).await?;
    Ok(Json(account(&sa)))
}

/// Every grant of the organization (or of one principal).
async fn all_grants(s: &AppState, caller: &Caller, principal: Option<&PrincipalRef>) -> CResult<Vec<RoleGrant>> {
    Ok(all_pages(|p| s.store.list_grants(caller.org(), principal, p)).await?)
}

/// List every principal's roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListRoleGrantsResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_role_grants(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let mut by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for g in all_grants(&s, &caller, None).await?.iter().filter(|g| g.principal_type != "api_key") {
        by.entry(g.principal_id.clone()).or_default().push(built_in(g));
    }
    let paging = Paging::new(&q, "roles", "", &s.auth.cfg.master_key)?;
    let (items, next) = paging.apply(by.into_iter().collect(), |(id, _)| id.clone(), |_| None);
    let grants: Vec<Value> = items.into_iter().map(|(id, roles)| json!({"user_id": id, "roles": roles})).collect();
    Ok(Json(json!({"grants": grants, "user_group_grants": [], "pagination": paging.render(next, version)})))
}

/// The principal a `user_id` names: a service account or a user (404 naming it otherwise).
async fn principal(s: &AppState, caller: &Caller, user_id: &str) -> CResult<PrincipalRef> {
    let id = Uuid::try_parse(user_id).map_err(|_| dbcloud_core::Error::NotFound(format!("user {user_id}")))?;
    if s.store.get_service_account(caller.org(), id).await.is_ok() {
        return Ok(PrincipalRef { kind: "service_account".into(), id: id.to_string() });
    }
    s.store.get_user(caller.org(), id).await.map_err(|_| dbcloud_core::Error::NotFound(format!("user {user_id}")))?;
    Ok(PrincipalRef { kind: "user".into(), id: id.to_string() })
}

async fn roles_of(s: &AppState, caller: &Caller, p: &PrincipalRef) -> CResult<Json<Value>> {
    let roles: Vec<Value> = all_grants(s, caller, Some(p)).await?.iter().map(built_in).collect();
    Ok(Json(json!({"roles": roles, "group_roles": []})))
}

/// A principal's roles.
#[utoipa::path(get, path = "/api/v1/roles/{user_id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("user_id" = String, Path)),
    responses((status = 200, description = "GetAllRolesForUserResponse"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_roles(State(s): State<AppState>, CCaller(caller): CCaller, Path(user_id): Path<String>) -> CResult<Json<Value>> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let p = principal(&s, &caller, &user_id).await?;
    roles_of(&s, &caller, &p).await
}

fn same(g: &RoleGrant, spec: &RoleSpec) -> bool {
    let scope = spec.scope.as_ref();
    g.role == spec.role && Some(g.scope.kind.as_str()) == scope.map(|s| s.kind.as_str()) && g.scope.id == scope.and_then(|s| s.id)
}

/// Grants `spec` and removes `remove` through the native handlers (same checks).
async fn apply(s: &AppState, caller: &Caller, p: &PrincipalRef, add: Vec<RoleSpec>, remove: Vec<RoleGrant>) -> CResult<()> {
    for spec in add {
        let req = CreateRoleGrant { principal_type: p.kind.clone(), principal_id: p.id.clone(), role: spec.role, scope: spec.scope };
        grants::create_grant(State(s.clone()), caller.clone(), ApiJson(req)).await?;
    }
    for g in remove {
        let _removed = grants::delete_grant(State(s.clone()), caller.clone(), ApiPath(g.id)).await?;
    }
    Ok(())
}

/// Checks every role of a replacement first, so a refused one changes nothing.
async fn check_all(s: &AppState, caller: &Caller, specs: &[RoleSpec], removing: &[RoleGrant]) -> CResult<()> {
    let mut v = dbcloud_core::error::Violations::new();
    let mut checked = Vec::new();
    for (i, spec) in
        specs.iter().chain(removing.iter().map(|g| RoleSpec { role: g.role.clone(), scope: Some(g.scope.clone()) }).collect::<Vec<_>>().iter()).enumerate()
    {
        let role = dbcloud_core::perms::Role::parse(&spec.role);
        let scope = spec.scope.as_ref().and_then(|sc| match (sc.kind.as_str(), sc.id) {
            ("organization", _) => Some(dbcloud_core::perms::Scope::Organization),
            ("project", Some(id)) => Some(dbcloud_core::perms::Scope::Project(id)),
            ("cluster", Some(id)) => Some(dbcloud_core::perms::Scope::Cluster(id)),
            _ => None,
        });
        match (role, scope) {
            (Some(role), Some(scope)) => checked.push(dbcloud_core::perms::Grant { role, scope }),
            (None, _) => v.add(format!("roles[{i}].name"), format!("unknown role {:?}", spec.role)),
            (_, None) => v.add(format!("roles[{i}].resource"), "invalid resource"),
        }
    }
    v.finish()?;
    grants::ensure_grantable(s, caller, &checked).await?;
    Ok(())
}

/// `PUT /api/v1/roles/{user_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// The whole new set of roles.
    pub roles: Vec<BuiltInRole>,
}

/// Replace a principal's roles with the given set.
#[utoipa::path(put, path = "/api/v1/roles/{user_id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("user_id" = String, Path)), request_body = Object,
    responses((status = 200, description = "GetAllRolesForUserResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_roles(State(s): State<AppState>, CCaller(caller): CCaller, Path(user_id): Path<String>, CJson(req): CJson<SetRoles>) -> CResult<Json<Value>> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let p = principal(&s, &caller, &user_id).await?;
    let want = req.roles.iter().enumerate().map(|(i, r)| role_spec(&format!("roles[{i}]"), r)).collect::<CResult<Vec<_>>>()?;
    let have = all_grants(&s, &caller, Some(&p)).await?;
    let add: Vec<RoleSpec> = want.iter().filter(|w| !have.iter().any(|g| same(g, w))).cloned().collect();
    let remove: Vec<RoleGrant> = have.into_iter().filter(|g| !want.iter().any(|w| same(g, w))).collect();
    check_all(&s, &caller, &add, &remove).await?;
    apply(&s, &caller, &p, add, remove).await?;
    roles_of(&s, &caller, &p).await
}

fn path_role(kind: &str, id: &str, name: &str) -> CResult<RoleSpec> {
    let id = if kind == "ORGANIZATION" { None } else { Some(id.to_string()) };
    role_spec("role", &BuiltInRole { name: name.to_string(), resource: Resource { kind: kind.to_string(), id } })
}

/// Grant one role at one resource.
#[utoipa::path(post, path = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("user_id" = String, Path), ("resource_type" = String, Path), ("resource_id" = String, Path), ("role_name" = String, Path)),
    responses((status = 200, description = "GetAllRolesForUserResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_role(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((user_id, kind, rid, role)): Path<(String, String, String, String)>,
) -> CResult<Json<Value>> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let p = principal(&s, &caller, &user_id).await?;
    let spec = path_role(&kind, &rid, &role)?;
    if !all_grants(&s, &caller, Some(&p)).await?.iter().any(|g| same(g, &spec)) {
        check_all(&s, &caller, std::slice::from_ref(&spec), &[]).await?;
        apply(&s, &caller, &p, vec![spec], vec![]).await?;
    }
    roles_of(&s, &caller, &p).await
}

/// Remove one role at one resource.
#[utoipa::path(delete, path = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("user_id" = String, Path), ("resource_type" = String, Path), ("resource_id" = String, Path), ("role_name" = String, Path)),
    responses((status = 200, description = "GetAllRolesForUserResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_role(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((user_id, kind, rid, role)): Path<(String, String, String, String)>,
) -> CResult<Json<Value>> {
    caller.require(Permission::UserManage, Target::Organization).await?;
    let p = principal(&s, &caller, &user_id).await?;
    let spec = path_role(&kind, &rid, &role)?;
    let remove: Vec<RoleGrant> = all_grants(&s, &caller, Some(&p)).await?.into_iter().filter(|g| same(g, &spec)).collect();
    if remove.is_empty() {
        return Err(dbcloud_core::Error::NotFound(format!("role {role} on {kind} {rid} of {user_id}")).into());
    }
    apply(&s, &caller, &p, vec![], remove).await?;
    roles_of(&s, &caller, &p).await
}

/// Audit log parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries strictly after (ASC) or before (DESC) this time (RFC 3339).
    pub starting_from: Option<String>,
    /// `ASC` (default) or `DESC`.
    pub sort_order: Option<String>,
    /// Page size (default 200, at most 1000).
    pub limit: Option<i64>,
}

/// The vendor's name of a core audit action (`None` when it has none).
fn vendor_action(action: &str) -> Option<&'static str> {
    Some(match action {
        "cluster.create" => "CREATE_CLUSTER",
        "cluster.update" => "UPDATE_CLUSTER",
        "cluster.delete" => "DELETE_CLUSTER",
        "dbuser.create" => "CREATE_SQL_USER",
        "dbuser.delete" => "DELETE_SQL_USER",
        "dbuser.password" => "CHANGE_SQL_USER_PASSWORD",
        "allowlist.create" => "ADD_IP_ALLOWLIST",
        "allowlist.update" => "EDIT_IP_ALLOWLIST",
        "allowlist.delete" => "REMOVE_IP_ALLOWLIST",
        "apikey.create" => "CREATE_API_KEY",
        "apikey.revoke" => "DELETE_API_KEY",
        "apikey.update" => "UPDATE_API_KEY",
        "serviceaccount.create" => "CREATE_SERVICE_ACCOUNT",
        "serviceaccount.delete" => "DELETE_SERVICE_ACCOUNT",
        "grant.create" => "ADD_USER_TO_ROLE",
        "grant.delete" => "REMOVE_USER_FROM_ROLE",
        "bucket.create" => "CREATE_DATABASE",
        "bucket.delete" => "DELETE_DATABASE",
        "bucket.rename" => "EDIT_DATABASE",
        "project.create" => "CREATE_FOLDER",
        "project.delete" => "DELETE_FOLDER",
        _ => return None,
    })
}

fn entry(e: &AuditEvent) -> Value {
    let cluster = e.target.strip_prefix("cluster:").map(|t| t.split('/').next().unwrap_or(t).to_string());
    let source = if e.actor.starts_with("runner") || e.actor.starts_with("system") { "AUDIT_LOG_SOURCE_INTERNAL" } else { "AUDIT_LOG_SOURCE_CC_API" };
    let action = vendor_action(&e.action);
    let payload = json!({"action": e.action, "target": e.target, "details": e.details});
    json!({
        "id": e.id, "created_at": rfc3339(e.time),
        "action": action.map(|a| format!("AUDIT_LOG_ACTION_{a}")),
        "source": source, "user_email": "", "service_account_name": e.actor,
        "cluster_id": cluster.clone().unwrap_or_default(), "cluster_name": "",
        "payload": payload.to_string(),
        "error": if e.outcome == "success" || e.outcome == "ok" { String::new() } else { e.outcome.clone() },
        "trace_id": e.request_id, "session_id": "", "metadata": {"ip_address": e.source_ip},
    })
}

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

fn at_ms(ms: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Audit log entries from a point in time, ascending (default) or descending; a page holds
/// every entry sharing its last timestamp.
#[utoipa::path(get, path = "/api/v1/auditlogevents", tag = "cockroachdb cloud", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "ListAuditLogsResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_log(State(s): State<AppState>, CCaller(caller): CCaller, CQuery(q): CQuery<AuditQuery>) -> CResult<Json<Value>> {
    caller.require(Permission::AuditRead, Target::Organization).await?;
    let desc = match q.sort_order.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(field("sort_order", "must be ASC or DESC")),
    };
    let limit = match q.limit {
        None | Some(0) => 200,
        Some(l) if l < 0 => return Err(field("limit", "must not be negative")),
        Some(l) => l.min(1000) as u32,
    };
    let from = match q.starting_from.as_deref() {
        Some(t) => {
            Some(OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| field("starting_from", "must be an RFC 3339 time"))?)
        }
        None => None,
    };
    let mut filter = AuditFilter { newest_first: desc, ..Default::default() };
    match (from, desc) {
        (Some(f), false) => filter.since = Some(at_ms(ms(f) + 1)),
        (Some(f), true) => filter.until = Some(f),
        (None, _) => {}
    }
    let got = s.store.list_audit_filtered(caller.org(), &filter, PageReq::first(limit)).await?;
    let mut entries = got.items;
    if let (Some(last), true) = (entries.last().cloned(), got.next_cursor.is_some()) {
        // Complete the last timestamp so that `starting_from` can move past it.
        let t = ms(last.time);
        let ties = AuditFilter { since: Some(at_ms(t)), until: Some(at_ms(t + 1)), newest_first: desc, before: desc.then_some(last.id), ..Default::default() };
        let after = if desc { None } else { Some(last.id) };
        let more = s.store.list_audit_filtered(caller.org(), &ties, PageReq { after, after_key: None, limit: 1000 }).await?;
        entries.extend(more.items);
    }
    let next = match entries.last() {
        Some(last) => {
            let t = ms(last.time);
            let rest = if desc {
                AuditFilter { until: Some(at_ms(t)), newest_first: true, ..Default::default() }
            } else {
                AuditFilter { since: Some(at_ms(t + 1)), ..Default::default() }
            };
            let any = s.store.list_audit_filtered(caller.org(), &rest, PageReq::first(1)).await?;
            if any.items.is_empty() { Value::Null } else { json!(rfc3339(last.time)) }
        }
        None => Value::Null,
    };
    Ok(Json(json!({"entries": entries.iter().map(entry).collect::<Vec<_>>(), "next_starting_from": next})))
}
