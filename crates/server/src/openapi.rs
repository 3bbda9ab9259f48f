//! The OpenAPI 3.1 document, generated from the handlers themselves.

use crate::routes::{accounts, api_keys, audit, children, clouds, clusters, grants, org, projects, system};
use crate::dialects::couchbase;
use crate::dialects::cratedb;
use crate::state::AppState;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "dbcloud API", description = "Native API of dbcloud, a self-hostable control plane for databases-as-a-service."),
    modifiers(&SecuritySchemes),
    tags(
        (name = "organization"), (name = "projects"), (name = "clouds"), (name = "regions"), (name = "clusters"),
        (name = "buckets"), (name = "database users"), (name = "allow list"), (name = "operations"), (name = "api keys"),
        (name = "service accounts"), (name = "users"), (name = "roles"), (name = "audit"), (name = "cockroachdb cloud"), (name = "couchbase cloud v2"), (name = "cratedb cloud v2"), (name = "system")
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("`dbc_<key id>_<secret>`, or base64(`<access key>:<secret>`)".into());
        c.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        c.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
    }
}

/// Every route with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .routes(routes!(system::metrics))
        .routes(routes!(org::get_organization, org::update_organization))
        .routes(routes!(org::list_regions))
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(projects::get_project, projects::update_project, projects::delete_project))
        .routes(routes!(clouds::create_cloud, clouds::list_clouds))
        .routes(routes!(clouds::get_cloud, clouds::update_cloud, clouds::delete_cloud))
        .routes(routes!(clusters::create_cluster, clusters::list_clusters))
        .routes(routes!(clusters::get_cluster, clusters::update_cluster, clusters::delete_cluster))
        .routes(routes!(children::create_bucket, children::list_buckets))
        .routes(routes!(children::delete_bucket))
        .routes(routes!(children::create_db_user, children::list_db_users))
        .routes(routes!(children::delete_db_user))
        .routes(routes!(children::change_password))
        .routes(routes!(children::create_allowlist_entry, children::list_allowlist))
        .routes(routes!(children::delete_allowlist_entry))
        .routes(routes!(children::list_operations))
        .routes(routes!(children::get_operation))
        .routes(routes!(api_keys::create_api_key, api_keys::list_api_keys))
        .routes(routes!(api_keys::get_api_key, api_keys::update_api_key, api_keys::revoke_api_key))
        .routes(routes!(api_keys::rotate_api_key))
        .routes(routes!(accounts::create_service_account, accounts::list_service_accounts))
        .routes(routes!(accounts::get_service_account, accounts::update_service_account, accounts::delete_service_account))
        .routes(routes!(accounts::create_user, accounts::list_users))
        .routes(routes!(accounts::get_user, accounts::delete_user))
        .routes(routes!(grants::create_grant, grants::list_grants))
        .routes(routes!(grants::delete_grant))
        .routes(routes!(audit::list_audit_events))
        .routes(routes!(crate::dialects::cockroach::list_clusters))
        .routes(routes!(crate::dialects::cockroach::get_cluster, crate::dialects::cockroach::delete_cluster))
        .routes(routes!(crate::dialects::cockroach::nodes))
        .routes(routes!(crate::dialects::cockroach::available_regions))
        .routes(routes!(crate::dialects::cockroach::organization))
        // Public by the dialect's spec, so kept out of the document (whose every route requires auth).
        .route("/v2/status", axum::routing::get(couchbase::get_status))
        .routes(routes!(couchbase::list_clouds))
        .routes(routes!(couchbase::get_cloud))
        .routes(routes!(couchbase::list_projects, couchbase::create_project))
        .routes(routes!(couchbase::get_project, couchbase::delete_project))
        .routes(routes!(couchbase::list_clusters, couchbase::create_cluster))
        .routes(routes!(couchbase::get_cluster, couchbase::delete_cluster))
        .routes(routes!(couchbase::cluster_status))
        .routes(routes!(couchbase::cluster_health))
        .routes(routes!(couchbase::list_buckets, couchbase::create_bucket, couchbase::delete_bucket_by_name))
        .routes(routes!(couchbase::delete_bucket))
        .routes(routes!(couchbase::list_allowlist, couchbase::add_allowlist, couchbase::delete_allowlist))
        .routes(routes!(couchbase::list_db_users, couchbase::create_db_user))
        .routes(routes!(couchbase::update_db_user, couchbase::delete_db_user))
        .routes(routes!(couchbase::list_org_users))
        .routes(routes!(cratedb::get_me))
        .routes(routes!(cratedb::list_organizations))
        .routes(routes!(cratedb::get_organization))
        .routes(routes!(cratedb::list_org_projects))
        .routes(routes!(cratedb::list_org_regions))
        .routes(routes!(cratedb::list_roles))
        .routes(routes!(cratedb::get_subscription))
        .routes(routes!(cratedb::list_org_users))
        .routes(routes!(cratedb::list_users))
        .routes(routes!(cratedb::list_projects, cratedb::create_project))
        .routes(routes!(cratedb::get_project))
        .routes(routes!(cratedb::list_clusters))
        .routes(routes!(cratedb::get_cluster, cratedb::delete_cluster))
        .routes(routes!(cratedb::deploy_cluster, cratedb::list_org_clusters))
        .routes(routes!(cratedb::list_operations))
        .routes(routes!(cratedb::list_regions))
        .routes(routes!(cratedb::list_products))
        .routes(routes!(cratedb::list_subscriptions))
        .routes(routes!(cratedb::list_org_subscriptions))
        .routes(routes!(cratedb::list_api_keys))
        // The same routes without the trailing slash (croud always sends one; curl users often don't).
        .route("/api/v2/users/me", axum::routing::get(cratedb::get_me))
        .route("/api/v2/organizations", axum::routing::get(cratedb::list_organizations))
        .route("/api/v2/organizations/{org_id}/users", axum::routing::get(cratedb::list_org_users))
        .route("/api/v2/users", axum::routing::get(cratedb::list_users))
        .route("/api/v2/projects", axum::routing::get(cratedb::list_projects).post(cratedb::create_project))
        .route("/api/v2/projects/{project_id}", axum::routing::get(cratedb::get_project))
        .route("/api/v2/clusters", axum::routing::get(cratedb::list_clusters))
        .route("/api/v2/clusters/{cluster_id}", axum::routing::get(cratedb::get_cluster).delete(cratedb::delete_cluster))
        .route("/api/v2/organizations/{org_id}/clusters", axum::routing::post(cratedb::deploy_cluster).get(cratedb::list_org_clusters))
        .route("/api/v2/organizations/{org_id}", axum::routing::get(cratedb::get_organization))
        .route("/api/v2/organizations/{org_id}/projects", axum::routing::get(cratedb::list_org_projects))
        .route("/api/v2/organizations/{org_id}/regions", axum::routing::get(cratedb::list_org_regions))
        .route("/api/v2/roles", axum::routing::get(cratedb::list_roles))
        .route("/api/v2/subscriptions/{subscription_id}", axum::routing::get(cratedb::get_subscription))
        .route("/api/v2/clusters/{cluster_id}/operations", axum::routing::get(cratedb::list_operations))
        .route("/api/v2/regions", axum::routing::get(cratedb::list_regions))
        .route("/api/v2/products", axum::routing::get(cratedb::list_products))
        .route("/api/v2/subscriptions", axum::routing::get(cratedb::list_subscriptions))
        .route("/api/v2/organizations/{org_id}/subscriptions", axum::routing::get(cratedb::list_org_subscriptions))
        .route("/api/v2/users/me/api-keys", axum::routing::get(cratedb::list_api_keys))
        .route("/api/v2/{*rest}", axum::routing::any(cratedb::unknown))
        .route("/v2/{*rest}", axum::routing::any(couchbase::unknown_v2))
        .route("/v3/{*rest}", axum::routing::any(couchbase::unknown_v3))
}
