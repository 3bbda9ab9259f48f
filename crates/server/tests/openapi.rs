//! The OpenAPI document tells the truth about the native API, and the native API has one
//! naming convention: snake_case fields (seed 003's camelCase spellings accepted as
//! aliases), upper-case states, `{items, next_cursor}` lists.

mod common;

use common::*;
use dbcloud_types::{Access, ApiKeyState, ClusterState, KeyOwnerType, NodeStatus, OperationKind, OperationStatus, Plan, PrincipalType, Provider, ScopeType};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn document(t: &TestServer) -> Value {
    t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap()
}

fn is_native(path: &str) -> bool {
    path.starts_with("/v1/") || matches!(path, "/health" | "/ready" | "/metrics")
}

/// `#/components/…` → the object it names.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => resolve(doc, doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {r}"))),
        None => v,
    }
}

fn spellings<T: Serialize>(all: &[T]) -> Vec<Value> {
    all.iter().map(|v| serde_json::to_value(v).unwrap()).collect()
}

#[tokio::test]
async fn enums_are_documented_as_serde_spells_them() {
    let t = TestServer::start().await;
    let doc = document(&t).await;
    let cases = [
        ("Provider", spellings(Provider::ALL)),
        ("Plan", spellings(Plan::ALL)),
        ("ClusterState", spellings(ClusterState::ALL)),
        ("NodeStatus", spellings(NodeStatus::ALL)),
        ("OperationKind", spellings(OperationKind::ALL)),
        ("OperationStatus", spellings(OperationStatus::ALL)),
        ("Access", spellings(Access::ALL)),
        ("ApiKeyState", spellings(ApiKeyState::ALL)),
        ("KeyOwnerType", spellings(KeyOwnerType::ALL)),
        ("PrincipalType", spellings(PrincipalType::ALL)),
        ("ScopeType", spellings(ScopeType::ALL)),
    ];
    for (name, wire) in cases {
        assert_eq!(doc["components"]["schemas"][name]["enum"].as_array(), Some(&wire), "{name}");
    }
    assert_eq!(spellings(Provider::ALL), [json!("aws"), json!("gcp"), json!("azure"), json!("local")]);
    assert_eq!(spellings(Access::ALL), [json!("read"), json!("readwrite")]);
}

#[tokio::test]
async fn every_native_operation_documents_the_answers_it_can_give() {
    let t = TestServer::start().await;
    let doc = document(&t).await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| is_native(p)) {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let has = |s: &str| responses.contains_key(s);
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            assert!(has("400"), "{at}: no 400");
            if op.get("security").is_some() {
                for s in ["401", "403", "429"] {
                    assert!(has(s), "{at}: no {s}");
                }
            }
            if params.iter().any(|p| p["in"] == "path") {
                assert!(has("404"), "{at}: no 404");
            }
            if op.get("requestBody").is_some() {
                assert!(has("413"), "{at}: no 413");
            }
            if params.iter().any(|p| p["name"] == "Idempotency-Key") {
                assert!(has("422"), "{at}: no 422");
            }
            for (status, r) in responses {
                let r = resolve(&doc, r);
                assert!(!r["description"].as_str().unwrap_or_default().is_empty(), "{at} {status}: no description");
                assert!(r["headers"].get("x-request-id").is_some(), "{at} {status}: no x-request-id");
                if status == "429" {
                    assert!(r["headers"].get("Retry-After").is_some(), "{at}: 429 without Retry-After");
                }
                if status.starts_with('4') || status.starts_with('5') && path != "/ready" {
                    let body = resolve(&doc, &r["content"]["application/json"]["schema"]);
                    assert_eq!(body, &doc["components"]["schemas"]["ErrorBody"], "{at} {status}: not the native error body");
                }
            }
            operations += 1;
        }
    }
    assert!(operations >= 49, "{operations}");
    // Operation ids are unique in the whole document (native and dialects), and a create
    // links to the operations on what it created.
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
        }
    }
    let links = &doc["paths"]["/v1/clusters"]["post"]["responses"]["202"]["links"];
    assert_eq!(links["create_bucket"], json!({"operationId": "create_bucket", "parameters": {"id": "$response.body#/cluster/id"}}));
    assert_eq!(links["get_operation"]["parameters"]["id"], "$response.body#/operation/id");
    // Ids, pages and names carry their rules.
    let get = &doc["paths"]["/v1/clusters"]["get"]["parameters"];
    let limit = get.as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(500)));
    let id = &doc["paths"]["/v1/clusters/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!(id["format"], "uuid");
    let cluster = &doc["components"]["schemas"]["CreateCluster"]["allOf"][0]["properties"];
    assert_eq!(cluster["name"]["pattern"], "^[a-z][a-z0-9-]{1,61}[a-z0-9]$");
    assert_eq!(cluster["node_count"]["maximum"], 32);
}

