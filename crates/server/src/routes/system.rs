//! Unauthenticated operational endpoints: liveness, readiness, metrics.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use dbcloud_types::HealthStatus;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = HealthStatus)))]
pub async fn health() -> Json<HealthStatus> {
    Json(HealthStatus { status: "ok".into() })
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, body = HealthStatus), (status = 503, body = HealthStatus)))]
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    match s.app.ping().await {
        Ok(()) => (StatusCode::OK, Json(HealthStatus { status: "ok".into() })),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(HealthStatus { status: "unavailable".into() }))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format.", body = String, content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], s.metrics.render())
}
