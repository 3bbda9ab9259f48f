//! The caller itself: who it is, and its own API keys (list, create, revoke) — what a vendor
//! CLI's "me" routes need without `apikey.manage` or `org.read`.

use super::grants::ensure_grantable;
use super::keys::{ApiKeys, KeyWithSecret};
use super::users::Users;
use crate::Caller;
use crate::model::{ApiKeyRecord, KeyOwner, PageReq};
use dbcloud_core::keys::NewKey as Generated;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Error, Result};
use dbcloud_store::NewApiKey;
use dbcloud_types::{ServiceAccount, User};

/// Who the caller is: the user or service account owning its key, or the key itself.
#[derive(Debug, Clone)]
pub enum Me {
    /// A user's key.
    User(User),
    /// A service account's key.
    ServiceAccount(ServiceAccount),
    /// A key with roles of its own.
    Key(Box<ApiKeyRecord>),
}

impl Users<'_> {
    /// The caller: its user, service account or key (no permission needed).
    pub async fn me(&self, caller: &Caller) -> Result<Me> {
        let store = self.app.store();
        let org = caller.org();
        Ok(match caller.owner {
            KeyOwner::User(id) => Me::User(store.get_user(org, id).await?),
            KeyOwner::ServiceAccount(id) => Me::ServiceAccount(store.get_service_account(org, id).await?),
            KeyOwner::Key => Me::Key(Box::new(store.get_api_key(org, &caller.principal.key_id).await?)),
        })
    }
}

impl ApiKeys<'_> {
    /// The caller's own active keys: its user's or service account's keys, or, for a key
    /// with roles of its own, that key and the keys it created.
    pub async fn own(&self, caller: &Caller) -> Result<Vec<ApiKeyRecord>> {
        let org = caller.org();
        let me = &caller.principal.key_id;
        let filter = match caller.owner {
            KeyOwner::Key => None,
            owner => Some(owner),
        };
        let mut keys = vec![];
        let mut page = PageReq::first(500);
        loop {
            let got = self.app.store().list_api_keys(org, filter, page).await?;
            let last = got.items.last().map(|k| k.access_key.clone());
            keys.extend(got.items);
            match (got.next_cursor, last) {
                (Some(_), Some(k)) => page = PageReq { after: None, after_key: Some(k), limit: 500 },
                _ => break,
            }
        }
        if caller.owner == KeyOwner::Key {
            keys.retain(|k| k.owner == KeyOwner::Key && (&k.access_key == me || k.created_by.as_ref() == Some(me)));
        }
        keys.retain(|k| k.state == "active");
        Ok(keys)
    }

    /// Who may mint or revoke keys for themselves: a user always; a service account's key
    /// needs `apikey.manage`, a key with roles of its own `apikey.manage` somewhere.
    async fn require_own_key_rights(&self, caller: &Caller) -> Result<()> {
        match caller.owner {
            KeyOwner::User(_) => Ok(()),
            KeyOwner::ServiceAccount(_) => caller.require(Permission::ApikeyManage, Target::Organization).await,
            KeyOwner::Key => caller.require_somewhere(Permission::ApikeyManage).await,
        }
    }

    /// Creates a key for the caller: a user's or service account's key inherits its
    /// owner's grants, a key with roles of its own passes on a copy of them (never more
    /// than it holds).
    pub async fn create_own(&self, caller: &Caller, name: &str, description: &str) -> Result<KeyWithSecret> {
        self.require_own_key_rights(caller).await?;
        let store = self.app.store();
        let grants = match caller.owner {
            KeyOwner::Key => {
                let own = store.get_api_key(caller.org(), &caller.principal.key_id).await?.own_grants;
                ensure_grantable(self.app, caller, &own).await?;
                own
            }
            _ => vec![],
        };
        let key = Generated::generate();
        let new = NewApiKey {
            access_key: key.access_key.clone(),
            name: name.to_string(),
            description: description.to_string(),
            secret_hash: key.secret_hash.clone(),
            secret_enc: Some(self.app.master_key().seal(&key.access_key, &key.secret)),
            grants,
            owner: caller.owner,
            allowed_cidrs: vec![],
            expires_at: None,
            rate_limit: None,
        };
        store.create_api_key(&caller.ctx(None), &new).await?;
        let stored = store.get_api_key(caller.org(), &key.access_key).await?;
        Ok(KeyWithSecret { key: stored, bearer_token: key.bearer_token(), secret: key.secret.clone() })
    }

    /// Revokes one of the caller's own keys ([`ApiKeys::own`]; others are not found): it
    /// stops working at once, on every replica.
    pub async fn revoke_own(&self, caller: &Caller, access_key: &str) -> Result<ApiKeyRecord> {
        self.require_own_key_rights(caller).await?;
        if !self.own(caller).await?.iter().any(|k| k.access_key == access_key) {
            return Err(Error::NotFound(format!("api key {access_key}")));
        }
        let k = self.app.store().revoke_api_key(&caller.ctx(None), access_key).await?;
        self.app.identity_changed().await;
        Ok(k)
    }
}
