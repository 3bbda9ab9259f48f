//! The page-number envelope, and validation and lookup errors.

use super::*;

#[tokio::test]
async fn pagination_envelope() {
    let t = TestServer::start().await;
    for n in ["p-a", "p-b", "p-c"] {
        let (s, _) = t.post("/v1/projects", json!({"name": n})).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Four projects: the default one and three more.
    let a = signed(&t, Method::GET, "/v2/projects?perPage=2&page=2&sortBy=name", None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    let pages = &a.2["cursor"]["pages"];
    assert_eq!(
        (pages["page"].as_i64(), pages["last"].as_i64(), pages["perPage"].as_i64(), pages["totalItems"].as_i64()),
        (Some(2), Some(2), Some(2), Some(4)),
        "{}",
        a.2
    );
    assert_eq!(pages["previous"], 1);
    assert!(pages.get("next").is_none());
    let hrefs = &a.2["cursor"]["hrefs"];
    assert_eq!(hrefs["first"], format!("{}/v2/projects?sortBy=name&page=1&perPage=2", t.url));
    assert!(hrefs["previous"].is_string() && hrefs.get("next").is_none(), "{hrefs}");
    assert_eq!(a.2["data"].as_array().unwrap().len(), 2);
    let a = signed(&t, Method::GET, "/v2/projects?perPage=2&page=1&sortBy=name.desc", None).await;
    assert_eq!(a.2["data"][0]["name"], "p-c", "{}", a.2);
    assert_eq!(a.2["cursor"]["pages"]["next"], 2);
    let a = signed(&t, Method::GET, "/v2/projects?page=9", None).await;
    assert_eq!((a.2["data"].clone(), a.2["cursor"]["pages"]["last"].clone()), (json!([]), json!(1)));
    let a = signed(&t, Method::GET, "/v2/clouds", None).await;
    assert_eq!(a.2["cursor"]["pages"], json!({"page": 1, "last": 1, "perPage": 10, "totalItems": 0}));
}

#[tokio::test]
async fn validation_and_lookup_errors() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let a = signed(&t, Method::POST, "/v2/projects", Some(json!({}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("name"));
    let r = t.http.post(format!("{}/v2/projects", t.url)).bearer_auth(&t.token).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["errorType"], "RequestValidationError");
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-x", "projectId": "nope"}))).await;
    let m = assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    assert!(m.contains("cloudId") && m.contains("projectId"), "{m}");
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-x", "cloudId": cloud, "projectId": uuid::Uuid::new_v4()}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("projectId"));
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let a = signed(
        &t,
        Method::POST,
        "/v2/clusters",
        Some(json!({"name": "cb-x", "cloudId": cloud, "projectId": project, "servers": [{"size": 30, "services": ["data"]}]})),
    )
    .await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("servers[0].size"));
    let a = signed(&t, Method::GET, "/v2/clouds?perPage=0", None).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("perPage"));
    let a = signed(&t, Method::GET, "/v2/clusters?cloudId=xyz", None).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("cloudId"));
    let a = signed(&t, Method::GET, "/v2/clouds?sortBy=size", None).await;
    assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    // Unknown and malformed ids are 404.
    let a = signed(&t, Method::GET, &format!("/v2/clusters/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, "/v2/clusters/not-a-uuid/status", None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::GET, &format!("/v2/clouds/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");
    let a = signed(&t, Method::DELETE, &format!("/v2/projects/{}", uuid::Uuid::new_v4()), None).await;
    assert_cb_error(&a, StatusCode::NOT_FOUND, "EntityNotFound");

    // Buckets need a ready cluster; database users need a grant and a long enough password.
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-y", "cloudId": cloud, "projectId": project}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let location = a.1["location"].to_str().unwrap().to_string();
    let a = signed(&t, Method::POST, &format!("{location}/buckets"), Some(json!({"name": "b", "memoryQuota": 50}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("memoryQuota"));
    let a = signed(&t, Method::POST, &format!("{location}/users"), Some(json!({"username": "u", "password": "short"}))).await;
    let m = assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    assert!(m.contains("password") && m.contains("buckets"), "{m}");
    // The native API keeps its own error shape.
    let (s, _, b) = t.call(Method::GET, &format!("/v1/clusters/{}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, 5);
}
