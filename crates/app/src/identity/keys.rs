//! API keys: create (the secret is in the result only), list, get, rename, rotate with a
//! grace period, revoke. A key carries roles of its own, or inherits those of the service
//! account or user it is created for.

use super::grants::{ensure_grantable, grants_of, parse_role};
use crate::model::{ApiKeyRecord, KeyOwner, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::keys::NewKey as Generated;
use dbcloud_core::perms::{Grant, Permission, Scope, Target};
use dbcloud_core::{Error, Result, validate};
use dbcloud_store::NewApiKey;
use dbcloud_types::Page;
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest expiry, in days.
pub const MAX_EXPIRY_DAYS: f64 = 3650.0;
/// Longest rotation grace period, in seconds (a week).
pub const MAX_GRACE_SECONDS: i64 = 604_800;

/// A new key. Field names in errors are the native ones (`organization_roles[0]`, …).
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Expiry in days from now; 0 or `None`: never.
    pub expiry_days: Option<f64>,
    /// Organization roles of the key itself (required, possibly empty, unless it is for a
    /// service account or user).
    pub organization_roles: Option<Vec<String>>,
    /// Project roles of the key itself.
    pub project_roles: Vec<(Uuid, Vec<String>)>,
    /// Networks allowed to use the key (empty: any).
    pub allowed_cidrs: Vec<String>,
    /// Requests per second.
    pub rate_limit: Option<i64>,
    /// The service account whose grants the key inherits.
    pub service_account_id: Option<Uuid>,
    /// The user whose grants the key inherits.
    pub user_id: Option<Uuid>,
}

/// A key with its secret, as created or rotated: the only time the secret is shown.
pub struct KeyWithSecret {
    /// The stored key.
    pub key: ApiKeyRecord,
    /// The secret.
    pub secret: String,
    /// `dbc_<key id>_<secret>`, the one-string bearer token.
    pub bearer_token: String,
}

