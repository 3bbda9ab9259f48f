//! Clusters in the vendor's shape: list, create, get, PATCH, delete, the legacy spend-limit
//! PUT, nodes, available regions, organization.

use super::paging::{ListQuery, Paging};
use super::{CCaller, CJson, CQuery, CResult, CrdbError, field, rfc3339};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::idem::{self, IdemKey};
use crate::routes::clusters::{authorized_cluster, provision};
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_store::{CloudRef, ClusterFilter, ClusterUpdate, NewOperation, PageReq};
use dbcloud_types::{Cluster, ClusterChange, ClusterState, Code, CreateCluster, ErrorBody, OperationKind, Plan, Provider};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Newest CockroachDB version of the catalogue (the default of new clusters).
pub const DEFAULT_CRDB_VERSION: &str = "24.3.5";

/// A 64-bit integer sent as a JSON string or number.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct I64(pub i64);

impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64().map(I64).ok_or_else(|| serde::de::Error::custom("must be an integer")),
            Value::String(s) => s.trim().parse().map(I64).map_err(|_| serde::de::Error::custom("must be an integer")),
            _ => Err(serde::de::Error::custom("must be an integer (number or string)")),
        }
    }
}

/// Usage limits of BASIC / STANDARD clusters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageLimits {
    /// STANDARD: provisioned vCPUs.
    #[serde(alias = "provisionedVirtualCpus")]
    pub provisioned_virtual_cpus: Option<I64>,
    /// BASIC: request units per month.
    #[serde(alias = "requestUnitLimit")]
    pub request_unit_limit: Option<I64>,
    /// BASIC: storage in MiB.
    #[serde(alias = "storageMibLimit")]
    pub storage_mib_limit: Option<I64>,
}

/// `spec.serverless` of a create or update.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerlessSpec {
    /// Regions, the first being where the cluster's cloud is.
    pub regions: Option<Vec<String>>,
    /// Primary region (required with several regions).
    #[serde(alias = "primaryRegion")]
    pub primary_region: Option<String>,
    /// `MANUAL` or `AUTOMATIC`.
    #[serde(alias = "upgradeType")]
    pub upgrade_type: Option<String>,
    /// Usage limits.
    #[serde(alias = "usageLimits")]
    pub usage_limits: Option<UsageLimits>,
    /// Start without the default `0.0.0.0/0` allow-list entry.
    #[serde(alias = "withEmptyIpAllowlist")]
    pub with_empty_ip_allowlist: Option<bool>,
    /// Versions before 2024-09-16: spend limit in US cents.
    #[serde(alias = "spendLimit")]
    pub spend_limit: Option<I64>,
}

/// Machine of a dedicated cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    /// Instance type.
    #[serde(alias = "machineType", skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    /// vCPUs per node.
    #[serde(alias = "numVirtualCpus", skip_serializing_if = "Option::is_none")]
    pub num_virtual_cpus: Option<i32>,
}

/// Hardware of a dedicated cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Machine.
    #[serde(alias = "machineSpec")]
    pub machine_spec: Option<MachineSpec>,
    /// Storage per node (0 = smallest).
    #[serde(alias = "storageGib")]
    pub storage_gib: Option<i32>,
    /// Disk IOPS.
    #[serde(alias = "diskIops")]
    pub disk_iops: Option<i32>,
}

/// `spec.dedicated` of a create or update.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedicatedSpec {
    /// Nodes per region.
    #[serde(alias = "regionNodes")]
    pub region_nodes: Option<BTreeMap<String, i32>>,
    /// Hardware.
    pub hardware: Option<Hardware>,
    /// Major version, e.g. `v24.3`.
    #[serde(alias = "cockroachVersion")]
    pub cockroach_version: Option<String>,
    /// Private network range (stored and echoed).
    #[serde(alias = "cidrRange")]
    pub cidr_range: Option<String>,
    /// `PUBLIC` or `PRIVATE` (stored and echoed).
    #[serde(alias = "networkVisibility")]
    pub network_visibility: Option<String>,
    /// Stored and echoed.
    #[serde(alias = "restrictEgressTraffic")]
    pub restrict_egress_traffic: Option<bool>,
    /// Stored and echoed.
    #[serde(alias = "supportsClusterVirtualization")]
    pub supports_cluster_virtualization: Option<bool>,
}

