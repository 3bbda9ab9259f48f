//! Service accounts: non-human principals whose keys inherit their grants.

use super::grants::{ensure_grantable, grants_of, parse_grants};
use crate::idempotency::{self, Created};
use crate::model::PageReq;
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Grant, Permission, Target};
use dbcloud_core::{Result, validate};
use dbcloud_types::{Page, RoleSpec, ServiceAccount};
use uuid::Uuid;

/// Service-account use cases (see [`App::service_accounts`]); all need
/// `serviceaccount.manage`.
pub struct ServiceAccounts<'a> {
    pub(crate) app: &'a App,
}

impl ServiceAccounts<'_> {
    /// Creates a service account with roles (any vocabulary, including the legacy ADMIN,
    /// CREATE, DELETE, EDIT, READ): `roles` organization-wide, `specs` scoped (errors name
    /// `roles[i]` and `grants[i].role`/`grants[i].scope`); never with more authority than
    /// the caller holds.
    pub async fn create(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
        roles: &[String],
        specs: &[RoleSpec],
        idempotency_key: Option<&str>,
    ) -> Result<Created<ServiceAccount>> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        let mut v = Violations::new();
        let grants = parse_grants(&mut v, roles, specs);
        v.finish()?;
        self.create_with(caller, name, description, grants, idempotency_key).await
    }

    /// [`ServiceAccounts::create`] with already parsed grants.
    pub async fn create_with(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
        grants: Vec<Grant>,
        idempotency_key: Option<&str>,
    ) -> Result<Created<ServiceAccount>> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        let mut v = Violations::new();
        let name = v.check("name", validate::display_name(name));
        let description = v.check("description", validate::free_text(description, 1024));
        v.finish()?;
        ensure_grantable(self.app, caller, &grants).await?;
        let (name, description) = (name.expect("checked"), description.expect("checked"));
        let identity = serde_json::json!({"name": name, "description": description, "grants": grants});
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "serviceaccount.create", &identity, |ctx| async move {
            store.create_service_account(&ctx, &name, &description, &grants).await
        })
        .await?;
        if !created.replayed {
            self.app.identity_changed().await;
        }
        Ok(created)
    }

    /// One page of service accounts.
    pub async fn list(&self, caller: &Caller, page: PageReq) -> Result<Page<ServiceAccount>> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        self.app.store().list_service_accounts(caller.org(), page).await
    }

    /// Every service account.
    pub async fn list_all(&self, caller: &Caller) -> Result<Vec<ServiceAccount>> {
        crate::buckets::all_pages(|p| self.list(caller, p)).await
    }

    /// A service account with its grants.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<ServiceAccount> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        self.app.store().get_service_account(caller.org(), id).await
    }

    /// Renames or describes a service account.
    pub async fn update(&self, caller: &Caller, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<ServiceAccount> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        let (name, description) = crate::projects::check_rename(name, description)?;
        self.app.store().update_service_account(&caller.ctx(None), id, name.as_deref(), description.as_deref()).await
    }

    /// Deletes a service account with its grants; its keys are revoked (the caller must
    /// hold what the account holds).
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.require(Permission::ServiceaccountManage, Target::Organization).await?;
        let sa = self.app.store().get_service_account(caller.org(), id).await?;
        ensure_grantable(self.app, caller, &grants_of(&sa.roles)).await?;
        self.app.store().delete_service_account(&caller.ctx(None), id).await?;
        self.app.identity_changed().await;
        Ok(())
    }
}
