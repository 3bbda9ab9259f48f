//! Couchbase Cloud public API v2 (`/v2/`): a thin adapter over the same store, validation
//! and authorization as the native API, with the vendor's shapes, page-number envelopes and
//! `{"message","errorType"}` error bodies (spec `dialects/couchbase-v2.md`).
//!
//! Errors: every handler returns [`CbError`], and the extractors used here ([`CbCaller`],
//! [`CbJson`], [`CbQuery`]) reject with it too, so the native API and its error bodies are
//! untouched.

use super::all_pages as all;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::clusters::authorized_cluster;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Permission, Role, Scope, Target};
use dbcloud_core::{Error, cluster, secret, validate};
use dbcloud_store::{BucketChange, CloudRef, NewAllowlistEntry, NewBucket, NewDbUser, NewOperation};
use dbcloud_types::{
    Access, AllowlistEntry, Bucket, Cloud, Cluster, ClusterState, CreateCluster, DatabaseUser, NodeStatus, Operation, OperationKind, OperationStatus, Plan,
    Project, Provider,
};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::IntoParams;
use uuid::Uuid;

/// The timestamp message of spec §1.2 (the auth layer's reason string).
const TIMESTAMP_REASON: &str = "invalid or expired Couchbase-Timestamp";
/// Largest `perPage`.
const MAX_PER_PAGE: usize = 1000;
/// Services of every cluster (the core keeps no per-cluster service list).
const SERVICES: [&str; 3] = ["data", "index", "query"];

// ---------------------------------------------------------------------------------------
// Errors and extractors
// ---------------------------------------------------------------------------------------

dialect_error!(
    /// An error answered in the Couchbase shape `{"message","errorType"}` (spec §2.3).
    CbError,
    CbResult
);

impl CbError {
    fn not_found(what: impl Into<String>) -> Self {
        CbError(Error::NotFound(what.into()).into())
    }
}

/// Status, `errorType` and message of a native error in the Couchbase vocabulary.
pub fn couchbase_error(e: &ApiError) -> (StatusCode, &'static str, String) {
    let msg = e.body.message.clone();
    if e.status == StatusCode::PAYLOAD_TOO_LARGE {
        return (StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError", msg);
    }
    match e.body.code {
        3 => (StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError", msg),
        5 => (StatusCode::NOT_FOUND, "EntityNotFound", msg),
        6 => (StatusCode::UNPROCESSABLE_ENTITY, "EntityAlreadyExists", msg),
        7 => (StatusCode::FORBIDDEN, "AccessForbidden", msg),
        8 => (StatusCode::TOO_MANY_REQUESTS, "RateLimitExceeded", msg),
        9 | 10 => (StatusCode::UNPROCESSABLE_ENTITY, "EntityStateInvalid", msg),
        12 => (StatusCode::NOT_IMPLEMENTED, "NotImplemented", msg),
        16 => {
            let m = if e.auth_reason == Some(TIMESTAMP_REASON) { TIMESTAMP_REASON } else { "unauthenticated" };
            (StatusCode::UNAUTHORIZED, "Unauthorized", m.to_string())
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "internal error".to_string()),
    }
}

impl IntoResponse for CbError {
    fn into_response(self) -> Response {
        let (status, kind, message) = couchbase_error(&self.0);
        let mut r = (status, Json(json!({"message": message, "errorType": kind}))).into_response();
        let retry = match (self.0.retry_after, status) {
            (Some(s), _) => Some(s.max(1)),
            (None, StatusCode::TOO_MANY_REQUESTS) => Some(1),
            _ => None,
        };
        if let Some(s) = retry {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"dbcloud\""));
        }
        r
    }
}

dialect_extractors!(CbError, CbCaller, CbJson, CbQuery);

/// A path id; malformed ids are 404 (spec §2.2).
fn path_id(s: &str, what: &str) -> CbResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| CbError::not_found(format!("{what} {s}")))
}

/// A bodiless answer that still carries `Content-Type: application/json` (spec §2.1).
fn bare(status: StatusCode, location: Option<String>) -> Response {
    let mut r = status.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Pagination (spec §2.4)
// ---------------------------------------------------------------------------------------

/// Page-number paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, ≥ 1 (default 1).
    pub page: Option<String>,
    /// Items per page, ≥ 1 (default 10, at most 1000).
    #[serde(rename = "perPage")]
    #[param(rename = "perPage")]
    pub per_page: Option<String>,
    /// `name`, `createdAt` or `id`, optionally `.asc`/`.desc`.
    #[serde(rename = "sortBy")]
    #[param(rename = "sortBy")]
    pub sort_by: Option<String>,
}

struct Paging {
    page: usize,
    per_page: usize,
    field: &'static str,
    desc: bool,
}

fn positive(v: Option<&str>, field: &str, default: usize) -> Result<usize, Error> {
    match v {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::field(field, "must be an integer of at least 1")),
        },
    }
}

fn paging(q: &PageParams) -> Result<Paging, Error> {
    let page = positive(q.page.as_deref(), "page", 1)?;
    let per_page = positive(q.per_page.as_deref(), "perPage", 10)?.min(MAX_PER_PAGE);
    let (field, desc) = match q.sort_by.as_deref() {
        None => ("createdAt", false),
        Some(s) => {
            let (f, dir) = match s.rsplit_once('.') {
                Some((f, "asc")) => (f, false),
                Some((f, "desc")) => (f, true),
                _ => (s, false),
            };
            let field = match f {
                "name" => "name",
                "createdAt" => "createdAt",
                "id" => "id",
                _ => return Err(Error::field("sortBy", "must be name, createdAt or id, optionally with .asc or .desc")),
            };
            (field, dir)
        }
    };
    Ok(Paging { page, per_page, field, desc })
}

/// One listable item: sort keys and its rendering.
struct Row {
    name: String,
    created: OffsetDateTime,
    id: String,
    value: Value,
}

/// The base of absolute hrefs: the configured public authority, else the `Host` header.
fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    let host = s.auth.cfg.public_host.clone().or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string));
    let host = host.unwrap_or_else(|| "localhost".into());
    if host.contains("://") { host.trim_end_matches('/').to_string() } else { format!("http://{host}") }
}

