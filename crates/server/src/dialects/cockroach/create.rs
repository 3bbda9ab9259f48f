//! Creating a cluster from the vendor's request: the vendor's fields are checked and turned
//! into a core create with the vendor attributes kept beside it; the service creates it.

use super::CockroachErrorBody;
use super::shape::{plan_for, render_one};
use super::wire::{CreateBody, I64, UsageLimits};
use super::{CCaller, CJson, CResult, field};
use crate::auth::Caller;
use crate::idem::IdemKey;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dbcloud_app::Created;
use dbcloud_app::clusters::NewCluster;
use dbcloud_app::model::NewAllowlistEntry;
use dbcloud_types::{ClusterChange, CreateCluster, Plan, Provider};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Newest CockroachDB version of the catalogue (the default of new clusters).
pub const DEFAULT_CRDB_VERSION: &str = "24.3.5";

pub(super) fn check_name(name: &str) -> Result<(), String> {
    let ok = (6..=20).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err("must be 6-20 characters of a-z, 0-9 and -, not starting or ending with -".into()) }
}

pub(super) fn parse_plan(v: &mut dbcloud_core::error::Violations, field: &str, p: &str) -> Option<&'static str> {
    match p {
        "BASIC" | "SERVERLESS" => Some("BASIC"),
        "STANDARD" => Some("STANDARD"),
        "ADVANCED" | "DEDICATED" | "CUSTOM" => Some("ADVANCED"),
        _ => {
            v.add(field, "must be BASIC, STANDARD or ADVANCED");
            None
        }
    }
}

pub(super) fn check_region(v: &mut dbcloud_core::error::Violations, f: &str, provider: Option<Provider>, r: &str) {
    if let Some(p) = provider
        && !dbcloud_core::regions::regions(Some(p)).iter().any(|x| x.name == r)
    {
        v.add(f, format!("{r:?} is not a {} region", p.as_str().to_ascii_uppercase()));
    }
}

/// Checks usage limits against a plan; returns them as stored.
pub(super) fn check_limits(v: &mut dbcloud_core::error::Violations, plan: &str, l: &UsageLimits) -> Value {
    let f = "spec.serverless.usage_limits";
    for (name, val) in
        [("provisioned_virtual_cpus", l.provisioned_virtual_cpus), ("request_unit_limit", l.request_unit_limit), ("storage_mib_limit", l.storage_mib_limit)]
    {
        if let Some(I64(n)) = val
            && n <= 0
        {
            v.add(format!("{f}.{name}"), "must be positive");
        }
    }
    match plan {
        "STANDARD" if l.request_unit_limit.is_some() || l.storage_mib_limit.is_some() => v.add(f, "STANDARD clusters take provisioned_virtual_cpus only"),
        "BASIC" if l.provisioned_virtual_cpus.is_some() => v.add(f, "BASIC clusters take request_unit_limit and storage_mib_limit only"),
        _ => {}
    }
    serde_json::to_value(l).unwrap_or_default()
}

pub(super) fn enum_field(v: &mut dbcloud_core::error::Violations, f: &str, val: &Option<String>, allowed: &[&str]) {
    if let Some(x) = val
        && !allowed.contains(&x.as_str())
    {
        v.add(f, format!("must be one of {}", allowed.join(", ")));
    }
}

