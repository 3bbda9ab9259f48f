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

/// The vendor dialects: path prefix and the component of the dialect's own error body.
const DIALECTS: &[(&str, &str)] = &[("/v2/", "CouchbaseErrorBody"), ("/api/v2/", "CrateDbErrorBody"), ("/api/v1/", "CockroachErrorBody")];

/// Success answers of the dialects that carry no body besides 202 and 204 (`METHOD path status`).
const BODILESS: &[&str] = &["post /v2/clusters 201", "post /v2/clusters/{id}/users 201"];

/// Whether a schema names its fields: an object with properties (or explicitly none, the
/// answer `{}`), an array of such, or a composition of such (a `null` variant aside),
/// through `$ref`s.
fn typed(doc: &Value, s: &Value) -> bool {
    if let Some(r) = s["$ref"].as_str() {
        return doc.pointer(r.trim_start_matches('#')).is_some_and(|t| typed(doc, t));
    }
    if s["properties"].as_object().is_some_and(|p| !p.is_empty()) || (s["type"] == "object" && s["additionalProperties"] == false) {
        return true;
    }
    if s["type"] == "array" {
        return typed(doc, &s["items"]);
    }
    ["allOf", "oneOf", "anyOf"].iter().any(|k| s[k].as_array().is_some_and(|v| !v.is_empty() && v.iter().all(|x| x["type"] == "null" || typed(doc, x))))
}

/// Every `$ref` reachable from `v` that names nothing in the document.
fn dangling(doc: &Value, v: &Value, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref")
                && seen.insert(r.clone())
            {
                match doc.pointer(r.trim_start_matches('#')) {
                    Some(target) => dangling(doc, target, seen, out),
                    None => out.push(r.clone()),
                }
            }
            o.values().for_each(|x| dangling(doc, x, seen, out));
        }
        Value::Array(a) => a.iter().for_each(|x| dangling(doc, x, seen, out)),
        _ => {}
    }
}

/// Every vendor-dialect operation documents typed request and response bodies, and its
/// errors in the dialect's own error shape.
#[tokio::test]
async fn every_dialect_operation_documents_typed_bodies() {
    let t = TestServer::start().await;
    let doc = document(&t).await;
    let (mut problems, mut operations) = (vec![], 0);
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some((_, error)) = DIALECTS.iter().find(|(p, _)| path.starts_with(p)) else { continue };
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            operations += 1;
            if op.get("requestBody").is_some() {
                match op.pointer("/requestBody/content/application~1json/schema") {
                    Some(s) if typed(&doc, s) => {}
                    s => problems.push(format!("{at}: the request body is not a typed schema: {s:?}")),
                }
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                if r["description"].as_str().unwrap_or_default().is_empty() {
                    problems.push(format!("{at} {status}: no description"));
                }
                let schema = r.pointer("/content/application~1json/schema");
                if status.starts_with('2') {
                    let bodiless = ["202", "204"].contains(&status.as_str()) || BODILESS.contains(&format!("{at} {status}").as_str());
                    match schema {
                        None if bodiless => {}
                        Some(s) if !bodiless && typed(&doc, s) => {}
                        s => problems.push(format!("{at} {status}: the answer's schema is not typed (or a bodiless answer has one): {s:?}")),
                    }
                } else if schema.and_then(|s| s["$ref"].as_str()) != Some(&format!("#/components/schemas/{error}")) {
                    problems.push(format!("{at} {status}: not the dialect's error body {error}: {schema:?}"));
                }
            }
            let mut missing = vec![];
            dangling(&doc, op, &mut BTreeSet::new(), &mut missing);
            problems.extend(missing.into_iter().map(|r| format!("{at}: {r} names no component")));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(operations >= 100, "{operations}");
    for (_, error) in DIALECTS {
        assert!(typed(&doc, &doc["components"]["schemas"][error]), "{error}");
    }
}

