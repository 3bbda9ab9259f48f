//! Rules across the fields of one request body, written into the OpenAPI document:
//!
//! - a change (`PATCH`) names at least one field, and a field given is not `null`;
//! - a cloud is in a region of its provider; a cluster is created in a cloud (`cloud_id`) or
//!   in a provider's region (`provider` and `region`), never both, and only a serverless
//!   cluster has a spend limit (and one node);
//! - an API key has roles of its own (`organization_roles`), or is created for a service
//!   account (`service_account_id`) or a user (`user_id`) and then has no roles;
//! - a grant's scope is the organization (no `id`), or a project or cluster (with its `id`);
//!   a grant names a user or service account by UUID, an API key by its access key id.
//!
//! Each is an `allOf` of the body's object and a `oneOf` (per rule) of the allowed shapes, in
//! which an excluded field may only be absent or `null` (which the server reads as absent).

use super::rules::ACCESS_KEY;
use dbcloud_types::Provider;
use utoipa::Modify;
use utoipa::openapi::schema::{AllOf, Array, Object, OneOf, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// The request bodies that change an object: every field optional, at least one given.
const UPDATES: &[&str] = &["UpdateProject", "UpdateCloud", "UpdateCluster", "UpdateApiKey", "UpdateServiceAccount"];

fn typed(t: Type) -> RefOr<Schema> {
    RefOr::T(Schema::Object(Object::with_type(t)))
}

fn null() -> RefOr<Schema> {
    typed(Type::Null)
}

fn strings(values: &[&str]) -> RefOr<Schema> {
    let mut o = Object::with_type(Type::String);
    o.enum_values = Some(values.iter().map(|v| serde_json::Value::from(*v)).collect());
    RefOr::T(Schema::Object(o))
}

/// An array that is absent, `null` or empty.
fn no_items() -> RefOr<Schema> {
    let mut a = Array::new(Object::with_type(SchemaType::AnyValue));
    a.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    a.max_items = Some(0);
    RefOr::T(Schema::Array(a))
}

/// One allowed shape: `required` fields with their schemas, `other` fields constrained.
fn shape(required: &[(&str, RefOr<Schema>)], other: &[(&str, RefOr<Schema>)]) -> RefOr<Schema> {
    let mut o = Object::with_type(SchemaType::AnyValue);
    for (name, schema) in required.iter().chain(other) {
        o.properties.insert(name.to_string(), schema.clone());
    }
    o.required = required.iter().map(|(n, _)| n.to_string()).collect();
    RefOr::T(Schema::Object(o))
}

fn pattern(p: &str) -> RefOr<Schema> {
    let mut o = Object::with_type(Type::String);
    o.pattern = Some(p.to_string());
    RefOr::T(Schema::Object(o))
}

/// A provider with the names of its regions, one shape per provider.
fn provider_regions(extra: &[(&str, RefOr<Schema>)]) -> Vec<RefOr<Schema>> {
    Provider::ALL
        .iter()
        .map(|p| {
            let names: Vec<String> = dbcloud_core::regions::regions(Some(*p)).into_iter().map(|r| r.name).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            shape(&[("provider", strings(&[p.as_str()])), ("region", strings(&names))], extra)
        })
        .collect()
}

/// Replaces the component `name` by `allOf: [itself, oneOf: shapes, …]`, one `oneOf` per rule.
fn one_of(schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>, name: &str, rules: Vec<Vec<RefOr<Schema>>>) {
    let body = schemas.remove(name).unwrap_or_else(|| panic!("{name}: no such schema"));
    let description = match &body {
        RefOr::T(Schema::Object(o)) => o.description.clone(),
        _ => panic!("{name}: not an object"),
    };
    let mut all = AllOf::new();
    all.description = description;
    all.items = vec![body];
    for shapes in rules {
        let mut choice = OneOf::new();
        choice.items = shapes;
        all.items.push(RefOr::T(Schema::OneOf(choice)));
    }
    schemas.insert(name.to_string(), RefOr::T(Schema::AllOf(all)));
}

/// Writes the cross-field rules into the document.
pub struct Shapes;

impl Modify for Shapes {
    fn modify(&self, doc: &mut OpenApi) {
        let schemas = &mut doc.components.as_mut().expect("components").schemas;
        for name in UPDATES {
            let o = super::object_schema(schemas, name);
            o.min_properties = Some(1);
            for (field, p) in o.properties.iter_mut() {
                let RefOr::T(Schema::Object(p)) = p else { panic!("{name}.{field}: not a plain property") };
                if let SchemaType::Array(types) = &p.schema_type {
                    let types: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                    p.schema_type = if let [one] = types.as_slice() { SchemaType::Type(one.clone()) } else { SchemaType::from_iter(types) };
                }
            }
        }
        let s = || typed(Type::String);
        one_of(schemas, "CreateCloud", vec![provider_regions(&[])]);
        let mut cloud = vec![shape(&[("cloud_id", s())], &[("provider", null()), ("region", null())])];
        cloud.extend(provider_regions(&[("cloud_id", null())]));
        let mut one_node = Object::with_type(SchemaType::from_iter([Type::Integer, Type::Null]));
        (one_node.minimum, one_node.maximum) = (Some(1.into()), Some(1.into()));
        let mut dedicated = Object::with_type(SchemaType::from_iter([Type::String, Type::Null]));
        dedicated.enum_values = Some(vec!["dedicated".into(), serde_json::Value::Null]);
        let plan = vec![
            shape(&[("plan", strings(&["serverless"]))], &[("node_count", RefOr::T(Schema::Object(one_node)))]),
            shape(&[], &[("plan", RefOr::T(Schema::Object(dedicated))), ("spend_limit", null())]),
        ];
        one_of(schemas, "CreateCluster", vec![cloud, plan]);
        let inherit = |owner: &str, other: &str| shape(&[(owner, s())], &[(other, null()), ("organization_roles", no_items()), ("resources", no_items())]);
        let own = shape(&[("organization_roles", typed(Type::Array))], &[("service_account_id", null()), ("user_id", null())]);
        one_of(schemas, "CreateApiKey", vec![vec![own, inherit("service_account_id", "user_id"), inherit("user_id", "service_account_id")]]);
        let scope =
            vec![shape(&[("type", strings(&["organization"]))], &[("id", null())]), shape(&[("type", strings(&["project", "cluster"])), ("id", s())], &[])];
        one_of(schemas, "GrantScope", vec![scope]);
        let uuid = {
            let mut o = Object::with_type(Type::String);
            o.format = Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid));
            RefOr::T(Schema::Object(o))
        };
        let principal = vec![
            shape(&[("principal_type", strings(&["user", "service_account"])), ("principal_id", uuid)], &[]),
            shape(&[("principal_type", strings(&["api_key"])), ("principal_id", pattern(ACCESS_KEY))], &[]),
        ];
        one_of(schemas, "CreateRoleGrant", vec![principal]);
    }
}
