//! CrateDB Cloud API v2 (`/api/v2/`): the subset the `croud` CLI 1.15.0 uses for users,
//! organizations, projects, clusters (with operation polling), regions, products,
//! subscriptions and API keys (spec `dialects/cratedb-v2.md`). A thin adapter over the
//! same store, validation and authorization as the native API; errors use the vendor's
//! `{"message","success":false,"errors"?}` shape, and no route sets a cookie.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::clusters::authorized_cluster;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Role, Scope, Target};
use dbcloud_core::{cluster, validate, Error};
use dbcloud_store::{CloudRef, ClusterFilter, KeyOwner, NewCluster, NewOperation, PageReq};
use dbcloud_types::{Cluster, ClusterState, CreateCluster, NodeStatus, Operation, OperationKind, Page, Plan, Project, Provider};
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use time::OffsetDateTime;
use utoipa::IntoParams;
use uuid::Uuid;

/// The one product dbcloud offers in this dialect.
const PRODUCT_NAME: &str = "cr4";
/// Its tier.
const PRODUCT_TIER: &str = "default";
/// Shortest cluster password croud may send.
const MIN_PASSWORD: usize = 24;
/// `subscription_id` meaning the organization's own subscription.
const FREE_TIER: &str = "free_tier";

// ---------------------------------------------------------------------------------------
// Errors and extractors
// ---------------------------------------------------------------------------------------

/// An error answered in the CrateDB Cloud shape.
#[derive(Debug)]
pub struct CrError(pub ApiError);

impl From<ApiError> for CrError {
    fn from(e: ApiError) -> Self {
        CrError(e)
    }
}

impl From<Error> for CrError {
    fn from(e: Error) -> Self {
        CrError(e.into())
    }
}

/// Result of a v2 handler.
pub type CrResult<T> = Result<T, CrError>;

fn not_found() -> CrError {
    CrError(Error::NotFound("resource".into()).into())
}

impl IntoResponse for CrError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = e.status;
        let message = match status {
            StatusCode::UNAUTHORIZED => "Authentication required.".to_string(),
            StatusCode::FORBIDDEN => "Permission denied for user.".to_string(),
            StatusCode::NOT_FOUND => "Resource not found.".to_string(),
            _ => e.body.message.clone(),
        };
        let mut body = json!({"message": message, "success": false});
        if status == StatusCode::BAD_REQUEST && !e.body.details.is_empty() {
            let mut errors = serde_json::Map::new();
            for d in &e.body.details {
                let field = d.get("field").and_then(Value::as_str).unwrap_or("body").to_string();
                let desc = d.get("description").cloned().unwrap_or(Value::Null);
                match errors.entry(field).or_insert_with(|| json!([])) {
                    Value::Array(a) => a.push(desc),
                    _ => unreachable!("errors entries are arrays"),
                }
            }
            body["errors"] = Value::Object(errors);
        }
        let mut r = (status, Json(body)).into_response();
        if let Some(s) = e.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
        }
        r
    }
}

dialect_extractors!(CrError, CrCaller, CrJson, CrQuery);

/// A path id; malformed ids are 404.
fn path_id(s: &str) -> CrResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| not_found())
}

fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn dc(created: OffsetDateTime, modified: OffsetDateTime) -> Value {
    json!({"created": ts(created), "modified": ts(modified)})
}

/// Every item of a cursor-paged store list.
async fn all<T, F, Fut>(mut f: F) -> CrResult<Vec<T>>
where
    F: FnMut(PageReq) -> Fut,
    Fut: Future<Output = dbcloud_core::Result<Page<T>>>,
{
    let mut out = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let page = crate::routes::page(cursor.as_deref(), Some(500))?;
        let p = f(page).await?;
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Users and organizations
// ---------------------------------------------------------------------------------------

fn org_role(role: Role) -> &'static str {
    if role.grants(Permission::OrgUpdate) { "org_admin" } else { "org_member" }
}

fn project_role(role: Role) -> &'static str {
    if role.grants(Permission::ProjectUpdate) { "project_admin" } else { "project_member" }
}

/// `organization_roles` and `project_roles` of a set of grants (cluster-scoped grants count
/// for no list). An organization role is always present, so croud's tables can index it.
fn roles(org: Uuid, grants: &[Grant]) -> (Value, Value) {
    let mut org_roles: Vec<Value> = vec![];
    let mut project_roles: Vec<Value> = vec![];
    for g in grants {
        match g.scope {
            Scope::Organization => org_roles.push(json!({"organization_id": org, "role_fqn": org_role(g.role)})),
            Scope::Project(p) => project_roles.push(json!({"project_id": p, "role_fqn": project_role(g.role)})),
            Scope::Cluster(_) => {}
        }
    }
    // The admin role first, at most one entry per organization.
    org_roles.sort_by_key(|r| r["role_fqn"] != "org_admin");
    org_roles.truncate(1);
    if org_roles.is_empty() {
        org_roles.push(json!({"organization_id": org, "role_fqn": "org_member"}));
    }
    (Value::Array(org_roles), Value::Array(project_roles))
}

