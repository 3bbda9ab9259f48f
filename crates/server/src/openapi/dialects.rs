//! The vendor dialects' part of the document, finished once every route is in it:
//!
//! - the values of the string fields a dialect answers from a fixed set (its wire structs keep
//!   them as `&'static str`, which the derived schemas show as any string), written as `enum`s;
//! - a description on every answer of a dialect operation that has none (the error answers
//!   whose body is the dialect's error shape).

use super::surface;
use dbcloud_types::OperationStatus;
use utoipa::Modify;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// A Couchbase cluster's v2 `status` (`couchbase::wire::status`).
const CB_STATUS: &[&str] = &["deploying", "ready", "deploy_failed", "upgrading", "destroy_failed", "destroying", "destroy_succeeded"];
/// A Couchbase cluster's v2 `health` (`couchbase::wire::health`).
const CB_HEALTH: &[&str] = &["healthy", "degraded", "unhealthy", "N/A"];
/// A CrateDB operation's type (`cratedb::clusters::op_type`).
const CR_OP_TYPE: &[&str] = &["CREATE", "DELETE", "SCALE", "UPGRADE", "SUSPEND", "ALLOWED_CIDR_UPDATE"];

/// `(schema, property, values)`; an operation status is the native one's spelling.
fn enums() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let op_status: Vec<&'static str> = OperationStatus::ALL.iter().map(|s| s.as_str()).collect();
    vec![
        (
            "CouchbaseErrorBody",
            "errorType",
            vec![
                "RequestValidationError",
                "EntityNotFound",
                "EntityAlreadyExists",
                "AccessForbidden",
                "RateLimitExceeded",
                "EntityStateInvalid",
                "NotImplemented",
                "Unauthorized",
                "InternalServerError",
            ],
        ),
        ("ClusterSummary", "status", CB_STATUS.to_vec()),
        ("ClusterDetail", "status", CB_STATUS.to_vec()),
        ("ClusterStatus", "status", CB_STATUS.to_vec()),
        ("ClusterHealth", "status", CB_STATUS.to_vec()),
        ("ClusterSummary", "health", CB_HEALTH.to_vec()),
        ("ClusterHealth", "health", CB_HEALTH.to_vec()),
        ("NodeStats", "status", CB_HEALTH.to_vec()),
        ("ServiceStats", "status", vec!["healthy", "unhealthy"]),
        ("AllowlistOut", "ruleType", vec!["temporary", "permanent"]),
        ("AllowlistOut", "state", vec!["active", "expired"]),
        ("ClusterOut", "state", vec!["CREATING", "CREATED", "CREATION_FAILED", "LOCKED", "DELETED"]),
        (
            "ClusterOut",
            "operation_status",
            vec!["UNSPECIFIED", "CLUSTER_STATUS_UNSPECIFIED", "CRDB_SCALE_RUNNING", "CRDB_EDIT_CLUSTER_RUNNING", "CRDB_MAJOR_UPGRADE_RUNNING"],
        ),
        ("ClusterOut", "upgrade_status", vec!["FINALIZED", "MAJOR_UPGRADE_RUNNING"]),
        ("ClusterOut", "plan", vec!["BASIC", "STANDARD", "ADVANCED", "SERVERLESS", "DEDICATED"]),
        ("ClusterOut", "egress_traffic_policy", vec!["ALLOW_ALL", "DEFAULT_DENY"]),
        ("CrateDbHealth", "status", vec!["GREEN", "YELLOW", "RED", "UNKNOWN", "SUSPENDED"]),
        ("CrateDbHealth", "running_operation", CR_OP_TYPE.to_vec()),
        ("CrateDbLastOperation", "type", CR_OP_TYPE.to_vec()),
        ("CrateDbLastOperation", "status", op_status.clone()),
        ("CrateDbOperation", "type", CR_OP_TYPE.to_vec()),
        ("CrateDbOperation", "status", op_status),
    ]
}

/// The description of an answer of `status` that has none.
fn description(status: &str) -> &'static str {
    match status {
        "200" => "OK.",
        "201" => "Created.",
        "202" => "Accepted.",
        "204" => "Done; no content.",
        "400" => "Invalid request; nothing was changed.",
        "401" => "Unauthenticated.",
        "403" => "Permission denied.",
        "404" => "Not found.",
        "409" => "Conflict.",
        "422" => "Invalid request; nothing was changed.",
        "429" => "Rate limit exceeded.",
        "503" => "Unavailable; retry later.",
        _ => "See the body.",
    }
}

/// Writes the dialects' enums and descriptions into the document.
pub struct DialectSchemas;

impl Modify for DialectSchemas {
    fn modify(&self, doc: &mut OpenApi) {
        let schemas = &mut doc.components.as_mut().expect("components").schemas;
        for (schema, property, values) in enums() {
            let at = format!("{schema}.{property}");
            let o = super::object_schema(schemas, schema);
            let Some(RefOr::T(Schema::Object(p))) = o.properties.get_mut(property) else { panic!("{at}: no such string property") };
            let mut values: Vec<serde_json::Value> = values.into_iter().map(serde_json::Value::from).collect();
            match &p.schema_type {
                SchemaType::Type(Type::String) => {}
                SchemaType::Array(types) if types.contains(&Type::String) && types.contains(&Type::Null) => values.push(serde_json::Value::Null),
                _ => panic!("{at}: not a string"),
            }
            p.enum_values = Some(values);
        }
        for (path, item) in doc.paths.paths.iter_mut().filter(|(p, _)| surface(p).is_some()) {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                for (status, r) in op.responses.responses.iter_mut() {
                    match r {
                        RefOr::T(r) if r.description.is_empty() => r.description = description(status).to_string(),
                        RefOr::T(_) => {}
                        RefOr::Ref(_) => panic!("{path} {status}: a dialect answer is described in place"),
                    }
                }
            }
        }
    }
}