/// Every property of every schema a native operation uses, and every parameter, is snake_case.
#[tokio::test]
async fn native_fields_and_parameters_are_snake_case() {
    let t = TestServer::start().await;
    let doc = document(&t).await;
    let snake = regex::Regex::new("^[a-z][a-z0-9_]*$").unwrap();
    let mut pending: Vec<Value> = vec![];
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| is_native(p)) {
        for op in item.as_object().unwrap().values() {
            for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] != "header") {
                assert!(snake.is_match(p["name"].as_str().unwrap()), "{path}: parameter {}", p["name"]);
            }
            pending.push(op.clone());
        }
    }
    let (mut seen, mut checked) = (BTreeSet::new(), 0);
    while let Some(v) = pending.pop() {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    if r.starts_with("#/components/schemas/") && seen.insert(r.clone()) {
                        pending.push(doc.pointer(r.trim_start_matches('#')).unwrap().clone());
                    } else if r.starts_with("#/components/responses/") && seen.insert(r.clone()) {
                        pending.push(doc.pointer(r.trim_start_matches('#')).unwrap()["content"].clone());
                    }
                }
                if let Some(Value::Object(props)) = o.get("properties") {
                    for name in props.keys() {
                        assert!(snake.is_match(name), "property {name:?} is not snake_case");
                        checked += 1;
                    }
                }
                pending.extend(o.into_iter().filter(|(k, _)| k != "headers").map(|(_, v)| v));
            }
            Value::Array(a) => pending.extend(a),
            _ => {}
        }
    }
    assert!(checked > 150 && seen.contains("#/components/schemas/CreateApiKey"), "{checked} {seen:?}");
}

#[tokio::test]
async fn api_keys_take_seed_003_camel_case_aliases_and_answer_snake_case() {
    let t = TestServer::start().await;
    let (s, k) = t
        .post(
            "/v1/api-keys",
            json!({"name": "seed", "expiry": 30, "organizationRoles": ["organizationMember"], "resources": [], "allowedCIDRs": ["127.0.0.1"], "rateLimit": 7}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    for field in ["organization_roles", "allowed_cidrs", "rate_limit", "owner_type", "expires_at", "bearer_token"] {
        assert!(k.get(field).is_some(), "{field} missing: {k}");
    }
    for camel in ["organizationRoles", "allowedCIDRs", "rateLimit", "ownerType"] {
        assert!(k.get(camel).is_none(), "{camel} in {k}");
    }
    assert_eq!((k["allowed_cidrs"].clone(), k["rate_limit"].clone(), k["state"].clone()), (json!(["127.0.0.1/32"]), json!(7), json!("ACTIVE")));
    let id = k["id"].as_str().unwrap();

    // Snake_case is the documented form; both spellings of one field is a 400 naming it.
    let (s, b) = t.post("/v1/api-keys", json!({"name": "x", "organization_roles": ["organizationMember"], "allowed_cidrs": ["10.0.0.0/8"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = t.post("/v1/api-keys", json!({"name": "x", "organization_roles": [], "organizationRoles": ["organizationMember"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(assert_error(&b, 3).contains("organization_roles"), "{b}");
    let (s, b) = t.post("/v1/api-keys", json!({"name": "x", "organization_roles": ["organizationMember"], "allowed_cidrs": ["10.0.0.1/8"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["details"][0]["field"], "allowed_cidrs[0]", "{b}");
    let (s, b) = t.post("/v1/api-keys", json!({"name": "x", "serviceAccountId": uuid::Uuid::now_v7(), "userId": uuid::Uuid::now_v7()})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["details"][0]["field"], "service_account_id", "{b}");

    // PATCH and rotate take the aliases too.
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/api-keys/{id}"), Some(json!({"rateLimit": 9}))).await;
    assert_eq!((s, b["rate_limit"].clone()), (StatusCode::OK, json!(9)), "{b}");
    let (s, _, b) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({"gracePeriodSeconds": 60}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["previous_secret_valid_until"].is_string(), "{b}");
    let (s, _, b) = t.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({"grace_period_seconds": 604_801}))).await;
    assert_eq!((s, b["details"][0]["field"].clone()), (StatusCode::BAD_REQUEST, json!("grace_period_seconds")), "{b}");

    // States are upper case, like cluster states.
    let (s, _, b) = t.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None).await;
    assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!("REVOKED")));
    let keys = t.get("/v1/api-keys").await;
    assert!(keys["items"].as_array().unwrap().iter().all(|k| ["ACTIVE", "EXPIRED", "REVOKED"].contains(&k["state"].as_str().unwrap())), "{keys}");
}

#[tokio::test]
async fn regions_answer_the_list_envelope() {
    let t = TestServer::start().await;
    let all = t.get("/v1/regions").await;
    assert_eq!(all.as_object().unwrap().keys().collect::<Vec<_>>(), ["items", "next_cursor"]);
    assert!(all["next_cursor"].is_null());
    let gcp = t.get("/v1/regions?provider=gcp").await;
    let items = gcp["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|r| r["provider"] == "gcp"), "{gcp}");
    assert!(items.len() < all["items"].as_array().unwrap().len());
    let (s, _, b) = t.call(Method::GET, "/v1/regions?provider=Gcp", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

/// JSON has one number type: an integer field takes `3.0` as 3, and refuses `2.5`.
#[tokio::test]
async fn integer_fields_take_integral_numbers() {
    let t = TestServer::start().await;
    let (s, b) = t.post("/v1/clusters", json!({"name": "floaty", "provider": "aws", "region": "us-east-1", "node_count": 3.0})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["cluster"]["node_count"], 3);
    let (s, b) = t.post("/v1/clusters", json!({"name": "halfway", "provider": "aws", "region": "us-east-1", "node_count": 2.5})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["details"][0]["field"], "node_count", "{b}");
    let (s, b) = t.post("/v1/clusters", json!({"name": "toobig", "provider": "aws", "region": "us-east-1", "node_count": 4_294_967_296_i64})).await;
    assert_eq!((s, b["details"][0]["field"].clone()), (StatusCode::BAD_REQUEST, json!("node_count")), "{b}");
}
