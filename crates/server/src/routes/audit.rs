//! The audit log.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use dbcloud_app::model::{AuditEvent, AuditFilter};
use dbcloud_types::{ErrorBody, Page};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

/// Audit filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// Events before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// Only this actor (access key id, `anonymous`, `system`).
    pub actor: Option<String>,
    /// Only this action (e.g. `cluster.create`), or actions starting with it when it ends in `.`.
    pub action: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List audit events, oldest first: every change, every failed authentication and denial,
/// with actor, key id, source address, request id and outcome.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_audit_events(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult<Json<Page<AuditEvent>>> {
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    let filter = AuditFilter { since: q.since, until: q.until, actor: q.actor, action: q.action, ..Default::default() };
    Ok(Json(s.app.audit().list(&caller, &filter, page).await?))
}
