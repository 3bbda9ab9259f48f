//! The OpenAPI 3.1 document, generated from the handlers themselves.
//!
//! The native API and the system routes (`/v1/…`, `/health`, `/ready`, `/metrics`) are
//! documented exactly: [`rules`] writes the input rules of the server's checks into the
//! schemas, [`shapes`] the rules across the fields of a body, [`responses`] adds the
//! responses every operation can give (errors, rate-limit and request-id headers), [`links`]
//! the links from a create to the operations on what it created. The vendor-dialect paths in the same document (`/v2`, `/api/v1`,
//! `/api/v2`) carry the typed request and answer schemas of their handlers (the structs the
//! handlers serialize, so the schemas cannot drift from the answers) and their errors in each
//! dialect's own error body (`CouchbaseErrorBody`, `CockroachErrorBody`,
//! `CrateDbErrorBody`); tests/openapi.rs checks real answers against them.

pub mod dialects;
pub mod links;
pub mod responses;
pub mod rules;
pub mod shapes;

use crate::dialects::{cockroach, couchbase, cratedb};
use crate::routes::{accounts, api_keys, audit, certificate, children, clouds, clusters, grants, org, projects, system};
use crate::state::AppState;
use utoipa::openapi::path::Operation;
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

/// Whether `path` belongs to the native API or the system routes (not a vendor dialect).
pub fn is_native(path: &str) -> bool {
    path.starts_with("/v1/") || matches!(path, "/health" | "/ready" | "/metrics")
}

/// Every operation of the native API and the system routes: path, method and operation.
pub fn native_operations(doc: &mut utoipa::openapi::OpenApi) -> Vec<(String, &'static str, &mut Operation)> {
    let mut out = vec![];
    for (path, item) in doc.paths.paths.iter_mut().filter(|(p, _)| is_native(p)) {
        for (method, op) in [("get", &mut item.get), ("put", &mut item.put), ("post", &mut item.post), ("delete", &mut item.delete), ("patch", &mut item.patch)]
        {
            if let Some(op) = op.as_mut() {
                out.push((path.clone(), method, op));
            }
        }
    }
    out
}

/// The object schema `name` of the document's components; a missing one is a bug in the
/// document's own code, so it panics (the OpenAPI tests build the document).
fn object_schema<'a>(
    schemas: &'a mut std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
    name: &str,
) -> &'a mut utoipa::openapi::schema::Object {
    let Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(o))) = schemas.get_mut(name) else { panic!("{name}: no such object schema") };
    o
}

/// The vendor surface a dialect path belongs to, as an operation id prefix.
fn surface(path: &str) -> Option<&'static str> {
    [("/api/v1/orgs/", "cockroach_legacy"), ("/api/v1/", "cockroach"), ("/api/v2/", "cratedb"), ("/v2/", "couchbase")]
        .into_iter()
        .find_map(|(prefix, name)| path.starts_with(prefix).then_some(name))
}

/// Operation ids are unique in the document (the dialects reuse handler names such as
/// `list_clusters`): a native operation keeps its id, a dialect's gets its surface as a
/// prefix (`couchbase_list_clusters`).
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    let mut seen = std::collections::BTreeSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let id = op.operation_id.get_or_insert_with(String::new);
            if let Some(prefix) = surface(path) {
                *id = format!("{prefix}_{id}");
            }
            assert!(seen.insert(id.clone()), "operation id {id} is used twice ({path})");
        }
    }
}

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

/// Every route with its OpenAPI description. The rules and common responses are written
/// once every route (and so every schema) is in the document.
pub fn api_router() -> OpenApiRouter<AppState> {
    let native = OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .routes(routes!(certificate::get_certificate))
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
        .routes(routes!(audit::list_audit_events));
    let mut router = cratedb::routes(couchbase::routes(cockroach::routes(native)));
    let doc = router.get_openapi_mut();
    unique_operation_ids(doc);
    rules::Rules.modify(doc);
    shapes::Shapes.modify(doc);
    responses::CommonResponses.modify(doc);
    links::Links.modify(doc);
    dialects::DialectSchemas.modify(doc);
    router
}