fn role_grants(org: Uuid, grants: &[dbcloud_types::RoleGrant]) -> Vec<Grant> {
    let _ = org;
    grants
        .iter()
        .filter_map(|g| {
            let role = Role::parse(&g.role)?;
            let scope = match (g.scope.kind.as_str(), g.scope.id) {
                ("organization", _) => Scope::Organization,
                ("project", Some(id)) => Scope::Project(id),
                ("cluster", Some(id)) => Scope::Cluster(id),
                _ => return None,
            };
            Some(Grant { role, scope })
        })
        .collect()
}

fn user_value(org: Uuid, uid: Uuid, email: &str, name: &str, idp: &str, grants: &[Grant]) -> Value {
    let (o, p) = roles(org, grants);
    json!({
        "uid": uid, "email": email, "username": email, "name": name, "idp": idp, "picture": null,
        "is_superuser": false, "status": "active", "organization_roles": o, "project_roles": p,
    })
}

/// The caller as a CrateDB user.
async fn me_value(s: &AppState, caller: &Caller) -> CrResult<Value> {
    let org = caller.org();
    let grants = &caller.principal.grants;
    let mut v = match caller.owner {
        KeyOwner::User(id) => {
            let u = s.store.get_user(org, id).await?;
            user_value(org, u.id, &u.email, &u.name, "dbcloud", grants)
        }
        KeyOwner::ServiceAccount(id) => {
            let a = s.store.get_service_account(org, id).await?;
            user_value(org, a.id, &format!("{}@service-accounts.dbcloud.invalid", a.id), &a.name, "service-account", grants)
        }
        KeyOwner::Key => {
            let k = s.store.get_api_key(org, &caller.principal.key_id).await?;
            let email = format!("{}@api-keys.dbcloud.invalid", k.access_key.to_ascii_lowercase());
            let mut v = user_value(org, key_uid(&k.access_key), &email, &k.name, "api-key", grants);
            v["name"] = json!(if k.name.is_empty() { k.access_key.clone() } else { k.name.clone() });
            v
        }
    };
    v["organization_id"] = json!(org);
    Ok(v)
}

/// A stable synthetic user id for a key that belongs to no user.
fn key_uid(access_key: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(access_key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// The current user (`croud me`).
#[utoipa::path(get, path = "/api/v2/users/me/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "User"), (status = 401, description = "Authentication required")))]
pub async fn get_me(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    Ok(Json(me_value(&s, &caller).await?))
}

/// The caller's organizations (one: the key's own).
#[utoipa::path(get, path = "/api/v2/organizations/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[Organization]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn list_organizations(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    Ok(Json(json!([org_value(&s, &caller).await?])))
}

async fn org_value(s: &AppState, caller: &Caller) -> CrResult<Value> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let o = s.store.get_organization(caller.org()).await?;
    let projects = all(|p| s.store.list_projects(caller.org(), p)).await?;
    let (r, _) = roles(o.id, &caller.principal.grants);
    Ok(json!({
        "id": o.id, "name": o.name, "plan_type": 3, "email": null, "notifications_enabled": false,
        "project_count": projects.len(), "role_fqn": r[0]["role_fqn"], "dc": dc(o.created_at, o.created_at),
    }))
}

/// The caller's organization (others answer 404).
fn own_org(caller: &Caller, org: &str) -> CrResult<()> {
    if path_id(org)? == caller.org() { Ok(()) } else { Err(not_found()) }
}

/// One organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "Organization"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn get_organization(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(org): Path<String>) -> CrResult<Json<Value>> {
    own_org(&caller, &org)?;
    Ok(Json(org_value(&s, &caller).await?))
}

/// The role catalogue.
#[utoipa::path(get, path = "/api/v2/roles/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[Role]"), (status = 401, description = "Authentication required")))]
pub async fn list_roles(CrCaller(_caller): CrCaller) -> CrResult<Json<Value>> {
    Ok(Json(json!([
        {"id": "org_admin", "name": "Organization Admin"},
        {"id": "org_member", "name": "Organization Member"},
        {"id": "project_admin", "name": "Project Admin"},
        {"id": "project_member", "name": "Project Member"},
    ])))
}

