//! CrateDB Cloud API v2 (`/api/v2/`): the subset the `croud` CLI 1.15.0 uses for users,
//! organizations, projects, clusters (with operation polling), regions, products,
//! subscriptions and API keys (spec `dialects/cratedb-v2.md`). A thin adapter over the
//! same store, validation and authorization as the native API; errors use the vendor's
//! `{"message","success":false,"errors"?}` shape, and no route sets a cookie.

use super::all_pages as all;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::clusters::authorized_cluster;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Role, Scope, Target};
use dbcloud_core::{Error, cluster, validate};
use dbcloud_store::{CloudRef, ClusterFilter, ClusterUpdate, KeyOwner, NewOperation, PageReq};
use dbcloud_types::{Cluster, ClusterState, CreateCluster, NodeStatus, Operation, OperationKind, Plan, Project, Provider};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
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

dialect_error!(
    /// An error answered in the CrateDB Cloud shape.
    CrError,
    CrResult
);

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

/// Whether `s` fits the vendor's pattern for names (`^\w[\w\- ]*$`, 1–512 characters).
fn fits_name_pattern(s: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    s.chars().next().is_some_and(word) && s.chars().count() <= 512 && s.chars().all(|c| word(c) || c == '-' || c == ' ')
}

/// `s` in the vendor's name pattern: other characters become `-`, and a name that does
/// not start with a letter, digit or `_` gets `fallback` in front.
fn pattern_name(s: &str, fallback: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out: String = s.chars().take(500).map(|c| if word(c) || c == '-' || c == ' ' { c } else { '-' }).collect();
    if !out.chars().next().is_some_and(word) {
        out.insert_str(0, fallback);
    }
    out
}

/// A user in the vendor's shape. `username` is the local part of the email and `name` the
/// display name, both in the vendor's name pattern; there is no `picture`.
fn user_value(org: Uuid, uid: Uuid, email: &str, name: &str, idp: &str, grants: &[Grant]) -> Value {
    let (o, p) = roles(org, grants);
    let local = email.split('@').next().unwrap_or_default();
    json!({
        "uid": uid, "email": email, "username": pattern_name(local, "user"), "name": pattern_name(name, "user"), "idp": idp,
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
            user_value(org, key_uid(&k.access_key), &email, if k.name.is_empty() { &k.access_key } else { &k.name }, "api-key", grants)
        }
    };
    v["organization_id"] = json!(org);
    // The vendor's identity-verification hash for its support chat; there is none here, so
    // it is a stable digest of the user id (never derived from a secret).
    let uid = v["uid"].as_str().unwrap_or_default().to_string();
    v["hmac"] = json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("dbcloud-user:{uid}"))));
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
    let mut v = json!({
        "id": o.id, "name": o.name, "plan_type": o.attributes.get("plan_type").cloned().unwrap_or(json!(3)),
        "notifications_enabled": o.attributes.get("notifications_enabled").cloned().unwrap_or(json!(false)),
        "project_count": projects.len(), "role_fqn": r[0]["role_fqn"], "dc": dc(o.created_at, o.created_at),
    });
    // Unset: left out (the document has no null email).
    if let Some(e) = o.attributes.get("email").filter(|e| e.is_string()) {
        v["email"] = e.clone();
    }
    Ok(v)
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

/// A project name: a display name in the vendor's pattern (`^\w[\w\- ]*$`).
fn project_name(name: &str) -> Result<String, String> {
    let name = validate::display_name(name)?;
    if fits_name_pattern(&name) { Ok(name) } else { Err("must start with a letter, digit or `_` and hold only letters, digits, `_`, `-` and spaces".into()) }
}