/// `spec` of a create.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSpecBody {
    /// Serverless (BASIC / STANDARD).
    pub serverless: Option<ServerlessSpec>,
    /// Dedicated (ADVANCED).
    pub dedicated: Option<DedicatedSpec>,
    /// Plan (may also sit at top level).
    pub plan: Option<String>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// `root` or a folder (project) id.
    #[serde(alias = "parentId")]
    pub parent_id: Option<String>,
    /// `ENABLED` or `DISABLED`.
    #[serde(alias = "deleteProtection")]
    pub delete_protection: Option<String>,
    /// Stored and echoed.
    #[serde(alias = "customerCloudAccount")]
    pub customer_cloud_account: Option<Value>,
}

/// `POST /api/v1/clusters`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name: 6–20 of `a-z0-9-`.
    pub name: String,
    /// `GCP`, `AWS` or `AZURE`.
    pub provider: String,
    /// Plan.
    pub plan: Option<String>,
    /// Specification.
    pub spec: CreateSpecBody,
}

/// `PATCH /api/v1/clusters/{id}` (UpdateClusterSpecification).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// Serverless changes.
    pub serverless: Option<ServerlessSpec>,
    /// Dedicated changes.
    pub dedicated: Option<DedicatedSpec>,
    /// BASIC ↔ STANDARD.
    pub plan: Option<String>,
    /// Replaces every label.
    pub labels: Option<BTreeMap<String, String>>,
    /// `ENABLED` or `DISABLED`.
    #[serde(alias = "deleteProtection")]
    pub delete_protection: Option<String>,
    /// Folder.
    #[serde(alias = "parentId")]
    pub parent_id: Option<String>,
    /// Start a major upgrade or roll back.
    #[serde(alias = "cockroachVersion")]
    pub cockroach_version: Option<String>,
    /// `FINALIZED` or `ROLLBACK_RUNNING`.
    #[serde(alias = "upgradeStatus")]
    pub upgrade_status: Option<String>,
}

/// The vendor attributes kept with a cluster (`attributes.crdb`).
fn crdb(c: &Cluster) -> Map<String, Value> {
    c.attributes.get("crdb").and_then(|v| v.as_object()).cloned().unwrap_or_default()
}

/// The vendor plan of a cluster: BASIC, STANDARD or ADVANCED.
pub fn vendor_plan(c: &Cluster) -> String {
    match crdb(c).get("plan").and_then(|v| v.as_str()) {
        Some(p) => p.to_string(),
        None if c.plan == Plan::Serverless => "BASIC".into(),
        None => "ADVANCED".into(),
    }
}

/// The plan as `version` names it.
pub fn plan_for(plan: &str, version: &str) -> &'static str {
    match (plan, version >= "2024-09-16") {
        ("STANDARD", true) => "STANDARD",
        ("ADVANCED", true) => "ADVANCED",
        (_, true) => "BASIC",
        ("ADVANCED", false) => "DEDICATED",
        (_, false) => "SERVERLESS",
    }
}

fn state(s: ClusterState) -> (&'static str, &'static str) {
    match s {
        ClusterState::Creating => ("CREATING", "UNSPECIFIED"),
        ClusterState::Created => ("CREATED", "UNSPECIFIED"),
        ClusterState::CreationFailed => ("CREATION_FAILED", "UNSPECIFIED"),
        ClusterState::Scaling => ("LOCKED", "CRDB_SCALE_RUNNING"),
        ClusterState::Updating => ("LOCKED", "CRDB_EDIT_CLUSTER_RUNNING"),
        ClusterState::Deleting | ClusterState::Deleted => ("DELETED", "UNSPECIFIED"),
    }
}

/// Routing id of a cluster (used in host names).
pub fn routing_id(c: &Cluster) -> String {
    format!("{}-{}", c.name, &c.id.simple().to_string()[28..])
}

/// The cluster's regions: `(name, node_count)`, in the order the client gave them.
pub fn regions_of(c: &Cluster, cloud_region: &str) -> Vec<(String, i64)> {
    let a = crdb(c);
    if let Some(rn) = a.get("region_nodes").and_then(|v| v.as_object()) {
        return rn.iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0))).collect();
    }
    if let Some(rs) = a.get("regions").and_then(|v| v.as_array()) {
        return rs.iter().filter_map(|r| r.as_str()).map(|r| (r.to_string(), 0)).collect();
    }
    let nodes = if c.plan == Plan::Dedicated { c.node_count as i64 } else { 0 };
    vec![(cloud_region.to_string(), nodes)]
}

/// An attribute value, or a default when the cluster has none.
struct Attr<'a>(Option<&'a Value>, Fallback);

