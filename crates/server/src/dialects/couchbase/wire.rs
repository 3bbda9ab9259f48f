//! The Couchbase v2 response shapes (spec §4) and their renderings of the service's objects,
//! with the v2 `status`/`health` of a cluster (§5.2).

use base64::Engine;
use dbcloud_types::{
    Access, AllowlistEntry, Bucket, Cloud, Cluster, ClusterState, DatabaseUser, NodeStatus, Operation, OperationKind, OperationStatus, Project, Provider, User,
};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Services of every cluster (the core keeps no per-cluster service list).
pub const SERVICES: [&str; 3] = ["data", "index", "query"];

/// RFC 3339 UTC.
pub fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn simple(id: uuid::Uuid) -> String {
    id.simple().to_string()
}

/// `{"message","errorType"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CouchbaseErrorBody)]
pub struct ErrorBody {
    /// What went wrong.
    pub message: String,
    /// The error kind (spec §2.3).
    pub error_type: &'static str,
}

/// `GET /v2/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceStatus {
    /// Always `OK`.
    pub status: &'static str,
}

/// The page-number envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Paging state.
    pub cursor: Cursor,
    /// The page's items.
    pub data: Vec<T>,
}

/// Paging state of an envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cursor {
    /// Page numbers.
    pub pages: Pages,
    /// Absolute URLs of the neighbouring pages.
    pub hrefs: Hrefs,
}

/// Page numbers of an envelope.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pages {
    /// This page.
    pub page: usize,
    /// The last page (1 for an empty list).
    pub last: usize,
    /// Items per page.
    pub per_page: usize,
    /// Items over all pages.
    pub total_items: u64,
    /// The next page, unless this is the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<usize>,
    /// The previous page, unless this is the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<usize>,
}

/// Page URLs of an envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hrefs {
    /// First page.
    pub first: String,
    /// Last page.
    pub last: String,
    /// Next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// `{name, components}` of a cloud or cluster.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    /// Version name.
    pub name: String,
    /// Component versions (none kept).
    pub components: BTreeMap<String, String>,
}

/// CloudSummary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudSummary {
    id: uuid::Uuid,
    name: String,
    provider: &'static str,
    region: String,
    status: &'static str,
    #[serde(rename = "virtualNetworkID")]
    virtual_network_id: String,
    #[serde(rename = "virtualNetworkCIDR")]
    virtual_network_cidr: String,
}

fn network_id(c: &Cloud) -> String {
    match c.provider {
        Provider::Azure => format!("vnet-{}", &simple(c.id)[..12]),
        _ => format!("vpc-{}", &simple(c.id)[..17]),
    }
}

impl From<&Cloud> for CloudSummary {
    fn from(c: &Cloud) -> Self {
        CloudSummary {
            id: c.id,
            name: c.name.clone(),
            provider: c.provider.as_str(),
            region: c.region.clone(),
            status: "ready",
            virtual_network_id: network_id(c),
            virtual_network_cidr: c.virtual_network_cidr.clone(),
        }
    }
}

/// `providerSettings` of a cloud: AWS's or Azure's variant of the document.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_id: Option<String>,
    #[serde(rename = "vNetCidr", skip_serializing_if = "Option::is_none")]
    vnet_cidr: Option<String>,
    #[serde(rename = "vNetName", skip_serializing_if = "Option::is_none")]
    vnet_name: Option<String>,
}

/// Cloud (detail).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudDetail {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    name: String,
    status: &'static str,
    provider: &'static str,
    created_at: String,
    updated_at: String,
    deployed_at: String,
    provider_settings: ProviderSettings,
    version: Version,
}

impl From<&Cloud> for CloudDetail {
    fn from(c: &Cloud) -> Self {
        // The document's settings variants are AWS's and Azure's, whose `region` enums name
        // no GCP region: a GCP cloud's settings are the VPC fields of the AWS variant, its
        // region is in the cloud list's `region`.
        let cidr = Some(c.virtual_network_cidr.clone());
        let provider_settings = match c.provider {
            Provider::Azure => ProviderSettings { region: Some(c.region.clone()), vnet_cidr: cidr, vnet_name: Some(network_id(c)), ..Default::default() },
            Provider::Aws => ProviderSettings { region: Some(c.region.clone()), vpc_cidr: cidr, vpc_id: Some(network_id(c)), ..Default::default() },
            Provider::Gcp | Provider::Local => ProviderSettings { vpc_cidr: cidr, vpc_id: Some(network_id(c)), ..Default::default() },
        };
        CloudDetail {
            id: c.id,
            tenant_id: c.organization_id,
            name: c.name.clone(),
            status: "ready",
            provider: c.provider.as_str(),
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
            deployed_at: ts(c.created_at),
            provider_settings,
            version: Version { name: env!("CARGO_PKG_VERSION").into(), components: BTreeMap::new() },
        }
    }
}

