//! Grant management by principal id, for surfaces whose role API names a user or a service
//! account by id alone (CockroachDB's `/api/v1/roles/{user_id}`).

use super::grants::Grants;
use crate::Caller;
use crate::model::PrincipalRef;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Error, Result};
use dbcloud_types::RoleGrant;
use uuid::Uuid;

impl Grants<'_> {
    /// The principal `id` names: a service account, else a user of the caller's organization
    /// (`user.manage`); [`Error::NotFound`] naming `user {id}` otherwise.
    pub async fn principal_by_id(&self, caller: &Caller, id: &str) -> Result<PrincipalRef> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let missing = || Error::NotFound(format!("user {id}"));
        let uid = Uuid::try_parse(id).map_err(|_| missing())?;
        match self.app.store().get_service_account(caller.org(), uid).await {
            Ok(_) => return Ok(PrincipalRef { kind: "service_account".into(), id: uid.to_string() }),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        match self.app.store().get_user(caller.org(), uid).await {
            Ok(_) => Ok(PrincipalRef { kind: "user".into(), id: uid.to_string() }),
            Err(Error::NotFound(_)) => Err(missing()),
            Err(e) => Err(e),
        }
    }

    /// Every grant, optionally of one principal, for a caller that manages grants
    /// (`user.manage`; role management surfaces list what they may change).
    pub async fn list_managed(&self, caller: &Caller, principal: Option<&PrincipalRef>) -> Result<Vec<RoleGrant>> {
        caller.require(Permission::UserManage, Target::Organization).await?;
        let org = caller.org();
        crate::buckets::all_pages(|p| self.app.store().list_grants(org, principal, p)).await
    }
}
