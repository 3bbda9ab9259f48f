//! The audit log: newest first, filtered by actor, action (a prefix when it ends with `.`)
//! and target, paged.

use super::layout::{self, badge, when};
use super::session::{Signed, urlencode};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use dbcloud_app::model::{AuditFilter, PageReq};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

/// Page size of the audit log.
const PAGE: u32 = 50;

/// Filters and the page position.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    before: Option<String>,
}

fn val(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// `GET /audit`.
pub async fn list(State(state): State<AppState>, s: Signed, Query(q): Query<AuditQuery>) -> Response {
    let filter = AuditFilter {
        actor: val(&q.actor),
        action: val(&q.action),
        target_prefix: val(&q.target),
        before: val(&q.before).and_then(|b| Uuid::parse_str(&b).ok()),
        newest_first: true,
        ..Default::default()
    };
    let page = match state.app.audit().list(s.caller(), &filter, PageReq::first(PAGE)).await {
        Ok(p) => p,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let keep = |name: &str, v: &Option<String>| val(v).map(|v| format!("&{name}={}", urlencode(&v))).unwrap_or_default();
    let filters = format!("{}{}{}", keep("actor", &q.actor), keep("action", &q.action), keep("target", &q.target));
    let next = page.next_cursor.as_ref().and(page.items.last()).map(|e| format!("/audit?before={}{filters}", e.id));
    let m = html! {
        (layout::header("Audit log", "Every change, sign-in, failed authentication and refusal, newest first.", html! {}))
        form.filters method="get" action="/audit" role="search" {
            div { label for="a-actor" { "Actor" } input #a-actor name="actor" value=(q.actor.clone().unwrap_or_default()) placeholder="user:… or dbc_…"; }
            div { label for="a-action" { "Action" } input #a-action name="action" value=(q.action.clone().unwrap_or_default()) placeholder="apikey. (prefix) or apikey.revoke"; }
            div { label for="a-target" { "Target starts with" } input #a-target name="target" value=(q.target.clone().unwrap_or_default()); }
            div.filter-actions { button.secondary type="submit" { "Filter" } }
        }
        @if page.items.is_empty() { p.empty { "No events match." } } @else {
            div.table-wrap { table #audit {
                thead { tr { th { "Time" } th { "Actor" } th { "Action" } th { "Target" } th { "Outcome" } th { "Source" } } }
                tbody { @for e in &page.items { tr {
                    td { (when(e.time)) } td { code { (e.actor) } } td { (e.action) } td.wrap { (e.target) } td { (badge(&e.outcome)) } td { (e.source_ip) }
                } } }
            } }
        }
        nav.pager aria-label="Pages" {
            @if q.before.is_some() { a.button.secondary href=(format!("/audit?{}", filters.trim_start_matches('&'))) { "Newest" } }
            @if let Some(n) = next { a.button.secondary href=(n) { "Older events" } }
        }
    };
    layout::page(&s, "Audit log", m)
}