/// Project.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectOut {
    id: uuid::Uuid,
    name: String,
    tenant_id: uuid::Uuid,
    created_at: String,
}

impl From<&Project> for ProjectOut {
    fn from(p: &Project) -> Self {
        ProjectOut { id: p.id, name: p.name.clone(), tenant_id: p.organization_id, created_at: ts(p.created_at) }
    }
}

/// OrgUser.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgUser {
    id: uuid::Uuid,
    name: String,
    email: String,
}

impl From<&User> for OrgUser {
    fn from(u: &User) -> Self {
        OrgUser { id: u.id, name: u.name.clone(), email: u.email.clone() }
    }
}

/// v2 `status` of a cluster (§5.2); `last_op` refines UPDATING and DELETING.
pub fn status(c: &Cluster, last_op: Option<&Operation>) -> &'static str {
    match c.state {
        ClusterState::Creating | ClusterState::Scaling => "deploying",
        ClusterState::Created => "ready",
        ClusterState::CreationFailed => "deploy_failed",
        ClusterState::Updating if last_op.is_some_and(|o| o.kind == OperationKind::Upgrade) => "upgrading",
        ClusterState::Updating => "deploying",
        ClusterState::Deleting if last_op.is_some_and(|o| o.kind == OperationKind::Delete && o.status == OperationStatus::Failed) => "destroy_failed",
        ClusterState::Deleting => "destroying",
        ClusterState::Deleted => "destroy_succeeded",
    }
}

/// Whether [`status`] needs the cluster's last operation.
pub fn status_needs_last_op(c: &Cluster) -> bool {
    matches!(c.state, ClusterState::Updating | ClusterState::Deleting)
}

/// v2 `health` of a cluster (§5.2).
pub fn health(c: &Cluster) -> &'static str {
    match c.state {
        ClusterState::Created if c.nodes.iter().any(|n| n.status == NodeStatus::NotReady) => "degraded",
        ClusterState::Created => "healthy",
        ClusterState::CreationFailed => "unhealthy",
        _ => "N/A",
    }
}

/// ClusterSummary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    cloud_id: uuid::Uuid,
    project_id: uuid::Uuid,
    name: String,
    services: [&'static str; 3],
    nodes: i32,
    status: &'static str,
    health: &'static str,
}

impl From<&Cluster> for ClusterSummary {
    fn from(c: &Cluster) -> Self {
        ClusterSummary {
            id: c.id,
            tenant_id: c.organization_id,
            cloud_id: c.cloud_id,
            project_id: c.project_id,
            name: c.name.clone(),
            services: SERVICES,
            nodes: c.node_count,
            status: status(c, None),
            health: health(c),
        }
    }
}

/// Cluster (detail).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDetail {
    id: uuid::Uuid,
    name: String,
    tenant_id: uuid::Uuid,
    cloud_id: uuid::Uuid,
    project_id: uuid::Uuid,
    status: &'static str,
    resource_identifier: String,
    created_at: String,
    updated_at: String,
    deployed_at: String,
    version: Version,
    #[serde(rename = "endpointsURL")]
    endpoints_url: Vec<String>,
    #[serde(rename = "privateEndpointURL")]
    private_endpoint_url: Vec<String>,
    endpoints_srv: String,
    private_endpoints_srv: String,
}

/// The detail of `c`, whose last operation is `op` (see [`status_needs_last_op`]).
pub fn cluster_detail(c: &Cluster, op: Option<&Operation>) -> ClusterDetail {
    ClusterDetail {
        id: c.id,
        name: c.name.clone(),
        tenant_id: c.organization_id,
        cloud_id: c.cloud_id,
        project_id: c.project_id,
        status: status(c, op),
        resource_identifier: format!("cb-{}", &simple(c.id)[..8]),
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
        deployed_at: ts(c.created_at),
        version: Version { name: c.version.clone(), components: BTreeMap::new() },
        endpoints_url: c.endpoints.iter().map(|e| e.host.clone()).collect(),
        private_endpoint_url: vec![],
        endpoints_srv: c.endpoints.first().map(|e| e.host.clone()).unwrap_or_default(),
        private_endpoints_srv: String::new(),
    }
}

/// `{status}` of a cluster.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterStatus {
    /// v2 status.
    pub status: &'static str,
}

/// ClusterHealth.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealth {
    /// v2 status.
    pub status: &'static str,
    /// v2 health.
    pub health: &'static str,
    /// Only while `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_stats: Option<BucketStats>,
    /// Only while `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_stats: Option<NodeStats>,
}

/// Bucket statistics of a ready cluster.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketStats {
    status: &'static str,
    total_count: usize,
    unhealthy_count: usize,
    health_stats: BTreeMap<String, &'static str>,
}