fn envelope(s: &AppState, headers: &HeaderMap, uri: &Uri, p: &Paging, mut rows: Vec<Row>) -> Value {
    rows.sort_by(|a, b| {
        let o = match p.field {
            "name" => a.name.cmp(&b.name),
            "id" => std::cmp::Ordering::Equal,
            _ => a.created.cmp(&b.created),
        }
        .then_with(|| a.id.cmp(&b.id));
        if p.desc { o.reverse() } else { o }
    });
    let total = rows.len();
    let last = total.div_ceil(p.per_page).max(1);
    let data: Vec<Value> = rows.into_iter().skip((p.page - 1).saturating_mul(p.per_page)).take(p.per_page).map(|r| r.value).collect();
    let others: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or("");
            k != "page" && k != "perPage"
        })
        .collect();
    let base = base_url(s, headers);
    let href = |n: usize| {
        let mut q = others.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        format!("{base}{}?{q}page={n}&perPage={}", uri.path(), p.per_page)
    };
    let mut pages = json!({"page": p.page, "last": last, "perPage": p.per_page, "totalItems": total});
    let mut hrefs = json!({"first": href(1), "last": href(last)});
    if p.page < last {
        pages["next"] = json!(p.page + 1);
        hrefs["next"] = json!(href(p.page + 1));
    }
    if p.page > 1 && p.page - 1 <= last {
        pages["previous"] = json!(p.page - 1);
        hrefs["previous"] = json!(href(p.page - 1));
    }
    json!({"cursor": {"pages": pages, "hrefs": hrefs}, "data": data})
}

// ---------------------------------------------------------------------------------------
// Renderings (spec §4, §5.2)
// ---------------------------------------------------------------------------------------

fn simple(id: Uuid) -> String {
    id.simple().to_string()
}

fn cloud_summary(c: &Cloud) -> Value {
    json!({
        "id": c.id, "name": c.name, "provider": c.provider.as_str(), "region": c.region, "status": "ready",
        "virtualNetworkID": network_id(c), "virtualNetworkCIDR": c.virtual_network_cidr,
    })
}

fn network_id(c: &Cloud) -> String {
    match c.provider {
        Provider::Azure => format!("vnet-{}", &simple(c.id)[..12]),
        _ => format!("vpc-{}", &simple(c.id)[..17]),
    }
}

fn cloud_detail(c: &Cloud) -> Value {
    // The document's settings variants are AWS's and Azure's, whose `region` enums name no
    // GCP region: a GCP cloud's settings are the VPC fields of the AWS variant, its region
    // is in the cloud list's `region`.
    let settings = match c.provider {
        Provider::Azure => json!({"region": c.region, "vNetCidr": c.virtual_network_cidr, "vNetName": network_id(c)}),
        Provider::Aws => json!({"region": c.region, "vpcCidr": c.virtual_network_cidr, "vpcId": network_id(c)}),
        Provider::Gcp | Provider::Local => json!({"vpcCidr": c.virtual_network_cidr, "vpcId": network_id(c)}),
    };
    json!({
        "id": c.id, "tenantId": c.organization_id, "name": c.name, "status": "ready", "provider": c.provider.as_str(),
        "createdAt": ts(c.created_at), "updatedAt": ts(c.updated_at), "deployedAt": ts(c.created_at),
        "providerSettings": settings, "version": {"name": env!("CARGO_PKG_VERSION"), "components": {}},
    })
}

fn project(p: &Project) -> Value {
    json!({"id": p.id, "name": p.name, "tenantId": p.organization_id, "createdAt": ts(p.created_at)})
}

/// v2 `status` of a cluster (§5.2); `last_op` refines UPDATING and DELETING.
fn status(c: &Cluster, last_op: Option<&Operation>) -> &'static str {
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

/// v2 `health` of a cluster (§5.2).
fn health(c: &Cluster) -> &'static str {
    match c.state {
        ClusterState::Created if c.nodes.iter().any(|n| n.status == NodeStatus::NotReady) => "degraded",
        ClusterState::Created => "healthy",
        ClusterState::CreationFailed => "unhealthy",
        _ => "N/A",
    }
}

/// The last operation of a cluster, when its state needs it to be rendered.
async fn last_op(s: &AppState, caller: &Caller, c: &Cluster) -> CbResult<Option<Operation>> {
    if !matches!(c.state, ClusterState::Updating | ClusterState::Deleting) {
        return Ok(None);
    }
    let (org, id) = (caller.org(), c.id);
    let ops = all(|p| s.store.list_operations(org, id, p)).await?;
    Ok(ops.into_iter().last())
}

fn cluster_summary(c: &Cluster) -> Value {
    json!({
        "id": c.id, "tenantId": c.organization_id, "cloudId": c.cloud_id, "projectId": c.project_id, "name": c.name,
        "services": SERVICES, "nodes": c.node_count, "status": status(c, None), "health": health(c),
    })
}

fn cluster_detail(c: &Cluster, op: Option<&Operation>) -> Value {
    let urls: Vec<String> = c.endpoints.iter().map(|e| e.host.clone()).collect();
    let srv = c.endpoints.first().map(|e| e.host.clone()).unwrap_or_default();
    json!({
        "id": c.id, "name": c.name, "tenantId": c.organization_id, "cloudId": c.cloud_id, "projectId": c.project_id,
        "status": status(c, op), "resourceIdentifier": format!("cb-{}", &simple(c.id)[..8]),
        "createdAt": ts(c.created_at), "updatedAt": ts(c.updated_at), "deployedAt": ts(c.created_at),
        "version": {"name": c.version, "components": {}},
        "endpointsURL": urls, "privateEndpointURL": [], "endpointsSrv": srv, "privateEndpointsSrv": "",
    })
}

/// The bucket id: standard Base64 of the name.
fn bucket_id(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(name)
}

/// A bucket id as a path segment (percent-encoded).
fn bucket_location(cluster: Uuid, name: &str) -> String {
    let id = bucket_id(name).replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    format!("/v2/clusters/{cluster}/buckets/{id}")
}

/// The name of a path bucket id (standard or URL-safe alphabet, padding optional).
fn bucket_name(id: &str) -> Option<String> {
    let std = id.replace('-', "+").replace('_', "/");
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(std.trim_end_matches('=')).ok()?;
    String::from_utf8(raw).ok()
}

fn bucket(b: &Bucket) -> Value {
    json!({"id": bucket_id(&b.name), "name": b.name, "memoryQuota": b.memory_quota_mb, "replicas": b.replicas,
        "conflictResolution": "seqno", "status": "healthy"})
}

