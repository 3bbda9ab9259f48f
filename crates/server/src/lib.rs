#![forbid(unsafe_code)]
//! The dbcloud API server: axum routes over the core, the store and the provisioner.
//!
//! [`start`] runs a server on a bound address (tests use port 0); the `dbcloud serve`
//! command wires configuration, signals and bootstrap around it.

pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod console;
pub mod dialects;
pub mod error;
pub mod extract;
pub mod http;
pub mod idem;
pub mod local;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod version;

use axum::Router;
use axum::extract::Request;
use dbcloud_provision::Provisioner;
use dbcloud_provision::dispatch::Dispatch;
use dbcloud_provision::runner::{Runner, RunnerConfig};
use dbcloud_provision::simulated::{Simulated, SimulatedConfig};
use dbcloud_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Server settings (everything but the store).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Simulated provisioner settings.
    pub provisioner: SimulatedConfig,
    /// Operation runner settings.
    pub runner: RunnerConfig,
    /// Authentication and rate-limit settings.
    pub auth: auth::AuthConfig,
    /// Connection limits and timeouts.
    pub http: http::HttpConfig,
    /// Where and to whom `/metrics` is served.
    pub metrics: http::MetricsConfig,
    /// Web console settings (sessions, sign-in limits, public URL).
    pub console: console::ConsoleConfig,
    /// The local PostgreSQL provider (`None`: clusters on `local` are refused).
    pub local: Option<dbcloud_provision::local::LocalConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            provisioner: SimulatedConfig::default(),
            runner: RunnerConfig::default(),
            auth: auth::AuthConfig::ephemeral(),
            http: http::HttpConfig::default(),
            metrics: http::MetricsConfig::default(),
            console: console::ConsoleConfig::default(),
            local: None,
        }
    }
}

/// The process-wide Prometheus recorder (see [`http::metrics::handle`]).
pub fn metrics_handle() -> PrometheusHandle {
    http::metrics::handle()
}

/// The full router (native API, OpenAPI document, docs, operational endpoints) with the
/// default guard and `/metrics` open.
pub fn router(state: AppState) -> Router {
    let cfg = ServerConfig::default();
    router_with(state, &cfg.http, &cfg.metrics)
}

/// The full router with the request guard and `/metrics` rules of `http` and `metrics`.
pub fn router_with(state: AppState, http: &http::HttpConfig, metrics: &http::MetricsConfig) -> Router {
    let guard = Arc::new(http::guard::GuardConfig { body_read_timeout: http.body_read_timeout });
    let (api, doc) = openapi::api_router().split_for_parts();
    let x_request_id = axum::http::HeaderName::from_static("x-request-id");
    let trace = tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", doc))
        .merge(console::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(auth::rate_headers))
        .layer(axum::middleware::from_fn_with_state(Arc::new(metrics.clone()), http::metrics::gate))
        .layer(axum::middleware::from_fn_with_state(guard, http::guard::guard))
        .layer(axum::middleware::from_fn(http::metrics::record))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            error::ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, dbcloud_types::Code::Internal, "internal error").into_response()
        }))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// A running server.
pub struct Server {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (tests reach the store through it).
    pub state: AppState,
    /// The address of the separate metrics listener, when there is one.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    metrics_http: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    runner: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drains in-flight requests, stops the runner and releases its leases.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.http.await;
        if let Some(m) = self.metrics_http {
            let _ = m.await;
        }
        let _ = self.runner.await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(self) {
        let _ = self.http.await;
        let _ = self.shutdown.send(true);
        if let Some(m) = self.metrics_http {
            let _ = m.await;
        }
        let _ = self.runner.await;
    }

    /// A sender that triggers shutdown (for signal handlers).
    pub fn shutdown_trigger(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds `listen` (and the metrics address, if any), starts the operation runner and
/// serves the API until shut down.
pub async fn start(listen: SocketAddr, store: Arc<dyn Store>, cfg: ServerConfig) -> anyhow::Result<Server> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let metrics_listener = match cfg.metrics.listen {
        Some(a) => Some(TcpListener::bind(a).await.map_err(|e| anyhow::anyhow!("metrics-listen {a}: {e}"))?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let mut runner_cfg = cfg.runner.clone();
    let local_engine = local::engine(&store, &cfg, &runner_cfg);
    let simulated = Simulated::new(cfg.provisioner.clone());
    let provisioner: Arc<dyn Provisioner> = Arc::new(Dispatch::new(store.clone(), simulated, local_engine.clone()));
    // A lease must outlive the slowest step, or a healthy replica would lose its operations.
    runner_cfg.lease = runner_cfg.lease.max(cfg.provisioner.step_delay * 3 + Duration::from_secs(1));
    let runner = Runner::new(store.clone(), provisioner, runner_cfg);
    let app = dbcloud_app::App::new(store.clone(), runner.clone(), cfg.auth.clone());
    app.set_local(local_engine.clone());
    let clusters = app.cluster_cache().clone();
    let auth = app.auth().clone();
    if let Some(mut notices) = store.identity_changes().await? {
        let auth = auth.clone();
        tokio::spawn(async move {
            while notices.recv().await.is_some() {
                auth.invalidate();
            }
        });
    }
    let console = Arc::new(cfg.console.clone());
    let state = AppState::new(state::StateParts { app, store, runner: runner.clone(), metrics: metrics_handle(), auth, clusters, console });
    let (tx, rx) = watch::channel(false);
    let runner_task = tokio::spawn(runner.run(rx.clone()));
    local::spawn_supervisor(&local_engine, state.store.clone(), state.clusters.clone(), rx.clone());
    let app = router_with(state.clone(), &cfg.http, &cfg.metrics);
    let metrics_http = metrics_listener.map(|l| {
        let guard = Arc::new(http::guard::GuardConfig { body_read_timeout: cfg.http.body_read_timeout });
        let app = http::metrics::router(Arc::new(cfg.metrics.clone()), guard);
        tokio::spawn(http::serve::serve(l, app, cfg.http.clone(), rx.clone()))
    });
    let http = tokio::spawn(http::serve::serve(listener, app, cfg.http.clone(), rx));
    Ok(Server { addr, state, metrics_addr, shutdown: tx, http, metrics_http, runner: runner_task })
}
