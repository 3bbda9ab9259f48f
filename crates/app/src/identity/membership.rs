//! Members of the organization and of projects: users with one role at a scope, added,
//! changed and removed through role grants (with the same permission and no-escalation
//! checks as any grant).

use super::grants::Grants;
use super::users::Users;
use crate::Caller;
use crate::model::{PageReq, PrincipalRef};
use dbcloud_core::perms::{Grant, Permission, Role, Scope, Target};
use dbcloud_core::{Error, Result};
use dbcloud_types::{RoleGrant, User};
use uuid::Uuid;

/// The user's grants at exactly `scope` (cluster scopes have no members).
pub fn grants_at(u: &User, scope: Scope) -> Vec<&RoleGrant> {
    let (kind, id) = match scope {
        Scope::Organization => ("organization", None),
        Scope::Project(p) => ("project", Some(p)),
        Scope::Cluster(c) => ("cluster", Some(c)),
    };
    u.roles.iter().filter(|g| g.scope.kind == kind && (kind == "organization" || g.scope.id == id)).collect()
}

impl Users<'_> {
    async fn all_users(&self, caller: &Caller) -> Result<Vec<User>> {
        let org = caller.org();
        crate::buckets::all_pages(|p: PageReq| self.app.store().list_users(org, p)).await
    }

    /// Every user, for a caller who manages users (`user.manage`).
    pub async fn list_managed(&self, caller: &Caller) -> Result<Vec<User>> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        self.all_users(caller).await
    }

    /// A user by id or e-mail address (any case) (`user.manage`).
    pub async fn find(&self, caller: &Caller, id_or_email: &str) -> Result<User> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        self.all_users(caller)
            .await?
            .into_iter()
            .find(|u| u.id.to_string() == id_or_email || u.email.eq_ignore_ascii_case(id_or_email))
            .ok_or_else(|| Error::NotFound(format!("user {id_or_email}")))
    }

    /// The users holding a role in project `id` (`project.read`; the project must exist).
    pub async fn of_project(&self, caller: &Caller, id: Uuid) -> Result<Vec<User>> {
        self.app.projects().get(caller, id).await?;
        let mut users = self.all_users(caller).await?;
        users.retain(|u| !grants_at(u, Scope::Project(id)).is_empty());
        Ok(users)
    }
}

impl Grants<'_> {
    /// The organization or project of a membership must exist.
    async fn membership_scope(&self, caller: &Caller, scope: Scope) -> Result<()> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        match scope {
            Scope::Organization => Ok(()),
            Scope::Project(p) => self.app.store().get_project(caller.org(), p).await.map(|_| ()),
            Scope::Cluster(_) => Err(Error::field("scope", "members belong to the organization or a project")),
        }
    }

    /// Makes `role` the one role of a user (by id or e-mail) at `scope` (`user.manage`, and
    /// the caller must hold the roles it gives and removes): `(user, added)`, `added` when
    /// the user had no role there before.
    pub async fn set_membership(&self, caller: &Caller, user: &str, scope: Scope, role: Role) -> Result<(User, bool)> {
        self.membership_scope(caller, scope).await?;
        let u = self.app.users().find(caller, user).await?;
        let had: Vec<RoleGrant> = grants_at(&u, scope).into_iter().cloned().collect();
        let added = had.is_empty();
        if had.len() == 1 && had[0].role == role.as_str() {
            return Ok((u, false));
        }
        let principal = PrincipalRef { kind: "user".into(), id: u.id.to_string() };
        self.create_parsed(caller, &principal, Grant { role, scope }).await?;
        for g in had.into_iter().filter(|g| g.role != role.as_str()) {
            self.delete(caller, g.id).await?;
        }
        Ok((u, added))
    }

    /// Removes every role of a user (by id or e-mail) at `scope` (`user.manage`); not
    /// found when it has none there.
    pub async fn remove_membership(&self, caller: &Caller, user: &str, scope: Scope) -> Result<()> {
        self.membership_scope(caller, scope).await?;
        let u = self.app.users().find(caller, user).await?;
        let had = grants_at(&u, scope);
        if had.is_empty() {
            return Err(Error::NotFound(format!("membership of {user}")));
        }
        for g in had {
            self.delete(caller, g.id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbcloud_types::GrantScope;

    fn grant(role: &str, kind: &str, id: Option<Uuid>) -> RoleGrant {
        RoleGrant {
            id: Uuid::new_v4(),
            principal_type: "user".into(),
            principal_id: "u".into(),
            role: role.into(),
            scope: GrantScope { kind: kind.into(), id },
            created_by: "test".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_membership_is_the_grants_at_exactly_one_scope() {
        let (p, q) = (Uuid::new_v4(), Uuid::new_v4());
        let u = User {
            id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
            email: "a@example.com".into(),
            name: "A".into(),
            roles: vec![grant("ORG_MEMBER", "organization", None), grant("PROJECT_OWNER", "project", Some(p)), grant("CLUSTER_ADMIN", "cluster", Some(q))],
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(grants_at(&u, Scope::Organization).len(), 1);
        assert_eq!(grants_at(&u, Scope::Project(p))[0].role, "PROJECT_OWNER");
        assert!(grants_at(&u, Scope::Project(q)).is_empty());
        assert_eq!(grants_at(&u, Scope::Cluster(q)).len(), 1);
    }
}