/// Go-style duration (`1h0m0s`).
fn go_duration(secs: i64) -> String {
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

/// The longest Go duration (`2562047h47m16.854775807s`): longer ones are refused (they
/// are not Go durations, and would overflow the expiry time).
const MAX_GO_DURATION_SECS: f64 = 9_223_372_036.854_775;

/// Parses a Go-style duration (`1h`, `1h30m`, `90s`, `1h0m0s`, `500ms`) into seconds.
fn parse_go_duration(s: &str) -> Option<f64> {
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

fn allowlist_entry(e: &AllowlistEntry) -> Value {
    let now = OffsetDateTime::now_utc();
    let mut v = json!({
        "cidrBlock": e.cidr, "ruleType": if e.expires_at.is_some() { "temporary" } else { "permanent" },
        "duration": e.expires_at.map(|x| go_duration((x - e.created_at).as_seconds_f64().round() as i64)).unwrap_or_default(),
        "createdAt": ts(e.created_at), "updatedAt": ts(e.created_at), "comment": e.comment,
        "state": if e.expires_at.is_some_and(|x| x <= now) { "expired" } else { "active" },
    });
    if let Some(x) = e.expires_at {
        v["expiresAt"] = json!(ts(x));
    }
    v
}

fn db_user(u: &DatabaseUser) -> Value {
    let access = match u.access {
        Access::Read => json!(["data_reader"]),
        Access::ReadWrite => json!(["data_reader", "data_writer"]),
    };
    json!({"username": u.name, "access": [{"bucketName": u.scope.clone().unwrap_or_else(|| "*".into()), "bucketAccess": access}]})
}

// ---------------------------------------------------------------------------------------
// Status, clouds
// ---------------------------------------------------------------------------------------

/// Service status; needs no credentials.
#[utoipa::path(get, path = "/v2/status", tag = "couchbase cloud v2", responses((status = 200, description = "`{\"status\":\"OK\"}`")))]
pub async fn get_status() -> Json<Value> {
    Json(json!({"status": "OK"}))
}

/// List clouds (`cloud.read` at organization scope).
#[utoipa::path(get, path = "/v2/clouds", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "Envelope of CloudSummary"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError")))]
pub async fn list_clouds(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Value>> {
    let p = paging(&q)?;
    caller.require(Permission::CloudRead, Target::Organization).await?;
    let org = caller.org();
    let clouds = all(|pg| s.store.list_clouds(org, None, pg)).await?;
    let rows = clouds.iter().map(|c| Row { name: c.name.clone(), created: c.created_at, id: c.id.to_string(), value: cloud_summary(c) }).collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, rows)))
}

/// Get a cloud (`cloud.read` at organization scope).
#[utoipa::path(get, path = "/v2/clouds/{cloudId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("cloudId" = String, Path)),
    responses((status = 200, description = "Cloud"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn get_cloud(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cloud")?;
    let c = s.store.get_cloud(caller.org(), id).await?;
    caller.require(Permission::CloudRead, Target::Organization).await?;
    Ok(Json(cloud_detail(&c)))
}

// ---------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------

/// Create a project.
#[derive(Debug, Deserialize)]
pub struct V2CreateProject {
    /// Name.
    pub name: String,
}

/// List projects (`project.read`; only the projects the caller can read).
#[utoipa::path(get, path = "/v2/projects", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "Envelope of Project"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError")))]
pub async fn list_projects(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Value>> {
    let p = paging(&q)?;
    caller.require_somewhere(Permission::ProjectRead).await?;
    let org = caller.org();
    let projects = all(|pg| s.store.list_projects(org, pg)).await?;
    let rows = projects
        .iter()
        .filter(|p| caller.principal.can(Permission::ProjectRead, Target::Project(p.id)))
        .map(|p| Row { name: p.name.clone(), created: p.created_at, id: p.id.to_string(), value: project(p) })
        .collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, rows)))
}

