//! The CockroachDB Cloud v1 dialect over real HTTP: shapes, versions, page tokens, errors,
//! every sub-resource, identity routes, the audit log, and a check of every implemented
//! operation's answer against the vendor's OpenAPI document.

mod common;

use common::vendor_doc::VendorDoc;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// A serverless (BASIC) cluster through the dialect; returns its id.
async fn basic(t: &TestServer, name: &str) -> String {
    let (s, _, c) =
        t.call(Method::POST, "/api/v1/clusters", Some(json!({"name": name, "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c["id"].as_str().unwrap().to_string()
}

async fn call_v(t: &TestServer, version: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url)).bearer_auth(&t.token).header("Cc-Version", version);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, b) = decode(rb.send().await.unwrap()).await;
    (s, b)
}

#[tokio::test]
async fn cluster_get_nodes_and_delete_in_the_vendor_shape() {
    let t = TestServer::start().await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "crdb-one", "provider": "gcp", "region": "us-central1", "node_count": 3})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let c = t.get(&format!("/api/v1/clusters/{id}")).await;
    assert_eq!((c["name"].as_str(), c["plan"].as_str(), c["cloud_provider"].as_str()), (Some("crdb-one"), Some("ADVANCED"), Some("GCP")));
    assert_eq!((c["state"].as_str(), c["operation_status"].as_str()), (Some("CREATED"), Some("UNSPECIFIED")));
    assert_eq!(c["regions"][0]["name"], "us-central1");
    assert!(c["deleted_at"].is_null());
    let (s, h, _) = t.call(Method::GET, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cc-version"], "2024-09-16");
    let nodes = t.get(&format!("/api/v1/clusters/{id}/nodes")).await;
    let nodes = nodes["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["status"] == "LIVE" && n["region_name"] == "us-central1"));
    let (s, _, gone) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::OK, "deletes return the cluster: {gone}");
    assert_eq!(gone["state"], "DELETED");
    assert!(gone["deleted_at"].is_string());
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
    let (s, _, b) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a deleted cluster is not a lock error");
    assert_error(&b, 5);
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"labels": {}}))).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::NOT_FOUND, Some(5)));
}

#[tokio::test]
async fn a_busy_cluster_is_locked_for_scaling_but_takes_metadata_and_deletes() {
    let t = TestServer::with(Backend::Sqlite, config(1000, 0.0)).await;
    let dedicated = json!({"name": "crdb-busy2", "provider": "GCP", "spec": {"dedicated": {"region_nodes": {"us-central1": 3}}}});
    let (s, _, d) = t.call(Method::POST, "/api/v1/clusters", Some(dedicated)).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let did = d["id"].as_str().unwrap().to_string();
    // A scale of a cluster that is still being created is the vendor's lock error.
    let (s, h, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{did}"), Some(json!({"dedicated": {"region_nodes": {"us-central1": 5}}}))).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, 14);
    assert!(b["message"].as_str().unwrap().contains("is locked"), "{b}");
    assert_eq!(h["retry-after"], "1");
    let c = t.get(&format!("/api/v1/clusters/{did}")).await;
    assert_eq!((c["state"].as_str(), c["regions"][0]["node_count"].as_i64()), (Some("CREATING"), Some(3)), "nothing changed: {c}");
    // Metadata is accepted while the create runs.
    let id = basic(&t, "crdb-busy").await;
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"labels": {"a": "b"}}))).await;
    assert_eq!((s, b["labels"].clone(), b["state"].as_str()), (StatusCode::OK, json!({"a": "b"}), Some("CREATING")), "{b}");
    let (s, _, b) = t.call(Method::PUT, &format!("/api/v1/clusters/{id}/spend-limit"), Some(json!({"spend_limit": 500}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Sub-resources of a creating cluster can be changed (applied once it is ready).
    let (s, _, b) = t.call(Method::POST, &format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "early", "password": "early-password-1"}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // A delete supersedes the running create.
    let (s, _, gone) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!((s, gone["state"].as_str()), (StatusCode::OK, Some("DELETED")), "{gone}");
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
}

#[tokio::test]
async fn create_serverless_and_dedicated_with_the_vendor_defaults() {
    let t = TestServer::start().await;
    let id = basic(&t, "basic-one").await;
    let c = t.get(&format!("/api/v1/clusters/{id}")).await;
    assert_eq!(c["plan"], "BASIC");
    assert!(matches!(c["state"].as_str(), Some("CREATING" | "CREATED")), "{c}");
    assert_eq!(c["config"]["serverless"]["upgrade_type"], "AUTOMATIC");
    assert_eq!(c["config"]["serverless"]["usage_limits"]["request_unit_limit"], "0", "int64 as a string");
    assert!(c["config"]["serverless"].get("spend_limit").is_none(), "no spend_limit in 2024-09-16");
    assert_eq!(c["regions"][0]["node_count"], 0);
    // The default allow-list entry of serverless clusters.
    let a = t.get(&format!("/api/v1/clusters/{id}/networking/allowlist")).await;
    assert_eq!(a["allowlist"], json!([{"cidr_ip": "0.0.0.0", "cidr_mask": 0, "ui": true, "sql": true, "name": "default"}]));
    // Visible natively.
    let native = t.get(&format!("/v1/clusters/{id}")).await;
    assert_eq!((native["plan"].as_str(), native["name"].as_str()), (Some("serverless"), Some("basic-one")));

    // STANDARD from provisioned vCPUs; empty allow list asked for; two regions with a primary.
    let body = json!({"name": "std-cluster", "provider": "AWS", "spec": {"serverless": {
        "regions": ["us-east-1", "us-west-2"], "primary_region": "us-west-2", "usage_limits": {"provisioned_virtual_cpus": "8"},
        "with_empty_ip_allowlist": true, "upgrade_type": "MANUAL"}, "labels": {"env": "test"}}});
    let (s, _, c) = t.call(Method::POST, "/api/v1/clusters", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["plan"], "STANDARD");
    assert_eq!(c["config"]["serverless"]["usage_limits"]["provisioned_virtual_cpus"], "8");
    assert_eq!(c["config"]["serverless"]["upgrade_type"], "MANUAL");
    let regions: Vec<(&str, bool)> = c["regions"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap(), r["primary"].as_bool().unwrap())).collect();
    assert_eq!(regions, vec![("us-east-1", false), ("us-west-2", true)], "region order and primary come back as sent");
    assert_eq!(c["labels"], json!({"env": "test"}));
    let std_id = c["id"].as_str().unwrap();
    assert_eq!(t.get(&format!("/api/v1/clusters/{std_id}/networking/allowlist")).await["allowlist"], json!([]));

    // ADVANCED with region_nodes and hardware; nodes follow.
    let body = json!({"name": "adv-cluster", "provider": "GCP", "spec": {"dedicated": {
        "region_nodes": {"us-central1": 3}, "hardware": {"machine_spec": {"num_virtual_cpus": 8}, "storage_gib": 30}, "cockroach_version": "v24.3"}}});
    let (s, _, c) = t.call(Method::POST, "/api/v1/clusters", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["plan"].as_str(), c["cockroach_version"].as_str()), (Some("ADVANCED"), Some("v24.3")));
    assert_eq!(c["config"]["dedicated"]["num_virtual_cpus"], 8);
    assert_eq!(c["config"]["dedicated"]["storage_gib"], 30);
    let adv = c["id"].as_str().unwrap().to_string();
    t.wait_state(&adv, "CREATED", Duration::from_secs(20)).await;
    assert_eq!(t.get(&format!("/api/v1/clusters/{adv}/nodes")).await["nodes"].as_array().unwrap().len(), 3);
    assert!(t.get(&format!("/api/v1/clusters/{id}/nodes")).await["nodes"].as_array().unwrap().is_empty(), "BASIC lists no nodes");

    // Names are unique among live clusters.
    let (s, _, b) = t
        .call(Method::POST, "/api/v1/clusters", Some(json!({"name": "basic-one", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}})))
        .await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::CONFLICT, Some(6)), "{b}");
}

