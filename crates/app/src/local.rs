//! The `local` provider in the service layer: versions of `local` clusters are installed
//! PostgreSQL majors (checked before an operation is written), and roles, databases and
//! allow lists of `local` clusters are applied to the running instances after each change.

use crate::clusters::NewCluster;
use crate::{App, Caller};
use dbcloud_core::{Error, Result};
use dbcloud_provision::dispatch::LocalEngine;
use dbcloud_types::{Cluster, ClusterState, Provider};

impl App {
    /// Sets the local provider of this server (once; later calls are ignored). Without
    /// one, creates on `local` are refused.
    pub fn set_local(&self, engine: LocalEngine) {
        let _ = self.0.local.set(engine);
    }

    /// The local provider, when the server set one.
    pub fn local(&self) -> Option<&LocalEngine> {
        self.0.local.get()
    }

    /// Whether `c` runs in a cloud of provider `local`.
    pub(crate) async fn is_local(&self, c: &Cluster) -> Result<bool> {
        Ok(self.store().get_cloud(c.organization_id, c.cloud_id).await?.provider == Provider::Local)
    }

    fn resolve_local_version(&self, requested: Option<&str>) -> Result<String> {
        let engine = self.local().cloned().unwrap_or_else(|| LocalEngine::Unavailable("the local provider is not enabled on this server".into()));
        engine.resolve_version(requested).map_err(|e| Error::field("version", e))
    }
}

/// A create on `local`: the version must be an installed PostgreSQL major (default: the
/// newest installed); anything else is a 400 before an operation is written.
pub(crate) async fn prepare_create(app: &App, caller: &Caller, mut new: NewCluster) -> Result<NewCluster> {
    let provider = match (new.spec.cloud_id, new.spec.provider) {
        (Some(id), _) => match app.store().get_cloud(caller.org(), id).await {
            Ok(c) => Some(c.provider),
            Err(_) => None, // the create itself reports the missing cloud
        },
        (None, p) => p,
    };
    if provider == Some(Provider::Local) {
        new.spec.version = Some(app.resolve_local_version(new.spec.version.as_deref())?);
    }
    Ok(new)
}

/// An upgrade of a `local` cluster: only to an installed version.
pub(crate) async fn check_upgrade(app: &App, c: &Cluster, version: &str) -> Result<()> {
    if app.is_local(c).await? {
        app.resolve_local_version(Some(version))?;
    }
    Ok(())
}

impl App {
    /// What the store keeps as the password of a database user of `c`: a SCRAM-SHA-256
    /// verifier for a `local` cluster (PostgreSQL checks it; the password is never kept),
    /// the usual one-way hash otherwise.
    pub(crate) async fn db_password_hash(&self, c: &Cluster, password: &str) -> Result<String> {
        if self.is_local(c).await? {
            return dbcloud_provision::local::scram_verifier(password).map_err(Error::Internal);
        }
        Ok(dbcloud_core::secret::hash_password(password))
    }

    /// After a change of users, buckets or the allow list of cluster `id`: when it is a
    /// `local` cluster, makes its instances match the store (roles, databases,
    /// `pg_hba.conf`). Failures are logged, never the caller's: the next change, or the
    /// operation that creates or resumes the cluster, applies them.
    pub(crate) async fn local_changed(&self, caller: &Caller, id: uuid::Uuid) {
        let Some(driver) = self.local().and_then(LocalEngine::driver).cloned() else { return };
        let Ok(c) = self.store().get_cluster(caller.org(), id).await else { return };
        if !matches!(self.is_local(&c).await, Ok(true)) || matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
            return;
        }
        let desired = match self.store().local_desired(id).await {
            Ok(d) => dbcloud_provision::store_catalog::desired_state(d),
            Err(e) => return tracing::warn!(cluster = %id, error = %e, "local cluster: cannot read its desired state"),
        };
        match tokio::time::timeout(std::time::Duration::from_secs(30), driver.reconcile(&c, &desired)).await {
            Ok(Ok(report)) if report.errors.is_empty() => tracing::info!(cluster = %id, changed = report.changed(), ?report, "local cluster reconciled"),
            Ok(Ok(report)) => tracing::warn!(cluster = %id, errors = ?report.errors, "local cluster: parts of the change are not applied yet"),
            Ok(Err(e)) => tracing::warn!(cluster = %id, error = %e, "local cluster: reconcile failed"),
            Err(_) => tracing::warn!(cluster = %id, "local cluster: reconcile timed out"),
        }
    }
}

impl App {
    /// `c` with its connection strings when it is a `local` cluster with endpoints (a
    /// `postgresql://` URI per endpoint, no password).
    pub(crate) async fn with_connection_strings(&self, mut c: Cluster) -> Cluster {
        let sql_only = !c.endpoints.is_empty() && c.endpoints.iter().all(|e| e.kind.starts_with("sql"));
        if !sql_only || self.local().and_then(LocalEngine::driver).is_none() || !matches!(self.is_local(&c).await, Ok(true)) {
            return c;
        }
        c.connection_strings = c.endpoints.iter().map(|e| dbcloud_provision::local::connection_uri(e, None, None)).collect();
        c
    }
}
