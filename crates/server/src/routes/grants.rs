//! Role grants, and the shared checks behind every grant: parsing role names and scopes,
//! and refusing any grant (or key, or service account) with more authority than the caller.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_core::Error;
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Role, Scope, Target};
use dbcloud_store::{KeyOwner, PrincipalRef};
use dbcloud_types::{CreateRoleGrant, ErrorBody, GrantScope, Page, RoleGrant, RoleSpec};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Parses a role name of any vocabulary.
pub fn parse_role(v: &mut Violations, field: &str, name: &str) -> Option<Role> {
    let r = Role::parse(name);
    if r.is_none() {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        v.add(field, format!("unknown role {name:?}; known roles: {}", known.join(", ")));
    }
    r
}

/// Parses a grant scope (absent: the organization).
pub fn parse_scope(v: &mut Violations, field: &str, s: Option<&GrantScope>) -> Option<Scope> {
    match s {
        None => Some(Scope::Organization),
        Some(GrantScope { kind, id }) => match (kind.as_str(), id) {
            ("organization", None) => Some(Scope::Organization),
            ("project", Some(p)) => Some(Scope::Project(*p)),
            ("cluster", Some(c)) => Some(Scope::Cluster(*c)),
            ("organization", Some(_)) => {
                v.add(field, "an organization scope takes no id");
                None
            }
            ("project" | "cluster", None) => {
                v.add(field, format!("a {kind} scope needs an id"));
                None
            }
            _ => {
                v.add(field, format!("unknown scope type {kind:?}; use organization, project or cluster"));
                None
            }
        },
    }
}

/// Grants from organization-wide role names and scoped role specs.
pub fn parse_grants(v: &mut Violations, roles: &[String], specs: &[RoleSpec]) -> Vec<Grant> {
    let mut out = vec![];
    for (i, r) in roles.iter().enumerate() {
        if let Some(role) = parse_role(v, &format!("roles[{i}]"), r) {
            out.push(Grant { role, scope: Scope::Organization });
        }
    }
    for (i, spec) in specs.iter().enumerate() {
        let role = parse_role(v, &format!("grants[{i}].role"), &spec.role);
        let scope = parse_scope(v, &format!("grants[{i}].scope"), spec.scope.as_ref());
        if let (Some(role), Some(scope)) = (role, scope) {
            out.push(Grant { role, scope });
        }
    }
    out.dedup();
    out
}

/// The permission target of a grant scope; the project or cluster must exist.
pub async fn scope_target(s: &AppState, caller: &Caller, scope: Scope) -> ApiResult<Target> {
    Ok(match scope {
        Scope::Organization => Target::Organization,
        Scope::Project(p) => {
            s.store.get_project(caller.org(), p).await.map_err(|e| super::missing_as_field(e, "scope.id"))?;
            Target::Project(p)
        }
        Scope::Cluster(c) => {
            let cl = s.store.get_cluster(caller.org(), c).await.map_err(|e| super::missing_as_field(e, "scope.id"))?;
            Target::Cluster { project: cl.project_id, cluster: c }
        }
    })
}

/// Refuses (403, audited) unless the caller holds every permission of every grant at its
/// scope: nobody grants, or mints a key or service account with, more than they hold.
pub async fn ensure_grantable(s: &AppState, caller: &Caller, grants: &[Grant]) -> ApiResult<()> {
    for g in grants {
        let t = scope_target(s, caller, g.scope).await?;
        if !caller.principal.holds_role(g.role, t) {
            return Err(caller.denied(&format!("grant:{}", g.role.as_str()), &format!("{:?}", g.scope)).await);
        }
    }
    Ok(())
}

/// The principal a key acts for, as grants name it.
pub fn principal_of(caller: &Caller) -> PrincipalRef {
    match caller.owner {
        KeyOwner::Key => PrincipalRef { kind: "api_key".into(), id: caller.principal.key_id.clone() },
        KeyOwner::ServiceAccount(id) => PrincipalRef { kind: "service_account".into(), id: id.to_string() },
        KeyOwner::User(id) => PrincipalRef { kind: "user".into(), id: id.to_string() },
    }
}

/// Gives the caller `role` on what it just created when it could not otherwise manage it
/// (projectCreator owns the projects it creates; CLUSTER_CREATOR administers its clusters).
pub async fn grant_creator(s: &AppState, caller: &Caller, needed: Permission, target: Target, role: Role, scope: Scope) {
    if caller.principal.can(needed, target) {
        return;
    }
    match s.store.create_grant(&caller.ctx(None), &principal_of(caller), &Grant { role, scope }).await {
        Ok(_) => s.identity_changed().await,
        Err(e) => tracing::warn!(error = %e, "could not grant the creator its role"),
    }
}

/// Grant list filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    /// Only grants of this principal type (`user`, `service_account`, `api_key`)…
    pub principal_type: Option<String>,
    /// …and id.
    pub principal_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List role grants.
#[utoipa::path(get, path = "/v1/role-grants", tag = "roles", security(("bearer" = [])), params(GrantQuery),
    responses((status = 200, body = Page<RoleGrant>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_grants(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<GrantQuery>) -> ApiResult<Json<Page<RoleGrant>>> {
    let principal = match (q.principal_type, q.principal_id) {
        (Some(kind), Some(id)) => Some(PrincipalRef { kind, id }),
        (None, None) => None,
        _ => return Err(Error::field("principal_id", "give principal_type and principal_id together").into()),
    };
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.app.grants().list(&caller, principal.as_ref(), page).await?))
}

/// Grant a role to a user, service account or API key. The caller must hold the role's
/// permissions at that scope.
#[utoipa::path(post, path = "/v1/role-grants", tag = "roles", security(("bearer" = [])), request_body = CreateRoleGrant,
    responses((status = 201, body = RoleGrant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_grant(State(s): State<AppState>, caller: Caller, ApiJson(req): ApiJson<CreateRoleGrant>) -> ApiResult<Response> {
    let principal = PrincipalRef { kind: req.principal_type, id: req.principal_id };
    let g = s.app.grants().create(&caller, &principal, &req.role, req.scope.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(g)).into_response())
}

/// Remove a role grant. The caller must hold the role it removes.
#[utoipa::path(delete, path = "/v1/role-grants/{id}", tag = "roles", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoleGrant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_grant(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<RoleGrant>> {
    Ok(Json(s.app.grants().delete(&caller, id).await?))
}