async fn create_project_in(s: &AppState, caller: &Caller, name: &str) -> CrResult<Project> {
    caller.require(Permission::ProjectCreate, Target::Organization).await?;
    let mut v = Violations::new();
    let name = v.check("name", project_name(name));
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
                "is_edge_region": false, "status": "UP", "deprecated": false,
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
    let scaling: Vec<Value> = (0..i64::from(cluster::MAX_NODE_COUNT))
        .filter_map(|u| unit_nodes(u).map(|n| (u, n)))
        .map(|(u, n)| json!({"value": u, "nodes": n, "dtus": n, "price_per_minute": n, "description": format!("{n} node(s)")}))
        .collect();
    json!({
        "kind": "cluster", "name": PRODUCT_NAME, "tier": PRODUCT_TIER, "label": "CR4",
        "description": "Dedicated cluster", "scale_summary": format!("1 - {} nodes", cluster::MAX_NODE_COUNT),
        "price_per_dtu_minute": 1, "deprecated": false, "tags": [],
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
        "provider": "cloud", "active": true, "billing_model": "pay_as_you_go",
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
    let (uid, keys) = my_keys(&s, &caller).await?;
    Ok(Json(Value::Array(keys.iter().map(|k| key_value(k, uid)).collect())))
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
        OperationKind::Suspend | OperationKind::Resume => "SUSPEND",
        OperationKind::AllowlistUpdate => "ALLOWED_CIDR_UPDATE",
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
    let last = s.store.latest_operations(c.organization_id, &[c.id]).await?;
    let allow = s.store.allowlists_of(c.organization_id, &[c.id]).await?;
    Ok(cluster_json(c, &region, last.first(), &allow))
}

/// A cluster in the vendor's shape, from its region, its newest operation (the running one
/// when one runs: a cluster runs one at a time) and its allow list.
fn cluster_json(c: &Cluster, region: &str, newest: Option<&Operation>, allow: &[dbcloud_types::AllowlistEntry]) -> Value {
    let running = newest.filter(|o| o.status.is_active()).map(|o| op_type(o.kind));
    let last = newest.map(|o| json!({"id": o.id, "type": op_type(o.kind), "status": o.status.as_str(), "dc": dc(o.created_at, o.updated_at)}));
    let suspended = cluster::is_suspended(c);
    let status = match c.state {
        _ if suspended => "SUSPENDED",
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
    let ip_whitelist: Vec<Value> = allow.iter().map(|e| json!({"cidr": e.cidr, "description": e.comment})).collect();
    let channel = c.attributes.get("channel").and_then(Value::as_str).unwrap_or("stable");
    let deletion_protected = c.attributes.get("delete_protection").and_then(Value::as_str) == Some("ENABLED");
    let mut v = json!({
        "id": c.id, "name": c.name, "project_id": c.project_id, "subscription_id": c.organization_id,
        "crate_version": c.version, "channel": channel, "product_name": PRODUCT_NAME, "product_tier": PRODUCT_TIER,
        "product_unit": (c.node_count - 1).max(0), "num_nodes": c.node_count, "username": "admin",
        "fqdn": format!("{host}."), "url": format!("https://{host}:4200"),
        "suspended": suspended, "deletion_protected": deletion_protected, "allow_suspend": true, "allow_custom_storage": false,
        "gc_available": false, "origin": "cloud", "ip_whitelist": ip_whitelist,
        "hardware_specs": {"cpus_per_node": 4, "memory_per_node_bytes": 17_179_869_184u64, "heap_size_bytes": 8_589_934_592u64,
            "disk_type": "premium", "disks_per_node": 1, "disk_size_per_node_bytes": 161_061_273_600u64},
        "health": {"status": status, "last_seen": ts(c.updated_at)},
        "dc": dc(c.created_at, c.updated_at),
    });
    // Only when there is one: the document has no idle `running_operation` and no null.
    if let Some(r) = running {
        v["health"]["running_operation"] = json!(r);
    }
    if let Some(l) = last {
        v["last_async_operation"] = l;
    }
    v
}

/// Many clusters in the vendor's shape, with one store query each for clouds, newest
/// operations and allow lists (not one per cluster).
async fn cluster_values(s: &AppState, org: Uuid, clusters: &[&Cluster]) -> CrResult<Vec<Value>> {
    let ids: Vec<Uuid> = clusters.iter().map(|c| c.id).collect();
    let clouds = all(|p| s.store.list_clouds(org, None, p)).await?;
    let regions: HashMap<Uuid, String> = clouds.iter().map(|k| (k.id, region_name(k.provider, &k.region))).collect();
    let newest: HashMap<Uuid, Operation> = s.store.latest_operations(org, &ids).await?.into_iter().map(|o| (o.cluster_id, o)).collect();
    let mut allow: HashMap<Uuid, Vec<dbcloud_types::AllowlistEntry>> = HashMap::new();
    for e in s.store.allowlists_of(org, &ids).await? {
        allow.entry(e.cluster_id).or_default().push(e);
    }
    Ok(clusters
        .iter()
        .map(|c| {
            let region = regions.get(&c.cloud_id).map(String::as_str).unwrap_or_default();
            cluster_json(c, region, newest.get(&c.id), allow.get(&c.id).map(Vec::as_slice).unwrap_or_default())
        })
        .collect())
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
    let visible: Vec<&Cluster> = clusters
        .iter()
        .filter(|c| c.state != ClusterState::Deleted)
        .filter(|c| caller.principal.can(Permission::ClusterRead, Target::Cluster { project: c.project_id, cluster: c.id }))
        .collect();
    Ok(Json(Value::Array(cluster_values(&s, org, &visible).await?)))
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
    cluster::check_delete(&c).map_err(busy)?;
    let op = NewOperation::new(OperationKind::Delete, json!({}));
    let change = s.store.delete_cluster(&caller.ctx(None), c.id, &op).await;
    s.clusters.invalidate(c.id);
    change.map_err(busy)?;
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
pub async fn deploy_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<DeployBody>,
) -> CrResult<Response> {
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
    let mut attributes = serde_json::Map::new();
    attributes.insert("channel".into(), json!(c.channel.as_deref().unwrap_or("stable")));
    let change = crate::routes::clusters::provision(&s, &caller, caller.ctx(None), spec, project, cloud, attributes).await?;
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
pub async fn list_operations(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrQuery(q): CrQuery<OperationsQuery>,
) -> CrResult<Json<Value>> {
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

// ---------------------------------------------------------------------------------------
// Cluster changes (§4 "Changes", §6 one operation per cluster)
// ---------------------------------------------------------------------------------------

/// Message of the 409 answering a change while another operation runs (§6).
pub const BUSY: &str = "Another cluster operation is currently in progress.";

/// The core's "busy" answer (another operation holds the cluster) in the vendor's words;
/// other errors unchanged.
fn busy(e: Error) -> CrError {
    match e {
        Error::Aborted(_) | Error::Busy { .. } => CrError(ApiError::new(StatusCode::CONFLICT, dbcloud_types::Code::Aborted, BUSY)),
        other => other.into(),
    }
}

/// Renames the fields of a core validation error to the dialect's request fields.
fn rename_fields(e: Error, map: &[(&str, &str)]) -> Error {
    match e {
        Error::InvalidArgument { violations, .. } => {
            let mut v = Violations::new();
            for x in violations {
                let field = map.iter().find(|(from, _)| *from == x.field).map(|(_, to)| to.to_string()).unwrap_or(x.field);
                v.add(field, x.description);
            }
            v.finish().err().unwrap_or_else(|| Error::invalid("invalid request"))
        }
        other => other,
    }
}

/// A cluster that is running an operation answers [`BUSY`] before any other check.
fn ensure_idle(c: &Cluster) -> CrResult<()> {
    match c.state {
        s @ (ClusterState::Creating | ClusterState::Scaling | ClusterState::Updating) => Err(busy(Error::busy(c.id, s))),
        _ => Ok(()),
    }
}

/// Nodes of a product unit (a `value` of the product's `scaling` table), if it is one.
fn unit_nodes(unit: i64) -> Option<i32> {
    (0..i64::from(cluster::MAX_NODE_COUNT)).contains(&unit).then(|| unit as i32 + 1)
}

/// Scale body.
#[derive(Debug, Deserialize)]
pub struct ScaleBody {
    /// A `value` of the product's scaling table.
    pub product_unit: Option<i64>,
}

/// Scale a cluster to a product unit (200 + cluster); a SCALE operation runs afterwards.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/scale/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Another operation runs")))]
pub async fn scale_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<ScaleBody>,
) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let (unit, nodes) = match req.product_unit.and_then(|u| unit_nodes(u).map(|n| (u, n))) {
        Some(x) => x,
        None => {
            let max = cluster::MAX_NODE_COUNT - 1;
            return Err(Error::field("product_unit", format!("must be a value of the {PRODUCT_NAME} scaling table (0-{max})")).into());
        }
    };
    ensure_idle(&c)?;
    if nodes == c.node_count {
        return Err(Error::field("product_unit", format!("the cluster already runs product unit {unit}")).into());
    }
    let req = dbcloud_types::UpdateCluster { node_count: Some(nodes), ..Default::default() };
    cluster::check_update(&c, &req).map_err(|e| busy(rename_fields(e, &[("node_count", "product_unit")])))?;
    let params = json!({
        "node_count": nodes, "from": c.node_count,
        "current_product_unit": (c.node_count - 1).max(0), "target_product_unit": unit,
        "current_num_nodes": c.node_count, "target_num_nodes": nodes,
    });
    let update = ClusterUpdate { scale: Some(NewOperation::new(OperationKind::Scale, params)), ..Default::default() };
    let change = s.store.update_cluster(&caller.ctx(None), c.id, &update).await;
    s.clusters.invalidate(c.id);
    let change = change.map_err(busy)?;
    s.runner.wake();
    Ok(Json(cluster_value(&s, &change.cluster).await?))
}

/// Upgrade body.
#[derive(Debug, Deserialize)]
pub struct UpgradeBody {
    /// Target version.
    pub crate_version: Option<String>,
}

/// Upgrade a cluster (200 + cluster); an UPGRADE operation runs afterwards and sets the
/// version when it succeeds.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/upgrade/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Another operation runs")))]
pub async fn upgrade_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<UpgradeBody>,
) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(wanted) = req.crate_version.filter(|v| !v.is_empty()) else {
        return Err(Error::field("crate_version", "required").into());
    };
    let version = cluster::check_upgrade(&c, &wanted).map_err(|e| busy(rename_fields(e, &[("version", "crate_version")])))?;
    let op = crate::routes::clusters::upgrade_operation(&c, &version);
    let change = crate::routes::clusters::start_operation(&s, &caller, c.id, &op, "cluster.upgrade").await.map_err(busy)?;
    Ok(Json(cluster_value(&s, &change.cluster).await?))
}

/// Suspend body.
#[derive(Debug, Deserialize)]
pub struct SuspendBody {
    /// `true` suspends, `false` resumes.
    pub suspended: Option<bool>,
}

/// Suspend or resume a cluster (200 + cluster); `suspended` flips when the SUSPEND
/// operation succeeds.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/suspend/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Another operation runs or nothing to do")))]
pub async fn suspend_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<SuspendBody>,
) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(suspend) = req.suspended else {
        return Err(Error::field("suspended", "required: true or false").into());
    };
    let kind = cluster::check_suspend(&c, suspend).map_err(busy)?;
    let op = NewOperation::new(kind, json!({"current_suspended": !suspend, "target_suspended": suspend}));
    let action = if suspend { "cluster.suspend" } else { "cluster.resume" };
    let change = crate::routes::clusters::start_operation(&s, &caller, c.id, &op, action).await.map_err(busy)?;
    Ok(Json(cluster_value(&s, &change.cluster).await?))
}

