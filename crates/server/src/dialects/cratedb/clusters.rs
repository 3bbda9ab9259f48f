//! Clusters: the vendor document, the (unpaged) vendor list rendered page by page, get,
//! delete, and deploy.

use super::catalogue::{parse_region, region_name};
use super::wire::{self, Dc, HardwareSpecs, Health, IpEntry, LastOperation, ts};
use super::{CrCaller, CrJson, CrQuery, CrResult, FREE_TIER, PRODUCT_NAME, PRODUCT_TIER, busy, not_found, own_org, path_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_app::Caller;
use dbcloud_app::clusters::{ClusterDetails, NewCluster};
use dbcloud_app::model::{ClusterFilter, PageReq};
use dbcloud_app::vendor::check_name_pattern;
use dbcloud_core::error::Violations;
use dbcloud_core::{Error, cluster};
use dbcloud_types::{Cluster, ClusterState, CreateCluster, NodeStatus, OperationKind, Plan, Provider};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa::ToSchema;
use uuid::Uuid;

/// Shortest cluster password croud may send.
const MIN_PASSWORD: usize = 24;

/// The vendor's name of an operation kind.
pub(super) fn op_type(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Create => "CREATE",
        OperationKind::Delete => "DELETE",
        OperationKind::Scale => "SCALE",
        OperationKind::Upgrade => "UPGRADE",
        OperationKind::Suspend | OperationKind::Resume => "SUSPEND",
        OperationKind::AllowlistUpdate => "ALLOWED_CIDR_UPDATE",
    }
}

/// A cluster in the vendor's shape, from its details (region, newest operation — the
/// running one when one runs: a cluster runs one at a time — and allow list).
fn cluster_doc(c: &Cluster, d: &ClusterDetails) -> wire::Cluster {
    let region = d.cloud.as_ref().map(|cl| region_name(cl.provider, &cl.region)).unwrap_or_default();
    let newest = d.newest_operation.as_ref();
    let running = newest.filter(|o| o.status.is_active()).map(|o| op_type(o.kind));
    let suspended = cluster::is_suspended(c);
    let status = match c.state {
        _ if suspended => "SUSPENDED",
        ClusterState::Creating => "UNKNOWN",
        ClusterState::CreationFailed => "RED",
        _ if c.nodes.iter().any(|n| n.status == NodeStatus::NotReady) => "YELLOW",
        _ => "GREEN",
    };
    let host = c
        .endpoints
        .iter()
        .find(|e| e.kind == "sql")
        .or(c.endpoints.first())
        .map(|e| e.host.clone())
        .unwrap_or_else(|| format!("{}.{}.cratedb.dbcloud.internal", c.name, region));
    let host = host.trim_end_matches('.').to_string();
    wire::Cluster {
        id: c.id,
        name: c.name.clone(),
        project_id: c.project_id,
        subscription_id: c.organization_id,
        crate_version: c.version.clone(),
        channel: c.attributes.get("channel").and_then(Value::as_str).unwrap_or("stable").to_string(),
        product_name: PRODUCT_NAME,
        product_tier: PRODUCT_TIER,
        product_unit: (c.node_count - 1).max(0),
        num_nodes: c.node_count,
        username: "admin",
        fqdn: format!("{host}."),
        url: format!("https://{host}:4200"),
        suspended,
        deletion_protected: c.attributes.get("delete_protection").and_then(Value::as_str) == Some("ENABLED"),
        allow_suspend: true,
        allow_custom_storage: false,
        gc_available: false,
        origin: "cloud",
        ip_whitelist: d.allowlist.iter().map(|e| IpEntry { cidr: e.cidr.clone(), description: e.comment.clone() }).collect(),
        hardware_specs: HardwareSpecs {
            cpus_per_node: 4,
            memory_per_node_bytes: 17_179_869_184,
            heap_size_bytes: 8_589_934_592,
            disk_type: "premium",
            disks_per_node: 1,
            disk_size_per_node_bytes: 161_061_273_600,
        },
        // Only when there is one: the document has no idle `running_operation` and no null.
        health: Health { status, last_seen: ts(c.updated_at), running_operation: running },
        dc: Dc::new(c.created_at, c.updated_at),
        last_async_operation: newest.map(|o| LastOperation {
            id: o.id,
            kind: op_type(o.kind),
            status: o.status.as_str(),
            dc: Dc::new(o.created_at, o.updated_at),
        }),
    }
}

/// Clusters in the vendor's shape, with their details batched (a fixed number of queries).
pub(super) async fn cluster_docs(s: &AppState, caller: &Caller, clusters: &[Cluster]) -> CrResult<Vec<wire::Cluster>> {
    let details = s.app.clusters().details(caller, clusters).await?;
    Ok(clusters.iter().zip(&details).map(|(c, d)| cluster_doc(c, d)).collect())
}

