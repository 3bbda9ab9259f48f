//! Cluster changes (§4 "Changes", §6 one operation per cluster): scale, upgrade,
//! suspend/resume, IP restrictions, delete protection — and the operations croud polls.

use super::catalogue::unit_nodes;
use super::clusters::{live_cluster, one_doc, op_type};
use super::wire::{self, Dc, Feedback};
use super::{CrCaller, CrJson, CrQuery, CrResult, PRODUCT_NAME, busy, path_id, rename, rename_fields};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_app::Permission;
use dbcloud_app::clusters::ClusterChanges;
use dbcloud_app::model::NewAllowlistEntry;
use dbcloud_core::{Error, cluster};
use dbcloud_types::{AllowlistEntry, Operation};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa::ToSchema;

fn operation_doc(o: &Operation) -> wire::Operation {
    wire::Operation {
        id: o.id,
        kind: op_type(o.kind),
        status: o.status.as_str(),
        entity: "CLUSTER",
        entity_id: o.cluster_id,
        feedback_data: Feedback { message: o.error.clone() },
        non_sensitive_data: o.params.clone(),
        dc: Dc::new(o.created_at, o.updated_at),
    }
}

/// Operation filters (croud sends `type` and `limit`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationsQuery {
    /// Only this type (`CREATE`, `DELETE`, `SCALE`, `UPGRADE`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// At most this many (default and maximum 100).
    pub limit: Option<String>,
}

/// A cluster's operations, newest first. Waits up to about 5 s while the newest match is
/// still running, so croud's 10-second poll rarely has to repeat.
#[utoipa::path(get, path = "/api/v2/clusters/{cluster_id}/operations/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path), OperationsQuery),
    responses((status = 200, body = wire::Operations, description = "The cluster's operations."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_operations(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrQuery(q): CrQuery<OperationsQuery>,
) -> CrResult<Json<wire::Operations>> {
    let id = path_id(&id)?;
    // Deleted clusters keep their operation history (croud polls DELETE to the end).
    s.app.clusters().get(&caller, id).await?;
    let limit = match q.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l.parse::<usize>().map_err(|_| Error::field("limit", "must be a positive integer"))?.clamp(1, 100),
    };
    let kind = q.kind.as_deref().filter(|k| !k.is_empty()).map(str::to_ascii_uppercase);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut ops = s.app.operations().list_all(&caller, id).await?;
        ops.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        ops.retain(|o| kind.as_deref().is_none_or(|k| op_type(o.kind) == k));
        ops.truncate(limit);
        let running = ops.first().is_some_and(|o| o.status.is_active());
        if !running || tokio::time::Instant::now() >= deadline {
            return Ok(Json(wire::Operations { operations: ops.iter().map(operation_doc).collect() }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Scale body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScaleBody {
    /// A `value` of the product's scaling table.
    pub product_unit: Option<i64>,
}

/// Scale a cluster to a product unit (200 + cluster); a SCALE operation runs afterwards.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/scale/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)), request_body = ScaleBody,
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Another operation runs", body = super::ErrorDoc)))]
pub async fn scale_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<ScaleBody>,
) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some((unit, nodes)) = req.product_unit.and_then(|u| unit_nodes(u).map(|n| (u, n))) else {
        let max = cluster::MAX_NODE_COUNT - 1;
        return Err(Error::field("product_unit", format!("must be a value of the {PRODUCT_NAME} scaling table (0-{max})")).into());
    };
    let params = wire::op_data(wire::ScaleData {
        current_product_unit: (c.node_count - 1).max(0),
        target_product_unit: unit,
        current_num_nodes: c.node_count,
        target_num_nodes: nodes,
    });
    let change = s.app.clusters().scale_with(&caller, c.id, nodes, params).await.map_err(|e| {
        busy(rename_fields(e, &|f, d| match f {
            "node_count" if d.starts_with("the cluster already runs") => ("product_unit".into(), format!("the cluster already runs product unit {unit}")),
            "node_count" => ("product_unit".into(), d),
            f => (f.to_string(), d),
        }))
    })?;
    Ok(Json(one_doc(&s, &caller, &change.cluster).await?))
}

/// Upgrade body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpgradeBody {
    /// Target version.
    pub crate_version: Option<String>,
}

/// Upgrade a cluster (200 + cluster); an UPGRADE operation runs afterwards and sets the
/// version when it succeeds.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/upgrade/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)), request_body = UpgradeBody,
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Another operation runs", body = super::ErrorDoc)))]
pub async fn upgrade_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<UpgradeBody>,
) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(wanted) = req.crate_version.filter(|v| !v.is_empty()) else {
        return Err(Error::field("crate_version", "required").into());
    };
    let change = s.app.clusters().upgrade(&caller, c.id, &wanted).await.map_err(|e| busy(rename(e, &[("version", "crate_version")])))?;
    Ok(Json(one_doc(&s, &caller, &change.cluster).await?))
}