/// Users of an organization with their roles.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "[User]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_org_users(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(org): Path<String>) -> CrResult<Json<Value>> {
    if path_id(&org)? != caller.org() {
        return Err(not_found());
    }
    users(&s, &caller, false, Permission::OrgRead).await.map(Json)
}

/// `no-roles` flag of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// `1` leaves out the role lists.
    #[serde(rename = "no-roles")]
    #[param(rename = "no-roles")]
    pub no_roles: Option<String>,
}

/// Users of the organizations the caller administers (`croud users list`).
#[utoipa::path(get, path = "/api/v2/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(UsersQuery),
    responses((status = 200, description = "[User]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn list_users(State(s): State<AppState>, CrCaller(caller): CrCaller, CrQuery(q): CrQuery<UsersQuery>) -> CrResult<Json<Value>> {
    let no_roles = q.no_roles.is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    users(&s, &caller, no_roles, Permission::UserManage).await.map(Json)
}

async fn users(s: &AppState, caller: &Caller, no_roles: bool, p: Permission) -> CrResult<Value> {
    caller.require(p, Target::Organization).await?;
    let org = caller.org();
    let list = all(|p| s.store.list_users(org, p)).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|u| {
            let mut v = user_value(org, u.id, &u.email, &u.name, "dbcloud", &role_grants(org, &u.roles));
            if no_roles {
                let m = v.as_object_mut().expect("object");
                m.remove("organization_roles");
                m.remove("project_roles");
            }
            v
        })
        .collect();
    Ok(Value::Array(items))
}

// ---------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------

fn project_value(p: &Project) -> Value {
    json!({
        "id": p.id, "name": p.name, "organization_id": p.organization_id, "region": "",
        "backup_location": null, "dc": dc(p.created_at, p.updated_at),
    })
}

/// Projects the caller may read.
#[utoipa::path(get, path = "/api/v2/projects/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[Project]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn list_projects(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    caller.require_somewhere(Permission::ProjectRead).await?;
    let mut items = all(|p| s.store.list_projects(caller.org(), p)).await?;
    items.retain(|p| caller.principal.can(Permission::ProjectRead, Target::Project(p.id)));
    Ok(Json(Value::Array(items.iter().map(project_value).collect())))
}

/// Projects of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/projects/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "[Project]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_org_projects(state: State<AppState>, caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Value>> {
    own_org(&caller.0, &org)?;
    list_projects(state, caller).await
}

/// Create-project body.
#[derive(Debug, Deserialize)]
pub struct CreateProjectBody {
    /// Name.
    pub name: String,
    /// Organization (must be the caller's).
    pub organization_id: Option<String>,
}

async fn create_project_in(s: &AppState, caller: &Caller, name: &str) -> CrResult<Project> {
    caller.require(Permission::ProjectCreate, Target::Organization).await?;
    let mut v = Violations::new();
    let name = v.check("name", validate::display_name(name));
    v.finish()?;
    let p = s.store.create_project(&caller.ctx(None), &name.expect("checked"), "").await?;
    let t = Target::Project(p.id);
    crate::routes::grants::grant_creator(s, caller, Permission::ProjectRead, t, Role::ProjectOwner, Scope::Project(p.id)).await;
    Ok(p)
}

/// Create a project (201).
#[utoipa::path(post, path = "/api/v2/projects/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 201, description = "Project"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 409, description = "Conflict")))]
pub async fn create_project(State(s): State<AppState>, CrCaller(caller): CrCaller, CrJson(req): CrJson<CreateProjectBody>) -> CrResult<Response> {
    if req.organization_id.as_deref().is_some_and(|o| Uuid::parse_str(o).ok() != Some(caller.org())) {
        return Err(Error::field("organization_id", "unknown organization").into());
    }
    let p = create_project_in(&s, &caller, &req.name).await?;
    Ok((StatusCode::CREATED, Json(project_value(&p))).into_response())
}

/// A project.
#[utoipa::path(get, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 200, description = "Project"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn get_project(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Value>> {
    let id = path_id(&id)?;
    caller.require(Permission::ProjectRead, Target::Project(id)).await?;
    Ok(Json(project_value(&s.store.get_project(caller.org(), id).await?)))
}

// ---------------------------------------------------------------------------------------
// Regions, products, subscriptions
// ---------------------------------------------------------------------------------------

/// CrateDB-style region name of a catalogue entry: `<provider>.<region>`.
fn region_name(p: Provider, region: &str) -> String {
    format!("{}.{}", p.as_str(), region)
}

