//! Changing a cluster (UpdateClusterSpecification): labels, delete protection, usage limits
//! and regions apply at once, node counts run a scale, a version starts a major upgrade.

use super::CockroachErrorBody;
use super::clusters::{cluster_id, live};
use super::create::{check_limits, enum_field, parse_plan};
use super::shape::{busy, crdb, regions_of, render_one, vendor_plan};
use super::wire::{I64, UpdateBody};
use super::{CCaller, CJson, CResult, field};
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dbcloud_app::Permission;
use dbcloud_app::clusters::ClusterChanges;
use dbcloud_types::Plan;
use serde_json::{Map, Value, json};

/// Change a cluster (UpdateClusterSpecification). Node and region changes run a scale
/// operation (the cluster shows `LOCKED` / `CRDB_SCALE_RUNNING`); the rest applies at once.
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = UpdateBody,
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, body = super::shape::ClusterOut, description = "Cluster"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody),
        (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 503, body = CockroachErrorBody)))]
pub async fn update_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CJson(body): CJson<UpdateBody>,
) -> CResult<Response> {
    let cc = version;
    let id = cluster_id(&id)?;
    let c = live(&s, &caller, id, Permission::ClusterUpdate).await?;
    let mut v = dbcloud_core::error::Violations::new();
    let mut crdb = crdb(&c);
    let mut attrs = Map::new();
    let mut spend_limit = None;
    let mut scale_to = None;
    let current_plan = vendor_plan(&c);
    let others = body.serverless.is_some()
        || body.dedicated.is_some()
        || body.plan.is_some()
        || body.labels.is_some()
        || body.delete_protection.is_some()
        || body.parent_id.is_some();
    if body.cockroach_version.is_some() || body.upgrade_status.is_some() {
        if others || (body.cockroach_version.is_some() && body.upgrade_status.is_some()) {
            v.add("cockroach_version", "cockroach_version and upgrade_status go alone, one per request");
        } else if let Some(want) = &body.cockroach_version {
            if format!("v{}", c.version).starts_with(want.as_str()) {
                v.add("cockroach_version", format!("the cluster already runs {want}"));
            } else {
                let change = s.app.clusters().upgrade(&caller, c.id, want.strip_prefix('v').unwrap_or(want)).await.map_err(|e| match e {
                    dbcloud_core::Error::InvalidArgument { .. } => field("cockroach_version", "must be a version such as v24.3, not older than the cluster's"),
                    other => busy(&c, other),
                })?;
                return Ok(Json(render_one(&s, &caller, &change.cluster, cc).await).into_response());
            }
        } else if let Some(st) = &body.upgrade_status {
            match st.as_str() {
                "FINALIZED" => {}
                "ROLLBACK_RUNNING" => return Err(dbcloud_core::Error::FailedPrecondition("no upgrade to roll back".into()).into()),
                _ => v.add("upgrade_status", "must be FINALIZED or ROLLBACK_RUNNING"),
            }
        }
    } else if !others {
        v.add("body", "nothing to change");
    }
    let mut plan = current_plan.clone();
    if let Some(p) = &body.plan {
        match parse_plan(&mut v, "plan", p) {
            Some(new) if new != current_plan && (new == "ADVANCED" || current_plan == "ADVANCED") => {
                v.add("plan", "only BASIC and STANDARD can be changed into each other")
            }
            Some(new) => plan = new.to_string(),
            None => {}
        }
    }
    if let Some(sv) = &body.serverless {
        if c.plan != Plan::Serverless {
            v.add("serverless", "the cluster is ADVANCED; use dedicated");
        }
        if sv.with_empty_ip_allowlist.is_some() {
            v.add("serverless.with_empty_ip_allowlist", "only valid at creation");
        }
        if let Some(rs) = &sv.regions {
            let had: Vec<String> = regions_of(&c, "").into_iter().map(|(r, _)| r).filter(|r| !r.is_empty()).collect();
            for r in &had {
                if !rs.contains(r) {
                    v.add("serverless.regions", format!("region {r} cannot be removed"));
                }
            }
            crdb.insert("regions".into(), json!(rs));
        }
        if let Some(p) = &sv.primary_region {
            crdb.insert("primary_region".into(), json!(p));
        }
        enum_field(&mut v, "serverless.upgrade_type", &sv.upgrade_type, &["MANUAL", "AUTOMATIC"]);
        if let Some(u) = &sv.upgrade_type {
            crdb.insert("upgrade_type".into(), json!(u));
        }
        if let Some(l) = &sv.usage_limits {
            crdb.insert("usage_limits".into(), check_limits(&mut v, &plan, l));
        }
        if let Some(I64(sl)) = sv.spend_limit {
            if version >= "2024-09-16" {
                v.add("serverless.spend_limit", "not defined in Cc-Version 2024-09-16; use usage_limits");
            }
            spend_limit = Some(sl);
        }
    }
    if plan == "STANDARD" && crdb.get("usage_limits").and_then(|l| l.get("provisioned_virtual_cpus")).is_none_or(|x| x.is_null()) {
        v.add("serverless.usage_limits.provisioned_virtual_cpus", "required for STANDARD clusters");
    }
    crdb.insert("plan".into(), json!(plan));
    if let Some(d) = &body.dedicated {
        if c.plan != Plan::Dedicated {
            v.add("dedicated", "the cluster is not ADVANCED; use serverless");
        }
        if d.cockroach_version.is_some() || d.cidr_range.is_some() || d.network_visibility.is_some() {
            v.add("dedicated", "only region_nodes and hardware can be changed");
        }
        if let Some(rn) = &d.region_nodes {
            for (r, n) in rn {
                if *n < 1 {
                    v.add(format!("dedicated.region_nodes.{r}"), "must be at least 1");
                }
            }
            let total: i64 = rn.values().map(|n| *n as i64).sum();
            scale_to = Some(i32::try_from(total).unwrap_or(i32::MAX));
            crdb.insert("region_nodes".into(), json!(rn));
        }
        if let Some(h) = &d.hardware {
            crdb.insert("hardware".into(), serde_json::to_value(h).unwrap_or_default());
        }
    }
    enum_field(&mut v, "delete_protection", &body.delete_protection, &["ENABLED", "DISABLED"]);
    if let Some(p) = &body.parent_id {
        let default = s.app.projects().default_project_id(&caller).await?;
        let now = if c.project_id == default { "root".to_string() } else { c.project_id.to_string() };
        if *p != now {
            v.add("parent_id", "moving a cluster to another folder is not supported by this server");
        }
    }
    v.finish()?;
    if let Some(l) = &body.labels {
        attrs.insert("labels".into(), json!(l));
    }
    if let Some(dp) = &body.delete_protection {
        attrs.insert("delete_protection".into(), json!(dp));
    }
    attrs.insert("crdb".into(), Value::Object(crdb));
    // Metadata applies at once (also while an operation runs); a new node count is a scale
    // operation, refused while another runs.
    let changes = ClusterChanges { spend_limit, node_count: scale_to, attributes: Some(attrs), ..Default::default() };
    let change = s.app.clusters().update(&caller, id, changes).await.map_err(|e| busy(&c, e))?;
    Ok(Json(render_one(&s, &caller, &change.cluster, version).await).into_response())
}