/// Real answers of the dialects (creates, gets, lists and an error) fit the schemas the
/// server's own document gives them: required fields present, types, enums, no field the
/// document lacks.
#[tokio::test]
async fn dialect_answers_fit_their_documented_schemas() {
    let t = TestServer::start().await;
    let checker = common::vendor_doc::VendorDoc::json(&document(&t).await.to_string());
    let mut errs = vec![];
    let mut check = |method: Method, path: &str, (status, body): (StatusCode, Value), want: StatusCode| {
        assert_eq!(status, want, "{method} {path}: {body}");
        checker.check_answer(method.as_str(), path, status.as_u16(), &body, &mut errs);
        body
    };
    let missing = uuid::Uuid::now_v7();
    // The creates' bodies fit the documented request schemas too.
    let mut request_errs = vec![];

    // CrateDB Cloud v2 (HTTP Basic).
    let cr = |m: Method, p: String, b: Option<Value>| {
        let t = &t;
        async move {
            let mut rb = t.http.request(m, format!("{}{p}", t.url)).basic_auth(&t.access_key, Some(&t.secret));
            if let Some(b) = b {
                rb = rb.json(&b);
            }
            let (s, _, v) = decode(rb.send().await.unwrap()).await;
            (s, v)
        }
    };
    let p = check(Method::POST, "/api/v2/projects/", cr(Method::POST, "/api/v2/projects/".into(), Some(json!({"name": "oa-cr"}))).await, StatusCode::CREATED);
    let deploy = json!({"cluster": {"name": "oa-cr", "crate_version": "5.9.2", "product_name": "cr4", "product_tier": "default", "username": "admin",
        "password": "a-password-of-24-chars-xx"}, "subscription_id": "free_tier", "project_id": p["id"]});
    let path = format!("/api/v2/organizations/{}/clusters/", t.org);
    checker.check_request("POST", &path, &deploy, &mut request_errs);
    let c = check(Method::POST, &path, cr(Method::POST, path.clone(), Some(deploy)).await, StatusCode::CREATED);
    let id = c["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", std::time::Duration::from_secs(30)).await;
    for path in [
        format!("/api/v2/clusters/{id}/"),
        "/api/v2/clusters/".into(),
        format!("/api/v2/clusters/{id}/operations/"),
        format!("/api/v2/projects/{}/", p["id"].as_str().unwrap()),
        "/api/v2/organizations/".into(),
        "/api/v2/users/me/".into(),
        "/api/v2/products/".into(),
        "/api/v2/regions/".into(),
    ] {
        check(Method::GET, &path, cr(Method::GET, path.clone(), None).await, StatusCode::OK);
    }
    let path = format!("/api/v2/clusters/{missing}/");
    check(Method::GET, &path, cr(Method::GET, path.clone(), None).await, StatusCode::NOT_FOUND);

    // Couchbase Cloud v2 (bearer).
    let cb = |m: Method, p: String, b: Option<Value>| {
        let t = &t;
        async move {
            let (s, _, v) = t.call(m, &p, b).await;
            (s, v)
        }
    };
    let (s, cloud) = t.post("/v1/clouds", json!({"name": "oa-west", "provider": "aws", "region": "us-west-2"})).await;
    assert_eq!(s, StatusCode::CREATED, "{cloud}");
    let cloud = cloud["id"].as_str().unwrap().to_string();
    let project = check(Method::POST, "/v2/projects", cb(Method::POST, "/v2/projects".into(), Some(json!({"name": "oa-cb"}))).await, StatusCode::CREATED);
    let project = project["id"].as_str().unwrap().to_string();
    let body = json!({"name": "oa-cb", "cloudId": cloud, "projectId": project, "servers": [{"size": 3, "services": ["data", "index"], "aws": {"instanceSize": "m5.xlarge", "ebsSizeGib": 50}}]});
    checker.check_request("POST", "/v2/clusters", &body, &mut request_errs);
    let r = t.http.post(format!("{}/v2/clusters", t.url)).bearer_auth(&t.token).json(&body).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (s, _, v) = decode(r).await;
    check(Method::POST, "/v2/clusters", (s, v), StatusCode::CREATED);
    for path in
        [location.clone(), format!("{location}/status"), format!("{location}/health"), "/v2/clusters".into(), "/v2/projects".into(), "/v2/clouds".into()]
    {
        check(Method::GET, &path, cb(Method::GET, path.clone(), None).await, StatusCode::OK);
    }
    let cluster = location.trim_start_matches("/v2/clusters/").to_string();
    t.wait_state(&cluster, "CREATED", std::time::Duration::from_secs(30)).await;
    for path in [location.clone(), format!("{location}/health"), format!("/v2/clouds/{cloud}")] {
        check(Method::GET, &path, cb(Method::GET, path.clone(), None).await, StatusCode::OK);
    }
    let path = format!("/v2/clusters/{missing}");
    check(Method::GET, &path, cb(Method::GET, path.clone(), None).await, StatusCode::NOT_FOUND);

    // CockroachDB Cloud v1 (bearer).
    let spec = json!({"serverless": {"regions": ["us-central1"], "usage_limits": {"request_unit_limit": "50000000", "storage_mib_limit": 10240}}, "labels": {"team": "oa"}});
    let body = json!({"name": "oa-crdb", "provider": "GCP", "spec": spec});
    checker.check_request("POST", "/api/v1/clusters", &body, &mut request_errs);
    let c = check(Method::POST, "/api/v1/clusters", cb(Method::POST, "/api/v1/clusters".into(), Some(body)).await, StatusCode::OK);
    let id = c["id"].as_str().unwrap().to_string();
    for path in [format!("/api/v1/clusters/{id}"), "/api/v1/clusters".into(), format!("/api/v1/clusters/{id}/nodes"), "/api/v1/organization".into()] {
        check(Method::GET, &path, cb(Method::GET, path.clone(), None).await, StatusCode::OK);
    }
    let path = format!("/api/v1/clusters/{missing}");
    check(Method::GET, &path, cb(Method::GET, path.clone(), None).await, StatusCode::NOT_FOUND);
    errs.extend(request_errs);
    assert!(errs.is_empty(), "answers or requests that do not fit the server's own document:\n{}", errs.join("\n"));
}