/// One allowed network.
#[derive(Debug, Deserialize)]
pub struct IpEntry {
    /// IPv4/IPv6 CIDR or a bare address.
    pub cidr: String,
    /// Free text (the core entry's comment).
    pub description: Option<String>,
}

/// IP-restrictions body.
#[derive(Debug, Deserialize)]
pub struct IpRestrictionsBody {
    /// The whole new allow list (empty: no restriction entries).
    pub ip_whitelist: Option<Vec<IpEntry>>,
}

/// Replace a cluster's whole allow list (200 + cluster), atomically; an
/// ALLOWED_CIDR_UPDATE operation applies it afterwards.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/ip-restrictions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Another operation runs")))]
pub async fn set_ip_restrictions(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<IpRestrictionsBody>,
) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::AllowlistManage).await?;
    let mut v = Violations::new();
    let Some(list) = req.ip_whitelist else {
        return Err(Error::field("ip_whitelist", "required (an empty list removes every entry)").into());
    };
    let mut entries: Vec<dbcloud_store::NewAllowlistEntry> = vec![];
    for (i, e) in list.iter().enumerate() {
        let cidr = v.check("ip_whitelist", validate::cidr(&e.cidr).map_err(|m| format!("entry {i}: {m}")));
        let comment =
            v.check("ip_whitelist", validate::free_text(e.description.as_deref().unwrap_or(""), 255).map_err(|m| format!("entry {i} description: {m}")));
        if let (Some(cidr), Some(comment)) = (cidr, comment) {
            if entries.iter().any(|x| x.cidr == cidr) {
                v.add("ip_whitelist", format!("entry {i}: {cidr} is listed twice"));
            } else {
                entries.push(dbcloud_store::NewAllowlistEntry { cidr, comment, expires_at: None, attributes: Default::default() });
            }
        }
    }
    v.finish()?;
    ensure_idle(&c)?;
    let current = all(|p| s.store.list_allowlist(c.organization_id, c.id, p)).await?;
    let params = json!({
        "current_ip_whitelist": current.iter().map(|e| json!({"cidr": e.cidr, "description": e.comment})).collect::<Vec<_>>(),
        "target_ip_whitelist": entries.iter().map(|e| json!({"cidr": e.cidr, "description": e.comment})).collect::<Vec<_>>(),
    });
    let op = NewOperation::new(OperationKind::AllowlistUpdate, params);
    s.store.replace_allowlist(&caller.ctx(None), c.id, &entries, Some(&op)).await.map_err(busy)?;
    s.clusters.invalidate(c.id);
    s.runner.wake();
    let c = s.store.get_cluster(c.organization_id, c.id).await?;
    Ok(Json(cluster_value(&s, &c).await?))
}

