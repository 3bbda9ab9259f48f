#![forbid(unsafe_code)]
//! The dbcloud service layer: one floor under every surface.
//!
//! Every surface — the native `/v1` API, the Couchbase, CockroachDB and CrateDB dialects, the
//! console — parses its request into a typed call here and renders the typed result in its own
//! shape. This crate decides: the permission check (`caller.require(…)`), the business rules
//! (in `dbcloud-core` where they are pure), the store transaction with its audit event, cache
//! invalidation, waking the operation runner, creator grants, initial allow lists and
//! idempotency. Surfaces never reach the store themselves (they do not depend on it).
//!
//! Entry points are grouped by area: [`App::clusters`], [`App::buckets`], [`App::db_users`],
//! [`App::allowlist`], [`App::operations`], [`App::projects`], [`App::clouds`], [`App::org`],
//! [`App::api_keys`], [`App::service_accounts`], [`App::users`], [`App::grants`],
//! [`App::audit`], [`App::sessions`]. Errors are [`Error`] values (typed: `Busy`, `IdempotencyKeyReused`, …),
//! never strings to match.

pub mod allowlist;
pub mod audit;
pub mod auth;
pub mod buckets;
pub mod cache;
pub mod caller;
pub mod clouds;
pub mod clusters;
pub mod db_users;
pub mod idempotency;
pub mod identity;
pub mod local;
pub mod operations;
pub mod org;
pub mod projects;
pub mod sessions;
pub mod vendor;

pub use caller::Caller;
pub use dbcloud_core::perms::{Permission, Principal, Role, Scope, Target, Visibility};
pub use dbcloud_core::{Error, Result};
pub use idempotency::Created;

/// Data types of the service's calls and results that are defined by the store crate,
/// re-exported so that surfaces never depend on the store.
pub mod model {
    pub use dbcloud_store::{
        ApiKeyRecord, AuditEvent, AuditFilter, BucketChange, ClusterFilter, KeyOwner, ListOrder, NamePage, NewAllowlistEntry, NewBucket, NumberedPage, PageReq,
        PrincipalRef,
    };
}

use dbcloud_core::crypto::MasterKey;
use dbcloud_provision::runner::Runner;
use dbcloud_store::Store;
use std::sync::{Arc, RwLock};

/// The service layer. Cheap to clone; one per server process.
#[derive(Clone)]
pub struct App(Arc<Inner>);

type Hook = Arc<dyn Fn() + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) runner: Arc<Runner>,
    pub(crate) clusters: Arc<cache::ClusterCache>,
    pub(crate) master_key: MasterKey,
    pub(crate) auth: Arc<auth::AuthService>,
    identity_hooks: RwLock<Vec<Hook>>,
    pub(crate) local: std::sync::OnceLock<dbcloud_provision::dispatch::LocalEngine>,
    /// Provider and region of the clouds seen (they never change), for vendor lists.
    pub(crate) places: RwLock<clouds::Places>,
    /// Each organization's default project (it never changes).
    pub(crate) default_projects: RwLock<std::collections::HashMap<uuid::Uuid, uuid::Uuid>>,
}

impl App {
    /// A service over `store`, waking `runner` when it enqueues operations, authenticating
    /// with `auth` (whose master key seals secrets that must be recoverable: HMAC secrets).
    pub fn new(store: Arc<dyn Store>, runner: Arc<Runner>, auth: auth::AuthConfig) -> App {
        let clusters = Arc::new(cache::ClusterCache::default());
        let observed = clusters.clone();
        runner.observe(move |id| observed.invalidate(id));
        let master_key = auth.master_key.clone();
        let auth = auth::AuthService::new(auth, store.clone());
        App(Arc::new(Inner {
            store,
            runner,
            clusters,
            master_key,
            auth,
            identity_hooks: RwLock::new(vec![]),
            local: std::sync::OnceLock::new(),
            places: RwLock::default(),
            default_projects: RwLock::default(),
        }))
    }

    /// Authentication: credentials to callers, key cache, rate limits.
    pub fn auth(&self) -> &Arc<auth::AuthService> {
        &self.0.auth
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// The master key (the authentication service opens sealed HMAC secrets with it).
    pub fn master_key(&self) -> &MasterKey {
        &self.0.master_key
    }

    /// The per-replica cache of single-cluster reads (dropped on every change).
    pub fn cluster_cache(&self) -> &Arc<cache::ClusterCache> {
        &self.0.clusters
    }

    /// The operation runner.
    pub fn runner(&self) -> &Arc<Runner> {
        &self.0.runner
    }

    /// The caller of one request: who, from where, with which request id. Built by a
    /// surface's authentication; every call of this layer takes it.
    pub fn caller(&self, principal: Principal, owner: model::KeyOwner, request_id: String, source_ip: String) -> Caller {
        Caller::new(principal, owner, request_id, source_ip, self.0.store.clone())
    }

    /// Runs `f` whenever keys, grants, service accounts or users change here (besides the
    /// authentication cache, which drops its entries itself).
    pub fn on_identity_change(&self, f: impl Fn() + Send + Sync + 'static) {
        self.0.identity_hooks.write().expect("identity hooks").push(Arc::new(f));
    }

    /// Tells this replica's listeners and the other replicas that identity changed.
    pub(crate) async fn identity_changed(&self) {
        self.0.auth.invalidate();
        let hooks: Vec<Hook> = self.0.identity_hooks.read().expect("identity hooks").clone();
        for h in hooks {
            h();
        }
        if let Err(e) = self.0.store.publish_identity_change().await {
            tracing::warn!(error = %e, "could not notify other replicas of an identity change");
        }
    }

    /// Checks the store answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        self.0.store.ping().await
    }

    /// Clusters: create, list, get, change, scale, delete, suspend/resume, upgrade.
    pub fn clusters(&self) -> clusters::Clusters<'_> {
        clusters::Clusters { app: self }
    }
    /// Buckets of a cluster.
    pub fn buckets(&self) -> buckets::Buckets<'_> {
        buckets::Buckets { app: self }
    }
    /// Database users of a cluster.
    pub fn db_users(&self) -> db_users::DbUsers<'_> {
        db_users::DbUsers { app: self }
    }
    /// Allow lists of clusters.
    pub fn allowlist(&self) -> allowlist::Allowlist<'_> {
        allowlist::Allowlist { app: self }
    }
    /// Operations of clusters.
    pub fn operations(&self) -> operations::Operations<'_> {
        operations::Operations { app: self }
    }
    /// Projects.
    pub fn projects(&self) -> projects::Projects<'_> {
        projects::Projects { app: self }
    }
    /// Clouds and the region catalogue.
    pub fn clouds(&self) -> clouds::Clouds<'_> {
        clouds::Clouds { app: self }
    }
    /// The caller's organization.
    pub fn org(&self) -> org::Org<'_> {
        org::Org { app: self }
    }
    /// API keys.
    pub fn api_keys(&self) -> identity::keys::ApiKeys<'_> {
        identity::keys::ApiKeys { app: self }
    }
    /// Service accounts.
    pub fn service_accounts(&self) -> identity::accounts::ServiceAccounts<'_> {
        identity::accounts::ServiceAccounts { app: self }
    }
    /// Users.
    pub fn users(&self) -> identity::users::Users<'_> {
        identity::users::Users { app: self }
    }
    /// Role grants.
    pub fn grants(&self) -> identity::grants::Grants<'_> {
        identity::grants::Grants { app: self }
    }
    /// The audit log.
    pub fn audit(&self) -> audit::Audit<'_> {
        audit::Audit { app: self }
    }
    /// Console sign-in: passwords and sessions.
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions { app: self }
    }
}
