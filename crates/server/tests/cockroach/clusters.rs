//! Clusters: get, nodes, delete, busy clusters, creates, bad creates and PATCH.

use super::common::*;
use super::{basic, call_v};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

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