/// Create a project (`project.create` at organization scope); 201 Project.
#[utoipa::path(post, path = "/v2/projects", tag = "couchbase cloud v2", security(("bearer" = [])), request_body = Object,
    responses((status = 201, description = "Project"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError / EntityAlreadyExists")))]
pub async fn create_project(State(s): State<AppState>, CbCaller(caller): CbCaller, CbJson(req): CbJson<V2CreateProject>) -> CbResult<Response> {
    let name = validate::display_name(&req.name).map_err(|e| Error::field("name", e))?;
    caller.require(Permission::ProjectCreate, Target::Organization).await?;
    let p = s.store.create_project(&caller.ctx(None), &name, "").await?;
    // projectCreator owns what it creates (as on the native route).
    let t = Target::Project(p.id);
    crate::routes::grants::grant_creator(&s, &caller, Permission::ProjectRead, t, Role::ProjectOwner, Scope::Project(p.id)).await;
    Ok((StatusCode::CREATED, Json(project(&p))).into_response())
}

/// Get a project (`project.read` on it).
#[utoipa::path(get, path = "/v2/projects/{projectId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("projectId" = String, Path)),
    responses((status = 200, description = "Project"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn get_project(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "project")?;
    let p = s.store.get_project(caller.org(), id).await?;
    caller.require(Permission::ProjectRead, Target::Project(id)).await?;
    Ok(Json(project(&p)))
}

/// Delete a project without live clusters (`project.delete` on it); 204.
#[utoipa::path(delete, path = "/v2/projects/{projectId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("projectId" = String, Path)),
    responses((status = 204), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound"), (status = 422, description = "EntityStateInvalid")))]
pub async fn delete_project(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Response> {
    let id = path_id(&id, "project")?;
    s.store.get_project(caller.org(), id).await?;
    caller.require(Permission::ProjectDelete, Target::Project(id)).await?;
    s.store.delete_project(&caller.ctx(None), id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}

// ---------------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------------

/// Cluster list filters and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterParams {
    /// Page number.
    pub page: Option<String>,
    /// Items per page.
    #[serde(rename = "perPage")]
    #[param(rename = "perPage")]
    pub per_page: Option<String>,
    /// Sort field.
    #[serde(rename = "sortBy")]
    #[param(rename = "sortBy")]
    pub sort_by: Option<String>,
    /// Only clusters of this cloud.
    #[serde(rename = "cloudId")]
    #[param(rename = "cloudId")]
    pub cloud_id: Option<String>,
    /// Only clusters of this project.
    #[serde(rename = "projectId")]
    #[param(rename = "projectId")]
    pub project_id: Option<String>,
}

fn query_uuid(v: Option<&str>, field: &str) -> Result<Option<Uuid>, Error> {
    v.map(|s| Uuid::parse_str(s).map_err(|_| Error::field(field, "must be a UUID"))).transpose()
}

/// List clusters (`cluster.read`; only the clusters the caller can read). Deleted clusters
/// are not listed.
#[utoipa::path(get, path = "/v2/clusters", tag = "couchbase cloud v2", security(("bearer" = [])), params(ClusterParams),
    responses((status = 200, description = "Envelope of ClusterSummary"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError")))]
pub async fn list_clusters(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<ClusterParams>,
) -> CbResult<Json<Value>> {
    let p = paging(&PageParams { page: q.page.clone(), per_page: q.per_page.clone(), sort_by: q.sort_by.clone() })?;
    let mut v = Violations::new();
    let cloud_id = v.check("cloudId", query_uuid(q.cloud_id.as_deref(), "cloudId").map_err(|e| e.to_string()));
    let project_id = v.check("projectId", query_uuid(q.project_id.as_deref(), "projectId").map_err(|e| e.to_string()));
    v.finish()?;
    let filter = dbcloud_store::ClusterFilter { project_id: project_id.flatten(), cloud_id: cloud_id.flatten(), ..Default::default() };
    caller.require_somewhere(Permission::ClusterRead).await?;
    let org = caller.org();
    let clusters = all(|pg| s.store.list_clusters(org, &filter, pg)).await?;
    let rows = clusters
        .iter()
        .filter(|c| caller.principal.can(Permission::ClusterRead, Target::Cluster { project: c.project_id, cluster: c.id }))
        .map(|c| Row { name: c.name.clone(), created: c.created_at, id: c.id.to_string(), value: cluster_summary(c) })
        .collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, rows)))
}

/// A server group of a v2 create.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2Server {
    /// Node count of the group (1–27).
    pub size: i64,
    /// Services of the group.
    #[serde(default)]
    pub services: Vec<String>,
    /// AWS settings.
    pub aws: Option<V2Instance>,
    /// Azure settings.
    pub azure: Option<V2Instance>,
}

/// Instance settings of a server group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2Instance {
    /// Instance size.
    pub instance_size: Option<String>,
    /// EBS size (AWS, 50–16384).
    pub ebs_size_gib: Option<i64>,
    /// Volume type (Azure).
    pub volume_type: Option<String>,
}

/// CreateCluster of the v2 API.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2CreateCluster {
    /// Name.
    pub name: Option<String>,
    /// Cloud.
    pub cloud_id: Option<String>,
    /// Project.
    pub project_id: Option<String>,
    /// Server groups.
    pub servers: Option<Vec<V2Server>>,
    /// Support package (accepted, not kept).
    pub support_package: Option<Value>,
    /// Version.
    pub version: Option<String>,
}

const V2_SERVICES: [&str; 6] = ["data", "index", "query", "search", "eventing", "analytics"];

/// Maps a v2 create request onto the core's create request (§5.1).
fn core_create(req: &V2CreateCluster) -> Result<(CreateCluster, Uuid, Uuid), Error> {
    let mut v = Violations::new();
    if req.name.is_none() {
        v.add("name", "is required");
    }
    let cloud = match req.cloud_id.as_deref() {
        None => {
            v.add("cloudId", "is required");
            None
        }
        Some(c) => v.check("cloudId", Uuid::parse_str(c).map_err(|_| "must be a UUID".to_string())),
    };
    let project = match req.project_id.as_deref() {
        None => {
            v.add("projectId", "is required");
            None
        }
        Some(p) => v.check("projectId", Uuid::parse_str(p).map_err(|_| "must be a UUID".to_string())),
    };
    let version = match req.version.as_deref() {
        None | Some("latest") => None,
        Some(x @ ("enterprise-6.5.0" | "enterprise-6.5.1" | "enterprise-6.6.0")) => Some(x.trim_start_matches("enterprise-").to_string()),
        Some(_) => {
            v.add("version", "must be latest, enterprise-6.5.0, enterprise-6.5.1 or enterprise-6.6.0");
            None
        }
    };
    let mut node_count = None;
    let mut node_size = None;
    if let Some(servers) = &req.servers {
        if servers.is_empty() {
            v.add("servers", "must list at least one server group");
        }
        let mut total = 0;
        for (i, g) in servers.iter().enumerate() {
            if !(1..=27).contains(&g.size) {
                v.add(format!("servers[{i}].size"), "must be between 1 and 27");
            }
            total += g.size;
            if g.services.is_empty() || g.services.iter().any(|s| !V2_SERVICES.contains(&s.as_str())) {
                v.add(format!("servers[{i}].services"), "must list services among data, index, query, search, eventing, analytics");
            }
            if let Some(ebs) = g.aws.as_ref().and_then(|a| a.ebs_size_gib)
                && !(50..=16384).contains(&ebs)
            {
                v.add(format!("servers[{i}].aws.ebsSizeGib"), "must be between 50 and 16384");
            }
            if node_size.is_none() {
                node_size = g.aws.as_ref().or(g.azure.as_ref()).and_then(|a| a.instance_size.clone());
            }
        }
        node_count = Some(i32::try_from(total).unwrap_or(i32::MAX));
    }
    v.finish()?;
    let (cloud, project) = (cloud.expect("checked"), project.expect("checked"));
    let core = CreateCluster {
        name: req.name.clone().unwrap_or_default(),
        project_id: Some(project),
        cloud_id: Some(cloud),
        plan: Some(Plan::Dedicated),
        version,
        node_count,
        node_size,
        ..Default::default()
    };
    Ok((core, cloud, project))
}

/// Resolves a referenced object; a missing one is a 422 naming the field (spec §4).
fn unknown_reference<T>(r: dbcloud_core::Result<T>, field: &str) -> Result<T, Error> {
    r.map_err(|e| match e {
        Error::NotFound(what) => Error::field(field, format!("{what} not found")),
        other => other,
    })
}

/// Create a cluster (`cluster.create` on the project); 202 with `Location`, no body.
#[utoipa::path(post, path = "/v2/clusters", tag = "couchbase cloud v2", security(("bearer" = [])), request_body = Object,
    responses((status = 202, headers(("Location" = String))), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError")))]
pub async fn create_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, CbJson(req): CbJson<V2CreateCluster>) -> CbResult<Response> {
    let (core, cloud, project) = core_create(&req)?;
    let spec = cluster::check_create(&core)?;
    unknown_reference(s.store.get_project(caller.org(), project).await, "projectId")?;
    unknown_reference(s.store.get_cloud(caller.org(), cloud).await, "cloudId")?;
    caller.require(Permission::ClusterCreate, Target::Project(project)).await?;
    let change = crate::routes::clusters::provision(&s, &caller, caller.ctx(None), spec, project, CloudRef::Id(cloud), Default::default()).await?;
    let id = change.cluster.id;
    s.clusters.invalidate(id);
    s.runner.wake();
    Ok(bare(StatusCode::ACCEPTED, Some(format!("/v2/clusters/{id}"))))
}

/// Get a cluster (`cluster.read` on it).
#[utoipa::path(get, path = "/v2/clusters/{id}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Cluster"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn get_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let op = last_op(&s, &caller, &c).await?;
    Ok(Json(cluster_detail(&c, op.as_ref())))
}

/// Delete a cluster (`cluster.delete` on it); 202 with `Location`.
#[utoipa::path(delete, path = "/v2/clusters/{id}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, headers(("Location" = String))), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "EntityStateInvalid")))]
pub async fn delete_cluster(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterDelete).await?;
    cluster::check_delete(&c)?;
    let op = NewOperation::new(OperationKind::Delete, json!({}));
    let change = s.store.delete_cluster(&caller.ctx(None), id, &op).await;
    s.clusters.invalidate(id);
    change?;
    s.runner.wake();
    Ok(bare(StatusCode::ACCEPTED, Some(format!("/v2/clusters/{id}"))))
}