/// Deletion-protection body.
#[derive(Debug, Deserialize)]
pub struct DeletionProtectionBody {
    /// Whether deletes are refused.
    pub deletion_protected: Option<bool>,
}

/// Turn delete protection on or off (200 + cluster); honoured by the core's delete check.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/deletion-protection/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn set_deletion_protection(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<DeletionProtectionBody>,
) -> CrResult<Json<Value>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(on) = req.deletion_protected else {
        return Err(Error::field("deletion_protected", "required: true or false").into());
    };
    let mut attributes = serde_json::Map::new();
    attributes.insert("delete_protection".into(), if on { json!("ENABLED") } else { Value::Null });
    let update = ClusterUpdate { attributes: Some(attributes), ..Default::default() };
    let change = s.store.update_cluster(&caller.ctx(None), c.id, &update).await;
    s.clusters.invalidate(c.id);
    Ok(Json(cluster_value(&s, &change?.cluster).await?))
}

// ---------------------------------------------------------------------------------------
// Project and organization edits
// ---------------------------------------------------------------------------------------

/// Project edit body.
#[derive(Debug, Deserialize)]
pub struct EditProjectBody {
    /// New name.
    pub name: Option<String>,
}

/// Rename a project.
#[utoipa::path(patch, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 200, description = "Project"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found"), (status = 409, description = "Name taken")))]
pub async fn edit_project(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<EditProjectBody>,
) -> CrResult<Json<Value>> {
    let id = path_id(&id)?;
    caller.require(Permission::ProjectUpdate, Target::Project(id)).await?;
    if let Some(Err(e)) = req.name.as_deref().map(project_name) {
        return Err(Error::field("name", e).into());
    }
    let (name, _) = crate::routes::rename(req.name.as_deref(), None)?;
    let p = s.store.update_project(&caller.ctx(None), id, name.as_deref(), None).await?;
    Ok(Json(project_value(&p)))
}

/// Delete a project (204); 409 while it holds clusters.
#[utoipa::path(delete, path = "/api/v2/projects/{project_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 204), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"),
        (status = 404, description = "Not found"), (status = 409, description = "The project holds clusters")))]