/// Node statistics of a ready cluster.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    status: &'static str,
    total_count: usize,
    failed_over_count: usize,
    unhealthy_count: usize,
    service_stats: Vec<ServiceStats>,
}

/// One node's services.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    node_name: String,
    services: [&'static str; 3],
    status: &'static str,
}

/// The health of `c` (status `st`), with statistics when ready.
pub fn cluster_health(c: &Cluster, st: &'static str, buckets: &[Bucket]) -> ClusterHealth {
    let mut h = ClusterHealth { status: st, health: health(c), bucket_stats: None, node_stats: None };
    if st == "ready" {
        let unhealthy = c.nodes.iter().filter(|n| n.status == NodeStatus::NotReady).count();
        h.bucket_stats = Some(BucketStats {
            status: "healthy",
            total_count: buckets.len(),
            unhealthy_count: 0,
            health_stats: buckets.iter().map(|b| (b.name.clone(), "healthy")).collect(),
        });
        let service_stats = c
            .nodes
            .iter()
            .map(|n| ServiceStats { node_name: n.name.clone(), services: SERVICES, status: if n.status == NodeStatus::Live { "healthy" } else { "unhealthy" } })
            .collect();
        h.node_stats = Some(NodeStats { status: health(c), total_count: c.nodes.len(), failed_over_count: 0, unhealthy_count: unhealthy, service_stats });
    }
    h
}

/// `{certificate}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Certificate {
    /// PEM.
    pub certificate: String,
}

/// The bucket id: standard Base64 of the name.
pub fn bucket_id(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(name)
}

/// A bucket id as a path segment (percent-encoded).
pub fn bucket_location(cluster: uuid::Uuid, name: &str) -> String {
    let id = bucket_id(name).replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    format!("/v2/clusters/{cluster}/buckets/{id}")
}

/// The name of a path bucket id (standard or URL-safe alphabet, padding optional).
pub fn bucket_name(id: &str) -> Option<String> {
    let std = id.replace('-', "+").replace('_', "/");
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(std.trim_end_matches('=')).ok()?;
    String::from_utf8(raw).ok()
}

/// Bucket (list item).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketOut {
    id: String,
    name: String,
    memory_quota: i64,
    replicas: i32,
    conflict_resolution: &'static str,
    status: &'static str,
}

impl From<&Bucket> for BucketOut {
    fn from(b: &Bucket) -> Self {
        BucketOut {
            id: bucket_id(&b.name),
            name: b.name.clone(),
            memory_quota: b.memory_quota_mb,
            replicas: b.replicas,
            conflict_resolution: "seqno",
            status: "healthy",
        }
    }
}

/// BucketSpec as stored (answers of create and bulk update).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketSpecOut {
    name: String,
    memory_quota: i64,
    replicas: i32,
    conflict_resolution: &'static str,
}

impl From<&Bucket> for BucketSpecOut {
    fn from(b: &Bucket) -> Self {
        BucketSpecOut { name: b.name.clone(), memory_quota: b.memory_quota_mb, replicas: b.replicas, conflict_resolution: "seqno" }
    }
}

/// Go-style duration (`1h0m0s`).
pub fn go_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, sec) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

/// AllowlistEntry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistOut {
    cidr_block: String,
    rule_type: &'static str,
    duration: String,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    comment: String,
    state: &'static str,
}

impl From<&AllowlistEntry> for AllowlistOut {
    fn from(e: &AllowlistEntry) -> Self {
        let now = OffsetDateTime::now_utc();
        AllowlistOut {
            cidr_block: e.cidr.clone(),
            rule_type: if e.expires_at.is_some() { "temporary" } else { "permanent" },
            duration: e.expires_at.map(|x| go_duration((x - e.created_at).as_seconds_f64().round() as i64)).unwrap_or_default(),
            created_at: ts(e.created_at),
            updated_at: ts(e.created_at),
            expires_at: e.expires_at.map(ts),
            comment: e.comment.clone(),
            state: if e.expires_at.is_some_and(|x| x <= now) { "expired" } else { "active" },
        }
    }
}

/// DatabaseUser (list item).
#[derive(Debug, Serialize, ToSchema)]
pub struct DbUserOut {
    username: String,
    access: Vec<BucketRoleOut>,
}

/// BucketRole.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketRoleOut {
    bucket_name: String,
    bucket_access: Vec<&'static str>,
}

impl From<&DatabaseUser> for DbUserOut {
    fn from(u: &DatabaseUser) -> Self {
        let bucket_access = match u.access {
            Access::Read => vec!["data_reader"],
            Access::ReadWrite => vec!["data_reader", "data_writer"],
        };
        DbUserOut { username: u.name.clone(), access: vec![BucketRoleOut { bucket_name: u.scope.clone().unwrap_or_else(|| "*".into()), bucket_access }] }
    }
}