/// Provider and region of a CrateDB-style region name.
fn parse_region(name: &str) -> Option<(Provider, String)> {
    let (p, r) = name.split_once('.')?;
    let p = Provider::parse(p)?;
    dbcloud_core::regions::is_valid(p, r).then(|| (p, r.to_string()))
}

/// The shared regions.
#[utoipa::path(get, path = "/api/v2/regions/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[Region]"), (status = 401, description = "Authentication required")))]
pub async fn list_regions(CrCaller(_caller): CrCaller) -> CrResult<Json<Value>> {
    // The catalogue is readable by every authenticated principal.
    let now = ts(dbcloud_core::now());
    let items: Vec<Value> = dbcloud_core::regions::regions(None)
        .iter()
        .map(|r| {
            json!({
                "name": region_name(r.provider, &r.name),
                "description": format!("{} {} ({})", r.provider.as_str().to_ascii_uppercase(), r.name, r.location),
                "organization_id": null, "is_edge_region": false, "status": "UP", "deprecated": false,
                "last_seen": now, "upgrade_available": false, "dc": {"created": now, "modified": now},
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// Regions available to one organization (the shared catalogue).
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/regions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "[Region]"), (status = 401, description = "Authentication required"), (status = 404, description = "Not found")))]
pub async fn list_org_regions(caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Value>> {
    own_org(&caller.0, &org)?;
    list_regions(caller).await
}

/// Product filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Only this kind (`cluster`).
    pub kind: Option<String>,
    /// Only this tier.
    pub tier: Option<String>,
    /// Only this name.
    pub name: Option<String>,
}

fn product() -> Value {
    let scaling: Vec<Value> = (0..cluster::MAX_NODE_COUNT)
        .map(|u| json!({"value": u, "nodes": u + 1, "dtus": u + 1, "price_per_minute": u + 1, "description": format!("{} node(s)", u + 1)}))
        .collect();
    json!({
        "kind": "cluster", "name": PRODUCT_NAME, "tier": PRODUCT_TIER, "label": "CR4",
        "description": "Dedicated cluster", "scale_summary": format!("1 - {} nodes", cluster::MAX_NODE_COUNT),
        "price_per_dtu_minute": 1, "deprecated": false, "region": null, "plan": null, "offer": null, "tags": [],
        "specs": {"cpu_cores": 4, "ram_bytes": 17_179_869_184u64, "storage_bytes": 161_061_273_600u64,
            "storage_minimum_bytes": 34_359_738_368u64, "storage_maximum_bytes": 8_796_093_022_208u64},
        "scaling": scaling,
    })
}

/// The product catalogue.
#[utoipa::path(get, path = "/api/v2/products/", tag = "cratedb cloud v2", security(("basic" = [])), params(ProductQuery),
    responses((status = 200, description = "[Product]"), (status = 401, description = "Authentication required")))]
pub async fn list_products(CrCaller(_caller): CrCaller, CrQuery(q): CrQuery<ProductQuery>) -> CrResult<Json<Value>> {
    let keep = q.kind.as_deref().is_none_or(|k| k == "cluster")
        && q.tier.as_deref().is_none_or(|t| t == PRODUCT_TIER)
        && q.name.as_deref().is_none_or(|n| n == PRODUCT_NAME);
    Ok(Json(if keep { json!([product()]) } else { json!([]) }))
}

/// The organization's subscription; its id is the organization's id.
fn subscription_value(org: &dbcloud_types::Organization) -> Value {
    json!({
        "id": org.id, "name": format!("{} subscription", org.name), "organization_id": org.id, "state": "active",
        "provider": "cloud", "active": true, "billing_model": "pay_as_you_go", "plan": null, "offer": null,
        "provisioned": true, "reference": org.id, "dc": dc(org.created_at, org.created_at),
    })
}

/// Subscriptions of the caller's organization.
#[utoipa::path(get, path = "/api/v2/subscriptions/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[Subscription]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn list_subscriptions(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let o = s.store.get_organization(caller.org()).await?;
    Ok(Json(json!([subscription_value(&o)])))
}

/// Subscriptions of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/subscriptions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "[Subscription]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_org_subscriptions(state: State<AppState>, caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Value>> {
    if path_id(&org)? != caller.0.org() {
        return Err(not_found());
    }
    list_subscriptions(state, caller).await
}

