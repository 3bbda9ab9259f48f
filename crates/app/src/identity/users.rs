//! Users: the people of an organization (keys can be created for them; they sign in to the
//! console).

use super::grants::{ensure_grantable, grants_of, parse_grants};
use crate::idempotency::{self, Created};
use crate::model::PageReq;
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Target};
use dbcloud_core::{Result, validate};
use dbcloud_types::{Page, RoleSpec, User};
use uuid::Uuid;

/// Checks and normalises an e-mail address (lower case, trimmed).
pub fn check_email(v: &mut Violations, field: &str, email: &str) -> Option<String> {
    let email = email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.') && !email.chars().any(char::is_whitespace));
    if valid {
        Some(email)
    } else {
        v.add(field, "must be an e-mail address");
        None
    }
}

/// User use cases (see [`App::users`]).
pub struct Users<'a> {
    pub(crate) app: &'a App,
}

impl Users<'_> {
    /// Adds a user with `grants` (`user.manage`; never more than the caller holds). An
    /// empty name becomes the e-mail address.
    /// `roles` are organization-wide role names, `specs` scoped ones.
    pub async fn create(
        &self,
        caller: &Caller,
        email: &str,
        name: &str,
        roles: &[String],
        specs: &[RoleSpec],
        idempotency_key: Option<&str>,
    ) -> Result<Created<User>> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let mut v = Violations::new();
        let grants = parse_grants(&mut v, roles, specs);
        v.finish()?;
        self.create_with(caller, email, name, grants, idempotency_key).await
    }

    /// [`Users::create`] with already parsed grants.
    pub async fn create_with(&self, caller: &Caller, email: &str, name: &str, grants: Vec<Grant>, idempotency_key: Option<&str>) -> Result<Created<User>> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let mut v = Violations::new();
        let email = check_email(&mut v, "email", email);
        let name = match &email {
            Some(e) if name.trim().is_empty() => Some(e.clone()),
            _ => v.check("name", validate::display_name(name)),
        };
        v.finish()?;
        ensure_grantable(self.app, caller, &grants).await?;
        let (email, name) = (email.expect("checked"), name.expect("checked"));
        let identity = serde_json::json!({"email": email, "name": name, "grants": grants});
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "user.create", &identity, |ctx| async move {
            store.create_user(&ctx, &email, &name, &grants).await
        })
        .await?;
        if !created.replayed {
            self.app.identity_changed().await;
        }
        Ok(created)
    }

    /// One page of the organization's users (`org.read`).
    pub async fn list(&self, caller: &Caller, page: PageReq) -> Result<Page<User>> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        self.app.store().list_users(caller.org(), page).await
    }

    /// Every user (`org.read`).
    pub async fn list_all(&self, caller: &Caller) -> Result<Vec<User>> {
        crate::buckets::all_pages(|p| self.list(caller, p)).await
    }

    /// A user with their grants (`org.read`).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<User> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        self.app.store().get_user(caller.org(), id).await
    }

    /// Removes a user: their grants go and their keys are revoked (`user.manage`, and the
    /// caller must hold what the user holds).
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let u = self.app.store().get_user(caller.org(), id).await?;
        ensure_grantable(self.app, caller, &grants_of(&u.roles)).await?;
        self.app.store().delete_user(&caller.ctx(None), id).await?;
        self.app.identity_changed().await;
        Ok(())
    }
}
