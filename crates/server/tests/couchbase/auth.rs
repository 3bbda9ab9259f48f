//! Signing: the seed-000 Python example and both endpoint forms; the Couchbase 401s.

use super::*;

#[tokio::test]
async fn seed000_python_example_lists_clouds() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let (status, body) = seed000(&t, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cursor"]["pages"]["totalItems"], 1, "{body}");
    assert_eq!(body["cursor"]["pages"]["page"], 1);
    assert_eq!(body["data"][0]["id"], cloud.as_str());
    assert_eq!(body["data"][0]["provider"], "aws");
    assert_eq!(body["data"][0]["region"], "us-east-1");
    assert_eq!(body["data"][0]["status"], "ready");
    assert!(body["data"][0]["virtualNetworkCIDR"].is_string() && body["data"][0]["virtualNetworkID"].is_string(), "{body}");

    // The same script against a cloud's detail.
    let (status, body) = seed000(&t, Some(&format!("/v2/clouds/{cloud}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["providerSettings"]["region"], "us-east-1", "{body}");
    assert!(body.get("region").is_none());
    assert_eq!(body["tenantId"], t.org.as_str());
}

#[tokio::test]
async fn signing_forms_and_auth_failures() {
    let t = TestServer::start().await;
    native_cloud(&t).await;
    // Path + query form.
    let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds?page=1&perPage=5", None, false, None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    assert_eq!(content_type(&a.1), "application/json");
    assert_eq!(a.2["cursor"]["pages"]["perPage"], 5);
    // Absolute URL form (clients signing "everything after .com" of a base URL without one).
    let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds?page=1&perPage=5", None, true, None).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.2);
    // A signed POST in the absolute form.
    let a = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "abs"})), true, None).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    // The other credential forms work too.
    let (s, _, b) = t.call(Method::GET, "/v2/clouds", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Wrong signature: the Couchbase 401 body, exactly.
    let a = signed_as(&t, "not-the-secret", Method::GET, "/v2/clouds", None, false, None).await;
    assert_eq!(a.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a.2, json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // Signature over another path.
    let ts = now_ms();
    let sig = dbcloud_core::signing::sign(&t.secret, "GET", "/v2/projects", &ts);
    let r = t
        .http
        .get(format!("{}/v2/clouds", t.url))
        .header("Authorization", format!("Bearer {}:{sig}", t.access_key))
        .header("Couchbase-Timestamp", &ts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // No credential at all.
    let r = t.http.get(format!("{}/v2/clouds", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"message": "unauthenticated", "errorType": "Unauthorized"}));
    // Stale and malformed timestamps.
    for ts in ["1000000000000", "yesterday"] {
        let a = signed_as(&t, &t.secret, Method::GET, "/v2/clouds", None, false, Some(ts.into())).await;
        assert_eq!(a.0, StatusCode::UNAUTHORIZED, "{ts}");
        assert_eq!(a.2, json!({"message": "invalid or expired Couchbase-Timestamp", "errorType": "Unauthorized"}), "{ts}");
    }
    // A replayed POST signature.
    let ts = now_ms();
    let first = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "once"})), false, Some(ts.clone())).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    let again = signed_as(&t, &t.secret, Method::POST, "/v2/projects", Some(json!({"name": "twice"})), false, Some(ts)).await;
    assert_cb_error(&again, StatusCode::UNAUTHORIZED, "Unauthorized");

    // /v2/status needs no credentials and ignores bad ones.
    let r = t.http.get(format!("{}/v2/status", t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "OK"}));
    let r = t.http.get(format!("{}/v2/status", t.url)).header("Authorization", "Bearer junk:junk").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
