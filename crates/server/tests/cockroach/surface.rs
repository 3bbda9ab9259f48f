//! Unserved vendor operations, unknown paths, regions, the organization and the legacy
//! organization-scoped paths.

use super::common::vendor_doc::VendorDoc;
use super::common::*;
use super::conformance::cockroach_doc;
use super::{IMPLEMENTED, call_v};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

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