pub async fn delete_project(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<StatusCode> {
    let id = path_id(&id)?;
    caller.require(Permission::ProjectDelete, Target::Project(id)).await?;
    s.store.delete_project(&caller.ctx(None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Organization edit body (every field optional).
#[derive(Debug, Deserialize)]
pub struct EditOrganizationBody {
    /// New name.
    pub name: Option<String>,
    /// Plan type, 1–6.
    pub plan_type: Option<Value>,
    /// Contact email (null clears it).
    #[serde(default, deserialize_with = "some_value")]
    pub email: Option<Value>,
    /// Whether notifications are sent.
    pub notifications_enabled: Option<Value>,
}

/// Keeps an explicit `null` as `Some(Value::Null)` (absent stays `None`).
fn some_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Edit the caller's organization: name, and the vendor attributes `plan_type`, `email`,
/// `notifications_enabled`.
#[utoipa::path(put, path = "/api/v2/organizations/{org_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, description = "Organization"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn edit_organization(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<EditOrganizationBody>,
) -> CrResult<Json<Value>> {
    own_org(&caller, &org)?;
    caller.require(Permission::OrgUpdate, Target::Organization).await?;
    let mut v = Violations::new();
    let name = req.name.as_deref().and_then(|n| v.check("name", validate::display_name(n)));
    let mut attributes = serde_json::Map::new();
    match &req.plan_type {
        None => {}
        Some(p) => match p.as_i64().filter(|p| (1..=6).contains(p)) {
            Some(p) => {
                attributes.insert("plan_type".into(), json!(p));
            }
            None => v.add("plan_type", "must be an integer from 1 to 6"),
        },
    }
    match &req.email {
        None => {}
        Some(Value::Null) => {
            attributes.insert("email".into(), Value::Null);
        }
        Some(Value::String(e))
            if e.len() <= 254 && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) && !e.chars().any(char::is_whitespace) =>
        {
            attributes.insert("email".into(), json!(e));
        }
        Some(_) => v.add("email", "must be an email address or null"),
    }
    match &req.notifications_enabled {
        None => {}
        Some(Value::Bool(b)) => {
            attributes.insert("notifications_enabled".into(), json!(b));
        }
        Some(_) => v.add("notifications_enabled", "must be true or false"),
    }
    if req.name.is_none() && req.plan_type.is_none() && req.email.is_none() && req.notifications_enabled.is_none() {
        v.add("body", "nothing to change: give name, plan_type, email or notifications_enabled");
    }
    v.finish()?;
    let attrs = (!attributes.is_empty()).then_some(&attributes);
    s.store.update_organization(&caller.ctx(None), name.as_deref(), attrs).await?;
    Ok(Json(org_value(&s, &caller).await?))
}

// ---------------------------------------------------------------------------------------
// API keys: create (secret once), get, delete (revoke)
// ---------------------------------------------------------------------------------------

/// The caller's own active keys and the user id they are shown under: a user's or service
/// account's keys, or, for a key with roles of its own, that key and the keys it created.
async fn my_keys(s: &AppState, caller: &Caller) -> CrResult<(Uuid, Vec<dbcloud_store::ApiKeyRecord>)> {
    let org = caller.org();
    let me = &caller.principal.key_id;
    let (uid, filter) = match caller.owner {
        KeyOwner::Key => (key_uid(me), None),
        owner @ (KeyOwner::User(id) | KeyOwner::ServiceAccount(id)) => (id, Some(owner)),
    };
    let mut keys = all(|p| s.store.list_api_keys(org, filter, p)).await?;
    if caller.owner == KeyOwner::Key {
        keys.retain(|k| k.owner == KeyOwner::Key && (&k.access_key == me || k.created_by.as_ref() == Some(me)));
    }
    keys.retain(|k| k.state == "active");
    Ok((uid, keys))
}

fn key_value(k: &dbcloud_store::ApiKeyRecord, uid: Uuid) -> Value {
    let mut v = json!({"key": k.access_key, "user_id": uid, "active": k.state == "active", "dc": dc(k.created_at, k.updated_at)});
    // Until the first use there is none (the document has no null here).
    if let Some(t) = k.last_used_at {
        v["last_used"] = json!(ts(t));
    }
    v
}

/// Who may mint or delete keys for themselves: a user for their own keys; a service
/// account's or a key's holder needs `apikey.manage` (as in the native API).
async fn require_own_key_rights(caller: &Caller) -> CrResult<()> {
    match caller.owner {
        KeyOwner::User(_) => Ok(()),
        KeyOwner::ServiceAccount(_) => Ok(caller.require(Permission::ApikeyManage, Target::Organization).await?),
        KeyOwner::Key => Ok(caller.require_somewhere(Permission::ApikeyManage).await?),
    }
}

/// Create an API key for the caller (200, flat, secret shown once). The key inherits the
/// caller's grants: a user's or service account's key inherits its owner's, a key with
/// roles of its own passes on a copy of them.
#[utoipa::path(post, path = "/api/v2/users/me/api-keys/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, description = "ApiKey with secret"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied")))]
pub async fn create_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Value>> {
    require_own_key_rights(&caller).await?;
    let grants = match caller.owner {
        KeyOwner::Key => {
            let own = s.store.get_api_key(caller.org(), &caller.principal.key_id).await?.own_grants;
            crate::routes::grants::ensure_grantable(&s, &caller, &own).await?;
            own
        }
        _ => vec![],
    };
    let key = dbcloud_core::keys::NewKey::generate();
    let new = dbcloud_store::NewApiKey {
        access_key: key.access_key.clone(),
        name: "croud".into(),
        description: "created through the CrateDB Cloud v2 API".into(),
        secret_hash: key.secret_hash.clone(),
        secret_enc: Some(s.auth.cfg.master_key.seal(&key.access_key, &key.secret)),
        grants,
        owner: caller.owner,
        allowed_cidrs: vec![],
        expires_at: None,
        rate_limit: None,
    };
    s.store.create_api_key(&caller.ctx(None), &new).await?;
    let stored = s.store.get_api_key(caller.org(), &key.access_key).await?;
    let uid = match caller.owner {
        KeyOwner::Key => key_uid(&caller.principal.key_id),
        KeyOwner::User(id) | KeyOwner::ServiceAccount(id) => id,
    };
    let mut v = key_value(&stored, uid);
    v["secret"] = json!(key.secret);
    v["success"] = json!(true);
    Ok(Json(v))
}

/// One of the caller's keys (never its secret).
#[utoipa::path(get, path = "/api/v2/users/me/api-keys/{key}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("key" = String, Path)),
    responses((status = 200, description = "ApiKey"), (status = 401, description = "Authentication required"), (status = 404, description = "Not found")))]
pub async fn get_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(key): Path<String>) -> CrResult<Json<Value>> {
    let (uid, keys) = my_keys(&s, &caller).await?;
    let k = keys.iter().find(|k| k.access_key == key).ok_or_else(not_found)?;
    Ok(Json(key_value(k, uid)))
}

/// Delete (revoke) one of the caller's keys (204); it stops working at once, on every replica.
#[utoipa::path(delete, path = "/api/v2/users/me/api-keys/{key}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("key" = String, Path)),
    responses((status = 204), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn delete_api_key(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(key): Path<String>) -> CrResult<StatusCode> {
    require_own_key_rights(&caller).await?;
    let (_, keys) = my_keys(&s, &caller).await?;
    if !keys.iter().any(|k| k.access_key == key) {
        return Err(not_found());
    }
    s.store.revoke_api_key(&caller.ctx(None), &key).await?;
    s.identity_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------

/// Largest audit page.
const AUDIT_PAGE: u32 = 100;

/// Audit-log filters and cursor.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// Only this action (e.g. `cluster.create`).
    pub action: Option<String>,
    /// Entries at or after this time (`YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`).
    pub from: Option<String>,
    /// Entries up to this time (a date includes that whole day).
    pub to: Option<String>,
    /// Only entries about this cluster.
    pub cluster_id: Option<String>,
    /// Only entries strictly older than this entry id (the cursor croud sends).
    pub last: Option<String>,
}

/// A `from`/`to` value: RFC 3339, `YYYY-MM-DDThh:mm[:ss[.f]]` (UTC), or a date (its start,
/// or with `end_of_day` the start of the next day).
fn parse_when(s: &str, end_of_day: bool) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        let t = d.midnight().assume_utc();
        return Some(if end_of_day { t + time::Duration::days(1) } else { t });
    }
    let bare = s.strip_suffix('Z').unwrap_or(s).replace(' ', "T");
    let full = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let frac = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let short = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    [full, frac, short].iter().find_map(|f| time::PrimitiveDateTime::parse(&bare, f).ok()).map(|t| t.assume_utc())
}