/// Cluster status (`cluster.read` on it).
#[utoipa::path(get, path = "/v2/clusters/{id}/status", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{status}`"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn cluster_status(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let op = last_op(&s, &caller, &c).await?;
    Ok(Json(json!({"status": status(&c, op.as_ref())})))
}

/// Cluster health (`cluster.read` on it); stats only while `ready`.
#[utoipa::path(get, path = "/v2/clusters/{id}/health", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "ClusterHealth"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn cluster_health(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let op = last_op(&s, &caller, &c).await?;
    let st = status(&c, op.as_ref());
    let mut v = json!({"status": st, "health": health(&c)});
    if st == "ready" {
        let org = caller.org();
        let buckets = all(|p| s.store.list_buckets(org, id, p)).await?;
        let stats: serde_json::Map<String, Value> = buckets.iter().map(|b| (b.name.clone(), json!("healthy"))).collect();
        let unhealthy = c.nodes.iter().filter(|n| n.status == NodeStatus::NotReady).count();
        let nodes: Vec<Value> = c
            .nodes
            .iter()
            .map(|n| json!({"nodeName": n.name, "services": SERVICES, "status": if n.status == NodeStatus::Live { "healthy" } else { "unhealthy" }}))
            .collect();
        v["bucketStats"] = json!({"status": "healthy", "totalCount": buckets.len(), "unhealthyCount": 0, "healthStats": stats});
        v["nodeStats"] = json!({"status": health(&c), "totalCount": c.nodes.len(), "failedOverCount": 0, "unhealthyCount": unhealthy, "serviceStats": nodes});
    }
    Ok(Json(v))
}

// ---------------------------------------------------------------------------------------
// Buckets
// ---------------------------------------------------------------------------------------

/// BucketSpec.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketSpec {
    /// Name.
    pub name: String,
    /// Memory quota (MiB, ≥ 100).
    pub memory_quota: i64,
    /// Replicas (0–3, default 1).
    pub replicas: Option<i32>,
    /// `seqno` (default); `lww` is not supported by the core.
    pub conflict_resolution: Option<String>,
}

/// A bucket named in a body.
#[derive(Debug, Deserialize)]
pub struct V2BucketName {
    /// Name.
    pub name: String,
}

async fn find_bucket(s: &AppState, caller: &Caller, cluster: Uuid, name: &str) -> CbResult<Bucket> {
    let org = caller.org();
    let buckets = all(|p| s.store.list_buckets(org, cluster, p)).await?;
    buckets.into_iter().find(|b| b.name == name).ok_or_else(|| CbError::not_found(format!("bucket {name}")))
}

fn require_ready(c: &Cluster) -> Result<(), Error> {
    cluster::check_accepts_children(c)?;
    if c.state != ClusterState::Created {
        return Err(Error::FailedPrecondition(format!("cluster {} is not ready ({})", c.id, c.state)));
    }
    Ok(())
}

/// List buckets (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "[Bucket]"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn list_buckets(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let org = caller.org();
    let buckets = all(|p| s.store.list_buckets(org, id, p)).await?;
    Ok(Json(Value::Array(buckets.iter().map(bucket).collect())))
}

/// Create a bucket (`cluster.update` on the cluster; the cluster must be ready); 201
/// BucketSpec with defaults and `Location`.
#[utoipa::path(post, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 201, description = "BucketSpec", headers(("Location" = String))), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid")))]
pub async fn create_bucket(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2BucketSpec>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    let name = v.check("name", validate::identifier(&req.name, 100, true));
    // The core's bucket limits (as on the native route).
    if !(100..=1_048_576).contains(&req.memory_quota) {
        v.add("memoryQuota", "must be between 100 and 1048576");
    }
    let replicas = req.replicas.unwrap_or(1);
    if !(0..=3).contains(&replicas) {
        v.add("replicas", "must be between 0 and 3");
    }
    match req.conflict_resolution.as_deref() {
        None | Some("seqno") => {}
        Some("lww") => v.add("conflictResolution", "lww is not supported by this server; use seqno"),
        Some(_) => v.add("conflictResolution", "must be seqno or lww"),
    }
    v.finish()?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    require_ready(&c)?;
    let new = NewBucket { name: name.expect("checked"), memory_quota_mb: req.memory_quota, replicas };
    let b = s.store.create_bucket(&caller.ctx(None), id, &new).await;
    s.clusters.invalidate(id);
    let b = b?;
    let body = json!({"name": b.name, "memoryQuota": b.memory_quota_mb, "replicas": b.replicas, "conflictResolution": "seqno"});
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(l) = HeaderValue::from_str(&bucket_location(id, &b.name)) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

async fn remove_bucket(s: &AppState, caller: &Caller, id: Uuid, name: &str) -> CbResult<Response> {
    let c = authorized_cluster(s, caller, id, Permission::ClusterUpdate).await?;
    let b = find_bucket(s, caller, id, name).await?;
    require_ready(&c)?;
    let deleted = s.store.delete_bucket(&caller.ctx(None), id, b.id).await;
    s.clusters.invalidate(id);
    deleted?;
    Ok(bare(StatusCode::ACCEPTED, Some(bucket_location(id, &b.name))))
}

/// Delete a bucket by name in the body (`cluster.update` on the cluster); 202 with `Location`.
#[utoipa::path(delete, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 202, headers(("Location" = String))), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityStateInvalid")))]
pub async fn delete_bucket_by_name(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2BucketName>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    remove_bucket(&s, &caller, id, &req.name).await
}

/// Delete a bucket by id (`cluster.update` on the cluster); 202.
#[utoipa::path(delete, path = "/v2/clusters/{id}/buckets/{bucketId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("bucketId" = String, Path)),
    responses((status = 202), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "EntityStateInvalid")))]
pub async fn delete_bucket(State(s): State<AppState>, CbCaller(caller): CbCaller, Path((id, bucket_id)): Path<(String, String)>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let name = bucket_name(&bucket_id).ok_or_else(|| CbError::not_found(format!("bucket {bucket_id}")))?;
    remove_bucket(&s, &caller, id, &name).await
}

/// A JSON array body (the shared JSON extractor takes objects only), parsed after the
/// caller is authorized; a malformed body or item is a 422 naming the place.
fn json_array<T: serde::de::DeserializeOwned>(body: &[u8]) -> CbResult<Vec<T>> {
    let v: Value = serde_json::from_slice(body).map_err(|e| Error::field("body", format!("malformed JSON ({e})")))?;
    let Value::Array(items) = v else {
        return Err(Error::field("body", "a JSON array is required").into());
    };
    items.into_iter().enumerate().map(|(i, item)| serde_json::from_value(item).map_err(|e| Error::field(format!("[{i}]"), e.to_string()).into())).collect()
}

