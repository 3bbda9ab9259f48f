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
pub mod idem;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod version;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use dbcloud_provision::Provisioner;
use dbcloud_provision::runner::{Runner, RunnerConfig};
use dbcloud_provision::simulated::{Simulated, SimulatedConfig};
use dbcloud_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use state::AppState;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
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
    /// Web console settings (sessions, sign-in limits, public URL).
    pub console: console::ConsoleConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            provisioner: SimulatedConfig::default(),
            runner: RunnerConfig::default(),
            auth: auth::AuthConfig::ephemeral(),
            console: console::ConsoleConfig::default(),
        }
    }
}

/// The process-wide Prometheus recorder (installed once; servers in one process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("dbcloud_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("dbcloud_http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

/// The full router (native API, OpenAPI document, docs, operational endpoints).
pub fn router(state: AppState) -> Router {
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
        .layer(axum::middleware::from_fn(version::cc_version))
        .layer(axum::middleware::from_fn(record_metrics))
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
    shutdown: watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
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
        let _ = self.runner.await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(self) {
        let _ = self.http.await;
        let _ = self.shutdown.send(true);
        let _ = self.runner.await;
    }

    /// A sender that triggers shutdown (for signal handlers).
    pub fn shutdown_trigger(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Binds `listen`, starts the operation runner and serves the API until shut down.
pub async fn start(listen: SocketAddr, store: Arc<dyn Store>, cfg: ServerConfig) -> anyhow::Result<Server> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let provisioner: Arc<dyn Provisioner> = Arc::new(Simulated::new(cfg.provisioner.clone()));
    let mut runner_cfg = cfg.runner.clone();
    // A lease must outlive the slowest step, or a healthy replica would lose its operations.
    runner_cfg.lease = runner_cfg.lease.max(cfg.provisioner.step_delay * 3 + Duration::from_secs(1));
    let runner = Runner::new(store.clone(), provisioner, runner_cfg);
    let app = dbcloud_app::App::new(store.clone(), runner.clone(), cfg.auth.master_key.clone());
    let clusters = app.cluster_cache().clone();
    let auth = auth::AuthService::new(cfg.auth.clone(), store.backend() == "postgres");
    tokio::spawn(auth.limiter.clone().sync_forever(store.clone()));
    if let Some(mut notices) = store.identity_changes().await? {
        let auth = auth.clone();
        tokio::spawn(async move {
            while notices.recv().await.is_some() {
                auth.invalidate();
            }
        });
    }
    let invalidated = auth.clone();
    app.on_identity_change(move || invalidated.invalidate());
    let console = Arc::new(cfg.console.clone());
    let state = AppState { app, store, runner: runner.clone(), metrics: metrics_handle(), auth, clusters, console };
    let (tx, rx) = watch::channel(false);
    let runner_task = tokio::spawn(runner.run(rx.clone()));
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = rx;
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await
    });
    Ok(Server { addr, state, shutdown: tx, http, runner: runner_task })
}