/// Suspend body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SuspendBody {
    /// `true` suspends, `false` resumes.
    pub suspended: Option<bool>,
}

/// Suspend or resume a cluster (200 + cluster); `suspended` flips when the SUSPEND
/// operation succeeds.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/suspend/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)), request_body = SuspendBody,
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Another operation runs or nothing to do", body = super::ErrorDoc)))]
pub async fn suspend_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<SuspendBody>,
) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(suspend) = req.suspended else {
        return Err(Error::field("suspended", "required: true or false").into());
    };
    let params = wire::op_data(wire::SuspendData { current_suspended: !suspend, target_suspended: suspend });
    let change = s.app.clusters().set_suspended_with(&caller, c.id, suspend, params).await.map_err(busy)?;
    Ok(Json(one_doc(&s, &caller, &change.cluster).await?))
}

/// One allowed network.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CrateDbIpEntryBody)]
pub struct IpEntry {
    /// IPv4/IPv6 CIDR or a bare address.
    pub cidr: String,
    /// Free text (the core entry's comment).
    pub description: Option<String>,
}

/// IP-restrictions body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IpRestrictionsBody {
    /// The whole new allow list (empty: no restriction entries).
    pub ip_whitelist: Option<Vec<IpEntry>>,
}

fn ip_entries<'a>(list: impl Iterator<Item = (&'a String, &'a String)>) -> Vec<wire::IpEntry> {
    list.map(|(cidr, comment)| wire::IpEntry { cidr: cidr.clone(), description: comment.clone() }).collect()
}

/// An entry's problem (`[i].cidr`, `[i].comment`) as the vendor reports it: under
/// `ip_whitelist`, naming the entry.
fn entry_problem(field: &str, description: String) -> (String, String) {
    let Some((i, part)) = field.strip_prefix('[').and_then(|f| f.split_once("].")) else {
        return (field.to_string(), description);
    };
    match part {
        "comment" => ("ip_whitelist".into(), format!("entry {i} description: {description}")),
        _ => ("ip_whitelist".into(), format!("entry {i}: {description}")),
    }
}

/// Replace a cluster's whole allow list (200 + cluster), atomically; an
/// ALLOWED_CIDR_UPDATE operation applies it afterwards.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/ip-restrictions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)), request_body = IpRestrictionsBody,
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Another operation runs", body = super::ErrorDoc)))]
pub async fn set_ip_restrictions(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<IpRestrictionsBody>,
) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, Permission::AllowlistManage).await?;
    let Some(list) = req.ip_whitelist else {
        return Err(Error::field("ip_whitelist", "required (an empty list removes every entry)").into());
    };
    let entries: Vec<NewAllowlistEntry> = list
        .into_iter()
        .map(|e| NewAllowlistEntry { cidr: e.cidr, comment: e.description.unwrap_or_default(), expires_at: None, attributes: Default::default() })
        .collect();
    let params = |current: &[AllowlistEntry], new: &[NewAllowlistEntry]| -> Value {
        wire::op_data(wire::IpRestrictionsData {
            current_ip_whitelist: ip_entries(current.iter().map(|e| (&e.cidr, &e.comment))),
            target_ip_whitelist: ip_entries(new.iter().map(|e| (&e.cidr, &e.comment))),
        })
    };
    s.app.allowlist().replace_with(&caller, c.id, entries, params).await.map_err(|e| busy(rename_fields(e, &entry_problem)))?;
    let c = s.app.clusters().get(&caller, c.id).await?;
    Ok(Json(one_doc(&s, &caller, &c).await?))
}

/// Deletion-protection body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeletionProtectionBody {
    /// Whether deletes are refused.
    pub deletion_protected: Option<bool>,
}

/// Turn delete protection on or off (200 + cluster); honoured by the service's delete check.
#[utoipa::path(put, path = "/api/v2/clusters/{cluster_id}/deletion-protection/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)), request_body = DeletionProtectionBody,
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn set_deletion_protection(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(id): Path<String>,
    CrJson(req): CrJson<DeletionProtectionBody>,
) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let Some(on) = req.deletion_protected else {
        return Err(Error::field("deletion_protected", "required: true or false").into());
    };
    let mut attributes = serde_json::Map::new();
    attributes.insert("delete_protection".into(), if on { Value::from("ENABLED") } else { Value::Null });
    let change = s.app.clusters().update(&caller, c.id, ClusterChanges { attributes: Some(attributes), ..Default::default() }).await?;
    Ok(Json(one_doc(&s, &caller, &change.cluster).await?))
}