#[derive(Clone, Copy)]
/// What an absent attribute shows.
enum Fallback {
    Str(&'static str),
    EmptyObject,
    Null,
}

impl Serialize for Attr<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match (self.0, self.1) {
            (Some(v), _) => v.serialize(s),
            (None, Fallback::Str(x)) => s.serialize_str(x),
            (None, Fallback::EmptyObject) => s.serialize_map(Some(0))?.end(),
            (None, Fallback::Null) => s.serialize_none(),
        }
    }
}

/// A region of a cluster (Region).
#[derive(Serialize)]
struct RegionOut<'a> {
    name: &'a str,
    sql_dns: String,
    ui_dns: String,
    internal_dns: String,
    private_endpoint_dns: &'static str,
    node_count: i64,
    primary: bool,
    s3_vpc_endpoint_id: &'static str,
}

#[derive(Serialize)]
struct Limits {
    provisioned_virtual_cpus: String,
    request_unit_limit: String,
    storage_mib_limit: String,
}

#[derive(Serialize)]
struct ServerlessOut<'a> {
    routing_id: String,
    upgrade_type: Attr<'a>,
    usage_limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    spend_limit: Option<i64>,
}

#[derive(Serialize)]
struct DedicatedOut<'a> {
    machine_type: &'a str,
    num_virtual_cpus: i64,
    storage_gib: i64,
    memory_gib: f64,
    disk_iops: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ConfigOut<'a> {
    Serverless(ServerlessOut<'a>),
    Dedicated(DedicatedOut<'a>),
}

/// A cluster in the vendor's shape (Cluster), serialized without an intermediate tree.
#[derive(Serialize)]
pub struct ClusterOut<'a> {
    id: Uuid,
    name: &'a str,
    cockroach_version: String,
    upgrade_status: &'static str,
    plan: &'static str,
    cloud_provider: String,
    provider: String,
    state: &'static str,
    operation_status: &'static str,
    creator_id: &'a str,
    config: ConfigOut<'a>,
    regions: Vec<RegionOut<'a>>,
    sql_dns: String,
    cidr_range: Attr<'a>,
    labels: Attr<'a>,
    is_customer_cloud_account: bool,
    delete_protection: Attr<'a>,
    network_visibility: Attr<'a>,
    egress_traffic_policy: &'static str,
    parent_id: String,
    account_id: &'static str,
    customer_cloud_account: Attr<'a>,
    created_at: String,
    updated_at: String,
    deleted_at: Option<String>,
}

