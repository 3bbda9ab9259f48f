//! Users: the caller (`users/me`), the organization's users with their roles, and members of
//! the organization and of projects (role grants made and removed by the service).

use super::wire::{self, Membership, OrgRole, ProjectRole};
use super::{CrCaller, CrJson, CrQuery, CrResult, own_org, path_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_app::identity::grants::grants_of;
use dbcloud_app::identity::me::Me;
use dbcloud_app::vendor::pattern_name;
use dbcloud_app::{Caller, Permission, Role, Scope};
use dbcloud_core::Error;
use dbcloud_core::perms::Grant;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::ToSchema;
use uuid::Uuid;

fn org_role(role: Role) -> &'static str {
    if role.grants(Permission::OrgUpdate) { "org_admin" } else { "org_member" }
}

fn project_role(role: Role) -> &'static str {
    if role.grants(Permission::ProjectUpdate) { "project_admin" } else { "project_member" }
}

/// `organization_roles` and `project_roles` of a set of grants (cluster-scoped grants count
/// for no list). An organization role is always present, so croud's tables can index it.
pub(super) fn roles(org: Uuid, grants: &[Grant]) -> (Vec<OrgRole>, Vec<ProjectRole>) {
    let mut org_roles: Vec<OrgRole> = vec![];
    let mut project_roles: Vec<ProjectRole> = vec![];
    for g in grants {
        match g.scope {
            Scope::Organization => org_roles.push(OrgRole { organization_id: org, role_fqn: org_role(g.role) }),
            Scope::Project(p) => project_roles.push(ProjectRole { project_id: p, role_fqn: project_role(g.role) }),
            Scope::Cluster(_) => {}
        }
    }
    // The admin role first, at most one entry per organization.
    org_roles.sort_by_key(|r| r.role_fqn != "org_admin");
    org_roles.truncate(1);
    if org_roles.is_empty() {
        org_roles.push(OrgRole { organization_id: org, role_fqn: "org_member" });
    }
    (org_roles, project_roles)
}

/// A user in the vendor's shape. `username` is the local part of the email and `name` the
/// display name, both in the vendor's name pattern; there is no `picture`.
fn user_doc(org: Uuid, uid: Uuid, email: &str, name: &str, idp: &'static str, grants: &[Grant]) -> wire::User {
    let (o, p) = roles(org, grants);
    let local = email.split('@').next().unwrap_or_default();
    wire::User {
        uid,
        email: email.to_string(),
        username: pattern_name(local, "user"),
        name: pattern_name(name, "user"),
        idp,
        is_superuser: false,
        status: "active",
        organization_roles: Some(o),
        project_roles: Some(p),
        organization_id: None,
        hmac: None,
    }
}

fn stored_user(org: Uuid, u: &dbcloud_types::User) -> wire::User {
    user_doc(org, u.id, &u.email, &u.name, "dbcloud", &grants_of(&u.roles))
}

/// A stable synthetic user id for a key that belongs to no user.
pub(super) fn key_uid(access_key: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(access_key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// The e-mail shown for a key that belongs to no user.
pub(super) fn key_email(access_key: &str) -> String {
    format!("{}@api-keys.dbcloud.invalid", access_key.to_ascii_lowercase())
}

/// The caller as a CrateDB user.
async fn me_doc(s: &AppState, caller: &Caller) -> CrResult<wire::User> {
    let org = caller.org();
    let grants = &caller.principal.grants;
    let mut v = match s.app.users().me(caller).await? {
        Me::User(u) => user_doc(org, u.id, &u.email, &u.name, "dbcloud", grants),
        Me::ServiceAccount(a) => user_doc(org, a.id, &format!("{}@service-accounts.dbcloud.invalid", a.id), &a.name, "service-account", grants),
        Me::Key(k) => {
            user_doc(org, key_uid(&k.access_key), &key_email(&k.access_key), if k.name.is_empty() { &k.access_key } else { &k.name }, "api-key", grants)
        }
    };
    v.organization_id = Some(org);
    // The vendor's identity-verification hash for its support chat; there is none here, so
    // it is a stable digest of the user id (never derived from a secret).
    v.hmac = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("dbcloud-user:{}", v.uid))));
    Ok(v)
}