#[tokio::test]
async fn bad_creates_are_400_with_field_violations_and_write_nothing() {
    let t = TestServer::start().await;
    let cases = [
        (json!({"name": "short", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "name"),
        (json!({"name": "Upper-Case", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}}), "name"),
        (json!({"name": "good-name", "provider": "IBM", "spec": {"serverless": {"regions": ["us-central1"]}}}), "provider"),
        (json!({"name": "good-name", "provider": "GCP", "spec": {}}), "spec"),
        (
            json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "dedicated": {"region_nodes": {"us-central1": 1}}}}),
            "spec",
        ),
        (json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["mars-north1"]}}}), "spec.serverless.regions[0]"),
        (json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1", "us-east1"]}}}), "spec.serverless.primary_region"),
        (
            json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"], "spend_limit": 10}}}),
            "spec.serverless.spend_limit",
        ),
        (
            json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"], "usage_limits": {"provisioned_virtual_cpus": 0}}}}),
            "spec.serverless.usage_limits.provisioned_virtual_cpus",
        ),
        (
            json!({"name": "good-name", "provider": "GCP", "spec": {"dedicated": {"region_nodes": {"us-central1": 0}}}}),
            "spec.dedicated.region_nodes.us-central1",
        ),
        (json!({"name": "good-name", "provider": "GCP", "plan": "BASIC", "spec": {"dedicated": {"region_nodes": {"us-central1": 1}}}}), "plan"),
        (
            json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "delete_protection": "MAYBE"}}),
            "spec.delete_protection",
        ),
    ];
    for (body, field) in cases {
        let (s, _, b) = t.call(Method::POST, "/api/v1/clusters", Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert_eq!(b["code"], 3);
        let detail = &b["details"][0];
        assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest", "{b}");
        let fields: Vec<&str> = detail["field_violations"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{body} should name {field}: {b}");
        assert!(b["message"].as_str().unwrap().contains(field), "{b}");
    }
    // Unknown fields are refused by name; a form-labelled JSON body (curl --data) is accepted.
    let (s, _, b) = t
        .call(
            Method::POST,
            "/api/v1/clusters",
            Some(json!({"name": "good-name", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}}, "colour": "red"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("colour"), "{b}");
    let r = t
        .http
        .post(format!("{}/api/v1/clusters", t.url))
        .bearer_auth(&t.token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"form-body","provider":"GCP","spec":{"serverless":{"regions":["us-central1"]}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.http.post(format!("{}/api/v1/clusters", t.url)).bearer_auth(&t.token).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Only the one good create wrote anything.
    assert_eq!(t.get("/api/v1/clusters").await["clusters"].as_array().unwrap().len(), 1);
    // Older versions take spend_limit (cents) and show it.
    let (s, c) = call_v(
        &t,
        "2022-09-20",
        Method::POST,
        "/api/v1/clusters",
        Some(json!({"name": "old-client", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"], "spend_limit": 2500}}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["plan"].as_str(), c["config"]["serverless"]["spend_limit"].as_i64()), (Some("SERVERLESS"), Some(2500)));
    assert_eq!(c["operation_status"], "CLUSTER_STATUS_UNSPECIFIED");
}

#[tokio::test]
async fn patch_scales_sets_labels_limits_and_protection() {
    let t = TestServer::start().await;
    let (_, _, c) = t
        .call(
            Method::POST,
            "/api/v1/clusters",
            Some(json!({"name": "patch-me", "provider": "GCP", "spec": {"dedicated": {"region_nodes": {"us-central1": 3}}}})),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let (s, _, c) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"dedicated": {"region_nodes": {"us-central1": 5}}}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["state"].as_str(), c["operation_status"].as_str()), (Some("LOCKED"), Some("CRDB_SCALE_RUNNING")));
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let c = t.get(&format!("/api/v1/clusters/{id}")).await;
    assert_eq!(c["regions"][0]["node_count"], 5);
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}/nodes")).await["nodes"].as_array().unwrap().len(), 5);
    // Labels replace the map; delete protection blocks DELETE with code 9 (HTTP 400).
    let (s, _, c) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"labels": {"a": "1"}, "delete_protection": "ENABLED"}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["labels"].clone(), c["delete_protection"].clone()), (json!({"a": "1"}), json!("ENABLED")));
    let (s, _, b) = t.call(Method::DELETE, &format!("/api/v1/clusters/{id}"), None).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(9)), "{b}");
    let (s, _, _) = t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_ne!(s, StatusCode::ACCEPTED, "the native API honours the same protection");
    let (s, _, c) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"delete_protection": "DISABLED", "labels": {}}))).await;
    assert_eq!((s, c["labels"].clone()), (StatusCode::OK, json!({})));
    // Plan changes: only BASIC <-> STANDARD.
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"plan": "BASIC"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"cockroach_version": "v25.1", "labels": {}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "version changes go alone: {b}");
    // A major upgrade runs as an operation and sets the version when it ends.
    let (s, _, c) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"cockroach_version": "v25.1"}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (c["state"].as_str(), c["operation_status"].as_str(), c["upgrade_status"].as_str()),
        (Some("LOCKED"), Some("CRDB_MAJOR_UPGRADE_RUNNING"), Some("MAJOR_UPGRADE_RUNNING"))
    );
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["cockroach_version"], "v25.1");
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{id}"), Some(json!({"cockroach_version": "v23.2"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no downgrades: {b}");

    let basic_id = basic(&t, "basic-patch").await;
    t.wait_state(&basic_id, "CREATED", Duration::from_secs(20)).await;
    let (s, _, c) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/clusters/{basic_id}"),
            Some(json!({"serverless": {"usage_limits": {"request_unit_limit": "1000000", "storage_mib_limit": 2048}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["config"]["serverless"]["usage_limits"]["request_unit_limit"], "1000000");
    let (s, _, b) =
        t.call(Method::PATCH, &format!("/api/v1/clusters/{basic_id}"), Some(json!({"serverless": {"usage_limits": {"provisioned_virtual_cpus": "4"}}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "vCPUs do not fit BASIC: {b}");
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{basic_id}"), Some(json!({"plan": "STANDARD"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "STANDARD needs vCPUs: {b}");
    let (s, _, c) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/clusters/{basic_id}"),
            Some(json!({"plan": "STANDARD", "serverless": {"usage_limits": {"provisioned_virtual_cpus": "4"}}})),
        )
        .await;
    assert_eq!((s, c["plan"].as_str()), (StatusCode::OK, Some("STANDARD")), "{c}");
    let (s, _, b) = t.call(Method::PATCH, &format!("/api/v1/clusters/{basic_id}"), Some(json!({"serverless": {"regions": ["us-east1"]}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a region cannot be removed: {b}");
    // The legacy spend limit: cents, any version, shown up to 2023-04-10.
    let (s, _, b) = t.call(Method::PUT, &format!("/api/v1/clusters/{basic_id}/spend-limit"), Some(json!({"spendLimit": 1500}))).await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    let (_, c) = call_v(&t, "2023-04-10", Method::GET, &format!("/api/v1/clusters/{basic_id}"), None).await;
    assert_eq!((c["config"]["serverless"]["spend_limit"].as_i64(), c["plan"].as_str()), (Some(1500), Some("SERVERLESS")));
    let (s, _, b) = t.call(Method::PUT, &format!("/api/v1/clusters/{id}/spend-limit"), Some(json!({"spend_limit": 1}))).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(9)), "ADVANCED has no spend limit: {b}");
    let (s, _, _) = t.call(Method::PUT, &format!("/api/v1/clusters/{basic_id}/spend-limit"), Some(json!({"spend_limit": -1}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn page_tokens_walk_every_list_and_are_bound_to_it() {
    let t = TestServer::start().await;
    for n in ["page-aaa", "page-bbb", "page-ccc", "page-ddd", "page-eee"] {
        basic(&t, n).await;
    }
    let mut names = vec![];
    let mut token = String::new();
    loop {
        let page = t.get(&format!("/api/v1/clusters?pagination.limit=2&pagination.page={token}")).await;
        names.extend(page["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
        token = page["pagination"]["next_page"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
        assert_eq!(page["pagination"]["previous_page"], "");
    }
    assert_eq!(names, ["page-aaa", "page-bbb", "page-ccc", "page-ddd", "page-eee"]);
    assert_eq!(
        t.get("/api/v1/clusters").await["pagination"],
        json!({"next_page": "", "previous_page": ""}),
        "a tokenless request that got everything: an object, never null"
    );
    // Legacy shape under 2022-03-31.
    let (_, old) = call_v(&t, "2022-03-31", Method::GET, "/api/v1/clusters?pagination.limit=2", None).await;
    assert!(old["pagination"]["next"].as_str().is_some_and(|n| !n.is_empty()), "{old}");
    let first = t.get("/api/v1/clusters?pagination.limit=2").await;
    let token = first["pagination"]["next_page"].as_str().unwrap();
    let (s, _, b) = t.call(Method::GET, &format!("/api/v1/clusters?pagination.limit=2&show_inactive=true&pagination.page={token}"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a token is bound to its filters: {b}");
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/clusters/available-regions?pagination.page={token}"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "and to its endpoint");
    // A token altered anywhere (one character changed) is refused, never another position.
    for i in (0..token.len()).step_by(7) {
        let mut bytes = token.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let (s, _, b) = t.call(Method::GET, &format!("/api/v1/clusters?pagination.limit=2&pagination.page={tampered}"), None).await;
        assert_eq!((s, b["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(3)), "{tampered}: {b}");
    }
    for bad in ["pagination.page=garbage", "pagination.limit=-1", "pagination.sort_order=SIDEWAYS", "pagination.as_of_time=yesterday", "colour=red"] {
        let (s, _, b) = t.call(Method::GET, &format!("/api/v1/clusters?{bad}"), None).await;
        assert_eq!((s, b["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(3)), "{bad}: {b}");
    }
    // By name unless asked otherwise; both directions; tokens keep the order.
    for n in ["page-0zz", "page-abc"] {
        basic(&t, n).await;
    }
    let walk = async |query: &str| {
        let (mut names, mut token) = (vec![], String::new());
        loop {
            let page = t.get(&format!("/api/v1/clusters?pagination.limit=2&{query}&pagination.page={token}")).await;
            names.extend(page["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
            token = page["pagination"]["next_page"].as_str().unwrap_or_default().to_string();
            if token.is_empty() {
                return names;
            }
        }
    };
    let by_name = walk("pagination.sort_by=NAME").await;
    assert_eq!(by_name, ["page-0zz", "page-aaa", "page-abc", "page-bbb", "page-ccc", "page-ddd", "page-eee"]);
    let mut reversed = by_name.clone();
    reversed.reverse();
    assert_eq!(walk("pagination.sort_order=DESC").await, reversed);
    assert_eq!(walk("pagination.sort_by=CREATED_AT").await, ["page-aaa", "page-bbb", "page-ccc", "page-ddd", "page-eee", "page-0zz", "page-abc"]);
    assert_eq!(t.get("/api/v1/clusters").await["clusters"][0]["name"], "page-0zz", "NAME is the default");
    let first = t.get("/api/v1/clusters?pagination.limit=2").await;
    let token = first["pagination"]["next_page"].as_str().unwrap();
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/clusters?pagination.sort_by=CREATED_AT&pagination.page={token}"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a token is bound to its sort");
    // Regions page too.
    let r = t.get("/api/v1/clusters/available-regions?provider=GCP&pagination.limit=1").await;
    assert_eq!(r["regions"].as_array().unwrap().len(), 1);
    assert!(!r["pagination"]["next_page"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn sql_users_databases_and_the_allow_list() {
    let t = TestServer::start().await;
    let id = basic(&t, "children").await;
    let base = format!("/api/v1/clusters/{id}");
    // SQL users.
    let (s, _, u) = t.call(Method::POST, &format!("{base}/sql-users"), Some(json!({"name": "maxroach", "password": "a-long-password-1"}))).await;
    assert_eq!((s, u), (StatusCode::OK, json!({"name": "maxroach"})));
    let (s, _, b) = t.call(Method::POST, &format!("{base}/sql-users"), Some(json!({"name": "maxroach", "password": "a-long-password-1"}))).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::CONFLICT, Some(6)));
    let (s, _, b) = t.call(Method::POST, &format!("{base}/sql-users"), Some(json!({"name": "shortpw", "password": "short"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _, b) = t.call(Method::POST, &format!("{base}/sql-users"), Some(json!({"name": "nopw"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a password is required: {b}");
    t.post(&format!("{base}/sql-users"), json!({"name": "alice", "password": "a-long-password-2"})).await;
    assert_eq!(t.get(&format!("{base}/sql-users")).await["users"], json!([{"name": "alice"}, {"name": "maxroach"}]), "by name");
    let (s, _, b) = t.call(Method::PUT, &format!("{base}/sql-users/maxroach/password"), Some(json!({"password": "another-password-3"}))).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"name": "maxroach"})));
    let (s, _, _) = t.call(Method::PUT, &format!("{base}/sql-users/nobody/password"), Some(json!({"password": "another-password-3"}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, b) = t.call(Method::DELETE, &format!("{base}/sql-users/alice"), None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"name": "alice"})));
    assert_eq!(t.get(&format!("/v1/clusters/{id}/users")).await["items"][0]["access"], "readwrite", "a core read-write user");

    // Databases (core buckets).
    let (s, _, d) = t.call(Method::POST, &format!("{base}/databases"), Some(json!({"name": "movr"}))).await;
    assert_eq!((s, d), (StatusCode::OK, json!({"name": "movr", "table_count": "0"})));
    t.post(&format!("{base}/databases"), json!({"name": "bank"})).await;
    let (s, _, b) = t.call(Method::POST, &format!("{base}/databases"), Some(json!({"name": "bank"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, _, d) = t.call(Method::PATCH, &format!("{base}/databases/movr"), Some(json!({"new_name": "movr2"}))).await;
    assert_eq!((s, d["name"].as_str()), (StatusCode::OK, Some("movr2")));
    let (s, _, d) = t.call(Method::PATCH, &format!("{base}/databases"), Some(json!({"name": "movr2", "new_name": "movr3"}))).await;
    assert_eq!((s, d["name"].as_str()), (StatusCode::OK, Some("movr3")));
    let (s, _, _) = t.call(Method::PATCH, &format!("{base}/databases/movr3"), Some(json!({"new_name": "bank"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "renaming onto an existing name");
    let names: Vec<Value> = t.get(&format!("{base}/databases")).await["databases"].as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, vec![json!("bank"), json!("movr3")]);
    let (s, _, d) = t.call(Method::DELETE, &format!("{base}/databases/bank"), None).await;
    assert_eq!((s, d["name"].as_str()), (StatusCode::OK, Some("bank")));
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["bucket_count"], 1);

    // Allow list, keyed by address and mask.
    let (s, _, e) = t
        .call(
            Method::POST,
            &format!("{base}/networking/allowlist"),
            Some(json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "ui": false, "sql": true, "name": "Office VPN"})),
        )
        .await;
    assert_eq!((s, e.clone()), (StatusCode::OK, json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "ui": false, "sql": true, "name": "Office VPN"})));
    let (s, _, b) =
        t.call(Method::POST, &format!("{base}/networking/allowlist"), Some(json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "ui": true, "sql": true}))).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::CONFLICT, Some(6)));
    let (s, _, b) =
        t.call(Method::POST, &format!("{base}/networking/allowlist"), Some(json!({"cidr_ip": "192.168.1.7", "cidr_mask": 24, "ui": true, "sql": true}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "host bits are not normalised: {b}");
    let (s, _, _) =
        t.call(Method::POST, &format!("{base}/networking/allowlist"), Some(json!({"cidr_ip": "10.0.0.0", "cidr_mask": 33, "ui": true, "sql": true}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, e) = t.call(Method::PUT, &format!("{base}/networking/allowlist/10.1.0.0/16"), Some(json!({"ui": true, "sql": false}))).await;
    assert_eq!((s, e["sql"].as_bool()), (StatusCode::OK, Some(false)), "{e}");
    let (s, _, _) = t.call(Method::PUT, &format!("{base}/networking/allowlist/10.1.0.0/16"), Some(json!({"ui": true, "sql": false}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, e) = t.call(Method::PATCH, &format!("{base}/networking/allowlist/192.168.1.0/24"), Some(json!({"ui": true, "name": "renamed"}))).await;
    assert_eq!((s, e), (StatusCode::OK, json!({"cidr_ip": "192.168.1.0", "cidr_mask": 24, "ui": true, "sql": true, "name": "renamed"})));
    let (s, _, _) = t.call(Method::PATCH, &format!("{base}/networking/allowlist/172.16.0.0/12"), Some(json!({"ui": true}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let list = t.get(&format!("{base}/networking/allowlist")).await;
    let keys: Vec<String> = list["allowlist"].as_array().unwrap().iter().map(|e| format!("{}/{}", e["cidr_ip"].as_str().unwrap(), e["cidr_mask"])).collect();
    assert_eq!(keys, ["0.0.0.0/0", "10.1.0.0/16", "192.168.1.0/24"], "by address then mask");
    let (s, _, e) = t.call(Method::DELETE, &format!("{base}/networking/allowlist/10.1.0.0/16"), None).await;
    assert_eq!((s, e["cidr_ip"].as_str()), (StatusCode::OK, Some("10.1.0.0")));
    let (s, _, _) = t.call(Method::DELETE, &format!("{base}/networking/allowlist/10.1.0.0/16"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Deleted clusters' sub-resources are gone (404).
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    t.call(Method::DELETE, &base, None).await;
    for p in ["sql-users", "databases", "networking/allowlist"] {
        let (s, _, _) = t.call(Method::GET, &format!("{base}/{p}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    }
}

#[tokio::test]
async fn service_accounts_keys_and_roles_without_escalation() {
    let t = TestServer::start().await;
    let org = t.org.clone();
    let (s, _, sa) = t
        .call(
            Method::POST,
            "/api/v1/service-accounts",
            Some(json!({"name": "ci-bot", "description": "CI",
        "roles": [{"name": "CLUSTER_ADMIN", "resource": {"type": "ORGANIZATION", "id": org}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sa}");
    let sa_id = sa["id"].as_str().unwrap().to_string();
    assert_eq!(sa["roles"][0]["name"], "CLUSTER_ADMIN");
    assert_eq!(sa["group_roles"], json!([]));
    let (s, _, created) = t.call(Method::POST, "/api/v1/api-keys", Some(json!({"name": "ci-key", "service_account_id": sa_id}))).await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let key_id = created["api_key"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with(&format!("{key_id}_")), "the secret key embeds the key id");
    // The key works as a bearer token with the account's roles.
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/clusters", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/auditlogevents", None).await;
    assert_eq!((s, b), (StatusCode::FORBIDDEN, json!({"code": 7, "message": "permission denied", "details": []})));
    // Lists never show a secret.
    let keys = t.get(&format!("/api/v1/api-keys?service_account_id={sa_id}")).await;
    assert_eq!(keys["api_keys"].as_array().unwrap().len(), 1);
    assert!(!keys.to_string().contains(secret.rsplit('_').next().unwrap()));
    let (s, _, k) = t.call(Method::PATCH, &format!("/api/v1/api-keys/{key_id}"), Some(json!({"name": "renamed"}))).await;
    assert_eq!((s, k["name"].as_str()), (StatusCode::OK, Some("renamed")));
    // Roles: get, add one, replace the set, remove one.
    let roles = t.get(&format!("/api/v1/roles/{sa_id}")).await;
    assert_eq!(roles["roles"].as_array().unwrap().len(), 1);
    let (s, _, r) = t.call(Method::POST, &format!("/api/v1/roles/{sa_id}/ORGANIZATION/{org}/CLUSTER_MONITOR"), None).await;
    assert_eq!((s, r["roles"].as_array().unwrap().len()), (StatusCode::OK, 2), "{r}");
    let (s, _, r) = t
        .call(Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "CLUSTER_DEVELOPER", "resource": {"type": "ORGANIZATION"}}]})))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let names: Vec<&str> = r["roles"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CLUSTER_DEVELOPER"]);
    let listed = t.get("/api/v1/roles").await;
    assert!(listed["grants"].as_array().unwrap().iter().any(|g| g["user_id"] == sa_id.as_str()), "{listed}");
    let (s, _, _) = t.call(Method::DELETE, &format!("/api/v1/roles/{sa_id}/ORGANIZATION/{org}/CLUSTER_MONITOR"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not held any more");
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/roles/{}", uuid::Uuid::nil()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, b) =
        t.call(Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "KING", "resource": {"type": "ORGANIZATION"}}]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // Escalation: a cluster admin (no user management) cannot grant ORG_ADMIN, even to itself.
    let ca = t.role_key(dbcloud_core::perms::Role::ClusterAdmin).await;
    let (s, _, _) = t
        .call_as(&ca, Method::PUT, &format!("/api/v1/roles/{sa_id}"), Some(json!({"roles": [{"name": "ORG_ADMIN", "resource": {"type": "ORGANIZATION"}}]})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&format!("/api/v1/roles/{sa_id}")).await["roles"].as_array().unwrap().len(), 1, "unchanged");
    // Deleting the key revokes it at once; deleting the account answers it.
    let (s, _, k) = t.call(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), None).await;
    assert_eq!((s, k["id"].as_str()), (StatusCode::OK, Some(key_id.as_str())));
    let (s, _, b) = t.call_as(&secret, Method::GET, "/api/v1/clusters", None).await;
    assert_eq!((s, b), (StatusCode::UNAUTHORIZED, json!({"code": 16, "message": "unauthenticated", "details": []})));
    let (s, _, gone) = t.call(Method::DELETE, &format!("/api/v1/service-accounts/{sa_id}"), None).await;
    assert_eq!((s, gone["name"].as_str()), (StatusCode::OK, Some("ci-bot")));
    let (s, _, _) = t.call(Method::GET, &format!("/api/v1/service-accounts/{sa_id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_pages_by_time_in_both_directions() {
    let t = TestServer::start().await;
    for n in ["audit-one", "audit-two", "audit-three"] {
        basic(&t, n).await;
    }
    let mut seen = BTreeSet::new();
    let mut from = String::new();
    let mut pages = 0;
    loop {
        let q = if from.is_empty() { "limit=2".to_string() } else { format!("limit=2&starting_from={}", urlencode(&from)) };
        let page = t.get(&format!("/api/v1/auditlogevents?{q}")).await;
        for e in page["entries"].as_array().unwrap() {
            assert!(seen.insert(e["id"].as_str().unwrap().to_string()), "no entry twice");
        }
        pages += 1;
        match page["next_starting_from"].as_str() {
            Some(n) => from = n.to_string(),
            None => break,
        }
        assert!(pages < 50);
    }
    let everything = t.get("/api/v1/auditlogevents?limit=1000").await;
    assert_eq!(seen.len(), everything["entries"].as_array().unwrap().len());
    assert!(everything["next_starting_from"].is_null());
    let creates: Vec<&Value> = everything["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "AUDIT_LOG_ACTION_CREATE_CLUSTER").collect();
    assert_eq!(creates.len(), 3);
    assert!(creates.iter().all(|e| e["source"] == "AUDIT_LOG_SOURCE_CC_API" && e["trace_id"].as_str().is_some_and(|s| !s.is_empty())));
    let desc = t.get("/api/v1/auditlogevents?sort_order=DESC&limit=1000").await;
    let asc_ids: Vec<&Value> = everything["entries"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    let mut desc_ids: Vec<&Value> = desc["entries"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    desc_ids.reverse();
    assert_eq!(asc_ids, desc_ids);
    let (s, _, _) = t.call(Method::GET, "/api/v1/auditlogevents?starting_from=yesterday", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn unserved_vendor_operations_are_501_and_unknown_paths_404() {
    let t = TestServer::start().await;
    // Every operation of the vendor's document that is not served: 501 code 12, after
    // authentication.
    let doc = cockroach_doc();
    // A key without the owner's 100/s limit: this sends a few hundred requests.
    let key = t.role_key(dbcloud_core::perms::Role::OrganizationOwner).await;
    let mut unserved = 0;
    for (m, template) in doc.operations("/api/") {
        if IMPLEMENTED.contains(&format!("{m} {template}").as_str()) {
            continue;
        }
        unserved += 1;
        let path = VendorDoc::concrete(&template, &uuid::Uuid::nil().to_string());
        let m = Method::from_bytes(m.as_bytes()).unwrap();
        let (s, _, b) = t.call_as(&key, m.clone(), &path, None).await;
        assert_eq!((s, b.clone()), (StatusCode::NOT_IMPLEMENTED, json!({"code": 12, "message": "not implemented", "details": []})), "{m} {path}");
        let (s, _, b) = t.call_as("nope", m.clone(), &path, None).await;
        assert_eq!((s, b["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(16)), "{m} {path}: authentication first");
    }
    assert_eq!(unserved, 144 - IMPLEMENTED.len(), "the document's 119 + 25 operations");
    for (m, p) in [
        (Method::GET, "/api/v1/folders"),
        (Method::GET, "/api/v1/invoices"),
        (Method::POST, "/api/v1/clusters/abc/logexport"),
        (Method::GET, "/api/scim/v2/Users"),
    ] {
        let (s, _, b) = t.call(m.clone(), p, None).await;
        assert_eq!((s, b.clone()), (StatusCode::NOT_IMPLEMENTED, json!({"code": 12, "message": "not implemented", "details": []})), "{m} {p}");
    }
    let (s, _, b) = t.call(Method::GET, "/api/v1/nothing-here", None).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::NOT_FOUND, Some(5)));
    let (s, _) = call_v(&t, "2021-01-01", Method::GET, "/api/v1/folders", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Cc-Version is checked before the route");
    let (s, _, b) = t.call_as("nope", Method::GET, "/api/v1/folders", None).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::UNAUTHORIZED, Some(16)));
}

#[tokio::test]
async fn regions_and_organization() {
    let t = TestServer::start().await;
    let r = t.get("/api/v1/clusters/available-regions?provider=GCP").await;
    let regions = r["regions"].as_array().unwrap();
    assert!(regions.iter().all(|x| x["provider"] == "GCP" && x["serverless"] == true));
    assert!(regions.iter().any(|x| x["name"] == "us-central1"));
    let (s, _, b) = t.call(Method::GET, "/api/v1/clusters/available-regions?provider=IBM", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("provider"));
    let o = t.get("/api/v1/organization").await;
    assert_eq!(o["id"], t.org.as_str());
    assert_eq!(o["label"], "default");
}

#[tokio::test]
async fn organization_scoped_paths_use_dollars_and_camel_case() {
    let t = TestServer::start().await;
    let base = format!("/api/v1/orgs/{}/clusters", t.org);
    let (s, _, c) = t
        .call(Method::POST, &base, Some(json!({"name": "legacy-moose", "provider": "GCP", "serverless": {"regions": ["us-central1"], "spendLimit": 25}})))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let c = &c["cluster"];
    assert_eq!((c["plan"].as_str(), c["cloudProvider"].as_str(), c["longRunningOperationStatus"].as_str()), (Some("SERVERLESS"), Some("GCP"), Some("NOT_SET")));
    assert_eq!(c["serverless"], json!({"regions": ["us-central1"], "spendLimit": 25}));
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["spend_limit"], 2500, "stored as cents");
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let (s, _, b) = t.call(Method::PUT, &format!("{base}/{id}/spend-limit"), Some(json!({"spendLimit": 40}))).await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    let got = t.get(&format!("{base}/{id}")).await;
    assert_eq!(got["cluster"]["serverless"]["spendLimit"], 40);
    assert_eq!(got["regions"][0]["name"], "us-central1");
    assert!(got["regions"][0]["sqlDns"].as_str().is_some_and(|d| !d.is_empty()));
    let list = t.get(&base).await;
    assert_eq!(list["clusters"].as_array().unwrap().len(), 1);
    assert!(list.get("pagination").is_none(), "only when more remain");
    let regions = t.get(&format!("{base}/available-regions?provider=GCP")).await;
    assert!(regions["regions"].as_array().unwrap().iter().all(|r| r.is_string()));
    // Another organization's id is refused.
    let (s, _, b) = t.call(Method::GET, &format!("/api/v1/orgs/{}/clusters", uuid::Uuid::nil()), None).await;
    assert_eq!((s, b["code"].as_i64()), (StatusCode::FORBIDDEN, Some(7)));
    let (s, _, b) = t.call(Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
}

/// The operations of the vendor's document this server serves.
const IMPLEMENTED: &[&str] = &[
    "GET /api/v1/clusters",
    "POST /api/v1/clusters",
    "GET /api/v1/clusters/{cluster_id}",
    "PATCH /api/v1/clusters/{cluster_id}",
    "DELETE /api/v1/clusters/{cluster_id}",
    "GET /api/v1/clusters/{cluster_id}/nodes",
    "GET /api/v1/clusters/available-regions",
    "GET /api/v1/organization",
    "GET /api/v1/clusters/{cluster_id}/sql-users",
    "POST /api/v1/clusters/{cluster_id}/sql-users",
    "PUT /api/v1/clusters/{cluster_id}/sql-users/{name}/password",
    "DELETE /api/v1/clusters/{cluster_id}/sql-users/{name}",
    "GET /api/v1/clusters/{cluster_id}/databases",
    "POST /api/v1/clusters/{cluster_id}/databases",
    "PATCH /api/v1/clusters/{cluster_id}/databases",
    "PATCH /api/v1/clusters/{cluster_id}/databases/{name}",
    "DELETE /api/v1/clusters/{cluster_id}/databases/{name}",
    "GET /api/v1/clusters/{cluster_id}/networking/allowlist",
    "POST /api/v1/clusters/{cluster_id}/networking/allowlist",
    "PUT /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "PATCH /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "DELETE /api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}",
    "GET /api/v1/api-keys",
    "POST /api/v1/api-keys",
    "GET /api/v1/api-keys/{id}",
    "PATCH /api/v1/api-keys/{id}",
    "DELETE /api/v1/api-keys/{id}",
    "GET /api/v1/service-accounts",
    "POST /api/v1/service-accounts",
    "GET /api/v1/service-accounts/{id}",
    "PATCH /api/v1/service-accounts/{id}",
    "DELETE /api/v1/service-accounts/{id}",
    "GET /api/v1/roles",
    "GET /api/v1/roles/{user_id}",
    "PUT /api/v1/roles/{user_id}",
    "POST /api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
    "DELETE /api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}",
    "GET /api/v1/auditlogevents",
];

/// The vendor's document with the dialect's documented allowances (spec `cockroach-v1.md`):
/// `provider` beside `cloud_provider`, and null for the unset optional objects and
/// timestamps that §1 renders as null.
fn cockroach_doc() -> VendorDoc {
    VendorDoc::json(include_str!("fixtures/cockroach-cloud-openapi.json")).allow_extra(&["Cluster.provider"]).allow_null(&[
        "Cluster.customer_cloud_account",
        "Cluster.deleted_at",
        "Organization.cockroach_cloud_service_principals",
        "AuditLogEntry.action",
    ])
}

#[tokio::test]
async fn responses_validate_against_the_vendor_openapi_document() {
    let doc = cockroach_doc();
    let t = TestServer::start().await;
    let org = t.org.clone();
    let mut covered = BTreeSet::new();
    let mut errs = vec![];
    let mut go = async |method: Method, template: &str, path: String, body: Option<Value>| -> Value {
        let (s, _, b) = t.call(method.clone(), &path, body).await;
        assert!(s.is_success() || s.is_client_error(), "{method} {path}: {s} {b}");
        assert_eq!(doc.template(method.as_str(), &path).as_deref(), Some(template), "{method} {path}");
        assert!(doc.response_schema(method.as_str(), template, s.as_u16()).is_some(), "{method} {template}: no schema for {s}");
        doc.check_answer(method.as_str(), &path, s.as_u16(), &b, &mut errs);
        if s.is_success() {
            covered.insert(format!("{method} {template}"));
        }
        b
    };
    let c = go(
        Method::POST,
        "/api/v1/clusters",
        "/api/v1/clusters".into(),
        Some(json!({"name": "oas-basic", "provider": "GCP", "spec": {"serverless": {"regions": ["us-central1"]}, "labels": {"a": "b"}}})),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_string();
    let c = go(
        Method::POST,
        "/api/v1/clusters",
        "/api/v1/clusters".into(),
        Some(json!({"name": "oas-advanced", "provider": "AWS", "spec": {"dedicated": {"region_nodes": {"us-east-1": 3}}}})),
    )
    .await;
    let adv = c["id"].as_str().unwrap().to_string();
    go(Method::POST, "/api/v1/clusters", "/api/v1/clusters".into(), Some(json!({"name": "x", "provider": "GCP", "spec": {}}))).await;
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    t.wait_state(&adv, "CREATED", Duration::from_secs(20)).await;
    let cl = "/api/v1/clusters/{cluster_id}";
    go(Method::GET, "/api/v1/clusters", "/api/v1/clusters?pagination.limit=1".into(), None).await;
    go(Method::GET, cl, format!("/api/v1/clusters/{id}"), None).await;
    go(Method::GET, cl, format!("/api/v1/clusters/{}", uuid::Uuid::nil()), None).await;
    go(Method::PATCH, cl, format!("/api/v1/clusters/{id}"), Some(json!({"serverless": {"usage_limits": {"request_unit_limit": 100}}}))).await;
    go(Method::GET, "/api/v1/clusters/{cluster_id}/nodes", format!("/api/v1/clusters/{adv}/nodes"), None).await;
    go(Method::GET, "/api/v1/clusters/available-regions", "/api/v1/clusters/available-regions?provider=AWS".into(), None).await;
    go(Method::GET, "/api/v1/organization", "/api/v1/organization".into(), None).await;
    let su = "/api/v1/clusters/{cluster_id}/sql-users";
    go(Method::POST, su, format!("/api/v1/clusters/{id}/sql-users"), Some(json!({"name": "u1", "password": "long-enough-pw-1"}))).await;
    go(Method::GET, su, format!("/api/v1/clusters/{id}/sql-users"), None).await;
    go(
        Method::PUT,
        "/api/v1/clusters/{cluster_id}/sql-users/{name}/password",
        format!("/api/v1/clusters/{id}/sql-users/u1/password"),
        Some(json!({"password": "long-enough-pw-2"})),
    )
    .await;
    go(Method::DELETE, "/api/v1/clusters/{cluster_id}/sql-users/{name}", format!("/api/v1/clusters/{id}/sql-users/u1"), None).await;
    let db = "/api/v1/clusters/{cluster_id}/databases";
    go(Method::POST, db, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "d1"}))).await;
    go(Method::GET, db, format!("/api/v1/clusters/{id}/databases"), None).await;
    go(Method::PATCH, db, format!("/api/v1/clusters/{id}/databases"), Some(json!({"name": "d1", "new_name": "d2"}))).await;
    go(Method::PATCH, "/api/v1/clusters/{cluster_id}/databases/{name}", format!("/api/v1/clusters/{id}/databases/d2"), Some(json!({"new_name": "d3"}))).await;
    go(Method::DELETE, "/api/v1/clusters/{cluster_id}/databases/{name}", format!("/api/v1/clusters/{id}/databases/d3"), None).await;
    let al = "/api/v1/clusters/{cluster_id}/networking/allowlist";
    let alk = "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}";
    go(
        Method::POST,
        al,
        format!("/api/v1/clusters/{id}/networking/allowlist"),
        Some(json!({"cidr_ip": "10.0.0.0", "cidr_mask": 8, "ui": true, "sql": true, "name": "n"})),
    )
    .await;
    go(Method::GET, al, format!("/api/v1/clusters/{id}/networking/allowlist"), None).await;
    go(Method::PUT, alk, format!("/api/v1/clusters/{id}/networking/allowlist/172.16.0.0/12"), Some(json!({"ui": false, "sql": true}))).await;
    go(Method::PATCH, alk, format!("/api/v1/clusters/{id}/networking/allowlist/10.0.0.0/8"), Some(json!({"ui": false}))).await;
    go(Method::DELETE, alk, format!("/api/v1/clusters/{id}/networking/allowlist/10.0.0.0/8"), None).await;
    let sa = go(
        Method::POST,
        "/api/v1/service-accounts",
        "/api/v1/service-accounts".into(),
        Some(json!({"name": "oas-sa", "description": "d", "roles": [{"name": "CLUSTER_ADMIN", "resource": {"type": "CLUSTER", "id": id}}]})),
    )
    .await;
    let sa = sa["id"].as_str().unwrap().to_string();
    let sai = "/api/v1/service-accounts/{id}";
    go(Method::GET, "/api/v1/service-accounts", "/api/v1/service-accounts".into(), None).await;
    go(Method::GET, sai, format!("/api/v1/service-accounts/{sa}"), None).await;
    go(Method::PATCH, sai, format!("/api/v1/service-accounts/{sa}"), Some(json!({"description": "e"}))).await;
    let k = go(Method::POST, "/api/v1/api-keys", "/api/v1/api-keys".into(), Some(json!({"name": "oas-key", "service_account_id": sa}))).await;
    let kid = k["api_key"]["id"].as_str().unwrap().to_string();
    let ki = "/api/v1/api-keys/{id}";
    go(Method::GET, "/api/v1/api-keys", "/api/v1/api-keys".into(), None).await;
    go(Method::GET, ki, format!("/api/v1/api-keys/{kid}"), None).await;
    go(Method::PATCH, ki, format!("/api/v1/api-keys/{kid}"), Some(json!({"name": "oas-key-2"}))).await;
    go(Method::DELETE, ki, format!("/api/v1/api-keys/{kid}"), None).await;
    let ru = "/api/v1/roles/{user_id}";
    let rr = "/api/v1/roles/{user_id}/{resource_type}/{resource_id}/{role_name}";
    go(Method::GET, "/api/v1/roles", "/api/v1/roles".into(), None).await;
    go(Method::GET, ru, format!("/api/v1/roles/{sa}"), None).await;
    go(
        Method::PUT,
        ru,
        format!("/api/v1/roles/{sa}"),
        Some(json!({"roles": [{"name": "CLUSTER_DEVELOPER", "resource": {"type": "ORGANIZATION", "id": org}}]})),
    )
    .await;
    go(Method::POST, rr, format!("/api/v1/roles/{sa}/CLUSTER/{id}/CLUSTER_MONITOR"), None).await;
    go(Method::DELETE, rr, format!("/api/v1/roles/{sa}/CLUSTER/{id}/CLUSTER_MONITOR"), None).await;
    go(Method::GET, "/api/v1/auditlogevents", "/api/v1/auditlogevents?limit=5".into(), None).await;
    go(Method::DELETE, sai, format!("/api/v1/service-accounts/{sa}"), None).await;
    go(Method::DELETE, cl, format!("/api/v1/clusters/{id}"), None).await;
    assert!(errs.is_empty(), "answers that do not fit the vendor document:\n{}", errs.join("\n"));

    // Every implemented operation of the document was checked.
    let implemented: BTreeSet<String> = IMPLEMENTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(covered, implemented);
    // And the server's own OpenAPI document routes exactly these (plus the legacy paths).
    let ours: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let served: BTreeSet<String> = ours["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/") && !p.starts_with("/api/v1/orgs/") && !p.ends_with("/spend-limit"))
        .flat_map(|(p, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {p}", m.to_uppercase())))
        .collect();
    assert_eq!(served, implemented);
}

#[tokio::test]
async fn a_cluster_made_through_one_dialect_is_seen_through_every_surface() {
    let t = TestServer::start().await;
    let id = basic(&t, "shared-one").await;
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let native = t.get(&format!("/v1/clusters/{id}")).await;
    assert_eq!(native["name"], "shared-one");
    let couchbase = t.get(&format!("/v2/clusters/{id}")).await;
    assert_eq!(couchbase["name"], "shared-one", "{couchbase}");
    let r = t.http.get(format!("{}/api/v2/clusters/{id}/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    let (s, _, cratedb) = decode(r).await;
    assert_eq!((s, cratedb["name"].as_str()), (StatusCode::OK, Some("shared-one")), "{cratedb}");
    // A database user made through CockroachDB is a user of the cluster everywhere.
    t.post(&format!("/api/v1/clusters/{id}/sql-users"), json!({"name": "shared_user", "password": "shared-password-1"})).await;
    let users = t.get(&format!("/v1/clusters/{id}/users")).await;
    assert!(users["items"].as_array().unwrap().iter().any(|u| u["name"] == "shared_user"), "{users}");
    // And a delete through the native API shows in the dialect.
    t.call(Method::DELETE, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(t.get(&format!("/api/v1/clusters/{id}")).await["state"], "DELETED");
}