impl std::fmt::Debug for KeyWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyWithSecret").field("key", &self.key.access_key).field("secret", &"<redacted>").finish()
    }
}

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked: refused from now on.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl KeyState {
    /// The state of `k` at `now`.
    pub fn of(k: &ApiKeyRecord, now: OffsetDateTime) -> KeyState {
        if k.state != "active" {
            KeyState::Revoked
        } else if k.expires_at.is_some_and(|e| e <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

/// The roles a key holds of its own: organization roles, and roles per project.
pub fn own_roles(k: &ApiKeyRecord) -> (Vec<String>, Vec<(Uuid, Vec<String>)>) {
    let mut org = vec![];
    let mut projects: std::collections::BTreeMap<Uuid, Vec<String>> = Default::default();
    for g in &k.own_grants {
        match g.scope {
            Scope::Organization => org.push(g.role.as_str().to_string()),
            Scope::Project(p) => projects.entry(p).or_default().push(g.role.as_str().to_string()),
            Scope::Cluster(_) => {}
        }
    }
    (org, projects.into_iter().collect())
}

fn check_rate_limit(v: &mut Violations, field: &str, r: Option<i64>) {
    if let Some(r) = r
        && let Err(Error::InvalidArgument { violations, .. }) = crate::org::check_rate_limit(field, r)
    {
        for x in violations {
            v.add(x.field, x.description);
        }
    }
}

/// API-key use cases (see [`App::api_keys`]).
pub struct ApiKeys<'a> {
    pub(crate) app: &'a App,
}

impl ApiKeys<'_> {
    /// Whether the caller may manage `k`: holders of `apikey.manage`, the key itself, and
    /// keys of the same user.
    async fn may_manage(&self, caller: &Caller, k: &ApiKeyRecord) -> Result<()> {
        let own = k.access_key == caller.principal.key_id || matches!((caller.owner, k.owner), (KeyOwner::User(a), KeyOwner::User(b)) if a == b);
        if own { Ok(()) } else { caller.require(Permission::ApikeyManage, Target::Organization).await }
    }

    /// Creates a key. With roles of its own the caller needs `apikey.manage` somewhere and
    /// every role it gives; for a service account, `apikey.manage` and the account's
    /// grants; a user creates keys for themself, others need `apikey.manage` and the
    /// user's grants.
    pub async fn create(&self, caller: &Caller, req: NewKey) -> Result<KeyWithSecret> {
        let mut v = Violations::new();
        let name = v.check("name", validate::display_name(&req.name));
        let description = v.check("description", validate::free_text(&req.description, 1024));
        let expiry = req.expiry_days.unwrap_or(0.0);
        if !(0.0..=MAX_EXPIRY_DAYS).contains(&expiry) || expiry.is_nan() {
            v.add("expiry", "must be between 0 (never expires) and 3650 days");
        }
        let mut cidrs = vec![];
        for (i, c) in req.allowed_cidrs.iter().enumerate() {
            if let Some(c) = v.check(&format!("allowed_cidrs[{i}]"), validate::cidr(c)) {
                cidrs.push(c);
            }
        }
        check_rate_limit(&mut v, "rate_limit", req.rate_limit);
        let mut grants = vec![];
        for (i, r) in req.organization_roles.iter().flatten().enumerate() {
            if let Some(role) = parse_role(&mut v, &format!("organization_roles[{i}]"), r) {
                grants.push(Grant { role, scope: Scope::Organization });
            }
        }
        for (i, (project, roles)) in req.project_roles.iter().enumerate() {
            for (j, r) in roles.iter().enumerate() {
                if let Some(role) = parse_role(&mut v, &format!("resources[{i}].roles[{j}]"), r) {
                    grants.push(Grant { role, scope: Scope::Project(*project) });
                }
            }
        }
        let inherits = req.service_account_id.is_some() || req.user_id.is_some();
        if req.service_account_id.is_some() && req.user_id.is_some() {
            v.add("service_account_id", "give service_account_id or user_id, not both");
        }
        if inherits && !grants.is_empty() {
            v.add("organization_roles", "a key for a service account or user inherits its grants; give no roles");
        }
        if !inherits && req.organization_roles.is_none() {
            v.add("organization_roles", "required (it may be empty when resources give project roles)");
        }
        if !inherits && grants.is_empty() && req.organization_roles.is_some() {
            v.add("organization_roles", "a key needs at least one role");
        }
        v.finish()?;

        let store = self.app.store();
        let owner = match (req.service_account_id, req.user_id) {
            (Some(sa), _) => {
                caller.require(Permission::ApikeyManage, Target::Organization).await?;
                let account = store.get_service_account(caller.org(), sa).await.map_err(|e| super::missing_as_field(e, "service_account_id"))?;
                ensure_grantable(self.app, caller, &grants_of(&account.roles)).await?;
                KeyOwner::ServiceAccount(sa)
            }
            (None, Some(u)) => {
                let user = store.get_user(caller.org(), u).await.map_err(|e| super::missing_as_field(e, "user_id"))?;
                if caller.owner != KeyOwner::User(u) {
                    caller.require(Permission::ApikeyManage, Target::Organization).await?;
                    ensure_grantable(self.app, caller, &grants_of(&user.roles)).await?;
                }
                KeyOwner::User(u)
            }
            (None, None) => {
                // Project owners mint keys for their projects; the grant check keeps them there.
                caller.require_somewhere(Permission::ApikeyManage).await?;
                ensure_grantable(self.app, caller, &grants).await?;
                KeyOwner::Key
            }
        };
        let key = Generated::generate();
        let expires_at = (expiry > 0.0).then(|| dbcloud_core::now() + time::Duration::seconds_f64(expiry * 86_400.0));
        let new = NewApiKey {
            access_key: key.access_key.clone(),
            name: name.expect("checked"),
            description: description.expect("checked"),
            secret_hash: key.secret_hash.clone(),
            secret_enc: Some(self.app.master_key().seal(&key.access_key, &key.secret)),
            grants: if owner == KeyOwner::Key { grants } else { vec![] },
            owner,
            allowed_cidrs: cidrs,
            expires_at,
            rate_limit: req.rate_limit,
        };
        store.create_api_key(&caller.ctx(None), &new).await?;
        let stored = store.get_api_key(caller.org(), &key.access_key).await?;
        Ok(KeyWithSecret { key: stored, bearer_token: key.bearer_token(), secret: key.secret.clone() })
    }

    /// One page of keys, optionally of one owner, ordered by access key id (`apikey.manage`).
    /// `after` is the last access key id of the previous page.
    pub async fn list(&self, caller: &Caller, owner: Option<KeyOwner>, after: Option<String>, limit: u32) -> Result<Page<ApiKeyRecord>> {
        caller.require(Permission::ApikeyManage, Target::Organization).await?;
        if after.as_deref().is_some_and(|k| !dbcloud_core::keys::is_access_key(k)) {
            return Err(Error::field("cursor", "malformed cursor"));
        }
        let page = PageReq { after: None, after_key: after, limit };
        self.app.store().list_api_keys(caller.org(), owner, page).await
    }

    /// Every key the caller may manage of `owner` (its own keys, or all with `apikey.manage`).
    pub async fn list_all(&self, caller: &Caller, owner: Option<KeyOwner>) -> Result<Vec<ApiKeyRecord>> {
        let mut out = vec![];
        let mut after = None;
        loop {
            let page = self.list(caller, owner, after.clone(), dbcloud_core::cursor::MAX_PAGE_SIZE).await?;
            let last = page.items.last().map(|k| k.access_key.clone());
            out.extend(page.items);
            match (page.next_cursor, last) {
                (Some(_), Some(k)) => after = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// A key (never its secret): its own, one of the same user, or any with `apikey.manage`.
    pub async fn get(&self, caller: &Caller, access_key: &str) -> Result<ApiKeyRecord> {
        let k = self.app.store().get_api_key(caller.org(), access_key).await?;
        self.may_manage(caller, &k).await?;
        Ok(k)
    }

    /// Renames or describes a key, or changes its rate limit (that needs `apikey.manage`).
    pub async fn update(
        &self,
        caller: &Caller,
        access_key: &str,
        name: Option<&str>,
        description: Option<&str>,
        rate_limit: Option<i64>,
    ) -> Result<ApiKeyRecord> {
        self.get(caller, access_key).await?;
        let mut v = Violations::new();
        let n = name.and_then(|n| v.check("name", validate::display_name(n)));
        let d = description.and_then(|d| v.check("description", validate::free_text(d, 1024)));
        check_rate_limit(&mut v, "rate_limit", rate_limit);
        if name.is_none() && description.is_none() && rate_limit.is_none() {
            v.add("body", "nothing to change: give name, description or rate_limit");
        }
        v.finish()?;
        if rate_limit.is_some() {
            caller.require(Permission::ApikeyManage, Target::Organization).await?;
        }
        let k = self.app.store().update_api_key(&caller.ctx(None), access_key, n.as_deref(), d.as_deref(), rate_limit).await?;
        self.app.identity_changed().await;
        Ok(k)
    }

    /// Replaces a key's secret; the old one keeps working for `grace_seconds` (never beyond
    /// the key's expiry, which does not change). The new secret is in the result only.
    pub async fn rotate(&self, caller: &Caller, access_key: &str, grace_seconds: i64) -> Result<KeyWithSecret> {
        self.get(caller, access_key).await?;
        if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
            return Err(Error::field("grace_period_seconds", format!("must be between 0 and {MAX_GRACE_SECONDS}")));
        }
        let fresh = Generated::generate();
        let sealed = self.app.master_key().seal(access_key, &fresh.secret);
        let until = (grace_seconds > 0).then(|| dbcloud_core::now() + time::Duration::seconds(grace_seconds));
        let k = self.app.store().rotate_api_key(&caller.ctx(None), access_key, &fresh.secret_hash, Some(&sealed), until).await?;
        self.app.identity_changed().await;
        Ok(KeyWithSecret { key: k, bearer_token: dbcloud_core::keys::bearer_token(access_key, &fresh.secret), secret: fresh.secret.clone() })
    }

    /// Revokes a key: every later call with it fails, on every replica.
    pub async fn revoke(&self, caller: &Caller, access_key: &str) -> Result<ApiKeyRecord> {
        self.get(caller, access_key).await?;
        let k = self.app.store().revoke_api_key(&caller.ctx(None), access_key).await?;
        self.app.identity_changed().await;
        Ok(k)
    }
}
