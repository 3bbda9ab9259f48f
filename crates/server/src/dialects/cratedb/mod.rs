//! CrateDB Cloud API v2 (`/api/v2/`): the subset the `croud` CLI 1.15.0 uses for users,
//! organizations, projects, clusters (with operation polling), regions, products,
//! subscriptions and API keys (spec `dialects/cratedb-v2.md`). It only parses and renders:
//! every decision is the service layer's (`dbcloud_app`). Errors use the vendor's
//! `{"message","success":false,"errors"?}` shape, and no route sets a cookie.

mod api_keys;
mod audit;
mod catalogue;
mod changes;
mod clusters;
mod ops;
mod organizations;
mod projects;
mod stream;
mod users;
pub mod wire;

pub use api_keys::*;
pub use audit::*;
pub use catalogue::*;
pub use changes::*;
pub use clusters::*;
pub use organizations::*;
pub use projects::*;
pub use users::*;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dbcloud_core::Error;
use dbcloud_core::error::Violations;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The one product dbcloud offers in this dialect.
const PRODUCT_NAME: &str = "cr4";
/// Its tier.
const PRODUCT_TIER: &str = "default";
/// `subscription_id` meaning the organization's own subscription.
const FREE_TIER: &str = "free_tier";

/// An error answered in the CrateDB Cloud shape.
#[derive(Debug)]
pub struct CrError(pub ApiError);

impl From<ApiError> for CrError {
    fn from(e: ApiError) -> Self {
        CrError(e)
    }
}

impl From<Error> for CrError {
    fn from(e: Error) -> Self {
        CrError(e.into())
    }
}

/// Result of a handler of this dialect.
pub type CrResult<T> = Result<T, CrError>;

/// The vendor's error document.
#[derive(Serialize, ToSchema)]
#[schema(as = CrateDbErrorBody)]
struct ErrorDoc {
    message: String,
    success: bool,
    /// Problems per request field (400 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    errors: Option<BTreeMap<String, Vec<serde_json::Value>>>,
}

fn not_found() -> CrError {
    CrError(Error::NotFound("resource".into()).into())
}

impl IntoResponse for CrError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = e.status;
        let message = match status {
            StatusCode::UNAUTHORIZED => "Authentication required.".to_string(),
            StatusCode::FORBIDDEN => "Permission denied for user.".to_string(),
            StatusCode::NOT_FOUND => "Resource not found.".to_string(),
            _ => e.body.message.clone(),
        };
        let mut errors = None;
        if status == StatusCode::BAD_REQUEST && !e.body.details.is_empty() {
            let mut map: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
            for d in &e.body.details {
                let field = d.get("field").and_then(serde_json::Value::as_str).unwrap_or("body").to_string();
                map.entry(field).or_default().push(d.get("description").cloned().unwrap_or(serde_json::Value::Null));
            }
            errors = Some(map);
        }
        let mut r = (status, Json(ErrorDoc { message, success: false, errors })).into_response();
        if let Some(s) = e.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
        }
        r
    }
}

/// The authenticated caller; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(state(AppState), rejection(CrError))]
pub struct CrCaller(pub Caller);

/// A JSON body (any or no content type); failures answer in this dialect's shape.
#[derive(FromRequest)]
#[from_request(via(ApiJson), rejection(CrError))]
pub struct CrJson<T>(pub T);

/// Query parameters; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(via(ApiQuery), rejection(CrError))]
pub struct CrQuery<T>(pub T);

/// A path id; malformed ids are 404.
fn path_id(s: &str) -> CrResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| not_found())
}

/// The caller's organization (others answer 404).
fn own_org(caller: &crate::auth::Caller, org: &str) -> CrResult<()> {
    if path_id(org)? == caller.org() { Ok(()) } else { Err(not_found()) }
}

/// Message of the 409 answering a change while another operation runs (§6).
pub const BUSY: &str = "Another cluster operation is currently in progress.";

/// The service's "busy" answer (another operation holds the cluster) in the vendor's words;
/// other errors unchanged.
fn busy(e: Error) -> CrError {
    match e {
        Error::Aborted(_) | Error::Busy { .. } => CrError(ApiError::new(StatusCode::CONFLICT, dbcloud_types::Code::Aborted, BUSY)),
        other => other.into(),
    }
}

/// Renames the fields of a validation error to the dialect's request fields (`map` gives
/// `(service field, vendor field)`; `describe` may rewrite each description).
fn rename_fields(e: Error, map: &dyn Fn(&str, String) -> (String, String)) -> Error {
    match e {
        Error::InvalidArgument { violations, .. } => {
            let mut v = Violations::new();
            for x in violations {
                let (field, description) = map(&x.field, x.description);
                v.add(field, description);
            }
            v.finish().err().unwrap_or_else(|| Error::invalid("invalid request"))
        }
        other => other,
    }
}

/// [`rename_fields`] with a fixed table of renamed fields.
fn rename(e: Error, table: &[(&str, &str)]) -> Error {
    rename_fields(e, &|f, d| (table.iter().find(|(from, _)| *from == f).map(|(_, to)| to.to_string()).unwrap_or_else(|| f.to_string()), d))
}

