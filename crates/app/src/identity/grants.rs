//! Role grants, and the checks behind every grant: parsing role names and scopes, and
//! refusing any grant (or key, or service account) with more authority than the caller.

use crate::model::{PageReq, PrincipalRef};
use crate::{App, Caller};
use dbcloud_core::Result;
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Role, Scope, Target};
use dbcloud_types::{GrantScope, Page, RoleGrant, RoleSpec};
use uuid::Uuid;

/// Parses a role name of any vocabulary (`field` names it in the error).
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

/// The core grants behind stored wire grants (an account's or user's roles).
pub fn grants_of(roles: &[RoleGrant]) -> Vec<Grant> {
    let mut v = Violations::new();
    roles
        .iter()
        .filter_map(|g| {
            let role = parse_role(&mut v, "role", &g.role)?;
            let scope = parse_scope(&mut v, "scope", Some(&g.scope))?;
            Some(Grant { role, scope })
        })
        .collect()
}

/// The permission target of a grant scope; the project or cluster must exist.
pub(crate) async fn scope_target(app: &App, caller: &Caller, scope: Scope) -> Result<Target> {
    Ok(match scope {
        Scope::Organization => Target::Organization,
        Scope::Project(p) => {
            app.store().get_project(caller.org(), p).await.map_err(|e| super::missing_as_field(e, "scope.id"))?;
            Target::Project(p)
        }
        Scope::Cluster(c) => {
            let cl = app.store().get_cluster(caller.org(), c).await.map_err(|e| super::missing_as_field(e, "scope.id"))?;
            Target::Cluster { project: cl.project_id, cluster: c }
        }
    })
}

/// Refuses (403, audited) unless the caller holds every permission of every grant at its
/// scope: nobody grants, or mints a key or service account with, more than they hold.
pub(crate) async fn ensure_grantable(app: &App, caller: &Caller, grants: &[Grant]) -> Result<()> {
    for g in grants {
        let t = scope_target(app, caller, g.scope).await?;
        if !caller.principal.holds_role(g.role, t) {
            return Err(caller.denied(&format!("grant:{}", g.role.as_str()), &format!("{:?}", g.scope)).await);
        }
    }
    Ok(())
}

/// Gives the caller `role` on what it just created when it could not otherwise manage it
/// (projectCreator owns the projects it creates; CLUSTER_CREATOR administers its clusters).
pub(crate) async fn grant_creator(app: &App, caller: &Caller, needed: Permission, target: Target, role: Role, scope: Scope) {
    if caller.principal.can(needed, target) {
        return;
    }
    match app.store().create_grant(&caller.ctx(None), &caller.principal_ref(), &Grant { role, scope }).await {
        Ok(_) => app.identity_changed().await,
        Err(e) => tracing::warn!(error = %e, "could not grant the creator its role"),
    }
}

/// Checks a principal type (`user`, `service_account`, `api_key`).
pub fn check_principal_kind(v: &mut Violations, field: &str, kind: &str) {
    if !matches!(kind, "user" | "service_account" | "api_key") {
        v.add(field, "must be user, service_account or api_key");
    }
}

/// Role-grant use cases (see [`App::grants`]).
pub struct Grants<'a> {
    pub(crate) app: &'a App,
}

impl Grants<'_> {
    /// One page of grants, optionally of one principal (`org.read`).
    pub async fn list(&self, caller: &Caller, principal: Option<&PrincipalRef>, page: PageReq) -> Result<Page<RoleGrant>> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        self.app.store().list_grants(caller.org(), principal, page).await
    }

    /// Every grant, optionally of one principal (`org.read`).
    pub async fn list_all(&self, caller: &Caller, principal: Option<&PrincipalRef>) -> Result<Vec<RoleGrant>> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        let org = caller.org();
        crate::buckets::all_pages(|p| self.app.store().list_grants(org, principal, p)).await
    }

    /// A grant (`org.read`).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<RoleGrant> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        self.app.store().get_grant(caller.org(), id).await
    }

    /// Grants the role named `role` at `scope` (the organization when `None`) to a user,
    /// service account or API key (`user.manage`, and the caller must hold the role's
    /// permissions at that scope). Names are checked after the permission.
    pub async fn create(&self, caller: &Caller, principal: &PrincipalRef, role: &str, scope: Option<&GrantScope>) -> Result<RoleGrant> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let mut v = Violations::new();
        let role = parse_role(&mut v, "role", role);
        let scope = parse_scope(&mut v, "scope", scope);
        check_principal_kind(&mut v, "principal_type", &principal.kind);
        v.finish()?;
        self.create_parsed(caller, principal, Grant { role: role.expect("checked"), scope: scope.expect("checked") }).await
    }

    /// [`Grants::create`] of an already parsed grant.
    pub async fn create_parsed(&self, caller: &Caller, principal: &PrincipalRef, grant: Grant) -> Result<RoleGrant> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let mut v = Violations::new();
        check_principal_kind(&mut v, "principal_type", &principal.kind);
        v.finish()?;
        ensure_grantable(self.app, caller, &[grant]).await?;
        let g = self.app.store().create_grant(&caller.ctx(None), principal, &grant).await?;
        self.app.identity_changed().await;
        Ok(g)
    }

    /// Removes a grant (`user.manage`; the caller must hold the role it removes).
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<RoleGrant> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let g = self.app.store().get_grant(caller.org(), id).await?;
        ensure_grantable(self.app, caller, &grants_of(std::slice::from_ref(&g))).await?;
        let removed = self.app.store().delete_grant(&caller.ctx(None), id).await?;
        self.app.identity_changed().await;
        Ok(removed)
    }

    /// Makes `grants` the exact set of a principal's grants (`user.manage`): every grant to
    /// add and to remove is checked before anything changes.
    pub async fn replace(&self, caller: &Caller, principal: &PrincipalRef, grants: &[Grant]) -> Result<Vec<RoleGrant>> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let current = self.list_all(caller, Some(principal)).await?;
        let current_grants = grants_of(&current);
        let to_remove: Vec<&RoleGrant> = current.iter().zip(&current_grants).filter(|(_, g)| !grants.contains(g)).map(|(r, _)| r).collect();
        let to_add: Vec<Grant> = grants.iter().filter(|g| !current_grants.contains(g)).copied().collect();
        ensure_grantable(self.app, caller, &to_add).await?;
        ensure_grantable(self.app, caller, &grants_of(&to_remove.iter().map(|g| (*g).clone()).collect::<Vec<_>>())).await?;
        for g in &to_add {
            self.app.store().create_grant(&caller.ctx(None), principal, g).await?;
        }
        for g in to_remove {
            self.app.store().delete_grant(&caller.ctx(None), g.id).await?;
        }
        self.app.identity_changed().await;
        self.list_all(caller, Some(principal)).await
    }
}
