//! Role grants in the vendor's shape (`BuiltInRole`): list, get, replace, add and remove a
//! principal's roles. The service checks every grant (nobody grants more than they hold).

use super::CockroachErrorBody;
use super::paging::{CockroachPagination, ListQuery, Paging};
use super::{CCaller, CJson, CQuery, CResult};
use crate::auth::Caller;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use dbcloud_app::Scope;
use dbcloud_app::identity::grants::{grants_of, parse_role};
use dbcloud_app::model::PrincipalRef;
use dbcloud_core::error::Violations;
use dbcloud_core::perms::Grant;
use dbcloud_types::RoleGrant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A role at a resource, as the vendor names it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuiltInRole {
    /// Role name, e.g. `CLUSTER_ADMIN` or legacy `ADMIN`.
    pub name: String,
    /// Where it applies.
    pub resource: Resource,
}

/// `BuiltInRole.resource`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// `ORGANIZATION`, `FOLDER` or `CLUSTER`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Folder or cluster id (may be omitted for ORGANIZATION).
    pub id: Option<String>,
}

/// `BuiltInRole` as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuiltInRoleOut {
    name: String,
    resource: ResourceOut,
}

#[derive(Debug, Serialize, ToSchema)]
struct ResourceOut {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Uuid>,
}

impl BuiltInRoleOut {
    /// A stored grant in the vendor's shape.
    pub fn of(g: &RoleGrant) -> Self {
        let kind = match g.scope.kind.as_str() {
            "project" => "FOLDER",
            "cluster" => "CLUSTER",
            _ => "ORGANIZATION",
        };
        BuiltInRoleOut { name: cockroach_name(&g.role).to_string(), resource: ResourceOut { kind, id: g.scope.id } }
    }
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

/// The core grant of a vendor role (`f` names it in errors: `roles[0].name`, …).
fn grant(v: &mut Violations, f: &str, r: &BuiltInRole) -> Option<Grant> {
    let role = parse_role(v, &format!("{f}.name"), &r.name);
    let scope = match r.resource.kind.as_str() {
        "ORGANIZATION" => Some(Scope::Organization),
        kind @ ("FOLDER" | "CLUSTER") => match r.resource.id.as_deref().map(Uuid::try_parse) {
            Some(Ok(id)) if kind == "FOLDER" => Some(Scope::Project(id)),
            Some(Ok(id)) => Some(Scope::Cluster(id)),
            Some(Err(_)) => {
                v.add(format!("{f}.resource.id"), "must be a UUID");
                None
            }
            None => {
                v.add(format!("{f}.resource.id"), "required for FOLDER and CLUSTER");
                None
            }
        },
        _ => {
            v.add(format!("{f}.resource.type"), "must be ORGANIZATION, FOLDER or CLUSTER");
            None
        }
    };
    Some(Grant { role: role?, scope: scope? })
}

/// The core grants of a list of vendor roles (400 naming `roles[i]…` for a bad one).
pub fn grants_of_roles(roles: &[BuiltInRole]) -> CResult<Vec<Grant>> {
    let mut v = Violations::new();
    let out = roles.iter().enumerate().filter_map(|(i, r)| grant(&mut v, &format!("roles[{i}]"), r)).collect();
    v.finish()?;
    Ok(out)
}

/// `ListRoleGrantsResponse`.
#[derive(Serialize, ToSchema)]
pub struct GrantList {
    grants: Vec<UserRoles>,
    user_group_grants: Vec<Value>,
    pagination: CockroachPagination,
}

#[derive(Serialize, ToSchema)]
struct UserRoles {
    user_id: String,
    roles: Vec<BuiltInRoleOut>,
}

/// List every principal's roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = GrantList, description = "ListRoleGrantsResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn list_role_grants(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<GrantList>> {
    let mut by: BTreeMap<String, Vec<BuiltInRoleOut>> = BTreeMap::new();
    for g in s.app.grants().list_managed(&caller, None).await?.iter().filter(|g| g.principal_type != "api_key") {
        by.entry(g.principal_id.clone()).or_default().push(BuiltInRoleOut::of(g));
    }
    let paging = Paging::new(&q, "roles", "", s.app.master_key())?;
    let (items, next) = paging.apply(by.into_iter().collect(), |(id, _)| id.clone(), |_| None);
    let grants = items.into_iter().map(|(user_id, roles)| UserRoles { user_id, roles }).collect();
    Ok(Json(GrantList { grants, user_group_grants: vec![], pagination: paging.render(next, version) }))
}