/// The checked core change of one BucketSpec of a bulk update; `prefix` names its place.
fn check_bucket_change(v: &mut Violations, prefix: &str, b: &V2BucketSpec) -> Option<BucketChange> {
    let name = v.check(&format!("{prefix}name"), validate::identifier(&b.name, 100, true));
    if !(100..=1_048_576).contains(&b.memory_quota) {
        v.add(format!("{prefix}memoryQuota"), "must be between 100 and 1048576");
    }
    if b.replicas.is_some_and(|r| !(0..=3).contains(&r)) {
        v.add(format!("{prefix}replicas"), "must be between 0 and 3");
    }
    match b.conflict_resolution.as_deref() {
        None | Some("seqno") => {}
        Some(_) => v.add(format!("{prefix}conflictResolution"), "cannot change (this bucket uses seqno)"),
    }
    Some(BucketChange { name: name?, memory_quota_mb: Some(b.memory_quota), replicas: b.replicas })
}

/// Update `memoryQuota` and `replicas` of every listed bucket (`cluster.update` on the
/// cluster; the cluster must be ready); 201 with the buckets as stored. All or nothing: an
/// unknown name (404) or a bad spec (422) changes no bucket.
#[utoipa::path(put, path = "/v2/clusters/{id}/buckets", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 201, description = "[BucketSpec]"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityStateInvalid")))]
pub async fn update_buckets(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>, body: bytes::Bytes) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    let req: Vec<V2BucketSpec> = json_array(&body)?;
    let mut v = Violations::new();
    if req.is_empty() {
        v.add("body", "list at least one bucket");
    }
    let mut changes: Vec<BucketChange> = vec![];
    for (i, b) in req.iter().enumerate() {
        if let Some(ch) = check_bucket_change(&mut v, &format!("[{i}]."), b) {
            if changes.iter().any(|x| x.name == ch.name) {
                v.add(format!("[{i}].name"), format!("bucket {} is listed twice", ch.name));
            }
            changes.push(ch);
        }
    }
    v.finish()?;
    require_ready(&c)?;
    let out = s.store.update_buckets(&caller.ctx(None), id, &changes).await;
    s.clusters.invalidate(id);
    let body: Vec<Value> =
        out?.iter().map(|b| json!({"name": b.name, "memoryQuota": b.memory_quota_mb, "replicas": b.replicas, "conflictResolution": "seqno"})).collect();
    Ok((StatusCode::CREATED, Json(Value::Array(body))).into_response())
}

/// Bucket quota change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketQuota {
    /// Memory quota (MiB, ≥ 100).
    pub memory_quota: i64,
}

/// Change one bucket's memory quota (`cluster.update` on the cluster; ready cluster); 202.
#[utoipa::path(put, path = "/v2/clusters/{id}/buckets/{bucketId}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("bucketId" = String, Path)), request_body = Object,
    responses((status = 202), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityStateInvalid")))]
pub async fn update_bucket(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path((id, bucket_id)): Path<(String, String)>,
    CbJson(req): CbJson<V2BucketQuota>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterUpdate).await?;
    let name = bucket_name(&bucket_id).ok_or_else(|| CbError::not_found(format!("bucket {bucket_id}")))?;
    if !(100..=1_048_576).contains(&req.memory_quota) {
        return Err(Error::field("memoryQuota", "must be between 100 and 1048576").into());
    }
    require_ready(&c)?;
    let change = BucketChange { name: name.clone(), memory_quota_mb: Some(req.memory_quota), replicas: None };
    let out = s.store.update_buckets(&caller.ctx(None), id, &[change]).await;
    s.clusters.invalidate(id);
    out?;
    Ok(bare(StatusCode::ACCEPTED, Some(bucket_location(id, &name))))
}

// ---------------------------------------------------------------------------------------
// Certificate
// ---------------------------------------------------------------------------------------

/// The cluster's CA certificate as PEM (`cluster.read` on the cluster). The provisioner
/// issues it; the simulated one derives a self-signed Ed25519 CA from the cluster, the same
/// on every call and replica (`dbcloud_provision::ca`). 404 once the cluster is deleted.
#[utoipa::path(get, path = "/v2/clusters/{id}/certificate", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "{certificate}"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn get_certificate(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    if c.state == ClusterState::Deleted {
        return Err(CbError::not_found(format!("cluster {id}")));
    }
    let pem = s.runner.provisioner().ca_certificate(&c).ok_or_else(|| CbError::not_found(format!("certificate of cluster {id}")))?;
    Ok(Json(json!({"certificate": pem})))
}

// ---------------------------------------------------------------------------------------
// Allow list
// ---------------------------------------------------------------------------------------

/// An allow-list entry to add.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2AllowlistDelete {
    /// CIDR or address.
    pub cidr_block: String,
}

/// List the allow list (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "[AllowlistEntry]"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn list_allowlist(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let org = caller.org();
    let entries = all(|p| s.store.list_allowlist(org, id, p)).await?;
    Ok(Json(Value::Array(entries.iter().map(allowlist_entry).collect())))
}

/// Add an allow-list entry (`allowlist.manage` on the cluster); 202.
#[utoipa::path(post, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 202), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid")))]
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
    let c = authorized_cluster(&s, &caller, id, Permission::AllowlistManage).await?;
    cluster::check_accepts_children(&c)?;
    let new = new.expect("checked");
    s.store.create_allowlist_entry(&caller.ctx(None), id, &new).await?;
    Ok(bare(StatusCode::ACCEPTED, None))
}

/// The core entry of a v2 allow-list entry; failures are recorded under `prefix` + field.
fn check_allowlist_entry(v: &mut Violations, prefix: &str, req: &V2AllowlistAdd) -> Option<NewAllowlistEntry> {
    let cidr = v.check(&format!("{prefix}cidrBlock"), validate::cidr(&req.cidr_block));
    let comment = v.check(&format!("{prefix}comment"), validate::free_text(&req.comment, 256));
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

/// Replace the whole allow list (`allowlist.manage` on the cluster); 202. The core swaps
/// the list in one transaction before answering: a bad or repeated entry changes nothing.
#[utoipa::path(put, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 202), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid")))]
pub async fn replace_allowlist(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>, body: bytes::Bytes) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let c = authorized_cluster(&s, &caller, id, Permission::AllowlistManage).await?;
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
    cluster::check_accepts_children(&c)?;
    s.store.replace_allowlist(&caller.ctx(None), id, &entries, None).await?;
    Ok(bare(StatusCode::ACCEPTED, None))
}