/// A core cluster in the vendor's shape, for serializing (lists) or as a tree ([`render`]).
pub fn shape<'a>(c: &'a Cluster, provider_region: Option<&'a (String, String)>, version: &str, default_project: Option<Uuid>) -> ClusterOut<'a> {
    let (provider, region) = provider_region.map(|(p, r)| (p.as_str(), r.as_str())).unwrap_or_default();
    let a = c.attributes.get("crdb").and_then(|v| v.as_object());
    let get = |k: &str| a.and_then(|a| a.get(k));
    let (st, mut op) = state(c.state);
    if op == "UNSPECIFIED" && version < "2023-04-10" {
        op = "CLUSTER_STATUS_UNSPECIFIED";
    }
    let routing = routing_id(c);
    let core_sql = c.endpoints.iter().find(|e| e.kind == "sql").map(|e| e.host.as_str());
    let primary = get("primary_region").and_then(|v| v.as_str());
    let region_list: Vec<(&'a str, i64)> = match (get("region_nodes").and_then(|v| v.as_object()), get("regions").and_then(|v| v.as_array())) {
        (Some(rn), _) => rn.iter().map(|(k, v)| (k.as_str(), v.as_i64().unwrap_or(0))).collect(),
        (None, Some(rs)) => rs.iter().filter_map(|r| r.as_str()).map(|r| (r, 0)).collect(),
        (None, None) => vec![(region, if c.plan == Plan::Dedicated { c.node_count as i64 } else { 0 })],
    };
    let many = region_list.len() > 1;
    let regions: Vec<RegionOut<'a>> = region_list
        .into_iter()
        .enumerate()
        .map(|(i, (name, nodes))| {
            let sql = match (core_sql, i) {
                (Some(h), 0) => h.to_string(),
                (Some(_), _) => format!("{routing}.{name}.dbcloud.local"),
                (None, _) => String::new(),
            };
            let (ui, internal) = if sql.is_empty() {
                (String::new(), String::new())
            } else {
                (format!("admin-{routing}.{name}.dbcloud.local"), format!("internal-{routing}.{name}.dbcloud.local"))
            };
            RegionOut {
                name,
                sql_dns: sql,
                ui_dns: ui,
                internal_dns: internal,
                private_endpoint_dns: "",
                node_count: nodes,
                primary: many && primary == Some(name),
                s3_vpc_endpoint_id: "",
            }
        })
        .collect();
    let sql_dns = regions.first().map(|r| r.sql_dns.clone()).unwrap_or_default();
    let config = match c.plan {
        Plan::Serverless => {
            let lim = |k: &str| get("usage_limits").and_then(|l| l.get(k)).and_then(|v| v.as_i64()).unwrap_or(0).to_string();
            ConfigOut::Serverless(ServerlessOut {
                routing_id: routing,
                upgrade_type: Attr(get("upgrade_type"), Fallback::Str("AUTOMATIC")),
                usage_limits: Limits {
                    provisioned_virtual_cpus: lim("provisioned_virtual_cpus"),
                    request_unit_limit: lim("request_unit_limit"),
                    storage_mib_limit: lim("storage_mib_limit"),
                },
                spend_limit: (version < "2024-09-16").then(|| c.spend_limit.unwrap_or(0)),
            })
        }
        Plan::Dedicated => {
            let hw = get("hardware");
            let vcpus = hw.and_then(|h| h.pointer("/machine_spec/num_virtual_cpus")).and_then(|v| v.as_i64()).unwrap_or(4);
            let storage = hw.and_then(|h| h.get("storage_gib")).and_then(|v| v.as_i64()).filter(|s| *s > 0).unwrap_or(150);
            ConfigOut::Dedicated(DedicatedOut {
                machine_type: hw.and_then(|h| h.pointer("/machine_spec/machine_type")).and_then(|v| v.as_str()).unwrap_or(&c.node_size),
                num_virtual_cpus: vcpus,
                storage_gib: storage,
                memory_gib: (vcpus * 4) as f64,
                disk_iops: hw.and_then(|h| h.get("disk_iops")).and_then(|v| v.as_i64()).unwrap_or(storage * 3),
            })
        }
    };
    let plan = match get("plan").and_then(|v| v.as_str()) {
        Some(p) => plan_for(p, version),
        None if c.plan == Plan::Serverless => plan_for("BASIC", version),
        None => plan_for("ADVANCED", version),
    };
    let deleted = matches!(c.state, ClusterState::Deleting | ClusterState::Deleted);
    let cca = get("customer_cloud_account");
    ClusterOut {
        id: c.id,
        name: &c.name,
        cockroach_version: format!("v{}", c.version),
        upgrade_status: "FINALIZED",
        plan,
        cloud_provider: provider.to_ascii_uppercase(),
        provider: provider.to_ascii_uppercase(),
        state: st,
        operation_status: op,
        creator_id: &c.created_by,
        config,
        regions,
        sql_dns,
        cidr_range: Attr(get("cidr_range"), Fallback::Str("")),
        labels: Attr(c.attributes.get("labels"), Fallback::EmptyObject),
        is_customer_cloud_account: cca.is_some_and(|v| !v.is_null()),
        delete_protection: Attr(c.attributes.get("delete_protection"), Fallback::Str("DISABLED")),
        network_visibility: Attr(get("network_visibility"), Fallback::Str("PUBLIC")),
        egress_traffic_policy: if get("restrict_egress_traffic") == Some(&Value::Bool(true)) { "DEFAULT_DENY" } else { "ALLOW_ALL" },
        parent_id: if default_project.is_none_or(|d| d == c.project_id) { "root".to_string() } else { c.project_id.to_string() },
        account_id: "",
        customer_cloud_account: Attr(cca, Fallback::Null),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
        deleted_at: deleted.then(|| rfc3339(c.updated_at)),
    }
}

/// A core cluster in the vendor's shape, as a JSON tree.
pub fn render(c: &Cluster, provider_region: Option<&(String, String)>, version: &str, default_project: Option<Uuid>) -> Value {
    serde_json::to_value(shape(c, provider_region, version, default_project)).unwrap_or(Value::Null)
}

/// Renders one cluster, looking up its cloud and the default project.
pub async fn render_one(s: &AppState, org: Uuid, c: &Cluster, version: &str) -> Value {
    let cloud = s.store.get_cloud(org, c.cloud_id).await.ok().map(|k| (k.provider.as_str().to_string(), k.region));
    let default = s.store.default_project(org).await.ok().map(|p| p.id);
    let mut v = render(c, cloud.as_ref(), version, default);
    // The running operation, if any, is the cluster's newest (one runs at a time).
    if c.state == ClusterState::Updating
        && let Ok(newest) = s.store.latest_operations(org, &[c.id]).await
        && newest.iter().any(|o| o.status.is_active() && o.kind == OperationKind::Upgrade)
    {
        v["operation_status"] = json!("CRDB_MAJOR_UPGRADE_RUNNING");
        v["upgrade_status"] = json!("MAJOR_UPGRADE_RUNNING");
    }
    v
}