/// After authentication: vendor operations this server does not serve answer 501, other
/// `/api/v2/` paths 404, both in the vendor shape.
pub async fn unknown(_caller: CrCaller, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if super::vendor_operation(ops::OPERATIONS, method.as_str(), uri.path()) {
        return CrError(ApiError::new(StatusCode::NOT_IMPLEMENTED, dbcloud_types::Code::Unimplemented, "This operation is not served by this server."))
            .into_response();
    }
    not_found().into_response()
}

/// Vendor operations this server does not serve on paths it serves with other methods
/// (they would be 405 otherwise).
const UNSERVED_ON_SERVED_PATHS: &[(axum::routing::MethodFilter, &str)] = {
    use axum::routing::MethodFilter as M;
    &[
        (M::PATCH, "/api/v2/clusters/{cluster_id}/"),
        (M::POST, "/api/v2/organizations/"),
        (M::DELETE, "/api/v2/organizations/{org_id}/"),
        (M::POST, "/api/v2/regions/"),
        (M::POST, "/api/v2/subscriptions/"),
        (M::DELETE, "/api/v2/subscriptions/{subscription_id}/"),
        (M::PATCH, "/api/v2/users/me/"),
        (M::PATCH, "/api/v2/users/me/api-keys/{key}/"),
    ]
};

/// Answers 501 (after authentication) for [`UNSERVED_ON_SERVED_PATHS`].
async fn unserved(caller: CrCaller, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    unknown(caller, method, uri).await
}

/// The dialect's routes (under `/api/v2/`), added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    let mut r = served_routes(r);
    for (method, path) in UNSERVED_ON_SERVED_PATHS {
        for p in [*path, path.trim_end_matches('/')] {
            r = r.route(p, axum::routing::on(*method, unserved));
        }
    }
    r.route("/api/v2/{*rest}", axum::routing::any(unknown))
}

fn served_routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use axum::routing::{delete, get, post, put};
    use utoipa_axum::routes;
    r.routes(routes!(get_me))
        .routes(routes!(list_organizations))
        .routes(routes!(get_organization, edit_organization))
        .routes(routes!(list_org_projects))
        .routes(routes!(list_org_regions))
        .routes(routes!(list_roles))
        .routes(routes!(get_subscription))
        .routes(routes!(list_org_users, add_org_user))
        .routes(routes!(remove_org_user))
        .routes(routes!(list_project_users, add_project_user))
        .routes(routes!(remove_project_user))
        .routes(routes!(list_users))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, edit_project, delete_project))
        .routes(routes!(list_clusters))
        .routes(routes!(get_cluster, delete_cluster))
        .routes(routes!(deploy_cluster, list_org_clusters))
        .routes(routes!(list_operations))
        .routes(routes!(list_regions))
        .routes(routes!(list_products))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_org_subscriptions))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, delete_api_key))
        .routes(routes!(scale_cluster))
        .routes(routes!(upgrade_cluster))
        .routes(routes!(suspend_cluster))
        .routes(routes!(set_ip_restrictions))
        .routes(routes!(set_deletion_protection))
        .routes(routes!(list_audit_logs))
        // The same routes without the trailing slash (croud always sends one; curl users often don't).
        .route("/api/v2/users/me", get(get_me))
        .route("/api/v2/organizations", get(list_organizations))
        .route("/api/v2/organizations/{org_id}/users", get(list_org_users).post(add_org_user))
        .route("/api/v2/organizations/{org_id}/users/{user}", delete(remove_org_user))
        .route("/api/v2/projects/{project_id}/users", get(list_project_users).post(add_project_user))
        .route("/api/v2/projects/{project_id}/users/{user}", delete(remove_project_user))
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/projects", get(list_projects).post(create_project))
        .route("/api/v2/projects/{project_id}", get(get_project).patch(edit_project).delete(delete_project))
        .route("/api/v2/clusters", get(list_clusters))
        .route("/api/v2/clusters/{cluster_id}", get(get_cluster).delete(delete_cluster))
        .route("/api/v2/organizations/{org_id}/clusters", post(deploy_cluster).get(list_org_clusters))
        .route("/api/v2/organizations/{org_id}", get(get_organization).put(edit_organization))
        .route("/api/v2/organizations/{org_id}/projects", get(list_org_projects))
        .route("/api/v2/organizations/{org_id}/regions", get(list_org_regions))
        .route("/api/v2/roles", get(list_roles))
        .route("/api/v2/subscriptions/{subscription_id}", get(get_subscription))
        .route("/api/v2/clusters/{cluster_id}/operations", get(list_operations))
        .route("/api/v2/regions", get(list_regions))
        .route("/api/v2/products", get(list_products))
        .route("/api/v2/subscriptions", get(list_subscriptions))
        .route("/api/v2/organizations/{org_id}/subscriptions", get(list_org_subscriptions))
        .route("/api/v2/users/me/api-keys", get(list_api_keys).post(create_api_key))
        .route("/api/v2/users/me/api-keys/{key}", get(get_api_key).delete(delete_api_key))
        .route("/api/v2/clusters/{cluster_id}/scale", put(scale_cluster))
        .route("/api/v2/clusters/{cluster_id}/upgrade", put(upgrade_cluster))
        .route("/api/v2/clusters/{cluster_id}/suspend", put(suspend_cluster))
        .route("/api/v2/clusters/{cluster_id}/ip-restrictions", put(set_ip_restrictions))
        .route("/api/v2/clusters/{cluster_id}/deletion-protection", put(set_deletion_protection))
        .route("/api/v2/organizations/{org_id}/auditlogs", get(list_audit_logs))
}
