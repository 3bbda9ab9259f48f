//! The allow list of a cluster: list, add, replace, remove by network. Temporary entries
//! carry a Go-style `duration` that becomes their expiry.

use super::buckets::json_array;
use super::wire::AllowlistOut;
use super::{CbCaller, CbError, CbJson, CbResult, bare, path_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use dbcloud_app::Permission;
use dbcloud_app::model::NewAllowlistEntry;
use dbcloud_core::error::Violations;
use dbcloud_core::{Error, cluster, validate};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The longest Go duration (`2562047h47m16.854775807s`): longer ones are refused (they
/// are not Go durations, and would overflow the expiry time).
pub const MAX_GO_DURATION_SECS: f64 = 9_223_372_036.854_775;

/// Parses a Go-style duration (`1h`, `1h30m`, `90s`, `1h0m0s`, `500ms`) into seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[u..];
    }
    Some(total)
}

/// An allow-list entry to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2AllowlistAdd {
    /// CIDR or address.
    pub cidr_block: String,
    /// `temporary` or `permanent`.
    pub rule_type: String,
    /// Comment.
    #[serde(default)]
    pub comment: String,
    /// Go-style duration (temporary entries).
    pub duration: Option<String>,
}

/// An allow-list entry to remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V2AllowlistDelete {
    /// CIDR or address.
    pub cidr_block: String,
}

/// The core entry of a v2 allow-list entry; failures are recorded under `prefix` + field.
fn check_allowlist_entry(v: &mut Violations, prefix: &str, req: &V2AllowlistAdd) -> Option<NewAllowlistEntry> {
    let cidr = v.check(&format!("{prefix}cidrBlock"), validate::cidr(&req.cidr_block));
    let comment = v.check(&format!("{prefix}comment"), validate::free_text(&req.comment, dbcloud_app::allowlist::MAX_COMMENT));
    let duration_field = format!("{prefix}duration");
    let expires_at = match req.rule_type.as_str() {
        "permanent" => None,
        "temporary" => match req.duration.as_deref().map(parse_go_duration) {
            Some(Some(secs)) if (1.0..=MAX_GO_DURATION_SECS).contains(&secs) => Some(OffsetDateTime::now_utc() + time::Duration::seconds_f64(secs)),
            Some(_) => {
                v.add(duration_field, "must be a positive Go duration such as 1h0m0s");
                return None;
            }
            None => {
                v.add(duration_field, "is required when ruleType is temporary");
                return None;
            }
        },
        _ => {
            v.add(format!("{prefix}ruleType"), "must be temporary or permanent");
            return None;
        }
    };
    Some(NewAllowlistEntry { cidr: cidr?, comment: comment?, expires_at, attributes: Default::default() })
}

/// List the allow list (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<AllowlistOut>, description = "The allow list."), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody), (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody)))]
pub async fn list_allowlist(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Vec<AllowlistOut>>> {
    let id = path_id(&id, "cluster")?;
    Ok(Json(s.app.allowlist().list_all(&caller, id).await?.iter().map(AllowlistOut::from).collect()))
}

/// Add an allow-list entry (`allowlist.manage` on the cluster); 202.
#[utoipa::path(post, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = V2AllowlistAdd,
    responses((status = 202), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn add_allowlist(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2AllowlistAdd>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    let new = check_allowlist_entry(&mut v, "", &req);
    v.finish()?;
    s.app.allowlist().add(&caller, id, new.expect("checked"), None).await?;
    Ok(bare(StatusCode::ACCEPTED, None))
}

/// Replace the whole allow list (`allowlist.manage` on the cluster); 202. The service swaps
/// the list in one transaction before answering: a bad or repeated entry changes nothing.
#[utoipa::path(put, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Vec<V2AllowlistAdd>,
    responses((status = 202), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn replace_allowlist(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>, body: bytes::Bytes) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    s.app.clusters().authorized(&caller, id, Permission::AllowlistManage).await?;
    let req: Vec<V2AllowlistAdd> = json_array(&body)?;
    let mut v = Violations::new();
    let mut entries: Vec<NewAllowlistEntry> = vec![];
    for (i, e) in req.iter().enumerate() {
        if let Some(new) = check_allowlist_entry(&mut v, &format!("[{i}]."), e) {
            if entries.iter().any(|x| x.cidr == new.cidr) {
                v.add(format!("[{i}].cidrBlock"), format!("{} is listed twice", new.cidr));
            }
            entries.push(new);
        }
    }
    v.finish()?;
    s.app.allowlist().replace(&caller, id, entries, false).await?;
    Ok(bare(StatusCode::ACCEPTED, None))
}

/// Remove an allow-list entry by network (`allowlist.manage` on the cluster); 204.
#[utoipa::path(delete, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = V2AllowlistDelete,
    responses((status = 204), (status = 401, description = "Unauthorized", body = super::wire::ErrorBody), (status = 403, description = "AccessForbidden", body = super::wire::ErrorBody),
        (status = 404, description = "EntityNotFound", body = super::wire::ErrorBody), (status = 422, description = "RequestValidationError / EntityStateInvalid", body = super::wire::ErrorBody)))]
pub async fn delete_allowlist(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2AllowlistDelete>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let cidr = validate::cidr(&req.cidr_block).map_err(|e| Error::field("cidrBlock", e))?;
    let c = s.app.clusters().authorized(&caller, id, Permission::AllowlistManage).await?;
    let entries = s.app.allowlist().list_all(&caller, id).await?;
    let entry = entries.into_iter().find(|e| e.cidr == cidr).ok_or_else(|| CbError::not_found(format!("allowlist entry {}", req.cidr_block)))?;
    cluster::check_accepts_children(&c)?;
    s.app.allowlist().delete(&caller, id, entry.id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}
