//! Prometheus metrics in bounded memory, and who may read them.
//!
//! Memory: request durations are fixed-bucket histograms, and a background thread drains
//! the recorder's sample queues every [`UPKEEP_INTERVAL`], so memory no longer depends on
//! how often (or whether) anyone scrapes. Every label has a bounded set of values (the
//! method is one of the standard ones or `OTHER`, the route is the route pattern or
//! `unmatched`).
//!
//! Access: `/metrics` is open on the main listener by default; with
//! [`super::MetricsConfig::listen`] it is served only on its own address, and with a token
//! it requires `Authorization: Bearer <token>` (compared in constant time).

use super::{MetricsConfig, Surface};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dbcloud_types::Code;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How often histogram samples are folded into their buckets.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Upper bounds (seconds) of the request duration buckets.
pub const DURATION_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide Prometheus recorder (installed once; servers in one process share it),
/// with its upkeep thread.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(DURATION_BUCKETS).expect("non-empty buckets");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            let upkeep = handle.clone();
            // A thread, not a task: it must outlive whichever runtime first asked.
            let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start the metrics upkeep thread");
            }
            handle
        })
        .clone()
}

/// The method label: a standard method, or `OTHER` (methods are open-ended tokens).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware: counts every request and records its duration, by method, route pattern
/// and status.
pub async fn record(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("dbcloud_http_requests_total", "method" => method, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("dbcloud_http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

/// Whether `presented` is the token (constant time; digests hide the length).
fn token_matches(presented: &str, token: &str) -> bool {
    Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(token.as_bytes())).into()
}

/// The answer to a `/metrics` request that may not have it, if any.
fn refused(cfg: &MetricsConfig, main_listener: bool, req: &Request) -> Option<Response> {
    let native = |status, code, msg: &str| super::guard::refusal(Surface::Native, status, code, msg, false);
    if main_listener && cfg.listen.is_some() {
        return Some(native(StatusCode::NOT_FOUND, Code::NotFound, &format!("no such endpoint: {} {}", req.method(), req.uri().path())));
    }
    let token = cfg.token.as_ref()?;
    let presented = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.split_once(' '));
    match presented {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && token_matches(t.trim(), &token.0) => None,
        _ => {
            metrics::counter!("dbcloud_auth_failures_total", "reason" => "metrics token").increment(1);
            let mut r = native(StatusCode::UNAUTHORIZED, Code::Unauthenticated, "unauthenticated");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"dbcloud metrics\""));
            Some(r)
        }
    }
}

/// Middleware of the main listener: applies the access rules to `/metrics`.
pub async fn gate(State(cfg): State<Arc<MetricsConfig>>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/metrics"
        && let Some(r) = refused(&cfg, true, &req)
    {
        return r;
    }
    next.run(req).await
}

async fn render(State(cfg): State<Arc<MetricsConfig>>, req: Request) -> Response {
    if let Some(r) = refused(&cfg, false, &req) {
        return r;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// The router of the separate metrics listener: `/metrics` and nothing else.
pub fn router(cfg: Arc<MetricsConfig>, guard: Arc<super::guard::GuardConfig>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .fallback(crate::error::not_found)
        .with_state(cfg)
        .layer(axum::middleware::from_fn_with_state(guard, super::guard::guard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"FOO123").unwrap()), "OTHER");
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }
}