/// Remove an allow-list entry by network (`allowlist.manage` on the cluster); 204.
#[utoipa::path(delete, path = "/v2/clusters/{id}/allowlist", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 204), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityStateInvalid")))]
pub async fn delete_allowlist(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2AllowlistDelete>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let cidr = validate::cidr(&req.cidr_block).map_err(|e| Error::field("cidrBlock", e))?;
    let c = authorized_cluster(&s, &caller, id, Permission::AllowlistManage).await?;
    let org = caller.org();
    let entries = all(|p| s.store.list_allowlist(org, id, p)).await?;
    let entry = entries.into_iter().find(|e| e.cidr == cidr).ok_or_else(|| CbError::not_found(format!("allowlist entry {}", req.cidr_block)))?;
    cluster::check_accepts_children(&c)?;
    s.store.delete_allowlist_entry(&caller.ctx(None), id, entry.id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}

// ---------------------------------------------------------------------------------------
// Database users
// ---------------------------------------------------------------------------------------

/// A bucket grant.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2BucketRole {
    /// Bucket name (`*`: all buckets).
    pub bucket_name: String,
    /// `data_reader` and/or `data_writer`.
    pub bucket_access: Vec<String>,
}

/// CreateDatabaseUser.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2CreateDbUser {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Linked organization user (accepted, not kept).
    pub user_id: Option<String>,
    /// Bucket grants.
    pub buckets: Option<Vec<V2BucketRole>>,
    /// `data_reader` or `data_writer`.
    pub all_buckets_access: Option<String>,
}

fn access_of(roles: &[String]) -> Result<Access, String> {
    if roles.is_empty() || roles.iter().any(|r| r != "data_reader" && r != "data_writer") {
        return Err("must list data_reader and/or data_writer".into());
    }
    Ok(if roles.iter().any(|r| r == "data_writer") { Access::ReadWrite } else { Access::Read })
}

/// The one grant (scope, access) of a v2 create request.
fn grant_of(req: &V2CreateDbUser, v: &mut Violations) -> Option<(Option<String>, Access)> {
    let mut grants: Vec<(Option<String>, Access)> = vec![];
    if let Some(a) = &req.all_buckets_access
        && let Some(a) = v.check("allBucketsAccess", access_of(std::slice::from_ref(a)))
    {
        grants.push((None, a));
    }
    for (i, b) in req.buckets.iter().flatten().enumerate() {
        let scope = if b.bucket_name == "*" { None } else { Some(b.bucket_name.clone()) };
        if let Some(a) = v.check(&format!("buckets[{i}].bucketAccess"), access_of(&b.bucket_access)) {
            grants.push((scope, a));
        }
    }
    grants.dedup();
    match grants.len() {
        0 => {
            if req.all_buckets_access.is_none() && req.buckets.as_ref().is_none_or(|b| b.is_empty()) {
                v.add("buckets", "at least one of buckets and allBucketsAccess is required");
            }
            None
        }
        1 => grants.pop(),
        _ => {
            v.add("buckets", "this server keeps one grant per database user: give one bucket or allBucketsAccess");
            None
        }
    }
}

/// List database users (`cluster.read` on the cluster); a bare array.
#[utoipa::path(get, path = "/v2/clusters/{id}/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "[DatabaseUser]"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn list_db_users(State(s): State<AppState>, CbCaller(caller): CbCaller, Path(id): Path<String>) -> CbResult<Json<Value>> {
    let id = path_id(&id, "cluster")?;
    authorized_cluster(&s, &caller, id, Permission::ClusterRead).await?;
    let org = caller.org();
    let users = all(|p| s.store.list_db_users(org, id, p)).await?;
    Ok(Json(Value::Array(users.iter().map(db_user).collect())))
}

/// Create a database user (`dbuser.manage` on the cluster); 201, no body.
#[utoipa::path(post, path = "/v2/clusters/{id}/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path)), request_body = Object,
    responses((status = 201), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityAlreadyExists / EntityStateInvalid")))]
pub async fn create_db_user(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path(id): Path<String>,
    CbJson(req): CbJson<V2CreateDbUser>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    let name = v.check("username", validate::identifier(&req.username, 63, false));
    v.check("password", secret::check_password(&req.password));
    if let Some(u) = &req.user_id {
        v.check("userId", Uuid::parse_str(u).map_err(|_| "must be a UUID".to_string()));
    }
    let grant = grant_of(&req, &mut v);
    v.finish()?;
    let (scope, access) = grant.expect("checked");
    let c = authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    if let Some(b) = &scope {
        let org = caller.org();
        let buckets = all(|p| s.store.list_buckets(org, id, p)).await?;
        if !buckets.iter().any(|x| &x.name == b) {
            return Err(Error::field("buckets", format!("bucket {b} does not exist")).into());
        }
    }
    cluster::check_accepts_children(&c)?;
    let new = NewDbUser { name: name.expect("checked"), access, scope, password_hash: secret::hash_password(&req.password) };
    s.store.create_db_user(&caller.ctx(None), id, &new).await?;
    Ok(bare(StatusCode::CREATED, None))
}

/// Delete a database user by name (`dbuser.manage` on the cluster); 204.
#[utoipa::path(delete, path = "/v2/clusters/{id}/users/{username}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("username" = String, Path)),
    responses((status = 204), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 404, description = "EntityNotFound")))]
pub async fn delete_db_user(State(s): State<AppState>, CbCaller(caller): CbCaller, Path((id, username)): Path<(String, String)>) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    let org = caller.org();
    let users = all(|p| s.store.list_db_users(org, id, p)).await?;
    let u = users.into_iter().find(|u| u.name == username).ok_or_else(|| CbError::not_found(format!("database user {username}")))?;
    s.store.delete_db_user(&caller.ctx(None), id, u.id).await?;
    Ok(bare(StatusCode::NO_CONTENT, None))
}

// ---------------------------------------------------------------------------------------
// Organization users, database-user update, unknown routes
// ---------------------------------------------------------------------------------------

/// List organization users (`org.read` at organization scope); service accounts are not listed.
#[utoipa::path(get, path = "/v2/users", tag = "couchbase cloud v2", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "Envelope of OrgUser"), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"), (status = 422, description = "RequestValidationError")))]
pub async fn list_org_users(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    headers: HeaderMap,
    uri: Uri,
    CbQuery(q): CbQuery<PageParams>,
) -> CbResult<Json<Value>> {
    let p = paging(&q)?;
    caller.require(Permission::OrgRead, Target::Organization).await?;
    let org = caller.org();
    let users = all(|pg| s.store.list_users(org, pg)).await?;
    let rows = users
        .iter()
        .map(|u| Row { name: u.name.clone(), created: u.created_at, id: u.id.to_string(), value: json!({"id": u.id, "name": u.name, "email": u.email}) })
        .collect();
    Ok(Json(envelope(&s, &headers, &uri, &p, rows)))
}