/// 503 for a cluster that is being created or changed (spec §7).
pub fn locked(c: &Cluster) -> Option<CrdbError> {
    let what = match c.state {
        ClusterState::Creating => "cluster creation",
        ClusterState::Scaling => "CRDB_SCALE",
        ClusterState::Updating => "CRDB_EDIT_CLUSTER",
        _ => return None,
    };
    let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, format!("cluster {} is locked: {what} in progress", c.id));
    e.retry_after = Some(1);
    Some(CrdbError(e))
}

/// Loads a cluster the caller holds `p` on that is not deleted (404 once it is).
pub async fn live(s: &AppState, caller: &Caller, id: Uuid, p: Permission) -> CResult<Cluster> {
    let c = authorized_cluster(s, caller, id, p).await?;
    if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
        return Err(dbcloud_core::Error::NotFound(format!("cluster {id}")).into());
    }
    Ok(c)
}

/// Loads a cluster for a change: deleted → 404, busy → 503.
pub async fn changeable(s: &AppState, caller: &Caller, id: Uuid, p: Permission) -> CResult<Cluster> {
    let c = live(s, caller, id, p).await?;
    match locked(&c) {
        Some(e) => Err(e),
        None => Ok(c),
    }
}

/// Maps a store "busy" refusal to the dialect's 503.
fn busy(c: &Cluster, e: dbcloud_core::Error) -> CrdbError {
    match e {
        dbcloud_core::Error::Aborted(_) | dbcloud_core::Error::Busy { .. } => {
            let mut busy = c.clone();
            busy.state = ClusterState::Updating;
            locked(&busy).unwrap_or_else(|| dbcloud_core::Error::Aborted("busy".into()).into())
        }
        other => other.into(),
    }
}

/// Get a cluster (also when deleted).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
) -> CResult<Json<Value>> {
    let id = cluster_id(&id)?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    Ok(Json(render_one(&s, caller.org(), &c, version).await))
}

/// Parses a cluster id of a path (400 naming `cluster_id` when malformed).
pub fn cluster_id(s: &str) -> CResult<Uuid> {
    Uuid::try_parse(s).map_err(|_| field("cluster_id", "must be a UUID"))
}

/// Delete a cluster; answers the cluster with `state: DELETED` while teardown continues.
/// A cluster that is still being created or changed answers 503 (code 14) with `Retry-After`.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the deleted Cluster"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
) -> CResult<Json<Value>> {
    let id = cluster_id(&id)?;
    let c = changeable(&s, &caller, id, Permission::ClusterDelete).await?;
    let change = remove(&s, &caller, &c).await?;
    Ok(Json(render_one(&s, caller.org(), &change.cluster, version).await))
}

/// Deletes a loaded cluster (delete protection and state checked by the core).
pub async fn remove(s: &AppState, caller: &Caller, c: &Cluster) -> CResult<ClusterChange> {
    dbcloud_core::cluster::check_delete(c).map_err(|e| busy(c, e))?;
    let op = NewOperation::new(OperationKind::Delete, json!({}));
    let change = s.store.delete_cluster(&caller.ctx(None), c.id, &op).await;
    s.clusters.invalidate(c.id);
    let change = change.map_err(|e| busy(c, e))?;
    s.runner.wake();
    Ok(change)
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = (6..=20).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err("must be 6-20 characters of a-z, 0-9 and -, not starting or ending with -".into()) }
}

fn parse_plan(v: &mut dbcloud_core::error::Violations, field: &str, p: &str) -> Option<&'static str> {
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

fn check_region(v: &mut dbcloud_core::error::Violations, f: &str, provider: Option<Provider>, r: &str) {
    if let Some(p) = provider
        && !dbcloud_core::regions::regions(Some(p)).iter().any(|x| x.name == r)
    {
        v.add(f, format!("{r:?} is not a {} region", p.as_str().to_ascii_uppercase()));
    }
}

