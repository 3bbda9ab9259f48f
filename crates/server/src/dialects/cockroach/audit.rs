//! The audit log in the vendor's shape: entries from a point in time, ascending or
//! descending, with the vendor's action names.

use super::CockroachErrorBody;
use super::{CCaller, CQuery, CResult, field, rfc3339};
use crate::auth::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use dbcloud_app::model::{AuditEvent, AuditFilter, PageReq};
use dbcloud_types::Page;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

async fn events(s: &AppState, caller: &Caller, filter: &AuditFilter, page: PageReq) -> CResult<Page<AuditEvent>> {
    Ok(s.app.audit().list(caller, filter, page).await?)
}

/// Audit log parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries strictly after (ASC) or before (DESC) this time (RFC 3339).
    pub starting_from: Option<String>,
    /// `ASC` (default) or `DESC`.
    pub sort_order: Option<String>,
    /// Page size (default 200, at most 1000).
    pub limit: Option<i64>,
}

/// The vendor's name of a core audit action (`None` when it has none).
fn vendor_action(action: &str) -> Option<&'static str> {
    Some(match action {
        "cluster.create" => "CREATE_CLUSTER",
        "cluster.update" => "UPDATE_CLUSTER",
        "cluster.delete" => "DELETE_CLUSTER",
        "dbuser.create" => "CREATE_SQL_USER",
        "dbuser.delete" => "DELETE_SQL_USER",
        "dbuser.password" => "CHANGE_SQL_USER_PASSWORD",
        "allowlist.create" => "ADD_IP_ALLOWLIST",
        "allowlist.update" => "EDIT_IP_ALLOWLIST",
        "allowlist.delete" => "REMOVE_IP_ALLOWLIST",
        "apikey.create" => "CREATE_API_KEY",
        "apikey.revoke" => "DELETE_API_KEY",
        "apikey.update" => "UPDATE_API_KEY",
        "serviceaccount.create" => "CREATE_SERVICE_ACCOUNT",
        "serviceaccount.delete" => "DELETE_SERVICE_ACCOUNT",
        "grant.create" => "ADD_USER_TO_ROLE",
        "grant.delete" => "REMOVE_USER_FROM_ROLE",
        "bucket.create" => "CREATE_DATABASE",
        "bucket.delete" => "DELETE_DATABASE",
        "bucket.rename" => "EDIT_DATABASE",
        "project.create" => "CREATE_FOLDER",
        "project.delete" => "DELETE_FOLDER",
        _ => return None,
    })
}

/// `ListAuditLogsResponse`.
#[derive(Serialize, ToSchema)]
pub struct AuditLogPage {
    /// The entries.
    pub entries: Vec<AuditLogEntry>,
    /// Where the next page starts (RFC 3339); null on the last page.
    pub next_starting_from: Option<String>,
}

/// `AuditLogEntry`.
#[derive(Serialize, ToSchema)]
pub struct AuditLogEntry {
    /// Event id.
    pub id: Uuid,
    /// RFC 3339.
    pub created_at: String,
    /// `AUDIT_LOG_ACTION_…`; null for actions the vendor has no name for.
    pub action: Option<String>,
    /// `AUDIT_LOG_SOURCE_CC_API` or `AUDIT_LOG_SOURCE_INTERNAL`.
    pub source: &'static str,
    /// Always `""`.
    pub user_email: &'static str,
    /// The acting key or component.
    pub service_account_name: String,
    /// The cluster acted on, or `""`.
    pub cluster_id: String,
    /// Always `""`.
    pub cluster_name: &'static str,
    /// The native event as JSON text.
    pub payload: String,
    /// `""` on success, else the outcome.
    pub error: String,
    /// Request id.
    pub trace_id: String,
    /// Always `""`.
    pub session_id: &'static str,
    /// Where the request came from.
    pub metadata: AuditMetadata,
}

/// `metadata` of an audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditMetadata {
    /// Client address.
    pub ip_address: String,
}

