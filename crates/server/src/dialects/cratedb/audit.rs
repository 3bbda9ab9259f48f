//! The organization's audit log, newest first, paged by croud's `last` cursor.

use super::users::{key_email, key_uid};
use super::wire::{Actor, AuditContext, AuditEntry, ts};
use super::{CrCaller, CrQuery, CrResult, own_org};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_app::model::{AuditFilter, PageReq};
use dbcloud_app::vendor::{KeyActor, pattern_name};
use dbcloud_core::Error;
use dbcloud_core::error::Violations;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use uuid::Uuid;

/// Largest audit page.
const AUDIT_PAGE: u32 = 100;

/// Audit-log filters and cursor.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// Only this action (e.g. `cluster.create`).
    pub action: Option<String>,
    /// Entries at or after this time (`YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`).
    pub from: Option<String>,
    /// Entries up to this time (a date includes that whole day).
    pub to: Option<String>,
    /// Only entries about this cluster.
    pub cluster_id: Option<String>,
    /// Only entries strictly older than this entry id (the cursor croud sends).
    pub last: Option<String>,
}

/// A `from`/`to` value: RFC 3339, `YYYY-MM-DDThh:mm[:ss[.f]]` (UTC), or a date (its start,
/// or with `end_of_day` the start of the next day).
fn parse_when(s: &str, end_of_day: bool) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        let t = d.midnight().assume_utc();
        return Some(if end_of_day { t + time::Duration::days(1) } else { t });
    }
    let bare = s.strip_suffix('Z').unwrap_or(s).replace(' ', "T");
    let full = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let frac = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let short = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    [full, frac, short].iter().find_map(|f| time::PrimitiveDateTime::parse(&bare, f).ok()).map(|t| t.assume_utc())
}

/// The `actor` of an entry: the user behind the key (or the key itself, or a service
/// account); `id` null for system and anonymous actions.
fn actor_doc(actor: &str, behind: Option<&KeyActor>) -> Actor {
    if !actor.starts_with(dbcloud_core::keys::KEY_PREFIX) {
        // croud needs the `id` key (null prints as SYSTEM); the unknown rest is left out.
        return Actor { id: None, email: None, name: actor.to_string(), username: None };
    }
    let (id, email, name) = match behind {
        Some(KeyActor::User(_, Some(u))) => (u.id, u.email.clone(), u.name.clone()),
        Some(KeyActor::User(u, None)) => (*u, format!("{u}@users.dbcloud.invalid"), String::new()),
        Some(KeyActor::ServiceAccount(a)) => (*a, format!("{a}@service-accounts.dbcloud.invalid"), String::new()),
        _ => (key_uid(actor), key_email(actor), actor.to_string()),
    };
    let username = pattern_name(email.split('@').next().unwrap_or_default(), "user");
    Actor { id: Some(id), email: Some(email), name, username: Some(username) }
}

fn nonempty(x: &Option<String>) -> Option<String> {
    x.clone().filter(|x| !x.is_empty())
}

/// The organization's audit log, newest first, at most 100 entries per page; `last` pages
/// on (entries strictly older than it), and an empty list ends croud's loop.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/auditlogs/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path), AuditLogQuery),
    responses((status = 200, body = Vec<AuditEntry>, description = "The audit log."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_audit_logs(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrQuery(q): CrQuery<AuditLogQuery>,
) -> CrResult<Json<Vec<AuditEntry>>> {
    own_org(&caller, &org)?;
    let audit = s.app.audit();
    // The permission first (an empty probe page), then the parameters.
    audit.list(&caller, &AuditFilter::default(), PageReq::first(1)).await?;
    let when = "must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ";
    let mut v = Violations::new();
    let since = nonempty(&q.from).and_then(|f| v.check("from", parse_when(&f, false).ok_or_else(|| when.to_string())));
    let until = nonempty(&q.to).and_then(|t| v.check("to", parse_when(&t, true).ok_or_else(|| when.to_string())));
    let cluster = nonempty(&q.cluster_id).and_then(|c| v.check("cluster_id", Uuid::parse_str(&c).map_err(|_| "must be a cluster id".to_string())));
    let last = nonempty(&q.last).and_then(|l| v.check("last", Uuid::parse_str(&l).map_err(|_| "must be the id of an audit log entry".to_string())));
    v.finish()?;
    if let Some(l) = last {
        let probe = AuditFilter { id: Some(l), ..Default::default() };
        if audit.list(&caller, &probe, PageReq::first(1)).await?.items.is_empty() {
            return Err(Error::field("last", "unknown audit log entry").into());
        }
    }
    let filter = AuditFilter {
        since,
        until,
        action: nonempty(&q.action).map(|a| a.trim_end_matches('.').to_string()),
        target_prefix: cluster.map(|c| format!("cluster:{c}")),
        before: last,
        newest_first: true,
        ..Default::default()
    };
    let page = audit.list(&caller, &filter, PageReq::first(AUDIT_PAGE)).await?;
    let keys: Vec<String> = page.items.iter().map(|e| e.actor.clone()).collect();
    let behind = audit.key_actors(&caller, &keys).await?;
    let items = page
        .items
        .iter()
        .map(|e| AuditEntry {
            id: e.id,
            action: e.action.clone(),
            created: ts(e.time),
            actor: actor_doc(&e.actor, behind.get(&e.actor)),
            context: AuditContext {
                target: e.target.clone(),
                outcome: e.outcome.clone(),
                source_ip: e.source_ip.clone(),
                request_id: e.request_id.clone(),
                key_id: e.actor.starts_with(dbcloud_core::keys::KEY_PREFIX).then(|| e.actor.clone()),
                details: e.details.clone(),
            },
        })
        .collect();
    Ok(Json(items))
}
