//! The caller's organization (the only one it sees) and its subscription.

use super::wire::{self, Dc, Subscription};
use super::{CrCaller, CrJson, CrResult, FREE_TIER, own_org};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_app::Caller;
use dbcloud_app::vendor::OrgEdit;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

async fn org_doc(s: &AppState, caller: &Caller, o: &dbcloud_types::Organization) -> CrResult<wire::Organization> {
    let project_count = s.app.org().project_count(caller).await?;
    let (r, _) = super::users::roles(o.id, &caller.principal.grants);
    Ok(wire::Organization {
        id: o.id,
        name: o.name.clone(),
        plan_type: o.attributes.get("plan_type").cloned().unwrap_or(Value::from(3)),
        notifications_enabled: o.attributes.get("notifications_enabled").cloned().unwrap_or(Value::Bool(false)),
        project_count,
        role_fqn: r[0].role_fqn,
        dc: Dc::new(o.created_at, o.created_at),
        // Unset: left out (the document has no null email).
        email: o.attributes.get("email").filter(|e| e.is_string()).cloned(),
    })
}

async fn own_doc(s: &AppState, caller: &Caller) -> CrResult<wire::Organization> {
    let o = s.app.org().get(caller).await?;
    org_doc(s, caller, &o).await
}

/// The caller's organizations (one: the key's own).
#[utoipa::path(get, path = "/api/v2/organizations/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<wire::Organization>, description = "The caller's organizations."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn list_organizations(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Vec<wire::Organization>>> {
    Ok(Json(vec![own_doc(&s, &caller).await?]))
}

/// One organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, body = wire::Organization, description = "The organization."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn get_organization(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(org): Path<String>) -> CrResult<Json<wire::Organization>> {
    own_org(&caller, &org)?;
    Ok(Json(own_doc(&s, &caller).await?))
}

/// Organization edit body (every field optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditOrganizationBody {
    /// New name.
    pub name: Option<String>,
    /// Plan type, 1–6.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 6)]
    pub plan_type: Option<Value>,
    /// Contact email (null clears it).
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Value>,
    /// Whether notifications are sent.
    #[schema(value_type = Option<bool>)]
    pub notifications_enabled: Option<Value>,
}

/// Keeps an explicit `null` as `Some(Value::Null)` (absent stays `None`).
fn some_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Edit the caller's organization: name, and the vendor attributes `plan_type`, `email`,
/// `notifications_enabled`.
#[utoipa::path(put, path = "/api/v2/organizations/{org_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)), request_body = EditOrganizationBody,
    responses((status = 200, body = wire::Organization, description = "The organization as edited."), (status = 400, description = "Invalid", body = super::ErrorDoc), (status = 401, description = "Authentication required", body = super::ErrorDoc),
        (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn edit_organization(
    State(s): State<AppState>,
    CrCaller(caller): CrCaller,
    Path(org): Path<String>,
    CrJson(req): CrJson<EditOrganizationBody>,
) -> CrResult<Json<wire::Organization>> {
    own_org(&caller, &org)?;
    let edit = OrgEdit { name: req.name, plan_type: req.plan_type, email: req.email, notifications_enabled: req.notifications_enabled };
    s.app.org().edit(&caller, &edit).await?;
    Ok(Json(own_doc(&s, &caller).await?))
}

/// Subscriptions of the caller's organization.
#[utoipa::path(get, path = "/api/v2/subscriptions/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<Subscription>, description = "The subscriptions."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc)))]
pub async fn list_subscriptions(State(s): State<AppState>, CrCaller(caller): CrCaller) -> CrResult<Json<Vec<Subscription>>> {
    let o = s.app.org().get(&caller).await?;
    Ok(Json(vec![Subscription::from(&o)]))
}

/// Subscriptions of one organization.
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/subscriptions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<Subscription>, description = "The organization's subscriptions."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_org_subscriptions(state: State<AppState>, caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Vec<Subscription>>> {
    own_org(&caller.0, &org)?;
    list_subscriptions(state, caller).await
}

/// One subscription (the organization's; `free_tier` names it too).
#[utoipa::path(get, path = "/api/v2/subscriptions/{subscription_id}/", tag = "cratedb cloud v2", security(("basic" = [])), params(("subscription_id" = String, Path)),
    responses((status = 200, body = Subscription, description = "The subscription."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 403, description = "Permission denied", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn get_subscription(State(s): State<AppState>, CrCaller(caller): CrCaller, Path(id): Path<String>) -> CrResult<Json<Subscription>> {
    if id != FREE_TIER {
        own_org(&caller, &id)?;
    }
    let o = s.app.org().get(&caller).await?;
    Ok(Json(Subscription::from(&o)))
}
