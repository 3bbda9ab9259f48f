//! CockroachDB Cloud API v1 (`/api/v1/`): clusters, nodes, regions, SQL users, databases,
//! allow list, API keys, service accounts, role grants, audit log, organization, and the
//! earliest organization-scoped paths (`/api/v1/orgs/{id}/clusters…`). Each handler is an
//! adapter over the native handlers or the same store calls and permission checks.

mod children;
mod clusters;
mod identity;
mod legacy;
mod paging;
mod vendor_ops;

pub use paging::ListQuery;

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_types::Code;
use serde_json::json;

dialect_error!(
    /// An error in the vendor's `Status` shape: `{code, message, details}` where validation
    /// errors carry one `google.rpc.BadRequest` detail, and FAILED_PRECONDITION is a 400.
    CrdbError,
    CResult
);

impl IntoResponse for CrdbError {
    fn into_response(self) -> Response {
        let mut e = self.0;
        if e.body.code == Code::FailedPrecondition.as_i32() {
            e.status = StatusCode::BAD_REQUEST;
        }
        if !e.body.details.is_empty() {
            let violations = std::mem::take(&mut e.body.details);
            e.body.details = vec![json!({"@type": "type.googleapis.com/google.rpc.BadRequest", "field_violations": violations})];
        }
        e.into_response()
    }
}

dialect_extractors!(CrdbError, CCaller, CJson, CQuery);

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

/// The dialect's routes, added to the server's router and OpenAPI document.
pub fn routes(r: utoipa_axum::router::OpenApiRouter<AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    r.routes(routes!(clusters::list_clusters, clusters::create_cluster))
        .routes(routes!(clusters::get_cluster, clusters::update_cluster, clusters::delete_cluster))
        .routes(routes!(clusters::nodes))
        .routes(routes!(clusters::available_regions))
        .routes(routes!(clusters::spend_limit))
        .routes(routes!(clusters::organization))
        .routes(routes!(children::list_sql_users, children::create_sql_user))
        .routes(routes!(children::delete_sql_user))
        .routes(routes!(children::sql_user_password))
        .routes(routes!(children::list_databases, children::create_database, children::rename_database_body))
        .routes(routes!(children::rename_database, children::delete_database))
        .routes(routes!(children::list_allowlist, children::add_allowlist))
        .routes(routes!(children::put_allowlist, children::patch_allowlist, children::delete_allowlist))
        .routes(routes!(identity::list_api_keys, identity::create_api_key))
        .routes(routes!(identity::get_api_key, identity::update_api_key, identity::delete_api_key))
        .routes(routes!(identity::list_service_accounts, identity::create_service_account))
        .routes(routes!(identity::get_service_account, identity::update_service_account, identity::delete_service_account))
        .routes(routes!(identity::list_role_grants))
        .routes(routes!(identity::get_roles, identity::set_roles))
        .routes(routes!(identity::add_role, identity::remove_role))
        .routes(routes!(identity::audit_log))
        .routes(routes!(legacy::list_clusters, legacy::create_cluster))
        .routes(routes!(legacy::get_cluster, legacy::delete_cluster))
        .routes(routes!(legacy::spend_limit))
        .routes(routes!(legacy::available_regions))
        .route("/api/v1/{*rest}", axum::routing::any(unknown))
        .route("/api/scim/v2/{*rest}", axum::routing::any(unimplemented))
}