/// The native event, as an entry's `payload` carries it (JSON text).
#[derive(Serialize)]
struct Payload<'a> {
    action: &'a str,
    details: &'a Value,
    target: &'a str,
}

fn entry(e: &AuditEvent) -> AuditLogEntry {
    let cluster = e.target.strip_prefix("cluster:").map(|t| t.split('/').next().unwrap_or(t).to_string());
    let source = if e.actor.starts_with("runner") || e.actor.starts_with("system") { "AUDIT_LOG_SOURCE_INTERNAL" } else { "AUDIT_LOG_SOURCE_CC_API" };
    let payload = Payload { action: &e.action, details: &e.details, target: &e.target };
    AuditLogEntry {
        id: e.id,
        created_at: rfc3339(e.time),
        action: vendor_action(&e.action).map(|a| format!("AUDIT_LOG_ACTION_{a}")),
        source,
        user_email: "",
        service_account_name: e.actor.clone(),
        cluster_id: cluster.unwrap_or_default(),
        cluster_name: "",
        payload: serde_json::to_string(&payload).unwrap_or_default(),
        error: if e.outcome == "success" || e.outcome == "ok" { String::new() } else { e.outcome.clone() },
        trace_id: e.request_id.clone(),
        session_id: "",
        metadata: AuditMetadata { ip_address: e.source_ip.clone() },
    }
}

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

fn at_ms(ms: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Audit log entries from a point in time, ascending (default) or descending; a page holds
/// every entry sharing its last timestamp.
#[utoipa::path(get, path = "/api/v1/auditlogevents", tag = "cockroachdb cloud", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditLogPage, description = "ListAuditLogsResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody)))]
pub async fn audit_log(State(s): State<AppState>, CCaller(caller): CCaller, CQuery(q): CQuery<AuditQuery>) -> CResult<Json<AuditLogPage>> {
    let desc = match q.sort_order.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(field("sort_order", "must be ASC or DESC")),
    };
    let limit = match q.limit {
        None | Some(0) => 200,
        Some(l) if l < 0 => return Err(field("limit", "must not be negative")),
        Some(l) => l.min(1000) as u32,
    };
    let from = match q.starting_from.as_deref() {
        Some(t) => {
            Some(OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| field("starting_from", "must be an RFC 3339 time"))?)
        }
        None => None,
    };
    let mut filter = AuditFilter { newest_first: desc, ..Default::default() };
    match (from, desc) {
        (Some(f), false) => filter.since = Some(at_ms(ms(f) + 1)),
        (Some(f), true) => filter.until = Some(f),
        (None, _) => {}
    }
    let got = events(&s, &caller, &filter, PageReq::first(limit)).await?;
    let mut entries = got.items;
    if let (Some(last), true) = (entries.last().cloned(), got.next_cursor.is_some()) {
        // Complete the last timestamp so that `starting_from` can move past it.
        let t = ms(last.time);
        let ties = AuditFilter { since: Some(at_ms(t)), until: Some(at_ms(t + 1)), newest_first: desc, before: desc.then_some(last.id), ..Default::default() };
        let after = if desc { None } else { Some(last.id) };
        let more = events(&s, &caller, &ties, PageReq { after, after_key: None, limit: 1000 }).await?;
        entries.extend(more.items);
    }
    let next = match entries.last() {
        Some(last) => {
            let t = ms(last.time);
            let rest = if desc {
                AuditFilter { until: Some(at_ms(t)), newest_first: true, ..Default::default() }
            } else {
                AuditFilter { since: Some(at_ms(t + 1)), ..Default::default() }
            };
            let any = events(&s, &caller, &rest, PageReq::first(1)).await?;
            (!any.items.is_empty()).then(|| rfc3339(last.time))
        }
        None => None,
    };
    Ok(Json(AuditLogPage { entries: entries.iter().map(entry).collect(), next_starting_from: next }))
}