/// Checks usage limits against a plan; returns them as stored.
fn check_limits(v: &mut dbcloud_core::error::Violations, plan: &str, l: &UsageLimits) -> Value {
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

fn enum_field(v: &mut dbcloud_core::error::Violations, f: &str, val: &Option<String>, allowed: &[&str]) {
    if let Some(x) = val
        && !allowed.contains(&x.as_str())
    {
        v.add(f, format!("must be one of {}", allowed.join(", ")));
    }
}

/// Create a cluster: answers it at once with `state: CREATING`; poll `GET` until `CREATED`.
#[utoipa::path(post, path = "/api/v1/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = Object,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe create")),
    responses((status = 200, description = "Cluster"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    key: IdemKey,
    CJson(body): CJson<CreateBody>,
) -> CResult<Response> {
    let (change, replayed) = create(&s, &caller, version, key, body).await?;
    let mut out = Json(render_one(&s, caller.org(), &change.cluster, version).await).into_response();
    if replayed {
        out.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    Ok(out)
}

/// Creates a cluster from a vendor create request (checked against `version`): the core
/// change as created (or as first answered, for a replayed `Idempotency-Key`) and whether
/// it was a replay.
pub async fn create(s: &AppState, caller: &Caller, version: &str, key: IdemKey, body: CreateBody) -> CResult<(ClusterChange, bool)> {
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
    let checked = dbcloud_core::cluster::check_create(&core_req)?;
    let project = match project {
        Some(p) => {
            s.store.get_project(caller.org(), p).await.map_err(|_| field("spec.parent_id", format!("folder {p} not found")))?;
            p
        }
        None => s.store.default_project(caller.org()).await?.id,
    };
    caller.require(Permission::ClusterCreate, Target::Project(project)).await?;
    let empty_allowlist = spec.serverless.as_ref().and_then(|sv| sv.with_empty_ip_allowlist).unwrap_or(spec.serverless.is_none());
    let cloud = CloudRef::ProviderRegion(provider, region.unwrap_or_default());
    let request = json!({"name": body.name, "attributes": attrs, "project": project, "core": core_req});
    let runner = s.runner.clone();
    let res = idem::create(
        s,
        caller,
        key,
        "POST /api/v1/clusters",
        &request,
        StatusCode::OK,
        |ctx| {
            let (s, caller) = (s.clone(), caller.clone());
            async move { provision(&s, &caller, ctx, checked, project, cloud, attrs).await }
        },
        |change| Json(change).into_response(),
    )
    .await?;
    runner.wake();
    // The stored answer (also for a replayed Idempotency-Key) is the core change; answer it
    // in the vendor's shape.
    let replayed = res.headers().contains_key("idempotent-replayed");
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.map_err(|e| dbcloud_core::Error::Internal(e.to_string()))?;
    let change: ClusterChange = serde_json::from_slice(&bytes).map_err(|e| dbcloud_core::Error::Internal(e.to_string()))?;
    if !replayed && !empty_allowlist {
        let entry = dbcloud_store::NewAllowlistEntry {
            cidr: "0.0.0.0/0".into(),
            comment: "default".into(),
            expires_at: None,
            attributes: json!({"sql": true, "ui": true}).as_object().cloned().unwrap_or_default(),
        };
        if let Err(e) = s.store.create_allowlist_entry(&caller.ctx(None), change.cluster.id, &entry).await {
            tracing::warn!(error = %e, cluster = %change.cluster.id, "could not add the default allow-list entry");
        }
    }
    Ok((change, replayed))
}

/// Change a cluster (UpdateClusterSpecification). Node and region changes run a scale
/// operation (the cluster shows `LOCKED` / `CRDB_SCALE_RUNNING`); the rest applies at once.
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster_id}", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = Object,
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Cluster"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update_cluster(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CJson(body): CJson<UpdateBody>,
) -> CResult<Json<Value>> {
    let cc = version;
    let id = cluster_id(&id)?;
    let c = changeable(&s, &caller, id, Permission::ClusterUpdate).await?;
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
                let version = dbcloud_core::cluster::check_upgrade(&c, want.strip_prefix('v').unwrap_or(want)).map_err(|e| match e {
                    dbcloud_core::Error::InvalidArgument { .. } => field("cockroach_version", "must be a version such as v24.3, not older than the cluster's"),
                    other => busy(&c, other),
                })?;
                let op = crate::routes::clusters::upgrade_operation(&c, &version);
                let change = crate::routes::clusters::start_operation(&s, &caller, c.id, &op, "cluster.upgrade").await.map_err(|e| busy(&c, e))?;
                return Ok(Json(render_one(&s, caller.org(), &change.cluster, cc).await));
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
        let default = s.store.default_project(caller.org()).await?.id;
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
    let core = dbcloud_types::UpdateCluster { name: None, spend_limit, node_count: scale_to };
    let mut update = ClusterUpdate { attributes: Some(attrs), ..Default::default() };
    if core.spend_limit.is_some() || core.node_count.is_some() {
        let planned = dbcloud_core::cluster::check_update(&c, &core)?;
        update.spend_limit = planned.spend_limit;
        update.scale = planned.scale_to.map(|n| NewOperation::new(OperationKind::Scale, json!({ "node_count": n, "from": c.node_count })));
    }
    let change = s.store.update_cluster(&caller.ctx(None), id, &update).await;
    s.clusters.invalidate(id);
    let change = change.map_err(|e| busy(&c, e))?;
    if change.operation.is_some() {
        s.runner.wake();
    }
    Ok(Json(render_one(&s, caller.org(), &change.cluster, version).await))
}

/// Body of the legacy spend-limit PUT.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendLimitBody {
    /// US cents per month.
    #[serde(alias = "spendLimit")]
    pub spend_limit: I64,
}

