//! The caller's organization: read it, rename it, set its keys' default rate limit.

use crate::{App, Caller};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Error, Result, validate};
use dbcloud_types::Organization;
use serde_json::{Map, Value};

/// Largest rate limit of a key or organization (requests per second).
pub const MAX_RATE_LIMIT: i64 = 1_000_000;

/// Checks a rate limit (`field` names it).
pub fn check_rate_limit(field: &str, limit: i64) -> Result<()> {
    if (1..=MAX_RATE_LIMIT).contains(&limit) { Ok(()) } else { Err(Error::field(field, format!("must be between 1 and {MAX_RATE_LIMIT} requests per second"))) }
}

/// Organization use cases (see [`App::org`]).
pub struct Org<'a> {
    pub(crate) app: &'a App,
}

impl Org<'_> {
    /// The caller's organization (`org.read`).
    pub async fn get(&self, caller: &Caller) -> Result<Organization> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        self.app.store().get_organization(caller.org()).await
    }

    /// The caller's organization without a permission check (what every member may see of
    /// it: its id and name, e.g. CrateDB's `users/me`).
    pub async fn own(&self, caller: &Caller) -> Result<Organization> {
        self.app.store().get_organization(caller.org()).await
    }

    /// Sets the default rate limit of the organization's keys (`org.update`).
    pub async fn set_rate_limit(&self, caller: &Caller, limit: Option<i64>) -> Result<Organization> {
        caller.require(Permission::OrgUpdate, Target::Organization).await?;
        if let Some(l) = limit {
            check_rate_limit("rate_limit", l)?;
        }
        let o = self.app.store().set_org_rate_limit(&caller.ctx(None), limit).await?;
        self.app.identity_changed().await;
        Ok(o)
    }

    /// Renames the organization and/or merges vendor attributes into it (`org.update`).
    pub async fn update(&self, caller: &Caller, name: Option<&str>, attributes: Option<&Map<String, Value>>) -> Result<Organization> {
        caller.require(Permission::OrgUpdate, Target::Organization).await?;
        let name = match name {
            Some(n) => Some(validate::display_name(n).map_err(|e| Error::field("name", e))?),
            None => None,
        };
        self.app.store().update_organization(&caller.ctx(None), name.as_deref(), attributes).await
    }
}
