//! Database users of a cluster: one set of rules (names, access, scope, passwords) for every
//! surface. A password is given (and checked) or generated, stored hashed, and returned
//! once — in the result of the create or change, never again.

use crate::buckets::all_pages;
use crate::idempotency::{self, Created};
use crate::model::{NamePage, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::Permission;
use dbcloud_core::{Error, Result, cluster, secret, validate};
use dbcloud_store::NewDbUser;
use dbcloud_types::{Access, DatabaseUser, DatabaseUserWithPassword, Page};
use uuid::Uuid;

/// Longest database user name.
pub const MAX_NAME: usize = 63;

/// A new database user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Name, unique in the cluster.
    pub name: String,
    /// Access level.
    pub access: Access,
    /// Bucket (database) the user is limited to, if any.
    pub scope: Option<String>,
    /// The password; generated when `None`.
    pub password: Option<String>,
}

/// Checks a given password or generates one (`field` names it in the error).
pub fn password(field: &str, given: Option<&str>) -> Result<String> {
    match given {
        Some(p) => secret::check_password(p).map(|_| p.to_string()).map_err(|e| Error::field(field, e)),
        None => Ok(secret::generate_password()),
    }
}

/// Checks a database user name.
pub fn check_name(v: &mut Violations, field: &str, name: &str) -> Option<String> {
    v.check(field, validate::identifier(name, MAX_NAME, false))
}

/// Database-user use cases (see [`App::db_users`]).
pub struct DbUsers<'a> {
    pub(crate) app: &'a App,
}

impl DbUsers<'_> {
    /// Adds a database user (`dbuser.manage`). The result carries the password, once; a
    /// replay of the same `Idempotency-Key` does not repeat it (the password is empty).
    pub async fn create(&self, caller: &Caller, cluster_id: Uuid, new: NewUser, idempotency_key: Option<&str>) -> Result<Created<DatabaseUserWithPassword>> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::DbuserManage).await?;
        let mut v = Violations::new();
        let name = check_name(&mut v, "name", &new.name);
        let scope = new.scope.as_deref().and_then(|sc| v.check("scope", validate::identifier(sc, crate::buckets::MAX_NAME, true)));
        let pw =
            v.check("password", password("password", new.password.as_deref()).map_err(|_| "must be 12 to 128 characters without control characters".into()));
        v.finish()?;
        cluster::check_accepts_children(&c)?;
        let pw = pw.expect("checked");
        let record = NewDbUser { name: name.expect("checked"), access: new.access, scope, password_hash: self.app.db_password_hash(&c, &pw).await? };
        // The recorded request identity never includes the password.
        let identity =
            serde_json::json!({"cluster": cluster_id, "name": new.name, "access": new.access, "scope": new.scope, "password_given": new.password.is_some()});
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "dbuser.create", &identity, |ctx| async move {
            store.create_db_user(&ctx, cluster_id, &record).await
        })
        .await?;
        self.app.local_changed(caller, cluster_id).await;
        let replayed = created.replayed;
        Ok(created.map(|user| DatabaseUserWithPassword { user, password: if replayed { String::new() } else { pw } }))
    }

    /// One page of a cluster's database users (`cluster.read`); never their passwords.
    pub async fn list(&self, caller: &Caller, cluster_id: Uuid, page: PageReq) -> Result<Page<DatabaseUser>> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().list_db_users(caller.org(), cluster_id, page).await
    }

    /// One page of a cluster's database users by name, and whether more follow (`cluster.read`).
    pub async fn page_by_name(&self, caller: &Caller, cluster_id: Uuid, page: &NamePage) -> Result<(Vec<DatabaseUser>, bool)> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().page_db_users_by_name(caller.org(), cluster_id, page).await
    }

    /// Every database user of a cluster (`cluster.read`).
    pub async fn list_all(&self, caller: &Caller, cluster_id: Uuid) -> Result<Vec<DatabaseUser>> {
        self.app.clusters().get(caller, cluster_id).await?;
        let org = caller.org();
        all_pages(|p| self.app.store().list_db_users(org, cluster_id, p)).await
    }

    /// A database user by name (`cluster.read`).
    pub async fn by_name(&self, caller: &Caller, cluster_id: Uuid, name: &str) -> Result<DatabaseUser> {
        self.list_all(caller, cluster_id).await?.into_iter().find(|u| u.name == name).ok_or_else(|| Error::NotFound(format!("database user {name}")))
    }

    /// Removes a database user (`dbuser.manage`).
    pub async fn delete(&self, caller: &Caller, cluster_id: Uuid, user_id: Uuid) -> Result<()> {
        self.app.clusters().authorized(caller, cluster_id, Permission::DbuserManage).await?;
        self.app.store().delete_db_user(&caller.ctx(None), cluster_id, user_id).await?;
        self.app.local_changed(caller, cluster_id).await;
        Ok(())
    }

    /// Sets a database user's password (`dbuser.manage`): the one given, checked, or a
    /// generated one, returned once.
    pub async fn set_password(&self, caller: &Caller, cluster_id: Uuid, user_id: Uuid, given: Option<&str>) -> Result<DatabaseUserWithPassword> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::DbuserManage).await?;
        let pw = password("password", given)?;
        let hash = self.app.db_password_hash(&c, &pw).await?;
        let user = self.app.store().set_db_user_password(&caller.ctx(None), cluster_id, user_id, &hash).await?;
        self.app.local_changed(caller, cluster_id).await;
        Ok(DatabaseUserWithPassword { user, password: pw })
    }
}