/// Sets a serverless cluster's spend limit (in cents) under a dialect's unit.
pub async fn set_spend_limit(s: &AppState, caller: &Caller, id: Uuid, cents: i64) -> CResult<()> {
    let c = changeable(s, caller, id, Permission::ClusterUpdate).await?;
    if c.plan != Plan::Serverless {
        return Err(dbcloud_core::Error::FailedPrecondition("ADVANCED clusters have no spend limit".into()).into());
    }
    if !(0..=i32::MAX as i64).contains(&cents) {
        return Err(field("spend_limit", "must be a non-negative int32"));
    }
    let planned = dbcloud_core::cluster::check_update(&c, &dbcloud_types::UpdateCluster { spend_limit: Some(cents), ..Default::default() })?;
    let change = s.store.update_cluster(&caller.ctx(None), id, &ClusterUpdate { spend_limit: planned.spend_limit, ..Default::default() }).await;
    s.clusters.invalidate(id);
    change.map_err(|e| busy(&c, e))?;
    Ok(())
}

/// Legacy: set the spend limit of a serverless cluster (US cents), under any `Cc-Version`.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster_id}/spend-limit", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = Object,
    params(("cluster_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{}"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn spend_limit(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(body): CJson<SpendLimitBody>,
) -> CResult<Json<Value>> {
    let id = cluster_id(&id)?;
    set_spend_limit(&s, &caller, id, body.spend_limit.0).await?;
    Ok(Json(json!({})))
}

/// The region catalogue in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/clusters/available-regions", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListAvailableRegionsResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn available_regions(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    caller.require_somewhere(Permission::CloudRead).await?;
    let provider = parse_provider(q.provider.as_deref())?;
    let paging = Paging::new(&q, "available-regions", q.provider.as_deref().unwrap_or(""), &s.auth.cfg.master_key)?;
    let (regions, next) = paging.apply(dbcloud_core::regions::regions(provider), |r| format!("{}/{}", r.provider.as_str(), r.name), |_| None);
    let regions: Vec<Value> = regions
        .into_iter()
        .map(|r| json!({"name": r.name, "location": r.location, "provider": r.provider.as_str().to_ascii_uppercase(), "serverless": true, "distance": 0.0}))
        .collect();
    Ok(Json(json!({"regions": regions, "pagination": paging.render(next, version)})))
}

/// Parses an optional `provider` parameter.
pub fn parse_provider(p: Option<&str>) -> CResult<Option<Provider>> {
    match p {
        None | Some("") => Ok(None),
        Some(p) => Provider::parse(&p.to_ascii_lowercase()).map(Some).ok_or_else(|| field("provider", "must be GCP, AWS or AZURE")),
    }
}

/// The caller's organization in the vendor's shape.
#[utoipa::path(get, path = "/api/v1/organization", tag = "cockroachdb cloud", security(("bearer" = [])),
    responses((status = 200, description = "Organization"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn organization(State(s): State<AppState>, CCaller(caller): CCaller) -> CResult<Json<Value>> {
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let o = s.store.get_organization(caller.org()).await?;
    let label: String = o.name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Ok(Json(json!({
        "id": o.id,
        "name": o.name,
        "label": label,
        "created_at": rfc3339(o.created_at),
        "cockroach_cloud_service_principals": null,
    })))
}

/// The nodes of a cluster (none for BASIC and STANDARD plans).
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/nodes", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path), ListQuery),
    responses((status = 200, description = "ListClusterNodesResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn nodes(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<Value>> {
    let id = cluster_id(&id)?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let region = s.store.get_cloud(caller.org(), c.cloud_id).await.map(|k| k.region).unwrap_or_default();
    // Nodes are spread over the cluster's regions in order, as many per region as it asks for.
    let mut slots: Vec<String> = regions_of(&c, &region).into_iter().flat_map(|(r, n)| std::iter::repeat_n(r, n.max(0) as usize)).collect();
    let mut nodes: Vec<(String, String, &'static str)> = match c.plan {
        Plan::Serverless => vec![],
        Plan::Dedicated => c
            .nodes
            .iter()
            .map(|n| {
                let r = if slots.is_empty() { region.clone() } else { slots.remove(0) };
                (r, n.name.clone(), n.status.as_str())
            })
            .collect(),
    };
    if let Some(r) = &q.region_name {
        nodes.retain(|(reg, _, _)| reg == r);
    }
    let paging = Paging::new(&q, &format!("nodes/{id}"), q.region_name.as_deref().unwrap_or(""), &s.auth.cfg.master_key)?;
    let (nodes, next) = paging.apply(nodes, |(r, n, _)| format!("{r}/{n}"), |_| None);
    let nodes: Vec<Value> = nodes.into_iter().map(|(r, n, st)| json!({"name": n, "region_name": r, "status": st})).collect();
    Ok(Json(json!({"nodes": nodes, "pagination": paging.render(next, version)})))
}

/// List clusters (the caller's readable ones) by name (or creation time), with page tokens.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "cockroachdb cloud", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "ListClustersResponse"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_clusters(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Response> {
    caller.require_somewhere(Permission::ClusterRead).await?;
    let inactive = q.show_inactive == Some(true);
    if inactive {
        caller.require(Permission::ClusterRead, Target::Organization).await?;
    }
    let by_name = match q.sort_by.as_deref() {
        None | Some("NAME") => true,
        Some("CREATED_AT") | Some("DELETED_AT") => false,
        Some(_) => return Err(field("pagination.sort_by", "must be NAME, CREATED_AT or DELETED_AT")),
    };
    let filter = format!("{}{}", if inactive { "inactive" } else { "" }, if by_name { "" } else { "/created" });
    let paging = Paging::new(&q, "clusters", &filter, &s.auth.cfg.master_key)?;
    let (next, items) = page_of_clusters(&s, &caller, &paging, inactive, by_name).await?;
    let clouds = crate::dialects::all_pages(|p| s.store.list_clouds(caller.org(), None, p)).await?;
    let by_id: HashMap<_, _> = clouds.into_iter().map(|c| (c.id, (c.provider.as_str().to_string(), c.region))).collect();
    let default = s.store.default_project(caller.org()).await.ok().map(|p| p.id);
    let clusters: Vec<ClusterOut> = items.iter().map(|c| shape(c, by_id.get(&c.cloud_id), version, default)).collect();
    Ok(Json(ListOut { clusters, pagination: paging.render(next, version) }).into_response())
}

/// `ListClustersResponse`.
#[derive(Serialize)]
struct ListOut<'a> {
    clusters: Vec<ClusterOut<'a>>,
    pagination: Value,
}

/// One page of the clusters the caller may read, by keyset on name and id (`by_name`) or on
/// the time-ordered id: `(next key, clusters)`.
pub async fn page_of_clusters(s: &AppState, caller: &Caller, paging: &Paging, inactive: bool, by_name: bool) -> CResult<(Option<String>, Vec<Cluster>)> {
    let bad = || field("pagination.page", "invalid page token");
    // The sort key of the last item: `name/id` by name (names have no `/`), else the id.
    let (after, after_key) = match (&paging.after, by_name) {
        (None, _) => (None, None),
        (Some(k), false) => (Some(Uuid::try_parse(k).map_err(|_| bad())?), None),
        (Some(k), true) => {
            let (name, id) = k.rsplit_once('/').ok_or_else(bad)?;
            (Some(Uuid::try_parse(id).map_err(|_| bad())?), Some(name.to_string()))
        }
    };
    let filter = ClusterFilter { include_deleted: inactive, by_name, descending: paging.desc, ..Default::default() };
    let page = PageReq { after, after_key, limit: paging.limit as u32 };
    let got = s.store.list_clusters(caller.org(), &filter, page).await?;
    let next = got.next_cursor.as_ref().and(got.items.last()).map(|c| if by_name { format!("{}/{}", c.name, c.id) } else { c.id.to_string() });
    let items: Vec<Cluster> = got
        .items
        .into_iter()
        .filter(|c| c.created_at <= paging.as_of)
        .filter(|c| inactive || !matches!(c.state, ClusterState::Deleting | ClusterState::CreationFailed))
        .filter(|c| caller.principal.can(Permission::ClusterRead, Target::Cluster { project: c.project_id, cluster: c.id }))
        .collect();
    Ok((next, items))
}