/// One subscription (the organization's; `free_tier` names it too).
#[utoipa::path(get, path = "/api/v2/subscriptions/{subscription_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("subscription_id" = String, Path)),
    responses((status = 200, description = "Subscription"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn get_subscription(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Value>> {
    if id != FREE_TIER {
        own_org(&caller, &id)?;
    }
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let o = s.store.get_organization(caller.org()).await?;
    Ok(Json(subscription_value(&o)))
}

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

/// The caller's own API keys (never a secret).
#[utoipa::path(get, path = "/api/v2/users/me/api-keys/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "[ApiKey]"), (status = 401, description = "Authentication required")))]
pub async fn list_api_keys(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    let org = caller.org();
    let (uid, keys) = match caller.owner {
        KeyOwner::Key => (key_uid(&caller.principal.key_id), vec![s.store.get_api_key(org, &caller.principal.key_id).await?]),
        owner @ (KeyOwner::User(id) | KeyOwner::ServiceAccount(id)) => (id, all(|p| s.store.list_api_keys(org, Some(owner), p)).await?),
    };
    let items: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "key": k.access_key, "user_id": uid, "active": k.state == "active",
                "last_used": k.last_used_at.map(ts), "dc": dc(k.created_at, k.created_at),
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

// ---------------------------------------------------------------------------------------
// Clusters and operations
// ---------------------------------------------------------------------------------------

fn op_type(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Create => "CREATE",
        OperationKind::Delete => "DELETE",
        OperationKind::Scale => "SCALE",
        OperationKind::Upgrade => "UPGRADE",
    }
}

fn operation_value(o: &Operation) -> Value {
    let feedback = match &o.error {
        Some(e) => json!({"message": e}),
        None => json!({}),
    };
    json!({
        "id": o.id, "type": op_type(o.kind), "status": o.status.as_str(), "entity": "CLUSTER", "entity_id": o.cluster_id,
        "feedback_data": feedback, "non_sensitive_data": o.params, "dc": dc(o.created_at, o.updated_at),
    })
}

async fn cluster_operations(s: &AppState, c: &Cluster) -> CrResult<Vec<Operation>> {
    let mut ops = all(|p| s.store.list_operations(c.organization_id, c.id, p)).await?;
    ops.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(ops)
}

async fn cluster_value(s: &AppState, c: &Cluster) -> CrResult<Value> {
    let cloud = s.store.get_cloud(c.organization_id, c.cloud_id).await.ok();
    let region = cloud.as_ref().map(|cl| region_name(cl.provider, &cl.region)).unwrap_or_default();
    let ops = cluster_operations(s, c).await?;
    let running = ops.iter().find(|o| o.status.is_active()).map(|o| op_type(o.kind)).unwrap_or("");
    let last = ops.first().map(|o| json!({"id": o.id, "type": op_type(o.kind), "status": o.status.as_str(), "dc": dc(o.created_at, o.updated_at)}));
    let status = match c.state {
        ClusterState::Creating => "UNKNOWN",
        ClusterState::CreationFailed => "RED",
        _ if c.nodes.iter().any(|n| n.status == NodeStatus::NotReady) => "YELLOW",
        _ => "GREEN",
    };
    let host = c
        .endpoints
        .iter()
        .find(|e| e.kind == "sql")
        .or(c.endpoints.first())
        .map(|e| e.host.clone())
        .unwrap_or_else(|| format!("{}.{}.cratedb.dbcloud.internal", c.name, region));
    let host = host.trim_end_matches('.').to_string();
    Ok(json!({
        "id": c.id, "name": c.name, "project_id": c.project_id, "subscription_id": c.organization_id,
        "crate_version": c.version, "channel": "stable", "product_name": PRODUCT_NAME, "product_tier": PRODUCT_TIER,
        "product_unit": (c.node_count - 1).max(0), "num_nodes": c.node_count, "username": "admin",
        "fqdn": format!("{host}."), "url": format!("https://{host}:4200"), "external_ip": null,
        "suspended": false, "deletion_protected": false, "allow_suspend": true, "allow_custom_storage": false,
        "gc_available": false, "origin": "cloud", "backup_schedule": "", "ip_whitelist": [], "region": region,
        "hardware_specs": {"cpus_per_node": 4, "memory_per_node_bytes": 17_179_869_184u64, "heap_size_bytes": 8_589_934_592u64,
            "disk_type": "premium", "disks_per_node": 1, "disk_size_per_node_bytes": 161_061_273_600u64},
        "health": {"status": status, "running_operation": running, "last_seen": ts(c.updated_at)},
        "last_async_operation": last, "dc": dc(c.created_at, c.updated_at),
    }))
}

/// A readable, not deleted cluster.
async fn live_cluster(s: &AppState, caller: &Caller, id: &str, p: Permission) -> CrResult<Cluster> {
    let c = authorized_cluster(s, caller, path_id(id)?, p).await?;
    if c.state == ClusterState::Deleted {
        return Err(not_found());
    }
    Ok(c)
}

/// Cluster list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterListQuery {
    /// Only clusters of this project.
    pub project_id: Option<String>,
    /// Only clusters of this subscription.
    pub subscription_id: Option<String>,
    /// Only clusters of this product.
    pub product_name: Option<String>,
}

/// Clusters the caller may read (deleted ones left out).
#[utoipa::path(get, path = "/api/v2/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(ClusterListQuery),
    responses((status = 200, description = "[Cluster]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn list_clusters(State(s): State<AppState>, CrCaller(caller): CrCaller, CrQuery(q): CrQuery<ClusterListQuery>) -> CrResult<Json<Value>> {
    caller.require_somewhere(Permission::ClusterRead).await?;
    let org = caller.org();
    let mut filter = ClusterFilter::default();
    if let Some(p) = q.project_id.as_deref().filter(|p| !p.is_empty()) {
        match Uuid::parse_str(p) {
            Ok(p) => filter.project_id = Some(p),
            Err(_) => return Ok(Json(json!([]))),
        }
    }
    let other_sub = q.subscription_id.as_deref().is_some_and(|x| !x.is_empty() && x != FREE_TIER && Uuid::parse_str(x).ok() != Some(org));
    let other_product = q.product_name.as_deref().is_some_and(|x| !x.is_empty() && x != PRODUCT_NAME);
    if other_sub || other_product {
        return Ok(Json(json!([])));
    }
    let clusters = all(|p| s.store.list_clusters(org, &filter, p)).await?;
    let mut items = vec![];
    for c in clusters.iter().filter(|c| c.state != ClusterState::Deleted) {
        if caller.principal.can(Permission::ClusterRead, Target::Cluster { project: c.project_id, cluster: c.id }) {
            items.push(cluster_value(&s, c).await?);
        }
    }
    Ok(Json(Value::Array(items)))
}

/// Clusters of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path), ClusterListQuery),
    responses((status = 200, description = "[Cluster]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_org_clusters(state: State<AppState>, caller: CrCaller, Path(org): Path<String>, q: CrQuery<ClusterListQuery>) -> CrResult<Json<Value>> {
    own_org(&caller.0, &org)?;
    list_clusters(state, caller, q).await
}

/// A cluster.
#[utoipa::path(get, path = "/api/v2/clusters/{cluster_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn get_cluster(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterRead).await?;
    Ok(Json(cluster_value(&s, &c).await?))
}

/// Delete a cluster (204); the delete operation runs afterwards.
#[utoipa::path(delete, path = "/api/v2/clusters/{cluster_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 204), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"),
        (status = 404, description = "Not found"), (status = 409, description = "Conflict")))]