/// The current user (`croud me`).
#[utoipa::path(get, path = "/api/v2/users/me/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = wire::User, description = "The caller."), (status = 401, description = "Authentication required", body = super::ErrorDoc)))]
pub async fn get_me(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<wire::User>> {
    Ok(Json(me_doc(&s, &caller).await?))
}

/// Users of an organization with their roles.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<wire::User>, description = "The organization's users."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_org_users(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(org): Path<String>) -> CrResult<Json<Vec<wire::User>>> {
    own_org(&caller, &org)?;
    let users = s.app.users().list_all(&caller).await?;
    Ok(Json(users.iter().map(|u| stored_user(caller.org(), u)).collect()))
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
    responses((status = 200, body = Vec<wire::User>, description = "The users."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn list_users(State(s): State<AppState>, CrCaller(caller): CrCaller, CrQuery(q): CrQuery<UsersQuery>) -> CrResult<Json<Vec<wire::User>>> {
    let no_roles = q.no_roles.is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let users = s.app.users().list_managed(&caller).await?;
    let items = users
        .iter()
        .map(|u| {
            let mut v = stored_user(caller.org(), u);
            if no_roles {
                v.organization_roles = None;
                v.project_roles = None;
            }
            v
        })
        .collect();
    Ok(Json(items))
}

/// `POST …/users/` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberBody {
    /// The user's email or id.
    pub user: String,
    /// `project_admin` / `project_member`, or `org_admin` / `org_member`.
    pub role_fqn: String,
}

fn member_answer(added: bool, body: Membership) -> Response {
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

/// Users with a role in a project.
#[utoipa::path(get, path = "/api/v2/projects/{project_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)),
    responses((status = 200, body = Vec<wire::User>, description = "The project's users."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_project_users(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Vec<wire::User>>> {
    let id = path_id(&id)?;
    let users = s.app.users().of_project(&caller, id).await?;
    let items = users
        .iter()
        .map(|u| {
            let mut v = stored_user(caller.org(), u);
            // This project's role first: croud shows project_roles[0].
            if let Some(list) = v.project_roles.as_mut() {
                list.sort_by_key(|r| r.project_id != id);
            }
            v
        })
        .collect();
    Ok(Json(items))
}

/// Give a user a role in a project (201 when added, 200 when its role changed or stayed).
#[utoipa::path(post, path = "/api/v2/projects/{project_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("project_id" = String, Path)), request_body = MemberBody,
    responses((status = 201, body = Membership, description = "Added."), (status = 200, body = Membership, description = "The role changed or stayed."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn add_project_user(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<MemberBody>,
) -> CrResult<Response> {
    let id = path_id(&id)?;
    let role = match req.role_fqn.as_str() {
        "project_admin" => Role::ProjectOwner,
        "project_member" => Role::ProjectViewer,
        _ => return Err(Error::field("role_fqn", "must be project_admin or project_member").into()),
    };
    let (u, added) = s.app.grants().set_membership(&caller, &req.user, Scope::Project(id), role).await?;
    Ok(member_answer(added, Membership { user_id: u.id, project_id: Some(id), organization_id: None, role_fqn: req.role_fqn, added }))
}

/// Remove a user's roles in a project (204).
#[utoipa::path(delete, path = "/api/v2/projects/{project_id}/users/{user}/", tag = "cratedb cloud v2", security(("basic" = [])),
    params(("project_id" = String, Path), ("user" = String, Path, description = "email or id")),
    responses((status = 204, description = "Removed; no content."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn remove_project_user(State(s): State<AppState>, CrCaller(caller): CrCaller, Path((id, user)): Path<(String, String)>) -> CrResult<StatusCode> {
    let id = path_id(&id)?;
    s.app.grants().remove_membership(&caller, &user, Scope::Project(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a user a role in the organization (201 when added, 200 when altered or unchanged).
#[utoipa::path(post, path = "/api/v2/organizations/{org_id}/users/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)), request_body = MemberBody,
    responses((status = 201, body = Membership, description = "Added."), (status = 200, body = Membership, description = "The role changed or stayed."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn add_org_user(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<MemberBody>,
) -> CrResult<Response> {
    own_org(&caller, &org)?;
    let role = match req.role_fqn.as_str() {
        "org_admin" => Role::OrganizationOwner,
        "org_member" => Role::OrganizationMember,
        _ => return Err(Error::field("role_fqn", "must be org_admin or org_member").into()),
    };
    let (u, added) = s.app.grants().set_membership(&caller, &req.user, Scope::Organization, role).await?;
    Ok(member_answer(added, Membership { user_id: u.id, project_id: None, organization_id: Some(caller.org()), role_fqn: req.role_fqn, added }))
}

/// Remove a user's organization-wide roles (204).
#[utoipa::path(delete, path = "/api/v2/organizations/{org_id}/users/{user}/", tag = "cratedb cloud v2", security(("basic" = [])),
    params(("org_id" = String, Path), ("user" = String, Path, description = "email or id")),
    responses((status = 204, description = "Removed; no content."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn remove_org_user(State(s): State<AppState>, CrCaller(caller): CrCaller, Path((org, user)): Path<(String, String)>) -> CrResult<StatusCode> {
    own_org(&caller, &org)?;
    s.app.grants().remove_membership(&caller, &user, Scope::Organization).await?;
    Ok(StatusCode::NO_CONTENT)
}
