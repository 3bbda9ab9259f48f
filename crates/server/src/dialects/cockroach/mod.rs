//! CockroachDB Cloud API v1 (`/api/v1/`): clusters, nodes, regions, SQL users, databases,
//! allow list, API keys, service accounts, role grants, audit log, organization, and the
//! earliest organization-scoped paths (`/api/v1/orgs/{id}/clusters…`). Each handler parses
//! the vendor's request, makes one typed call of the service layer (`dbcloud_app`), which
//! decides, and renders the answer in the vendor's shape.

mod audit;
mod catalog;
mod children;
mod clusters;
mod connection;
mod create;
mod keys;
mod legacy;
mod paging;
mod roles;
mod shape;
mod update;
mod vendor_ops;
mod wire;

pub use paging::ListQuery;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_types::{Code, FieldViolation};
use serde::Serialize;
use utoipa::ToSchema;

/// An error in the vendor's `Status` shape: `{code, message, details}` where validation
/// errors carry one `google.rpc.BadRequest` detail, and FAILED_PRECONDITION is a 400.
#[derive(Debug)]
pub struct CrdbError(pub ApiError);

impl From<ApiError> for CrdbError {
    fn from(e: ApiError) -> Self {
        CrdbError(e)
    }
}

impl From<dbcloud_core::Error> for CrdbError {
    fn from(e: dbcloud_core::Error) -> Self {
        CrdbError(e.into())
    }
}

/// Result of a handler of this dialect.
pub type CResult<T> = Result<T, CrdbError>;

impl IntoResponse for CrdbError {
    fn into_response(self) -> Response {
        let mut e = self.0;
        if e.body.code == Code::FailedPrecondition.as_i32() {
            e.status = StatusCode::BAD_REQUEST;
        }
        let violations = std::mem::take(&mut e.body.details);
        let details = if violations.is_empty() {
            vec![]
        } else {
            let field_violations = violations.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect();
            vec![CockroachBadRequest { type_url: "type.googleapis.com/google.rpc.BadRequest", field_violations }]
        };
        let body = CockroachErrorBody { code: e.body.code, message: std::mem::take(&mut e.body.message), details };
        e.respond_with(body)
    }
}

/// The vendor's `Status` error body (`CrdbError`'s answer: the native body with its
/// validation details as one `google.rpc.BadRequest`).
#[derive(Serialize, ToSchema)]
pub struct CockroachErrorBody {
    /// gRPC status code (3 invalid argument, 5 not found, 7 permission denied, 16 unauthenticated …).
    pub code: i32,
    /// Human-readable message.
    pub message: String,
    /// Empty, or for validation errors one `google.rpc.BadRequest` naming each field.
    pub details: Vec<CockroachBadRequest>,
}

/// `google.rpc.BadRequest`.
#[derive(Serialize, ToSchema)]
pub struct CockroachBadRequest {
    /// `type.googleapis.com/google.rpc.BadRequest`.
    #[serde(rename = "@type")]
    pub type_url: &'static str,
    /// One entry per offending field.
    pub field_violations: Vec<FieldViolation>,
}

/// The authenticated caller; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(state(AppState), rejection(CrdbError))]
pub struct CCaller(pub Caller);

/// A JSON body (any or no content type); failures answer in this dialect's shape.
#[derive(FromRequest)]
#[from_request(via(ApiJson), rejection(CrdbError))]
pub struct CJson<T>(pub T);

/// Query parameters; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(via(ApiQuery), rejection(CrdbError))]
pub struct CQuery<T>(pub T);

/// A 400 naming one field.
pub(crate) fn field(name: &str, why: impl Into<String>) -> CrdbError {
    dbcloud_core::Error::field(name, why).into()
}

/// RFC 3339 rendering of a timestamp.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn not_implemented() -> CrdbError {
    CrdbError(ApiError::new(StatusCode::NOT_IMPLEMENTED, Code::Unimplemented, "not implemented"))
}

/// Vendor operations this server does not serve: 501 with code 12 (after authentication).
pub async fn unimplemented(_caller: CCaller) -> CrdbError {
    not_implemented()
}

/// Paths under `/api/v1/` that the vendor's API does not have: 404 with code 5; vendor
/// operations this server does not serve: 501. Both after authentication.
pub async fn unknown(_caller: CCaller, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if paging::vendor_operation(method.as_str(), uri.path()) {
        return not_implemented().into_response();
    }
    CrdbError(ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, format!("no such endpoint: {method} {}", uri.path()))).into_response()
}

/// The dialect's routes, added to the server's router and OpenAPI document. `Cc-Version`
/// is checked and echoed on these routes only (other surfaces have no such header).
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    let crdb = utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(clusters::list_clusters, create::create_cluster))
        .routes(routes!(clusters::get_cluster, update::update_cluster, clusters::delete_cluster))
        .routes(routes!(catalog::nodes))
        .routes(routes!(connection::connection_string))
        .routes(routes!(catalog::available_regions))
        .routes(routes!(clusters::spend_limit))
        .routes(routes!(catalog::organization))
        .routes(routes!(children::list_sql_users, children::create_sql_user))
        .routes(routes!(children::delete_sql_user))
        .routes(routes!(children::sql_user_password))
        .routes(routes!(children::list_databases, children::create_database, children::rename_database_body))
        .routes(routes!(children::rename_database, children::delete_database))
        .routes(routes!(children::list_allowlist, children::add_allowlist))
        .routes(routes!(children::put_allowlist, children::patch_allowlist, children::delete_allowlist))
        .routes(routes!(keys::list_api_keys, keys::create_api_key))
        .routes(routes!(keys::get_api_key, keys::update_api_key, keys::delete_api_key))
        .routes(routes!(keys::list_service_accounts, keys::create_service_account))
        .routes(routes!(keys::get_service_account, keys::update_service_account, keys::delete_service_account))
        .routes(routes!(roles::list_role_grants))
        .routes(routes!(roles::get_roles, roles::set_roles))
        .routes(routes!(roles::add_role, roles::remove_role))
        .routes(routes!(audit::audit_log))
        .routes(routes!(legacy::list_clusters, legacy::create_cluster))
        .routes(routes!(legacy::get_cluster, legacy::delete_cluster))
        .routes(routes!(legacy::spend_limit))
        .routes(routes!(legacy::available_regions))
        .route("/api/v1/{*rest}", axum::routing::any(unknown))
        .route("/api/scim/v2/{*rest}", axum::routing::any(unimplemented))
        .layer(axum::middleware::from_fn(crate::version::cc_version));
    r.merge(crdb)
}