pub async fn delete_cluster(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<StatusCode> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterDelete).await?;
    cluster::check_delete(&c)?;
    let op = NewOperation::new(OperationKind::Delete, json!({}));
    let change = s.store.delete_cluster(&caller.ctx(None), c.id, &op).await;
    s.clusters.invalidate(c.id);
    change?;
    s.runner.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Deploy body: `cluster` and `project_id` or `project`.
#[derive(Debug, Deserialize)]
pub struct DeployBody {
    /// The cluster.
    pub cluster: DeployCluster,
    /// Subscription (`free_tier` or the organization's).
    pub subscription_id: Option<String>,
    /// Existing project.
    pub project_id: Option<String>,
    /// New project.
    pub project: Option<DeployProject>,
}

/// The cluster part of a deploy.
#[derive(Debug, Deserialize)]
pub struct DeployCluster {
    /// Name.
    pub name: String,
    /// Version.
    pub crate_version: Option<String>,
    /// Channel.
    pub channel: Option<String>,
    /// Product name.
    pub product_name: Option<String>,
    /// Product tier.
    pub product_tier: Option<String>,
    /// Product unit.
    pub product_unit: Option<i32>,
    /// Database user.
    pub username: Option<String>,
    /// Password (write-only).
    pub password: Option<String>,
}

/// The new-project part of a deploy.
#[derive(Debug, Deserialize)]
pub struct DeployProject {
    /// Name.
    pub name: String,
    /// Region (`<provider>.<region>`).
    pub region: String,
}