/// The `actor` object of an entry: the user behind the key (or the key itself, or a
/// service account); `id` null for system and anonymous actions.
async fn actor_value(s: &AppState, org: Uuid, actor: &str) -> Value {
    if !actor.starts_with(dbcloud_core::keys::KEY_PREFIX) {
        // croud needs the `id` key (null prints as SYSTEM); the unknown rest is left out.
        return json!({"id": null, "name": actor});
    }
    let (id, email, name) = match s.store.get_api_key(org, actor).await.map(|k| k.owner) {
        Ok(KeyOwner::User(u)) => match s.store.get_user(org, u).await {
            Ok(u) => (u.id, u.email.clone(), u.name.clone()),
            Err(_) => (u, format!("{u}@users.dbcloud.invalid"), String::new()),
        },
        Ok(KeyOwner::ServiceAccount(a)) => (a, format!("{a}@service-accounts.dbcloud.invalid"), String::new()),
        _ => (key_uid(actor), format!("{}@api-keys.dbcloud.invalid", actor.to_ascii_lowercase()), actor.to_string()),
    };
    let local = email.split('@').next().unwrap_or_default();
    json!({"id": id, "email": email, "name": name, "username": pattern_name(local, "user")})
}

/// The organization's audit log, newest first, at most 100 entries per page; `last` pages
/// on (entries strictly older than it), and an empty list ends croud's loop.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/auditlogs/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path), AuditLogQuery),
    responses((status = 200, description = "[AuditLogEntry]"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_audit_logs(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrQuery(q): CrQuery<AuditLogQuery>,
) -> CrResult<Json<Value>> {
    own_org(&caller, &org)?;
    caller.require(Permission::AuditRead, Target::Organization).await?;
    let org = caller.org();
    let mut v = Violations::new();
    let nonempty = |x: &Option<String>| x.clone().filter(|x| !x.is_empty());
    let since = nonempty(&q.from).and_then(|f| v.check("from", parse_when(&f, false).ok_or_else(|| "must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ".to_string())));
    let until = nonempty(&q.to).and_then(|t| v.check("to", parse_when(&t, true).ok_or_else(|| "must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ".to_string())));
    let cluster = nonempty(&q.cluster_id).and_then(|c| v.check("cluster_id", Uuid::parse_str(&c).map_err(|_| "must be a cluster id".to_string())));
    let last = nonempty(&q.last).and_then(|l| v.check("last", Uuid::parse_str(&l).map_err(|_| "must be the id of an audit log entry".to_string())));
    v.finish()?;
    if let Some(l) = last {
        let probe = dbcloud_store::AuditFilter { id: Some(l), ..Default::default() };
        if s.store.list_audit_filtered(org, &probe, PageReq::first(1)).await?.items.is_empty() {
            return Err(Error::field("last", "unknown audit log entry").into());
        }
    }
    let filter = dbcloud_store::AuditFilter {
        since,
        until,
        action: nonempty(&q.action).map(|a| a.trim_end_matches('.').to_string()),
        target_prefix: cluster.map(|c| format!("cluster:{c}")),
        before: last,
        newest_first: true,
        ..Default::default()
    };
    let page = s.store.list_audit_filtered(org, &filter, PageReq::first(AUDIT_PAGE)).await?;
    let mut actors: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut items = Vec::with_capacity(page.items.len());
    for e in &page.items {
        let actor = match actors.get(&e.actor) {
            Some(a) => a.clone(),
            None => {
                let a = actor_value(&s, org, &e.actor).await;
                actors.insert(e.actor.clone(), a.clone());
                a
            }
        };
        let key_id = e.actor.starts_with(dbcloud_core::keys::KEY_PREFIX).then(|| e.actor.clone());
        items.push(json!({
            "id": e.id, "action": e.action, "created": ts(e.time), "actor": actor,
            "context": {"target": e.target, "outcome": e.outcome, "source_ip": e.source_ip, "request_id": e.request_id,
                "key_id": key_id, "details": e.details},
        }));
    }
    Ok(Json(Value::Array(items)))
}

/// After authentication: vendor operations this server does not serve answer 501, other
/// `/api/v2/` paths 404, both in the vendor shape.
pub async fn unknown(_caller: CrCaller, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if super::vendor_operation(super::cratedb_ops::OPERATIONS, method.as_str(), uri.path()) {
        return CrError(ApiError::new(StatusCode::NOT_IMPLEMENTED, dbcloud_types::Code::Unimplemented, "This operation is not served by this server."))
            .into_response();
    }
    not_found().into_response()
}

/// Vendor operations this server does not serve on paths it serves with other methods
/// (they would be 405 otherwise).
const UNSERVED_ON_SERVED_PATHS: &[(axum::routing::MethodFilter, &str)] = {
    use axum::routing::MethodFilter as M;
    &[
        (M::PATCH, "/api/v2/clusters/{cluster_id}/"),
        (M::POST, "/api/v2/organizations/"),
        (M::DELETE, "/api/v2/organizations/{org_id}/"),
        (M::POST, "/api/v2/regions/"),
        (M::POST, "/api/v2/subscriptions/"),
        (M::DELETE, "/api/v2/subscriptions/{subscription_id}/"),
        (M::PATCH, "/api/v2/users/me/"),
        (M::PATCH, "/api/v2/users/me/api-keys/{key}/"),
    ]
};

/// Answers 501 (after authentication) for [`UNSERVED_ON_SERVED_PATHS`].
async fn unserved(caller: CrCaller, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    unknown(caller, method, uri).await
}

/// The dialect's routes (under `/api/v2/`), added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    let mut r = served_routes(r);
    for (method, path) in UNSERVED_ON_SERVED_PATHS {
        for p in [*path, path.trim_end_matches('/')] {
            r = r.route(p, axum::routing::on(*method, unserved));
        }
    }
    r.route("/api/v2/{*rest}", axum::routing::any(unknown))
}

fn served_routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    r.routes(routes!(get_me))
        .routes(routes!(list_organizations))
        .routes(routes!(get_organization, edit_organization))
        .routes(routes!(list_org_projects))
        .routes(routes!(list_org_regions))
        .routes(routes!(list_roles))
        .routes(routes!(get_subscription))
        .routes(routes!(list_org_users, add_org_user))
        .routes(routes!(remove_org_user))
        .routes(routes!(list_project_users, add_project_user))
        .routes(routes!(remove_project_user))
        .routes(routes!(list_users))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, edit_project, delete_project))
        .routes(routes!(list_clusters))
        .routes(routes!(get_cluster, delete_cluster))
        .routes(routes!(deploy_cluster, list_org_clusters))
        .routes(routes!(list_operations))
        .routes(routes!(list_regions))
        .routes(routes!(list_products))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_org_subscriptions))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, delete_api_key))
        .routes(routes!(scale_cluster))
        .routes(routes!(upgrade_cluster))
        .routes(routes!(suspend_cluster))
        .routes(routes!(set_ip_restrictions))
        .routes(routes!(set_deletion_protection))
        .routes(routes!(list_audit_logs))
        // The same routes without the trailing slash (croud always sends one; curl users often don't).
        .route("/api/v2/users/me", axum::routing::get(get_me))
        .route("/api/v2/organizations", axum::routing::get(list_organizations))
        .route("/api/v2/organizations/{org_id}/users", axum::routing::get(list_org_users).post(add_org_user))
        .route("/api/v2/organizations/{org_id}/users/{user}", axum::routing::delete(remove_org_user))
        .route("/api/v2/projects/{project_id}/users", axum::routing::get(list_project_users).post(add_project_user))
        .route("/api/v2/projects/{project_id}/users/{user}", axum::routing::delete(remove_project_user))
        .route("/api/v2/users", axum::routing::get(list_users))
        .route("/api/v2/projects", axum::routing::get(list_projects).post(create_project))
        .route("/api/v2/projects/{project_id}", axum::routing::get(get_project).patch(edit_project).delete(delete_project))
        .route("/api/v2/clusters", axum::routing::get(list_clusters))
        .route("/api/v2/clusters/{cluster_id}", axum::routing::get(get_cluster).delete(delete_cluster))
        .route("/api/v2/organizations/{org_id}/clusters", axum::routing::post(deploy_cluster).get(list_org_clusters))
        .route("/api/v2/organizations/{org_id}", axum::routing::get(get_organization).put(edit_organization))
        .route("/api/v2/organizations/{org_id}/projects", axum::routing::get(list_org_projects))
        .route("/api/v2/organizations/{org_id}/regions", axum::routing::get(list_org_regions))
        .route("/api/v2/roles", axum::routing::get(list_roles))
        .route("/api/v2/subscriptions/{subscription_id}", axum::routing::get(get_subscription))
        .route("/api/v2/clusters/{cluster_id}/operations", axum::routing::get(list_operations))
        .route("/api/v2/regions", axum::routing::get(list_regions))
        .route("/api/v2/products", axum::routing::get(list_products))
        .route("/api/v2/subscriptions", axum::routing::get(list_subscriptions))
        .route("/api/v2/organizations/{org_id}/subscriptions", axum::routing::get(list_org_subscriptions))
        .route("/api/v2/users/me/api-keys", axum::routing::get(list_api_keys).post(create_api_key))
        .route("/api/v2/users/me/api-keys/{key}", axum::routing::get(get_api_key).delete(delete_api_key))
        .route("/api/v2/clusters/{cluster_id}/scale", axum::routing::put(scale_cluster))
        .route("/api/v2/clusters/{cluster_id}/upgrade", axum::routing::put(upgrade_cluster))
        .route("/api/v2/clusters/{cluster_id}/suspend", axum::routing::put(suspend_cluster))
        .route("/api/v2/clusters/{cluster_id}/ip-restrictions", axum::routing::put(set_ip_restrictions))
        .route("/api/v2/clusters/{cluster_id}/deletion-protection", axum::routing::put(set_deletion_protection))
        .route("/api/v2/organizations/{org_id}/auditlogs", axum::routing::get(list_audit_logs))
}

