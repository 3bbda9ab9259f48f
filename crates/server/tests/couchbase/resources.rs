//! Organization users, database-user updates, unknown routes; bucket updates, allow-list
//! replacement and the certificate.

use super::*;

#[tokio::test]
async fn org_users_db_user_update_and_unknown_routes() {
    let t = TestServer::start().await;
    let (s, u) = t.post("/v1/users", json!({"email": "ada@example.com", "name": "Ada"})).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let a = signed(&t, Method::GET, "/v2/users", None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    let listed = a.2["data"].as_array().unwrap();
    assert!(listed.iter().any(|x| x["email"] == "ada@example.com" && x["name"] == "Ada" && x["id"] == u["id"]), "{}", a.2);

    // Database-user update: the password may change, the grant may not.
    let cloud = native_cloud(&t).await;
    let (_, k) = t.post("/v1/clusters", json!({"name": "upd", "cloud_id": cloud})).await;
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
    let a = signed(
        &t,
        Method::POST,
        &format!("/v2/clusters/{id}/users"),
        Some(json!({"username": "app", "password": "first-password-1", "allBucketsAccess": "data_writer"})),
    )
    .await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{id}/users"), None).await;
    assert_eq!(a.2[0]["access"], json!([{"bucketName": "*", "bucketAccess": ["data_reader", "data_writer"]}]));
    let before = t.get(&format!("/v1/clusters/{id}/users")).await["items"][0]["password_changed_at"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/app"), Some(json!({"password": "second-password-2", "allBucketsAccess": "data_writer"})))
        .await;
    assert_eq!(a.0, StatusCode::NO_CONTENT, "{}", a.2);
    assert_ne!(t.get(&format!("/v1/clusters/{id}/users")).await["items"][0]["password_changed_at"], before);
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/app"), Some(json!({"username": "other"}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("username"));
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{id}/users/ghost"), Some(json!({"password": "second-password-2"}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Unknown /v2 paths and /v3 operations, after authentication.
    let a = signed(&t, Method::GET, "/v2/nothing/here", None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, "/v3/organizations", None).await;
    assert_cb_error(&a, StatusCode::NOT_IMPLEMENTED, "NotImplemented");
    let r = t.http.get(format!("{}/v3/organizations", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // The native fallback is untouched.
    let (s, _, b) = t.call(Method::GET, "/v1/nothing", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, 5);
}

/// Bucket updates (bulk and by id), allow-list replacement and the cluster certificate:
/// effects visible through /v1, all-or-nothing on bad input, Couchbase error shapes.
#[tokio::test]
async fn bucket_updates_allowlist_replace_and_certificate() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let mut ids = vec![];
    for name in ["upd", "other"] {
        let (_, k) = t.post("/v1/clusters", json!({"name": name, "cloud_id": cloud})).await;
        let id = k["cluster"]["id"].as_str().unwrap().to_string();
        t.wait_state(&id, "CREATED", Duration::from_secs(20)).await;
        ids.push(id);
    }
    let (id, other) = (ids[0].clone(), ids[1].clone());
    for b in ["alpha", "beta"] {
        let a = signed(&t, Method::POST, &format!("/v2/clusters/{id}/buckets"), Some(json!({"name": b, "memoryQuota": 100}))).await;
        assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    }
    let path = format!("/v2/clusters/{id}/buckets");

    // Bulk update: 201 with the array as stored; unlisted buckets untouched.
    let a = signed(&t, Method::PUT, &path, Some(json!([{"name": "alpha", "memoryQuota": 300, "replicas": 2}]))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, json!([{"name": "alpha", "memoryQuota": 300, "replicas": 2, "conflictResolution": "seqno"}]));
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 100, 1)]);
    // All or nothing: an unknown name is 404, a bad spec 422; nothing changes.
    let a = signed(&t, Method::PUT, &path, Some(json!([{"name": "beta", "memoryQuota": 500}, {"name": "ghost", "memoryQuota": 500}]))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    for body in [
        json!([{"name": "beta", "memoryQuota": 50}]),
        json!([{"name": "beta", "memoryQuota": 500, "replicas": 7}]),
        json!([{"name": "beta", "memoryQuota": 500, "conflictResolution": "lww"}]),
        json!([{"name": "beta", "memoryQuota": 500}, {"name": "beta", "memoryQuota": 600}]),
        json!([]),
        json!({"name": "beta"}),
    ] {
        let a = signed(&t, Method::PUT, &path, Some(body.clone())).await;
        assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    }
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 100, 1)]);

    // By id: the standard Base64 of the name; 202; bad quota 422; unknown bucket 404.
    let beta = "YmV0YQ==";
    let a = signed(&t, Method::PUT, &format!("{path}/{beta}"), Some(json!({"memoryQuota": 250}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    assert_eq!(quotas(&t, &id).await, [("alpha".into(), 300, 2), ("beta".into(), 250, 1)]);
    let a = signed(&t, Method::PUT, &format!("{path}/{beta}"), Some(json!({"memoryQuota": 99}))).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    let a = signed(&t, Method::PUT, &format!("{path}/Z2hvc3Q="), Some(json!({"memoryQuota": 200}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{}/buckets/{beta}", uuid::Uuid::new_v4()), Some(json!({"memoryQuota": 200}))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    // Another cluster's bucket of the same name is not touched.
    assert!(quotas(&t, &other).await.is_empty());

    // Allow-list replacement: the whole list, atomically.
    let al = format!("/v2/clusters/{id}/allowlist");
    let a = signed(&t, Method::POST, &al, Some(json!({"cidrBlock": "10.0.0.0/8", "ruleType": "permanent"}))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let replacement = json!([
        {"cidrBlock": "192.0.2.0/24", "ruleType": "permanent", "comment": "office"},
        {"cidrBlock": "198.51.100.7", "ruleType": "temporary", "duration": "2h0m0s"},
    ]);
    let a = signed(&t, Method::PUT, &al, Some(replacement)).await;
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.2);
    let listed = signed(&t, Method::GET, &al, None).await.2;
    let mut cidrs: Vec<(String, String)> =
        listed.as_array().unwrap().iter().map(|e| (e["cidrBlock"].as_str().unwrap().to_string(), e["ruleType"].as_str().unwrap().to_string())).collect();
    cidrs.sort();
    assert_eq!(cidrs, [("192.0.2.0/24".to_string(), "permanent".to_string()), ("198.51.100.7/32".to_string(), "temporary".to_string())], "{listed}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2);
    for bad in [
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}, {"cidrBlock": "10.0.0.1/8", "ruleType": "permanent"}]),
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "temporary"}]),
        json!([{"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}, {"cidrBlock": "203.0.113.0/24", "ruleType": "permanent"}]),
        json!({"cidrBlock": "203.0.113.0/24"}),
    ] {
        let a = signed(&t, Method::PUT, &al, Some(bad.clone())).await;
        assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    }
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"].as_array().unwrap().len(), 2, "nothing half-written");
    let a = signed(&t, Method::PUT, &al, Some(json!([]))).await;
    assert_eq!(a.0, StatusCode::ACCEPTED);
    assert_eq!(signed(&t, Method::GET, &al, None).await.2, json!([]));
    let a = signed(&t, Method::PUT, &format!("/v2/clusters/{}/allowlist", uuid::Uuid::new_v4()), Some(json!([]))).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Certificate: PEM, the same on every call, different per cluster, parseable as X.509.
    let cert = signed(&t, Method::GET, &format!("/v2/clusters/{id}/certificate"), None).await;
    assert_eq!(cert.0, StatusCode::OK, "{}", cert.2);
    let pem = cert.2["certificate"].as_str().unwrap().to_string();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.trim_end().ends_with("-----END CERTIFICATE-----"), "{pem}");
    assert_eq!(signed(&t, Method::GET, &format!("/v2/clusters/{id}/certificate"), None).await.2["certificate"], pem.as_str());
    let other_pem = signed(&t, Method::GET, &format!("/v2/clusters/{other}/certificate"), None).await.2["certificate"].clone();
    assert_ne!(other_pem, json!(pem));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, &pem).unwrap();
    let out = tokio::process::Command::new("openssl").args(["x509", "-noout", "-subject", "-ext", "basicConstraints", "-in"]).arg(&file).output().await;
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "openssl rejects the certificate: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&id) && text.contains("CA:TRUE"), "{text}");
        let verify = tokio::process::Command::new("openssl").args(["verify", "-CAfile"]).arg(&file).arg(&file).output().await.unwrap();
        assert!(verify.status.success(), "self-signature: {}", String::from_utf8_lossy(&verify.stdout));
    }
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{}/certificate", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
}

/// (name, quota, replicas) of a cluster's buckets as the native API shows them, sorted.
async fn quotas(t: &TestServer, id: &str) -> Vec<(String, i64, i64)> {
    let mut v: Vec<(String, i64, i64)> = t.get(&format!("/v1/clusters/{id}/buckets")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_string(), b["memory_quota_mb"].as_i64().unwrap(), b["replicas"].as_i64().unwrap()))
        .collect();
    v.sort();
    v
}
