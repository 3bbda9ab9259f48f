//! A cluster's whole life through `/v2/`, visible through `/v1/`, and a native cluster seen in `/v2/`.

use super::*;

#[tokio::test]
async fn cluster_lifecycle_through_v2_is_visible_in_v1() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;

    // Project, both ways.
    let a = signed(&t, Method::POST, "/v2/projects", Some(json!({"name": "couchbase-project"}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let project = a.2["id"].as_str().unwrap().to_string();
    assert_eq!(a.2["tenantId"], t.org.as_str());
    assert!(a.2["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(t.get(&format!("/v1/projects/{project}")).await["name"], "couchbase-project");
    let (_, native) = t.post("/v1/projects", json!({"name": "native-project"})).await;
    let a = signed(&t, Method::GET, &format!("/v2/projects/{}", native["id"].as_str().unwrap()), None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["name"], "native-project");

    // Cluster create: 201, Location, no body (issue 10: 201 Created, was 202).
    let create = json!({
        "name": "cb-cluster", "cloudId": cloud, "projectId": project, "version": "latest",
        "supportPackage": {"type": "developerPro", "timezone": "GMT"},
        "servers": [{"size": 3, "services": ["data", "index", "query"], "aws": {"instanceSize": "m5.xlarge", "ebsSizeGib": 50}}],
    });
    let a = signed(&t, Method::POST, "/v2/clusters", Some(create)).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, Value::Null);
    assert_eq!(content_type(&a.1), "application/json");
    let location = a.1["location"].to_str().unwrap().to_string();
    let id = location.strip_prefix("/v2/clusters/").unwrap().to_string();

    // Poll …/status until ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = signed(&t, Method::GET, &format!("{location}/status"), None).await;
        assert_eq!(a.0, StatusCode::OK, "{}", a.2);
        let st = a.2["status"].as_str().unwrap().to_string();
        if st == "ready" {
            break;
        }
        assert_eq!(st, "deploying");
        assert!(tokio::time::Instant::now() < deadline, "cluster never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Visible through /v1.
    let native = t.get("/v1/clusters").await;
    let c = native["items"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).expect("listed in /v1");
    assert_eq!((c["state"].as_str(), c["node_count"].as_i64(), c["project_id"].as_str()), (Some("CREATED"), Some(3), Some(project.as_str())));

    // List with filters, detail, health.
    let a = signed(&t, Method::GET, &format!("/v2/clusters?projectId={project}&cloudId={cloud}"), None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    assert_eq!(a.2["cursor"]["pages"]["totalItems"], 1);
    let summary = &a.2["data"][0];
    assert_eq!((summary["id"].as_str(), summary["nodes"].as_i64(), summary["status"].as_str()), (Some(id.as_str()), Some(3), Some("ready")));
    assert_eq!(summary["health"], "healthy");
    let a = signed(&t, Method::GET, &format!("/v2/clusters?projectId={}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(a.2["data"], json!([]), "no match is an empty page");
    let a = signed(&t, Method::GET, &location, None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["resourceIdentifier"], format!("cb-{}", &id.replace('-', "")[..8]));
    assert_eq!(a.2["cloudId"], cloud.as_str());
    assert_eq!(a.2["privateEndpointURL"], json!([]));
    let a = signed(&t, Method::GET, &format!("{location}/health"), None).await;
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.2["health"], "healthy");
    assert_eq!(a.2["nodeStats"]["totalCount"], 3, "{}", a.2);

    // Bucket.
    let a = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket", "memoryQuota": 128}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, json!({"name": "couchbasecloudbucket", "memoryQuota": 128, "replicas": 1, "conflictResolution": "seqno"}));
    assert!(a.1["location"].to_str().unwrap().starts_with(&format!("{location}/buckets/")));
    let dup = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket", "memoryQuota": 128}))).await;
    assert_cb_error(&dup, StatusCode::UNPROCESSABLE_ENTITY, "EntityAlreadyExists");
    let a = signed(&t, Method::GET, &format!("{location}/buckets"), None).await;
    assert_eq!(a.2[0]["id"], "Y291Y2hiYXNlY2xvdWRidWNrZXQ=");
    assert_eq!(a.2[0]["status"], "healthy");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/buckets")).await["items"][0]["name"], "couchbasecloudbucket");

    // Database user.
    let user = json!({"username": "app", "password": "correct-horse-battery",
        "buckets": [{"bucketName": "couchbasecloudbucket", "bucketAccess": ["data_reader", "data_writer"]}]});
    let a = signed(&t, Method::POST, &format!("{location}/users"), Some(user)).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("{location}/users"), None).await;
    assert_eq!(a.2, json!([{"username": "app", "access": [{"bucketName": "couchbasecloudbucket", "bucketAccess": ["data_reader", "data_writer"]}]}]));
    let native = t.get(&format!("/v1/clusters/{id}/users")).await;
    assert_eq!((native["items"][0]["access"].as_str(), native["items"][0]["scope"].as_str()), (Some("readwrite"), Some("couchbasecloudbucket")));
    let bad = signed(
        &t,
        Method::POST,
        &format!("{location}/users"),
        Some(json!({"username": "other", "password": "correct-horse-battery",
        "buckets": [{"bucketName": "nope", "bucketAccess": ["data_reader"]}]})),
    )
    .await;
    assert!(assert_cb_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("buckets"));

    // Allow list.
    let a = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8", "ruleType": "permanent", "comment": "office"})))
        .await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let a =
        signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "192.168.1.0/24", "ruleType": "temporary", "duration": "1h0m0s"})))
            .await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("{location}/allowlist"), None).await;
    let entries = a.2.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", a.2);
    let temp = entries.iter().find(|e| e["ruleType"] == "temporary").unwrap();
    assert!(temp["expiresAt"].is_string() && temp["state"] == "active" && temp["duration"] == "1h0m0s", "{temp}");
    let perm = entries.iter().find(|e| e["ruleType"] == "permanent").unwrap();
    assert!(perm.get("expiresAt").is_none() && perm["comment"] == "office", "{perm}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2);
    let host_bits = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.1/8", "ruleType": "permanent"}))).await;
    assert!(assert_cb_error(&host_bits, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("cidrBlock"));
    let no_duration = signed(&t, Method::POST, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.1.0.0/16", "ruleType": "temporary"}))).await;
    assert!(assert_cb_error(&no_duration, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("duration"));
    let a = signed(&t, Method::DELETE, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8"}))).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let a = signed(&t, Method::DELETE, &format!("{location}/allowlist"), Some(json!({"cidrBlock": "10.0.0.0/8"}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Removals.
    let a = signed(&t, Method::DELETE, &format!("{location}/users/app"), None).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let a = signed(&t, Method::DELETE, &format!("{location}/users/app"), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::DELETE, &format!("{location}/buckets"), Some(json!({"name": "couchbasecloudbucket"}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert!(a.1["location"].to_str().unwrap().starts_with(&format!("{location}/buckets/")));
    assert_eq!(t.get(&format!("/v1/clusters/{id}/buckets")).await["items"], json!([]));

    // A project with a live cluster cannot go.
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{project}"), None).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "EntityStateInvalid");

    // Cluster delete.
    let a = signed(&t, Method::DELETE, &location, None).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert_eq!(a.1["location"].to_str().unwrap(), location);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = signed(&t, Method::GET, &format!("{location}/status"), None).await;
        if a.0 == StatusCode::NOT_FOUND || a.2["status"] == "destroy_succeeded" {
            break;
        }
        assert_eq!(a.2["status"], "destroying", "{}", a.2);
        assert!(tokio::time::Instant::now() < deadline, "cluster never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = signed(&t, Method::GET, "/v2/clusters", None).await;
    assert_eq!(a.2["data"], json!([]), "deleted clusters are hidden");
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["state"], "DELETED");
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{project}"), None).await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    let (s, _, _) = t.call(Method::GET, &format!("/v1/projects/{project}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn natively_created_cluster_shows_in_v2() {
    let t = TestServer::start().await;
    let (s, k) = t.post("/v1/clusters", json!({"name": "native-one", "provider": "gcp", "region": "us-east1"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let a = signed(&t, Method::GET, "/v2/clusters", None).await;
    assert_eq!(a.2["data"][0]["id"], id.as_str(), "{}", a.2);
    let cloud = a.2["data"][0]["cloudId"].as_str().unwrap().to_string();
    let a = signed(&t, Method::GET, &format!("/v2/clouds/{cloud}"), None).await;
    assert_eq!(a.2["provider"].as_str(), Some("gcp"), "{}", a.2);
    // The document's provider settings have no GCP variant: the VPC fields of the AWS one,
    // and the region in the cloud list.
    assert_eq!(a.2["providerSettings"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["vpcCidr".into(), "vpcId".into()]), "{}", a.2);
    let a = signed(&t, Method::GET, "/v2/clouds", None).await;
    assert_eq!(a.2["data"][0]["region"], "us-east1", "{}", a.2);
}