// ---------------------------------------------------------------------------------------
// Members of projects and organizations: role grants of users, made and removed through
// the native grant handlers (same permission and no-escalation checks).
// ---------------------------------------------------------------------------------------

/// `POST …/users/` body.
#[derive(Debug, Deserialize)]
pub struct MemberBody {
    /// The user's email or id.
    pub user: String,
    /// `project_admin` / `project_member`, or `org_admin` / `org_member`.
    pub role_fqn: String,
}

/// Finds a user of the organization by id or email (404 otherwise).
async fn member(s: &AppState, caller: &Caller, user: &str) -> CrResult<dbcloud_types::User> {
    let users = all(|p| s.store.list_users(caller.org(), p)).await?;
    users
        .into_iter()
        .find(|u| u.id.to_string() == user || u.email.eq_ignore_ascii_case(user))
        .ok_or_else(|| CrError(Error::NotFound(format!("user {user}")).into()))
}

/// The user's grants at exactly `scope` (`organization` or `project` + id).
fn grants_at<'a>(u: &'a dbcloud_types::User, kind: &str, id: Option<Uuid>) -> Vec<&'a dbcloud_types::RoleGrant> {
    u.roles.iter().filter(|g| g.scope.kind == kind && (kind == "organization" || g.scope.id == id)).collect()
}

