//! Request bodies of the cluster routes, as the vendor names their fields (snake_case, with
//! the camelCase aliases of the earliest clients).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A 64-bit integer sent as a JSON string or number.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct I64(pub i64);

impl utoipa::PartialSchema for I64 {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
        let number =
            ObjectBuilder::new().schema_type(Type::Integer).format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)));
        let text = ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*[+-]?[0-9]+\s*$"));
        let one_of = OneOfBuilder::new().item(number).item(text).description(Some("An integer, as a JSON number or string."));
        utoipa::openapi::RefOr::T(Schema::OneOf(one_of.build()))
    }
}

impl ToSchema for I64 {}

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
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
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

/// Body of the legacy spend-limit PUT.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendLimitBody {
    /// US cents per month.
    #[serde(alias = "spendLimit")]
    pub spend_limit: I64,
}

/// The empty answer `{}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CockroachEmpty {}
