//! Couchbase Cloud public API v2 (`/v2/`): parses the vendor's requests, asks the service
//! layer ([`dbcloud_app`]) and renders its answers in the vendor's shapes, page-number
//! envelopes and `{"message","errorType"}` error bodies (spec `dialects/couchbase-v2.md`).
//! Every decision (permissions, business rules, transactions, idempotency) is the service's.
//!
//! Errors: every handler returns [`CbError`], and the extractors used here ([`CbCaller`],
//! [`CbJson`], [`CbQuery`], [`CbIdemKey`]) reject with it too, so the native API and its error
//! bodies are untouched.

mod allowlist;
mod buckets;
mod catalog;
mod clusters;
mod paging;
mod users;
mod wire;

#[cfg(test)]
mod tests;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use dbcloud_core::Error;
use uuid::Uuid;

pub use allowlist::*;
pub use buckets::*;
pub use catalog::*;
pub use clusters::*;
pub use paging::PageParams;
pub use users::*;

/// The timestamp message of spec §1.2 (the auth layer's reason string).
const TIMESTAMP_REASON: &str = "invalid or expired Couchbase-Timestamp";

// ---------------------------------------------------------------------------------------
// Errors and extractors
// ---------------------------------------------------------------------------------------

/// An error answered in the Couchbase shape `{"message","errorType"}` (spec §2.3).
#[derive(Debug)]
pub struct CbError(pub ApiError);

impl From<ApiError> for CbError {
    fn from(e: ApiError) -> Self {
        CbError(e)
    }
}

impl From<Error> for CbError {
    fn from(e: Error) -> Self {
        CbError(e.into())
    }
}

/// Result of a handler of this dialect.
pub type CbResult<T> = Result<T, CbError>;

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
        let mut r = (status, Json(wire::ErrorBody { message, error_type: kind })).into_response();
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

/// The authenticated caller; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(state(AppState), rejection(CbError))]
pub struct CbCaller(pub Caller);

/// A JSON body (any or no content type); failures answer in this dialect's shape.
#[derive(FromRequest)]
#[from_request(via(ApiJson), rejection(CbError))]
pub struct CbJson<T>(pub T);

/// Query parameters; failures answer in this dialect's shape.
#[derive(FromRequestParts)]
#[from_request(via(ApiQuery), rejection(CbError))]
pub struct CbQuery<T>(pub T);

/// The optional `Idempotency-Key` header of a create; a malformed one is a 422.
pub struct CbIdemKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CbIdemKey {
    type Rejection = CbError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <crate::idem::IdemKey as FromRequestParts<S>>::from_request_parts(parts, state).await.map(|k| CbIdemKey(k.0)).map_err(CbError)
    }
}

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

/// Marks the answer to a create that replays an earlier one with the same `Idempotency-Key`.
fn replayed(mut r: Response, replayed: bool) -> Response {
    if replayed {
        r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

// ---------------------------------------------------------------------------------------
// Status, unknown routes, the router
// ---------------------------------------------------------------------------------------

/// Service status; needs no credentials.
#[utoipa::path(get, path = "/v2/status", tag = "couchbase cloud v2", responses((status = 200, body = wire::ServiceStatus, description = "`{\"status\":\"OK\"}`")))]
pub async fn get_status() -> Json<wire::ServiceStatus> {
    Json(wire::ServiceStatus { status: "OK" })
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
