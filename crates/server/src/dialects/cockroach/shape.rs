//! Clusters in the vendor's shape: states, plans, regions and configuration rendered from the
//! core cluster and the vendor attributes kept with it (`attributes.crdb`).

use super::{CrdbError, rfc3339};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use dbcloud_types::{Cluster, ClusterState, Code, OperationKind, Plan};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// The vendor attributes kept with a cluster (`attributes.crdb`).
pub(super) fn crdb(c: &Cluster) -> Map<String, Value> {
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
#[derive(Serialize, ToSchema)]
#[schema(as = ClusterRegion)]
pub(super) struct RegionOut {
    pub(super) name: String,
    pub(super) sql_dns: String,
    pub(super) ui_dns: String,
    internal_dns: String,
    private_endpoint_dns: &'static str,
    node_count: i64,
    primary: bool,
    s3_vpc_endpoint_id: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CockroachUsageLimits)]
struct Limits {
    provisioned_virtual_cpus: String,
    request_unit_limit: String,
    storage_mib_limit: String,
}

#[derive(Serialize, ToSchema)]
struct ServerlessOut<'a> {
    routing_id: String,
    #[schema(value_type = String)]
    upgrade_type: Attr<'a>,
    usage_limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    spend_limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct DedicatedOut<'a> {
    machine_type: &'a str,
    num_virtual_cpus: i64,
    storage_gib: i64,
    memory_gib: f64,
    disk_iops: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ConfigOut<'a> {
    Serverless(ServerlessOut<'a>),
    Dedicated(DedicatedOut<'a>),
}

/// A cluster in the vendor's shape (Cluster), serialized without an intermediate tree.
#[derive(Serialize, ToSchema)]
pub struct ClusterOut<'a> {
    id: Uuid,
    name: &'a str,
    pub(super) cockroach_version: String,
    pub(super) upgrade_status: &'static str,
    plan: &'static str,
    pub(super) cloud_provider: String,
    provider: String,
    pub(super) state: &'static str,
    pub(super) operation_status: &'static str,
    creator_id: &'a str,
    config: ConfigOut<'a>,
    pub(super) regions: Vec<RegionOut>,
    sql_dns: String,
    #[schema(value_type = String)]
    cidr_range: Attr<'a>,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    labels: Attr<'a>,
    is_customer_cloud_account: bool,
    #[schema(value_type = String)]
    delete_protection: Attr<'a>,
    #[schema(value_type = String)]
    network_visibility: Attr<'a>,
    egress_traffic_policy: &'static str,
    parent_id: String,
    account_id: &'static str,
    #[schema(value_type = Value)]
    customer_cloud_account: Attr<'a>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) deleted_at: Option<String>,
}

/// A core cluster in the vendor's shape, serialized as it is (lists, and one cluster through [`render_one`]).
pub fn shape<'a>(c: &'a Cluster, provider_region: Option<&(String, String)>, version: &str, default_project: Option<Uuid>) -> ClusterOut<'a> {
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
    let region_list: Vec<(&str, i64)> = match (get("region_nodes").and_then(|v| v.as_object()), get("regions").and_then(|v| v.as_array())) {
        (Some(rn), _) => rn.iter().map(|(k, v)| (k.as_str(), v.as_i64().unwrap_or(0))).collect(),
        (None, Some(rs)) => rs.iter().filter_map(|r| r.as_str()).map(|r| (r, 0)).collect(),
        (None, None) => vec![(region, if c.plan == Plan::Dedicated { c.node_count as i64 } else { 0 })],
    };
    let many = region_list.len() > 1;
    let regions: Vec<RegionOut> = region_list
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
                name: name.to_string(),
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

/// One cluster in the vendor's shape, looking up its cloud and the default project; a
/// running major upgrade shows in `operation_status` and `upgrade_status`.
pub async fn render_one<'a>(s: &AppState, caller: &Caller, c: &'a Cluster, version: &str) -> ClusterOut<'a> {
    let places = s.app.clouds().places_of(caller, std::slice::from_ref(c)).await.unwrap_or_default();
    let cloud = places.get(&c.cloud_id).map(|(p, r)| (p.as_str().to_string(), r.clone()));
    let default = s.app.projects().default_project_id(caller).await.ok();
    let mut out = shape(c, cloud.as_ref(), version, default);
    // The running operation, if any, is the cluster's newest (one runs at a time).
    if c.state == ClusterState::Updating
        && let Ok(newest) = s.app.clusters().latest_operations(caller, &[c.id]).await
        && newest.iter().any(|o| o.status.is_active() && o.kind == OperationKind::Upgrade)
    {
        out.operation_status = "CRDB_MAJOR_UPGRADE_RUNNING";
        out.upgrade_status = "MAJOR_UPGRADE_RUNNING";
    }
    out
}

/// 503 for a cluster that is being created or changed (spec §7), with the operation named.
pub fn locked(c: &Cluster, retry_after_secs: u64) -> CrdbError {
    let what = match c.state {
        ClusterState::Creating => "cluster creation",
        ClusterState::Scaling => "CRDB_SCALE",
        _ => "CRDB_EDIT_CLUSTER",
    };
    let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, format!("cluster {} is locked: {what} in progress", c.id));
    e.retry_after = Some(retry_after_secs.max(1));
    CrdbError(e)
}

/// The dialect's answer to a service error about cluster `c`: a busy cluster is the vendor's
/// 503 lock error; anything else keeps its own shape.
pub fn busy(c: &Cluster, e: dbcloud_core::Error) -> CrdbError {
    match e {
        dbcloud_core::Error::Busy { retry_after_secs, .. } => locked(c, retry_after_secs),
        other => other.into(),
    }
}
