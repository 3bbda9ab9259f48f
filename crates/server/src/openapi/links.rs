//! OpenAPI links of the native API: what a create answers is the id the object's own
//! operations take (`POST /v1/clusters` → `GET /v1/clusters/{id}`, its buckets, users,
//! allow list and operation; a bucket → its delete; …). Clients and schema-driven tools
//! follow them from one call to the next.

use super::native_operations;
use utoipa::Modify;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi, RefOr};

/// `(source operation, status, target operation, [(parameter, runtime expression)])`.
type LinkRule = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)]);

const CREATED_ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const CLUSTER_ID: &[(&str, &str)] = &[("id", "$response.body#/cluster/id")];

const LINKS: &[LinkRule] = &[
    ("create_project", "201", "get_project", CREATED_ID),
    ("create_project", "201", "update_project", CREATED_ID),
    ("create_project", "201", "delete_project", CREATED_ID),
    ("create_cloud", "201", "get_cloud", CREATED_ID),
    ("create_cloud", "201", "update_cloud", CREATED_ID),
    ("create_cloud", "201", "delete_cloud", CREATED_ID),
    ("create_cluster", "202", "get_cluster", CLUSTER_ID),
    ("create_cluster", "202", "update_cluster", CLUSTER_ID),
    ("create_cluster", "202", "delete_cluster", CLUSTER_ID),
    ("create_cluster", "202", "create_bucket", CLUSTER_ID),
    ("create_cluster", "202", "list_buckets", CLUSTER_ID),
    ("create_cluster", "202", "create_db_user", CLUSTER_ID),
    ("create_cluster", "202", "list_db_users", CLUSTER_ID),
    ("create_cluster", "202", "create_allowlist_entry", CLUSTER_ID),
    ("create_cluster", "202", "list_allowlist", CLUSTER_ID),
    ("create_cluster", "202", "list_operations", CLUSTER_ID),
    ("create_cluster", "202", "get_operation", &[("id", "$response.body#/operation/id")]),
    ("create_bucket", "201", "delete_bucket", &[("id", "$request.path.id"), ("bucket_id", "$response.body#/id")]),
    ("create_db_user", "201", "delete_db_user", &[("id", "$request.path.id"), ("user_id", "$response.body#/id")]),
    ("create_db_user", "201", "change_password", &[("id", "$request.path.id"), ("user_id", "$response.body#/id")]),
    ("create_allowlist_entry", "201", "delete_allowlist_entry", &[("id", "$request.path.id"), ("entry_id", "$response.body#/id")]),
    ("create_api_key", "201", "get_api_key", CREATED_ID),
    ("create_api_key", "201", "update_api_key", CREATED_ID),
    ("create_api_key", "201", "rotate_api_key", CREATED_ID),
    ("create_api_key", "201", "revoke_api_key", CREATED_ID),
    ("create_service_account", "201", "get_service_account", CREATED_ID),
    ("create_service_account", "201", "update_service_account", CREATED_ID),
    ("create_service_account", "201", "delete_service_account", CREATED_ID),
    ("create_user", "201", "get_user", CREATED_ID),
    ("create_user", "201", "delete_user", CREATED_ID),
    ("create_grant", "201", "delete_grant", CREATED_ID),
];

/// Adds the links to the success responses of the creates.
pub struct Links;

impl Modify for Links {
    fn modify(&self, doc: &mut OpenApi) {
        let mut ops = native_operations(doc);
        let known: Vec<String> = ops.iter().filter_map(|(_, _, op)| op.operation_id.clone()).collect();
        for (source, status, target, params) in LINKS {
            assert!(known.iter().any(|k| k == target), "link to unknown operation {target}");
            let (_, _, op) = ops.iter_mut().find(|(_, _, op)| op.operation_id.as_deref() == Some(*source)).unwrap_or_else(|| panic!("no operation {source}"));
            let Some(RefOr::T(r)) = op.responses.responses.get_mut(*status) else { panic!("{source} has no {status} response") };
            let mut link = LinkBuilder::new().operation_id(*target);
            for (name, expression) in params.iter() {
                link = link.parameter(*name, *expression);
            }
            r.links.insert((*target).to_string(), RefOr::T(link.build()));
        }
    }
}