/// Create a cluster: answers it at once with `state: CREATING`; poll `GET` until `CREATED`.
#[utoipa::path(post, path = "/api/v1/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = CreateBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 200, body = super::shape::ClusterOut, description = "Cluster"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody),
        (status = 403, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn create_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    key: IdemKey,
    CJson(body): CJson<CreateBody>,
) -> CResult<Response> {
    let created = create(&s, &caller, version, key, body).await?;
    let mut out = Json(render_one(&s, &caller, &created.value.cluster, version).await).into_response();
    if created.replayed {
        out.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    Ok(out)
}

/// Creates a cluster from a vendor create request (checked against `version`): the core
/// change as created (or as first answered, for a replayed `Idempotency-Key`).
pub async fn create(s: &AppState, caller: &Caller, version: &str, key: IdemKey, body: CreateBody) -> CResult<Created<ClusterChange>> {
    let mut v = dbcloud_core::error::Violations::new();
    v.check("name", check_name(&body.name));
    let provider = Provider::parse(&body.provider.to_ascii_lowercase());
    if provider.is_none() {
        v.add("provider", "must be GCP, AWS or AZURE");
    }
    let spec = &body.spec;
    let plan_in = match (&body.plan, &spec.plan) {
        (Some(a), Some(b)) if a != b => {
            v.add("plan", "differs from spec.plan");
            None
        }
        (a, b) => a.as_ref().or(b.as_ref()).and_then(|p| parse_plan(&mut v, "plan", p)),
    };
    let mut attrs = Map::new();
    let mut crdb = Map::new();
    let (core_plan, region, node_count, node_size, spend_limit, mut plan) = match (&spec.serverless, &spec.dedicated) {
        (Some(sv), None) => {
            let regions = sv.regions.clone().unwrap_or_default();
            if regions.is_empty() {
                v.add("spec.serverless.regions", "at least one region is required");
            }
            for (i, r) in regions.iter().enumerate() {
                check_region(&mut v, &format!("spec.serverless.regions[{i}]"), provider, r);
            }
            match (&sv.primary_region, regions.len()) {
                (None, n) if n > 1 => v.add("spec.serverless.primary_region", "required with several regions"),
                (Some(p), _) if !regions.contains(p) => v.add("spec.serverless.primary_region", "must be one of the regions"),
                _ => {}
            }
            enum_field(&mut v, "spec.serverless.upgrade_type", &sv.upgrade_type, &["MANUAL", "AUTOMATIC"]);
            let plan = plan_in.unwrap_or(if sv.usage_limits.as_ref().is_some_and(|l| l.provisioned_virtual_cpus.is_some()) { "STANDARD" } else { "BASIC" });
            if plan == "ADVANCED" {
                v.add("plan", "ADVANCED clusters take spec.dedicated");
            }
            if let Some(l) = &sv.usage_limits {
                crdb.insert("usage_limits".into(), check_limits(&mut v, plan, l));
            }
            if plan == "STANDARD" && sv.usage_limits.as_ref().is_none_or(|l| l.provisioned_virtual_cpus.is_none()) {
                v.add("spec.serverless.usage_limits.provisioned_virtual_cpus", "required for STANDARD clusters");
            }
            if sv.spend_limit.is_some() && version >= "2024-09-16" {
                v.add("spec.serverless.spend_limit", "not defined in Cc-Version 2024-09-16; use usage_limits");
            }
            crdb.insert("regions".into(), json!(regions));
            if let Some(p) = &sv.primary_region {
                crdb.insert("primary_region".into(), json!(p));
            }
            if let Some(u) = &sv.upgrade_type {
                crdb.insert("upgrade_type".into(), json!(u));
            }
            (Plan::Serverless, regions.first().cloned(), None, None, sv.spend_limit.map(|x| x.0), plan)
        }
        (None, Some(d)) => {
            let rn = d.region_nodes.clone().unwrap_or_default();
            if rn.is_empty() {
                v.add("spec.dedicated.region_nodes", "at least one region is required");
            }
            for (r, n) in &rn {
                check_region(&mut v, "spec.dedicated.region_nodes", provider, r);
                if *n < 1 {
                    v.add(format!("spec.dedicated.region_nodes.{r}"), "must be at least 1");
                }
            }
            let total: i64 = rn.values().map(|n| *n as i64).sum();
            enum_field(&mut v, "spec.dedicated.network_visibility", &d.network_visibility, &["PUBLIC", "PRIVATE"]);
            if let Some(cidr) = &d.cidr_range
                && cidr.parse::<ipnet::Ipv4Net>().is_err()
            {
                v.add("spec.dedicated.cidr_range", "must be an IPv4 CIDR");
            }
            let plan = plan_in.unwrap_or("ADVANCED");
            if plan != "ADVANCED" {
                v.add("plan", "BASIC and STANDARD clusters take spec.serverless");
            }
            crdb.insert("region_nodes".into(), json!(rn));
            if let Some(h) = &d.hardware {
                crdb.insert("hardware".into(), serde_json::to_value(h).unwrap_or_default());
            }
            for (k, val) in [
                ("cidr_range", d.cidr_range.clone().map(Value::from)),
                ("network_visibility", d.network_visibility.clone().map(Value::from)),
                ("restrict_egress_traffic", d.restrict_egress_traffic.map(Value::from)),
                ("supports_cluster_virtualization", d.supports_cluster_virtualization.map(Value::from)),
            ] {
                if let Some(val) = val {
                    crdb.insert(k.into(), val);
                }
            }
            let size = d.hardware.as_ref().and_then(|h| h.machine_spec.as_ref()).and_then(|m| m.machine_type.clone());
            (Plan::Dedicated, rn.keys().next().cloned(), Some(i32::try_from(total).unwrap_or(i32::MAX)), size, None, plan)
        }
        _ => {
            v.add("spec", "give exactly one of serverless and dedicated");
            (Plan::Serverless, None, None, None, None, "BASIC")
        }
    };
    enum_field(&mut v, "spec.delete_protection", &spec.delete_protection, &["ENABLED", "DISABLED"]);
    let version_core = match spec.dedicated.as_ref().and_then(|d| d.cockroach_version.as_deref()) {
        None => DEFAULT_CRDB_VERSION.to_string(),
        Some(want) => match want.strip_prefix('v') {
            Some(x) if dbcloud_core::validate::version(x).is_ok() => x.to_string(),
            _ => {
                v.add("spec.dedicated.cockroach_version", "must look like v24.3");
                String::new()
            }
        },
    };
    let project = match spec.parent_id.as_deref() {
        None | Some("root") => None,
        Some(p) => match Uuid::try_parse(p) {
            Ok(id) => Some(id),
            Err(_) => {
                v.add("spec.parent_id", "must be root or a folder id");
                None
            }
        },
    };
    v.finish()?;
    plan = plan_for(plan, "2024-09-16");
    crdb.insert("plan".into(), json!(plan));
    if let Some(p) = &spec.parent_id {
        crdb.insert("parent_id".into(), json!(p));
    }
    if let Some(cca) = &spec.customer_cloud_account {
        crdb.insert("customer_cloud_account".into(), cca.clone());
    }
    if let Some(l) = &spec.labels {
        attrs.insert("labels".into(), json!(l));
    }
    if let Some(dp) = &spec.delete_protection {
        attrs.insert("delete_protection".into(), json!(dp));
    }
    attrs.insert("crdb".into(), Value::Object(crdb));
    let provider = provider.expect("checked");
    let core_req = CreateCluster {
        name: body.name.clone(),
        provider: Some(provider),
        region: region.clone(),
        plan: Some(core_plan),
        version: Some(version_core),
        node_count,
        node_size,
        spend_limit,
        ..Default::default()
    };
    let project = match project {
        Some(p) => match s.app.projects().get(caller, p).await {
            Ok(_) => Some(p),
            Err(dbcloud_core::Error::NotFound(_)) => return Err(field("spec.parent_id", format!("folder {p} not found"))),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    // Serverless clusters start open to the world unless asked otherwise (vendor default).
    let empty_allowlist = spec.serverless.as_ref().and_then(|sv| sv.with_empty_ip_allowlist).unwrap_or(spec.serverless.is_none());
    let allowlist = if empty_allowlist {
        vec![]
    } else {
        vec![NewAllowlistEntry { cidr: "0.0.0.0/0".into(), comment: "default".into(), expires_at: None, attributes: flags(true, true) }]
    };
    let new = NewCluster { spec: CreateCluster { project_id: project, ..core_req }, attributes: attrs, allowlist };
    Ok(s.app.clusters().create(caller, new, key.0.as_deref()).await?)
}

/// The vendor flags of an allow-list entry.
pub fn flags(ui: bool, sql: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ui".into(), json!(ui));
    m.insert("sql".into(), json!(sql));
    m
}