/// `GetAllRolesForUserResponse`.
#[derive(Serialize, ToSchema)]
pub struct RolesOut {
    roles: Vec<BuiltInRoleOut>,
    group_roles: Vec<Value>,
}

async fn held(s: &AppState, caller: &Caller, p: &PrincipalRef) -> CResult<Vec<RoleGrant>> {
    Ok(s.app.grants().list_managed(caller, Some(p)).await?)
}

async fn roles_of(s: &AppState, caller: &Caller, p: &PrincipalRef) -> CResult<Json<RolesOut>> {
    let roles = held(s, caller, p).await?.iter().map(BuiltInRoleOut::of).collect();
    Ok(Json(RolesOut { roles, group_roles: vec![] }))
}

/// A principal's roles.
#[utoipa::path(get, path = "/api/v1/roles/{user_id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("user_id" = String, Path)),
    responses((status = 200, body = RolesOut, description = "GetAllRolesForUserResponse"), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn get_roles(State(s): State<AppState>, CCaller(caller): CCaller, Path(user_id): Path<String>) -> CResult<Json<RolesOut>> {
    let p = s.app.grants().principal_by_id(&caller, &user_id).await?;
    roles_of(&s, &caller, &p).await
}

/// `PUT /api/v1/roles/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// The whole new set of roles.
    pub roles: Vec<BuiltInRole>,
}

/// Replace a principal's roles with the given set (every change checked before any is made).
#[utoipa::path(put, path = "/api/v1/roles/{user_id}", tag = "cockroachdb cloud", security(("bearer" = [])), params(("user_id" = String, Path)), request_body = SetRoles,
    responses((status = 200, body = RolesOut, description = "GetAllRolesForUserResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn set_roles(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(user_id): Path<String>,
    CJson(req): CJson<SetRoles>,
) -> CResult<Json<RolesOut>> {
    let p = s.app.grants().principal_by_id(&caller, &user_id).await?;
    let want = grants_of_roles(&req.roles)?;
    s.app.grants().replace(&caller, &p, &want).await?;
    roles_of(&s, &caller, &p).await
}

/// The grant a role path names (`role` in errors).
fn path_grant(kind: &str, id: &str, name: &str) -> CResult<Grant> {
    let id = if kind == "ORGANIZATION" { None } else { Some(id.to_string()) };
    let mut v = Violations::new();
    let g = grant(&mut v, "role", &BuiltInRole { name: name.to_string(), resource: Resource { kind: kind.to_string(), id } });
    v.finish()?;
    Ok(g.expect("checked"))
}

/// Grant one role at one resource.
#[utoipa::path(post, path = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("user_id" = String, Path), ("resource_type" = String, Path), ("resource_id" = String, Path), ("role_name" = String, Path)),
    responses((status = 200, body = RolesOut, description = "GetAllRolesForUserResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn add_role(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((user_id, kind, rid, role)): Path<(String, String, String, String)>,
) -> CResult<Json<RolesOut>> {
    let p = s.app.grants().principal_by_id(&caller, &user_id).await?;
    let g = path_grant(&kind, &rid, &role)?;
    if !grants_of(&held(&s, &caller, &p).await?).contains(&g) {
        s.app.grants().create_parsed(&caller, &p, g).await?;
    }
    roles_of(&s, &caller, &p).await
}

/// Remove one role at one resource.
#[utoipa::path(delete, path = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("user_id" = String, Path), ("resource_type" = String, Path), ("resource_id" = String, Path), ("role_name" = String, Path)),
    responses((status = 200, body = RolesOut, description = "GetAllRolesForUserResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn remove_role(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((user_id, kind, rid, role)): Path<(String, String, String, String)>,
) -> CResult<Json<RolesOut>> {
    let p = s.app.grants().principal_by_id(&caller, &user_id).await?;
    let g = path_grant(&kind, &rid, &role)?;
    let remove: Vec<RoleGrant> = held(&s, &caller, &p).await?.into_iter().filter(|h| grants_of(std::slice::from_ref(h)).contains(&g)).collect();
    if remove.is_empty() {
        return Err(dbcloud_core::Error::NotFound(format!("role {role} on {kind} {rid} of {user_id}")).into());
    }
    for h in remove {
        s.app.grants().delete(&caller, h.id).await?;
    }
    roles_of(&s, &caller, &p).await
}