/// Deploy a cluster (201); croud then polls its CREATE operation.
#[utoipa::path(post, path = "/api/v2/organizations/{org_id}/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 201, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Conflict")))]
pub async fn deploy_cluster(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(org): Path<String>, CrJson(req): CrJson<DeployBody>) -> CrResult<Response> {
    let org = path_id(&org)?;
    if org != caller.org() {
        return Err(not_found());
    }
    // Dialect-level checks: the product catalogue, subscription and password.
    let mut v = Violations::new();
    let c = &req.cluster;
    if c.product_name.as_deref() != Some(PRODUCT_NAME) {
        v.add("cluster.product_name", format!("unknown product; offered: {PRODUCT_NAME}"));
    }
    if c.product_tier.as_deref() != Some(PRODUCT_TIER) {
        v.add("cluster.product_tier", format!("unknown tier; offered: {PRODUCT_TIER}"));
    }
    let unit = c.product_unit.unwrap_or(0);
    if !(0..cluster::MAX_NODE_COUNT).contains(&unit) {
        v.add("cluster.product_unit", format!("must be between 0 and {}", cluster::MAX_NODE_COUNT - 1));
    }
    if c.password.as_deref().is_none_or(|p| p.chars().count() < MIN_PASSWORD) {
        v.add("cluster.password", format!("must be at least {MIN_PASSWORD} characters"));
    }
    if c.username.as_deref().is_none_or(str::is_empty) {
        v.add("cluster.username", "required");
    }
    if c.channel.as_deref().is_some_and(|ch| !["stable", "testing", "nightly"].contains(&ch)) {
        v.add("cluster.channel", "must be stable, testing or nightly");
    }
    match req.subscription_id.as_deref() {
        Some(FREE_TIER) => {}
        Some(x) if Uuid::parse_str(x).ok() == Some(org) => {}
        _ => v.add("subscription_id", "unknown subscription"),
    }
    let project_id = match (&req.project_id, &req.project) {
        (Some(p), _) => match Uuid::parse_str(p) {
            Ok(p) => Some(p),
            Err(_) => {
                v.add("project_id", "must be a project id");
                None
            }
        },
        (None, Some(_)) => None,
        (None, None) => {
            v.add("project_id", "give project_id or project");
            None
        }
    };
    let new_region = match (&req.project_id, &req.project) {
        (None, Some(p)) => match parse_region(&p.region) {
            Some(r) => Some(r),
            None => {
                v.add("project.region", "unknown region; see GET /api/v2/regions/");
                None
            }
        },
        _ => None,
    };
    // The core's own cluster rules (name, version, node count).
    let core_req = CreateCluster {
        name: c.name.clone(),
        project_id,
        cloud_id: None,
        provider: Some(Provider::Aws),
        region: Some("us-east-1".into()),
        plan: Some(Plan::Dedicated),
        version: c.crate_version.clone(),
        node_count: Some(unit + 1),
        node_size: None,
        spend_limit: None,
    };
    let spec = match cluster::check_create(&core_req) {
        Ok(spec) => Some(spec),
        Err(Error::InvalidArgument { violations, .. }) => {
            for x in violations {
                let field = match x.field.as_str() {
                    "version" => "cluster.crate_version".to_string(),
                    "node_count" => "cluster.product_unit".to_string(),
                    f => format!("cluster.{f}"),
                };
                v.add(field, x.description);
            }
            None
        }
        Err(e) => return Err(e.into()),
    };
    v.finish()?;
    let spec = spec.expect("checked");
    // Project and cloud: the given project in the organization's first cloud (or the default
    // region), or a new project in the given region.
    let (project, cloud) = match (project_id, new_region) {
        (Some(p), _) => {
            caller.require(Permission::ClusterCreate, Target::Project(p)).await?;
            s.store.get_project(org, p).await?;
            let clouds = s.store.list_clouds(org, None, PageReq::first(1)).await?;
            let cloud = match clouds.items.first() {
                Some(cl) => CloudRef::Id(cl.id),
                None => CloudRef::ProviderRegion(Provider::Aws, "us-east-1".into()),
            };
            (p, cloud)
        }
        (None, Some((provider, region))) => {
            caller.require(Permission::ClusterCreate, Target::Organization).await?;
            let name = req.project.as_ref().map(|p| p.name.clone()).unwrap_or_default();
            let p = create_project_in(&s, &caller, &name).await?;
            (p.id, CloudRef::ProviderRegion(provider, region))
        }
        (None, None) => unreachable!("checked above"),
    };
    let new = NewCluster {
        attributes: Default::default(),
        id: dbcloud_core::new_id(),
        project_id: Some(project),
        cloud,
        name: spec.name,
        plan: spec.plan,
        version: spec.version,
        node_count: spec.node_count,
        node_size: spec.node_size,
        spend_limit: spec.spend_limit,
    };
    let op = NewOperation::new(OperationKind::Create, json!({ "node_count": new.node_count }));
    let change = s.store.create_cluster(&caller.ctx(None), &new, &op).await?;
    let (id, project) = (change.cluster.id, change.cluster.project_id);
    let t = Target::Cluster { project, cluster: id };
    crate::routes::grants::grant_creator(&s, &caller, Permission::ClusterUpdate, t, Role::ClusterAdmin, Scope::Cluster(id)).await;
    s.runner.wake();
    let body = cluster_value(&s, &change.cluster).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Operation filters (croud sends `type` and `limit`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationsQuery {
    /// Only this type (`CREATE`, `DELETE`, `SCALE`, `UPGRADE`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// At most this many (default and maximum 100).
    pub limit: Option<String>,
}

/// A cluster's operations, newest first. Waits up to about 5 s while the newest match is
/// still running, so croud's 10-second poll rarely has to repeat.
#[utoipa::path(get, path = "/api/v2/clusters/{cluster_id}/operations/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path), OperationsQuery),
    responses((status = 200, description = "{operations: [Operation]}"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_operations(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>, CrQuery(q): CrQuery<OperationsQuery>) -> CrResult<Json<Value>> {
    let id = path_id(&id)?;
    // Deleted clusters keep their operation history (croud polls DELETE to the end).
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let limit = match q.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l.parse::<usize>().map_err(|_| Error::field("limit", "must be a positive integer"))?.clamp(1, 100),
    };
    let kind = q.kind.as_deref().filter(|k| !k.is_empty()).map(str::to_ascii_uppercase);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut ops = cluster_operations(&s, &c).await?;
        ops.retain(|o| kind.as_deref().is_none_or(|k| op_type(o.kind) == k));
        ops.truncate(limit);
        let running = ops.first().is_some_and(|o| o.status.is_active());
        if !running || tokio::time::Instant::now() >= deadline {
            return Ok(Json(json!({"operations": ops.iter().map(operation_value).collect::<Vec<_>>()})));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Unknown `/api/v2/` paths: 404 in the vendor shape.
pub async fn unknown() -> Response {
    not_found().into_response()
}

/// The dialect's routes (under `/api/v2/`), added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    r
        .routes(routes!(get_me))
        .routes(routes!(list_organizations))
        .routes(routes!(get_organization))
        .routes(routes!(list_org_projects))
        .routes(routes!(list_org_regions))
        .routes(routes!(list_roles))
        .routes(routes!(get_subscription))
        .routes(routes!(list_org_users))
        .routes(routes!(list_users))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project))
        .routes(routes!(list_clusters))
        .routes(routes!(get_cluster, delete_cluster))
        .routes(routes!(deploy_cluster, list_org_clusters))
        .routes(routes!(list_operations))
        .routes(routes!(list_regions))
        .routes(routes!(list_products))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_org_subscriptions))
        .routes(routes!(list_api_keys))
        // The same routes without the trailing slash (croud always sends one; curl users often don't).
        .route("/api/v2/users/me", axum::routing::get(get_me))
        .route("/api/v2/organizations", axum::routing::get(list_organizations))
        .route("/api/v2/organizations/{org_id}/users", axum::routing::get(list_org_users))
        .route("/api/v2/users", axum::routing::get(list_users))
        .route("/api/v2/projects", axum::routing::get(list_projects).post(create_project))
        .route("/api/v2/projects/{project_id}", axum::routing::get(get_project))
        .route("/api/v2/clusters", axum::routing::get(list_clusters))
        .route("/api/v2/clusters/{cluster_id}", axum::routing::get(get_cluster).delete(delete_cluster))
        .route("/api/v2/organizations/{org_id}/clusters", axum::routing::post(deploy_cluster).get(list_org_clusters))
        .route("/api/v2/organizations/{org_id}", axum::routing::get(get_organization))
        .route("/api/v2/organizations/{org_id}/projects", axum::routing::get(list_org_projects))
        .route("/api/v2/organizations/{org_id}/regions", axum::routing::get(list_org_regions))
        .route("/api/v2/roles", axum::routing::get(list_roles))
        .route("/api/v2/subscriptions/{subscription_id}", axum::routing::get(get_subscription))
        .route("/api/v2/clusters/{cluster_id}/operations", axum::routing::get(list_operations))
        .route("/api/v2/regions", axum::routing::get(list_regions))
        .route("/api/v2/products", axum::routing::get(list_products))
        .route("/api/v2/subscriptions", axum::routing::get(list_subscriptions))
        .route("/api/v2/organizations/{org_id}/subscriptions", axum::routing::get(list_org_subscriptions))
        .route("/api/v2/users/me/api-keys", axum::routing::get(list_api_keys))
        .route("/api/v2/{*rest}", axum::routing::any(unknown))
}
