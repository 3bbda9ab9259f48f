//! Shared application state.

use dbcloud_provision::runner::Runner;
use dbcloud_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The operation runner (woken after an operation is enqueued).
    pub runner: Arc<Runner>,
    /// Prometheus metrics.
    pub metrics: PrometheusHandle,
}