/// One cluster in the vendor's shape.
pub(super) async fn one_doc(s: &AppState, caller: &Caller, c: &Cluster) -> CrResult<wire::Cluster> {
    let mut docs = cluster_docs(s, caller, std::slice::from_ref(c)).await?;
    docs.pop().ok_or_else(not_found)
}

/// A cluster the caller holds `p` on, not deleted (deleted ones are not found).
pub(super) async fn live_cluster(s: &AppState, caller: &Caller, id: &str, p: dbcloud_app::Permission) -> CrResult<Cluster> {
    let c = s.app.clusters().authorized(caller, path_id(id)?, p).await?;
    if c.state == ClusterState::Deleted {
        return Err(not_found());
    }
    Ok(c)
}

/// Cluster list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterListQuery {
    /// Only clusters of this project.
    pub project_id: Option<String>,
    /// Only clusters of this subscription.
    pub subscription_id: Option<String>,
    /// Only clusters of this product.
    pub product_name: Option<String>,
}

/// Clusters the caller may read (deleted ones left out). The vendor list has no paging:
/// it is read from the service a page of 500 at a time, each page with one query for the
/// clusters and a fixed number for their details.
#[utoipa::path(get, path = "/api/v2/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(ClusterListQuery),
    responses((status = 200, body = Vec<wire::Cluster>, description = "The clusters."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn list_clusters(State(s): State<AppState>, CrCaller(caller): CrCaller, CrQuery(q): CrQuery<ClusterListQuery>) -> CrResult<Response> {
    let org = caller.org();
    let mut filter = ClusterFilter::default();
    let mut none = false;
    if let Some(p) = q.project_id.as_deref().filter(|p| !p.is_empty()) {
        match Uuid::parse_str(p) {
            Ok(p) => filter.project_id = Some(p),
            Err(_) => none = true,
        }
    }
    none |= q.subscription_id.as_deref().is_some_and(|x| !x.is_empty() && x != FREE_TIER && Uuid::parse_str(x).ok() != Some(org));
    none |= q.product_name.as_deref().is_some_and(|x| !x.is_empty() && x != PRODUCT_NAME);
    if none {
        // Nothing can match, but a caller who may read no cluster is still refused.
        s.app.clusters().list(&caller, filter, PageReq::first(1)).await?;
        return Ok(Json(Vec::<wire::Cluster>::new()).into_response());
    }
    super::stream::cluster_list(s, caller.0, filter).await
}

/// Clusters of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path), ClusterListQuery),
    responses((status = 200, body = Vec<wire::Cluster>, description = "The organization's clusters."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_org_clusters(state: State<AppState>, caller: CrCaller, Path(org): Path<String>, q: CrQuery<ClusterListQuery>) -> CrResult<Response> {
    own_org(&caller.0, &org)?;
    list_clusters(state, caller, q).await
}

/// A cluster.
#[utoipa::path(get, path = "/api/v2/clusters/{cluster_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 200, body = wire::Cluster, description = "The cluster."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn get_cluster(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<wire::Cluster>> {
    let c = live_cluster(&s, &caller, &id, dbcloud_app::Permission::ClusterRead).await?;
    Ok(Json(one_doc(&s, &caller, &c).await?))
}

/// Delete a cluster (204); the delete operation runs afterwards (a running create or
/// scale is superseded).
#[utoipa::path(delete, path = "/api/v2/clusters/{cluster_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("cluster_id" = String, Path)),
    responses((status = 204, description = "Deleted; no content."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc),
        (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Conflict", body = super::ErrorDoc)))]
pub async fn delete_cluster(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<StatusCode> {
    let c = live_cluster(&s, &caller, &id, dbcloud_app::Permission::ClusterDelete).await?;
    s.app.clusters().delete(&caller, c.id).await.map_err(busy)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deploy body: `cluster` and `project_id` or `project`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeployBody {
    /// The cluster.
    pub cluster: DeployCluster,
    /// Subscription (`free_tier` or the organization's).
    pub subscription_id: Option<String>,
    /// Existing project.
    pub project_id: Option<String>,
    /// New project.
    pub project: Option<DeployProject>,
}

/// The cluster part of a deploy.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeployCluster {
    /// Name.
    pub name: String,
    /// Version.
    pub crate_version: Option<String>,
    /// Channel.
    pub channel: Option<String>,
    /// Product name.
    pub product_name: Option<String>,
    /// Product tier.
    pub product_tier: Option<String>,
    /// Product unit.
    pub product_unit: Option<i32>,
    /// Database user.
    pub username: Option<String>,
    /// Password (write-only).
    pub password: Option<String>,
}

/// The new-project part of a deploy.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeployProject {
    /// Name.
    pub name: String,
    /// Region (`<provider>.<region>`).
    pub region: String,
}

/// Where a deploy goes.
enum Target {
    /// An existing project.
    Project(Uuid),
    /// A new project in this region.
    NewProject(Provider, String),
}

/// Parses a deploy: the vendor's own fields (product, subscription, password, project or
/// region) and the service's cluster rules (name, version, nodes), every problem at once
/// under the vendor's field names.
fn parse_deploy(org: Uuid, req: &DeployBody) -> CrResult<(CreateCluster, Target)> {
    let mut v = Violations::new();
    let c = &req.cluster;
    if c.product_name.as_deref() != Some(PRODUCT_NAME) {
        v.add("cluster.product_name", format!("unknown product; offered: {PRODUCT_NAME}"));
    }
    if c.product_tier.as_deref() != Some(PRODUCT_TIER) {
        v.add("cluster.product_tier", format!("unknown tier; offered: {PRODUCT_TIER}"));
    }
    let unit = c.product_unit.unwrap_or(0);
    if !(0..cluster::MAX_NODE_COUNT).contains(&unit) {
        v.add("cluster.product_unit", format!("must be between 0 and {}", cluster::MAX_NODE_COUNT - 1));
    }
    if c.password.as_deref().is_none_or(|p| p.chars().count() < MIN_PASSWORD) {
        v.add("cluster.password", format!("must be at least {MIN_PASSWORD} characters"));
    }
    if c.username.as_deref().is_none_or(str::is_empty) {
        v.add("cluster.username", "required");
    }
    if c.channel.as_deref().is_some_and(|ch| !["stable", "testing", "nightly"].contains(&ch)) {
        v.add("cluster.channel", "must be stable, testing or nightly");
    }
    match req.subscription_id.as_deref() {
        Some(FREE_TIER) => {}
        Some(x) if Uuid::parse_str(x).ok() == Some(org) => {}
        _ => v.add("subscription_id", "unknown subscription"),
    }
    let target = match (&req.project_id, &req.project) {
        (Some(p), _) => match Uuid::parse_str(p) {
            Ok(p) => Some(Target::Project(p)),
            Err(_) => {
                v.add("project_id", "must be a project id");
                None
            }
        },
        (None, Some(p)) => match parse_region(&p.region) {
            Some((provider, region)) => Some(Target::NewProject(provider, region)),
            None => {
                v.add("project.region", "unknown region; see GET /api/v2/regions/");
                None
            }
        },
        (None, None) => {
            v.add("project_id", "give project_id or project");
            None
        }
    };
    // The service's own cluster rules (name, version, node count), checked here so every
    // problem is answered at once.
    let (provider, region) = match &target {
        Some(Target::NewProject(p, r)) => (*p, r.clone()),
        _ => (Provider::Aws, "us-east-1".to_string()),
    };
    let spec = CreateCluster {
        name: c.name.clone(),
        project_id: match target {
            Some(Target::Project(p)) => Some(p),
            _ => None,
        },
        cloud_id: None,
        provider: Some(provider),
        region: Some(region),
        plan: Some(Plan::Dedicated),
        version: c.crate_version.clone(),
        node_count: Some(unit + 1),
        node_size: None,
        spend_limit: None,
    };
    match cluster::check_create(&spec) {
        Ok(_) => {}
        Err(Error::InvalidArgument { violations, .. }) => {
            for x in violations {
                let field = match x.field.as_str() {
                    "version" => "cluster.crate_version".to_string(),
                    "node_count" => "cluster.product_unit".to_string(),
                    f => format!("cluster.{f}"),
                };
                v.add(field, x.description);
            }
        }
        Err(e) => return Err(e.into()),
    }
    v.finish()?;
    Ok((spec, target.expect("checked")))
}

/// Deploy a cluster (201); croud then polls its CREATE operation.
#[utoipa::path(post, path = "/api/v2/organizations/{org_id}/clusters/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)), request_body = DeployBody,
    responses((status = 201, body = wire::Cluster, description = "The new cluster."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc), (status = 409, description = "Conflict", body = super::ErrorDoc)))]
pub async fn deploy_cluster(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<DeployBody>,
) -> CrResult<Response> {
    own_org(&caller, &org)?;
    let (mut spec, target) = parse_deploy(caller.org(), &req)?;
    let mut attributes = serde_json::Map::new();
    attributes.insert("channel".into(), Value::from(req.cluster.channel.as_deref().unwrap_or("stable")));
    let change = match target {
        // An existing project: the organization's first cloud, or the default region.
        Target::Project(p) => {
            s.app.projects().get(&caller, p).await?;
            if let Some(cloud) = s.app.clusters().first_cloud(&caller).await? {
                // The cloud decides provider and region.
                spec.cloud_id = Some(cloud.id);
                spec.provider = None;
                spec.region = None;
            }
            s.app.clusters().create(&caller, NewCluster { spec, attributes, allowlist: vec![] }, None).await?.value
        }
        Target::NewProject(..) => {
            let name = req.project.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
            s.app.clusters().create_in_new_project(&caller, name, check_name_pattern, NewCluster { spec, attributes, allowlist: vec![] }).await?.1
        }
    };
    let body = one_doc(&s, &caller, &change.cluster).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