/// UpdateDatabaseUser: every field optional.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2UpdateDbUser {
    /// Must equal the path's user name when given.
    pub username: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// Linked organization user (accepted, not kept).
    pub user_id: Option<String>,
    /// Bucket grants.
    pub buckets: Option<Vec<V2BucketRole>>,
    /// `data_reader` or `data_writer`.
    pub all_buckets_access: Option<String>,
}

/// Update a database user (`dbuser.manage` on the cluster); 204. The core changes only the
/// password of an existing user: a grant given here must equal the user's current one.
#[utoipa::path(put, path = "/v2/clusters/{id}/users/{username}", tag = "couchbase cloud v2", security(("bearer" = [])), params(("id" = String, Path), ("username" = String, Path)), request_body = Object,
    responses((status = 204), (status = 401, description = "Unauthorized"), (status = 403, description = "AccessForbidden"),
        (status = 404, description = "EntityNotFound"), (status = 422, description = "RequestValidationError / EntityStateInvalid")))]
pub async fn update_db_user(
    State(s): State<AppState>,
    CbCaller(caller): CbCaller,
    Path((id, username)): Path<(String, String)>,
    CbJson(req): CbJson<V2UpdateDbUser>,
) -> CbResult<Response> {
    let id = path_id(&id, "cluster")?;
    let mut v = Violations::new();
    if req.username.as_deref().is_some_and(|u| u != username) {
        v.add("username", "must equal the user name of the path");
    }
    if let Some(p) = &req.password {
        v.check("password", secret::check_password(p));
    }
    if let Some(u) = &req.user_id {
        v.check("userId", Uuid::parse_str(u).map_err(|_| "must be a UUID".to_string()));
    }
    let wants_grant = req.buckets.is_some() || req.all_buckets_access.is_some();
    let grant = if wants_grant {
        let as_create = V2CreateDbUser {
            username: username.clone(),
            password: String::new(),
            user_id: None,
            buckets: req.buckets,
            all_buckets_access: req.all_buckets_access,
        };
        grant_of(&as_create, &mut v)
    } else {
        None
    };
    v.finish()?;
    let c = authorized_cluster(&s, &caller, id, Permission::DbuserManage).await?;
    let org = caller.org();
    let users = all(|p| s.store.list_db_users(org, id, p)).await?;
    let u = users.into_iter().find(|u| u.name == username).ok_or_else(|| CbError::not_found(format!("database user {username}")))?;
    if let Some((scope, access)) = grant
        && (scope != u.scope || access != u.access)
    {
        return Err(Error::field("buckets", "this server cannot change the access of an existing database user; delete and recreate it").into());
    }
    cluster::check_accepts_children(&c)?;
    if let Some(p) = &req.password {
        s.store.set_db_user_password(&caller.ctx(None), id, u.id, &secret::hash_password(p)).await?;
    }
    Ok(bare(StatusCode::NO_CONTENT, None))
}

/// Unknown `/v2/…` paths (after authentication): 404 in the Couchbase shape.
pub async fn unknown_v2(CbCaller(_caller): CbCaller, uri: Uri) -> CbError {
    CbError::not_found(format!("endpoint {}", uri.path()))
}

/// Vendor `/v3/…` operations (after authentication): 501 in the Couchbase shape.
pub async fn unknown_v3(CbCaller(_caller): CbCaller, uri: Uri) -> CbError {
    CbError(ApiError::new(StatusCode::NOT_IMPLEMENTED, dbcloud_types::Code::Unimplemented, format!("{} is not served by this server", uri.path())))
}

/// The dialect's routes (under `/v2/`), added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    r
        // Public by the dialect's spec, so kept out of the document (whose every route requires auth).
        .route("/v2/status", axum::routing::get(get_status))
        .routes(routes!(list_clouds))
        .routes(routes!(get_cloud))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, delete_project))
        .routes(routes!(list_clusters, create_cluster))
        .routes(routes!(get_cluster, delete_cluster))
        .routes(routes!(cluster_status))
        .routes(routes!(cluster_health))
        .routes(routes!(list_buckets, create_bucket, delete_bucket_by_name, update_buckets))
        .routes(routes!(delete_bucket, update_bucket))
        .routes(routes!(list_allowlist, add_allowlist, delete_allowlist, replace_allowlist))
        .routes(routes!(get_certificate))
        .routes(routes!(list_db_users, create_db_user))
        .routes(routes!(update_db_user, delete_db_user))
        .routes(routes!(list_org_users))
        .route("/v2/{*rest}", axum::routing::any(unknown_v2))
        .route("/v3/{*rest}", axum::routing::any(unknown_v3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_ids() {
        assert_eq!(bucket_id("couchbasecloudbucket"), "Y291Y2hiYXNlY2xvdWRidWNrZXQ=");
        assert_eq!(bucket_name("Y291Y2hiYXNlY2xvdWRidWNrZXQ=").unwrap(), "couchbasecloudbucket");
        assert_eq!(bucket_name("Y291Y2hiYXNlY2xvdWRidWNrZXQ").unwrap(), "couchbasecloudbucket");
        assert_eq!(bucket_name(&bucket_id("a?b>").replace('+', "-").replace('/', "_")).unwrap(), "a?b>");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1h0m0s"), Some(3600.0));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("90s"), Some(90.0));
        assert_eq!(parse_go_duration("x"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(5), "5s");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        #[test]
        fn durations_round_trip_and_never_panic(secs in 0i64..10_000_000_000, junk in "[0-9.hms ]{0,40}|.{0,40}") {
            proptest::prop_assert_eq!(parse_go_duration(&go_duration(secs)), Some(secs as f64));
            if let Some(d) = parse_go_duration(&junk) {
                proptest::prop_assert!(d >= 0.0);
            }
        }

        #[test]
        fn page_parameters_never_panic(page in proptest::option::of(".{0,24}"), per_page in proptest::option::of("[0-9+-]{0,24}"), sort in proptest::option::of("[a-zA-Z.]{0,16}")) {
            if let Ok(p) = paging(&PageParams { page, per_page, sort_by: sort }) {
                proptest::prop_assert!(p.page >= 1 && (1..=MAX_PER_PAGE).contains(&p.per_page));
            }
        }
    }

    #[test]
    fn error_mapping() {
        let mut e = ApiError::unauthenticated();
        e.auth_reason = Some(TIMESTAMP_REASON);
        assert_eq!(couchbase_error(&e).2, TIMESTAMP_REASON);
        let e: ApiError = Error::field("name", "bad").into();
        assert_eq!(couchbase_error(&e).0, StatusCode::UNPROCESSABLE_ENTITY);
        let e: ApiError = Error::Aborted("busy".into()).into();
        assert_eq!(couchbase_error(&e).1, "EntityStateInvalid");
    }
}