/// How a dialect request authenticates: the owner's bearer token, or the key as HTTP Basic.
#[derive(Clone, Copy)]
enum Auth {
    Bearer,
    Basic,
}

async fn answer(t: &TestServer, auth: Auth, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url));
    rb = match auth {
        Auth::Bearer => rb.bearer_auth(&t.token),
        Auth::Basic => rb.basic_auth(&t.access_key, Some(&t.secret)),
    };
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, v) = decode(rb.send().await.unwrap()).await;
    (s, v)
}

/// The sub-resources of each dialect (buckets, users, allow lists, keys, roles, the audit
/// logs, the legacy CockroachDB paths) answer what the document says, changes included.
#[tokio::test]
async fn dialect_resource_answers_fit_their_documented_schemas() {
    let t = TestServer::start().await;
    let checker = common::vendor_doc::VendorDoc::json(&document(&t).await.to_string());
    let (mut errs, mut checked) = (vec![], 0);
    let org = t.org.clone();
    let (s, c) = t.post("/v1/clusters", json!({"name": "oa-res", "provider": "aws", "region": "us-east-1", "node_count": 3})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{c}");
    let id = c["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", std::time::Duration::from_secs(30)).await;
    let (s, _, sa) = t.call(Method::POST, "/api/v1/service-accounts", Some(json!({"name": "oa-sa", "description": "d", "roles": []}))).await;
    assert_eq!(s, StatusCode::OK, "{sa}");
    let steps: Vec<(Auth, Method, String, Option<Value>, u16)> = vec![
        // Couchbase Cloud v2.
        (Auth::Bearer, Method::POST, format!("/v2/clusters/{id}/buckets"), Some(json!({"name": "oa-bucket", "memoryQuota": 128})), 201),
        (Auth::Bearer, Method::GET, format!("/v2/clusters/{id}/buckets"), None, 200),
        (Auth::Bearer, Method::PUT, format!("/v2/clusters/{id}/buckets"), Some(json!([{"name": "oa-bucket", "memoryQuota": 256}])), 201),
        (Auth::Bearer, Method::POST, format!("/v2/clusters/{id}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8", "ruleType": "permanent"})), 202),
        (
            Auth::Bearer,
            Method::POST,
            format!("/v2/clusters/{id}/allowlist"),
            Some(json!({"cidrBlock": "192.168.1.0/24", "ruleType": "temporary", "duration": "1h0m0s"})),
            202,
        ),
        (Auth::Bearer, Method::GET, format!("/v2/clusters/{id}/allowlist"), None, 200),
        (
            Auth::Bearer,
            Method::POST,
            format!("/v2/clusters/{id}/users"),
            Some(json!({"username": "oa", "password": "correct-horse-battery", "allBucketsAccess": "data_reader"})),
            201,
        ),
        (Auth::Bearer, Method::GET, format!("/v2/clusters/{id}/users"), None, 200),
        (Auth::Bearer, Method::GET, format!("/v2/clusters/{id}/certificate"), None, 200),
        (Auth::Bearer, Method::GET, "/v2/users".into(), None, 200),
        (Auth::Bearer, Method::POST, format!("/v2/clusters/{id}/buckets"), Some(json!({"name": "oa-bucket", "memoryQuota": 128})), 422),
        // CockroachDB Cloud v1.
        (Auth::Bearer, Method::POST, format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "oa_user", "password": "long-enough-pw-1"})), 200),
        (Auth::Bearer, Method::GET, format!("/api/v1/clusters/{id}/sql-users"), None, 200),
        (Auth::Bearer, Method::POST, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "oa_db"})), 200),
        (Auth::Bearer, Method::GET, format!("/api/v1/clusters/{id}/databases"), None, 200),
        (
            Auth::Bearer,
            Method::POST,
            format!("/api/v1/clusters/{id}/networking/allowlist"),
            Some(json!({"cidr_ip": "172.16.0.0", "cidr_mask": 12, "sql": true})),
            200,
        ),
        (Auth::Bearer, Method::GET, format!("/api/v1/clusters/{id}/networking/allowlist"), None, 200),
        (Auth::Bearer, Method::GET, format!("/api/v1/clusters/{id}/connection-string?sql_user=oa_user"), None, 200),
        (Auth::Bearer, Method::GET, "/api/v1/clusters/available-regions?provider=GCP".into(), None, 200),
        (Auth::Bearer, Method::GET, "/api/v1/service-accounts".into(), None, 200),
        (Auth::Bearer, Method::GET, "/api/v1/api-keys".into(), None, 200),
        (Auth::Bearer, Method::GET, "/api/v1/roles".into(), None, 200),
        (Auth::Bearer, Method::GET, "/api/v1/auditlogevents".into(), None, 200),
        (Auth::Bearer, Method::POST, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "bad name!"})), 400),
        (
            Auth::Bearer,
            Method::POST,
            format!("/api/v1/orgs/{org}/clusters"),
            Some(json!({"name": "oa-legacy", "provider": "GCP", "serverless": {"regions": ["us-central1"], "spendLimit": 25}})),
            200,
        ),
        (Auth::Bearer, Method::GET, format!("/api/v1/orgs/{org}/clusters"), None, 200),
        (Auth::Bearer, Method::GET, format!("/api/v1/orgs/{org}/clusters/{id}"), None, 200),
        (Auth::Bearer, Method::GET, format!("/api/v1/orgs/{org}/clusters/available-regions?provider=GCP"), None, 200),
        // CrateDB Cloud v2.
        (Auth::Basic, Method::GET, "/api/v2/users/".into(), None, 200),
        (Auth::Basic, Method::GET, format!("/api/v2/organizations/{org}/users/"), None, 200),
        (Auth::Basic, Method::GET, format!("/api/v2/organizations/{org}/auditlogs/"), None, 200),
        (Auth::Basic, Method::GET, "/api/v2/subscriptions/".into(), None, 200),
        (Auth::Basic, Method::GET, "/api/v2/roles/".into(), None, 200),
        (Auth::Basic, Method::POST, "/api/v2/users/me/api-keys/".into(), None, 200),
        (Auth::Basic, Method::GET, "/api/v2/users/me/api-keys/".into(), None, 200),
        (Auth::Basic, Method::PUT, format!("/api/v2/clusters/{id}/deletion-protection/"), Some(json!({"deletion_protected": true})), 200),
        (Auth::Basic, Method::PUT, format!("/api/v2/clusters/{id}/ip-restrictions/"), Some(json!({"ip_whitelist": [{"cidr": "10.1.0.0/16"}]})), 200),
        (Auth::Basic, Method::PUT, format!("/api/v2/organizations/{org}/"), Some(json!({"notifications_enabled": true, "email": "ops@example.com"})), 200),
        (Auth::Basic, Method::PUT, format!("/api/v2/clusters/{id}/scale/"), Some(json!({"product_unit": "many"})), 400),
    ];
    for (auth, method, path, body, want) in steps {
        // A body the server takes fits the documented request schema too.
        if let Some(b) = body.as_ref().filter(|_| want < 300) {
            checker.check_request(method.as_str(), &path, b, &mut errs);
        }
        let (s, v) = answer(&t, auth, method.clone(), &path, body).await;
        assert_eq!(s.as_u16(), want, "{method} {path}: {v}");
        checker.check_answer(method.as_str(), &path, s.as_u16(), &v, &mut errs);
        checked += 1;
    }
    assert!(errs.is_empty(), "answers that do not fit the server's own document:\n{}", errs.join("\n"));
    assert_eq!(checked, 39);
    // The check has teeth: a missing required field, a value outside an enum, an unknown
    // field, a request field of the wrong type.
    let mut e = vec![];
    checker.check_answer("GET", &format!("/api/v1/orgs/{org}/clusters/{id}"), 200, &json!({"regions": []}), &mut e);
    checker.check_answer("GET", &format!("/v2/clusters/{id}/status"), 200, &json!({"status": "sleeping"}), &mut e);
    checker.check_answer("GET", "/api/v2/roles/", 200, &json!([{"id": "x", "name": "y", "extra": 1}]), &mut e);
    checker.check_request("POST", "/v2/clusters", &json!({"name": 5}), &mut e);
    assert_eq!(e.len(), 4, "{e:?}");
}
