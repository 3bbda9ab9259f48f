//! Shared application state.

use dbcloud_provision::runner::Runner;
use dbcloud_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// Console settings (here, not in `console`, so that the state imports no surface).
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Session timeouts and sign-in limits.
    pub policy: dbcloud_app::sessions::Policy,
    /// The public URL people reach the server at (`https://…` makes cookies `Secure`).
    pub public_url: Option<String>,
}

/// What every handler can reach: one shared [`StateParts`], so the clone axum makes for
/// each request (and each `State` extractor) is a single reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

impl AppState {
    /// The state made of `parts`.
    pub fn new(parts: StateParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = StateParts;
    fn deref(&self) -> &StateParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct StateParts {
    /// The service layer: every use case of every surface goes through it.
    pub app: dbcloud_app::App,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The operation runner (woken after an operation is enqueued).
    pub runner: Arc<Runner>,
    /// Prometheus metrics.
    pub metrics: PrometheusHandle,
    /// Authentication: settings, key cache, rate limiter.
    pub auth: Arc<crate::auth::AuthService>,
    /// Short-lived cache of single-cluster reads.
    pub clusters: Arc<crate::cache::ClusterCache>,
    /// Web console settings.
    pub console: Arc<ConsoleConfig>,
}

impl AppState {
    /// Drops cached credentials here and tells the other replicas to do the same; call
    /// after any change to keys, grants, service accounts or users.
    pub async fn identity_changed(&self) {
        self.auth.invalidate();
        if let Err(e) = self.store.publish_identity_change().await {
            tracing::warn!(error = %e, "could not notify other replicas of an identity change");
        }
    }

    /// Counts one request against `bucket`'s budget of `limit` per second (shared by the
    /// replicas of a PostgreSQL store).
    pub async fn rate_check(&self, bucket: &str, limit: i64) -> crate::ratelimit::Decision {
        self.auth.check_budget(bucket, limit).await
    }
}

impl axum::extract::FromRef<AppState> for dbcloud_app::App {
    fn from_ref(s: &AppState) -> dbcloud_app::App {
        s.app.clone()
    }
}