/// Gives `user` the one role `role` at the scope, replacing the roles it had there:
/// `(added, changed)`.
async fn set_member(s: &AppState, caller: &Caller, u: &dbcloud_types::User, kind: &str, id: Option<Uuid>, role: Role) -> CrResult<bool> {
    let had = grants_at(u, kind, id);
    let added = had.is_empty();
    if had.iter().any(|g| g.role == role.as_str()) && had.len() == 1 {
        return Ok(false);
    }
    let req = dbcloud_types::CreateRoleGrant {
        principal_type: "user".into(),
        principal_id: u.id.to_string(),
        role: role.as_str().into(),
        scope: Some(dbcloud_types::GrantScope { kind: kind.into(), id }),
    };
    crate::routes::grants::create_grant(State(s.clone()), caller.clone(), crate::extract::ApiJson(req)).await?;
    for g in had.into_iter().filter(|g| g.role != role.as_str()) {
        drop_grant(s, caller, g.id).await?;
    }
    Ok(added)
}

/// Removes one grant through the native handler.
async fn drop_grant(s: &AppState, caller: &Caller, id: Uuid) -> CrResult<()> {
    let _removed = crate::routes::grants::delete_grant(State(s.clone()), caller.clone(), crate::extract::ApiPath(id)).await?;
    Ok(())
}

async fn remove_member(s: &AppState, caller: &Caller, user: &str, kind: &str, id: Option<Uuid>) -> CrResult<StatusCode> {
    let u = member(s, caller, user).await?;
    let had = grants_at(&u, kind, id);
    if had.is_empty() {
        return Err(not_found());
    }
    for g in had {
        drop_grant(s, caller, g.id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn member_answer(added: bool, body: Value) -> Response {
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

/// Users with a role in a project.
#[utoipa::path(get, path = "/api/v2/projects/{project_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 200, description = "[User]"), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn list_project_users(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Value>> {
    let id = path_id(&id)?;
    caller.require(Permission::ProjectRead, Target::Project(id)).await?;
    s.store.get_project(caller.org(), id).await?;
    let org = caller.org();
    let users = all(|p| s.store.list_users(org, p)).await?;
    let items: Vec<Value> = users
        .iter()
        .filter(|u| !grants_at(u, "project", Some(id)).is_empty())
        .map(|u| {
            let mut v = user_value(org, u.id, &u.email, &u.name, "dbcloud", &role_grants(org, &u.roles));
            // This project's role first: croud shows project_roles[0].
            if let Some(list) = v["project_roles"].as_array_mut() {
                list.sort_by_key(|r| r["project_id"] != json!(id));
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// Give a user a role in a project (201 when added, 200 when its role changed or stayed).
#[utoipa::path(post, path = "/api/v2/projects/{project_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)), request_body = Object,
    responses((status = 201, description = "added"), (status = 200, description = "role altered"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn add_project_user(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<MemberBody>,
) -> CrResult<Response> {
    let id = path_id(&id)?;
    caller.require(Permission::UserManage, Target::Organization).await?;
    s.store.get_project(caller.org(), id).await?;
    let role = match req.role_fqn.as_str() {
        "project_admin" => Role::ProjectOwner,
        "project_member" => Role::ProjectViewer,
        _ => return Err(Error::field("role_fqn", "must be project_admin or project_member").into()),
    };
    let u = member(&s, &caller, &req.user).await?;
    let added = set_member(&s, &caller, &u, "project", Some(id), role).await?;
    Ok(member_answer(added, json!({"user_id": u.id, "project_id": id, "role_fqn": req.role_fqn, "added": added})))
}

/// Remove a user's roles in a project (204).
#[utoipa::path(delete, path = "/api/v2/projects/{project_id}/users/{user}/", tag = "cratedb cloud v2", security(("basic" = [])),
    params(("project_id" = String, Path), ("user" = String, Path, description = "email or id")),
    responses((status = 204), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn remove_project_user(State(s): State<AppState>, CrCaller(caller): CrCaller, Path((id, user)): Path<(String, String)>) -> CrResult<StatusCode> {
    let id = path_id(&id)?;
    caller.require(Permission::UserManage, Target::Organization).await?;
    s.store.get_project(caller.org(), id).await?;
    remove_member(&s, &caller, &user, "project", Some(id)).await
}

/// Give a user a role in the organization (201 when added, 200 when altered or unchanged).
#[utoipa::path(post, path = "/api/v2/organizations/{org_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)), request_body = Object,
    responses((status = 201, description = "added"), (status = 200, description = "role altered"), (status = 400, description = "Invalid"), (status = 401, description = "Authentication required"),
        (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn add_org_user(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<MemberBody>,
) -> CrResult<Response> {
    own_org(&caller, &org)?;
    caller.require(Permission::UserManage, Target::Organization).await?;
    let role = match req.role_fqn.as_str() {
        "org_admin" => Role::OrganizationOwner,
        "org_member" => Role::OrganizationMember,
        _ => return Err(Error::field("role_fqn", "must be org_admin or org_member").into()),
    };
    let u = member(&s, &caller, &req.user).await?;
    let added = set_member(&s, &caller, &u, "organization", None, role).await?;
    Ok(member_answer(added, json!({"user_id": u.id, "organization_id": caller.org(), "role_fqn": req.role_fqn, "added": added})))
}

/// Remove a user's organization-wide roles (204).
#[utoipa::path(delete, path = "/api/v2/organizations/{org_id}/users/{user}/", tag = "cratedb cloud v2", security(("basic" = [])),
    params(("org_id" = String, Path), ("user" = String, Path, description = "email or id")),
    responses((status = 204), (status = 401, description = "Authentication required"), (status = 403, description = "Permission denied"), (status = 404, description = "Not found")))]
pub async fn remove_org_user(State(s): State<AppState>, CrCaller(caller): CrCaller, Path((org, user)): Path<(String, String)>) -> CrResult<StatusCode> {
    own_org(&caller, &org)?;
    caller.require(Permission::UserManage, Target::Organization).await?;
    remove_member(&s, &caller, &user, "organization", None).await
}
