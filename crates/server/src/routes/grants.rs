//! Role grants: list, create, delete (the rules — role names, scopes, no escalation — are
//! the service layer's, `dbcloud_app::identity::grants`).

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dbcloud_app::model::PrincipalRef;
use dbcloud_core::Error;
use dbcloud_types::{CreateRoleGrant, ErrorBody, Page, RoleGrant};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Grant list filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    /// Only grants of this principal type (`user`, `service_account`, `api_key`)…
    pub principal_type: Option<String>,
    /// …and id.
    pub principal_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// List role grants.
#[utoipa::path(get, path = "/v1/role-grants", tag = "roles", security(("bearer" = [])), params(GrantQuery),
    responses((status = 200, body = Page<RoleGrant>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_grants(State(s): State<AppState>, caller: Caller, ApiQuery(q): ApiQuery<GrantQuery>) -> ApiResult<Json<Page<RoleGrant>>> {
    let principal = match (q.principal_type, q.principal_id) {
        (Some(kind), Some(id)) => Some(PrincipalRef { kind, id }),
        (None, None) => None,
        _ => return Err(Error::field("principal_id", "give principal_type and principal_id together").into()),
    };
    let page = super::page(q.cursor.as_deref(), q.limit)?;
    Ok(Json(s.app.grants().list(&caller, principal.as_ref(), page).await?))
}

/// Grant a role to a user, service account or API key. The caller must hold the role's
/// permissions at that scope.
#[utoipa::path(post, path = "/v1/role-grants", tag = "roles", security(("bearer" = [])), request_body = CreateRoleGrant,
    responses((status = 201, body = RoleGrant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_grant(State(s): State<AppState>, caller: Caller, ApiJson(req): ApiJson<CreateRoleGrant>) -> ApiResult<Response> {
    let principal = PrincipalRef { kind: req.principal_type, id: req.principal_id };
    let g = s.app.grants().create(&caller, &principal, &req.role, req.scope.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(g)).into_response())
}

/// Remove a role grant. The caller must hold the role it removes.
#[utoipa::path(delete, path = "/v1/role-grants/{id}", tag = "roles", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoleGrant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_grant(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<RoleGrant>> {
    Ok(Json(s.app.grants().delete(&caller, id).await?))
}
