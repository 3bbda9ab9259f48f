//! Issue 10 on `/v2/`: a create answers 201 with `Location` (and a replay the same), an
//! empty version is the latest, a delete supersedes a running create, and the cluster list
//! shows exactly what the caller may read, page by page.

use super::*;
use dbcloud_core::perms::{Grant, Role, Scope};
use std::collections::BTreeSet;

/// A create with an `Idempotency-Key` header, as the owner.
async fn create_with_key(t: &TestServer, key: &str, body: &Value) -> Answer {
    let r = t.http.post(format!("{}/v2/clusters", t.url)).bearer_auth(&t.token).header("Idempotency-Key", key).json(body).send().await.unwrap();
    decode(r).await
}

fn location(a: &Answer) -> String {
    a.1.get("location").and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no Location: {:?}", a.1)).to_string()
}

#[tokio::test]
async fn create_answers_201_with_location_and_a_replay_answers_the_same() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"name": "cb-201", "cloudId": cloud, "projectId": project});

    // Signed, as the vendor's clients send it: 201, Location, no body, JSON content type.
    let a = signed(&t, Method::POST, "/v2/clusters", Some(body.clone())).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    assert_eq!(a.2, Value::Null);
    assert_eq!(content_type(&a.1), "application/json");
    let first = location(&a);
    let id = first.strip_prefix("/v2/clusters/").expect("a /v2 cluster URL");
    uuid::Uuid::parse_str(id).expect("the new cluster's id");
    let got = signed(&t, Method::GET, &first, None).await;
    assert_eq!((got.0, got.2["id"].as_str(), got.2["name"].as_str()), (StatusCode::OK, Some(id), Some("cb-201")), "{}", got.2);

    // With an Idempotency-Key: a retry answers the same 201 and Location, and creates nothing.
    let body = json!({"name": "cb-idem", "cloudId": cloud, "projectId": project});
    let a = create_with_key(&t, "retry-me-1", &body).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let again = create_with_key(&t, "retry-me-1", &body).await;
    assert_eq!(again.0, StatusCode::CREATED, "{}", again.2);
    assert_eq!(location(&again), location(&a));
    assert_eq!(again.1.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(again.2, Value::Null);
    let list = signed(&t, Method::GET, "/v2/clusters", None).await;
    assert_eq!(list.2["cursor"]["pages"]["totalItems"], 2, "{}", list.2);
    // The same key with another request is refused in the Couchbase shape.
    let other = create_with_key(&t, "retry-me-1", &json!({"name": "cb-other", "cloudId": cloud, "projectId": project})).await;
    assert_cb_error(&other, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
    let bad = create_with_key(&t, "", &body).await;
    assert_cb_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError");
}

#[tokio::test]
async fn an_empty_version_means_the_latest() {
    let t = TestServer::start().await;
    let cloud = native_cloud(&t).await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let mut versions = vec![];
    for (name, version) in [("cb-absent", None), ("cb-empty", Some("")), ("cb-latest", Some("latest"))] {
        let mut body = json!({"name": name, "cloudId": cloud, "projectId": project});
        if let Some(v) = version {
            body["version"] = json!(v);
        }
        let a = signed(&t, Method::POST, "/v2/clusters", Some(body)).await;
        assert_eq!(a.0, StatusCode::CREATED, "{name}: {}", a.2);
        let detail = signed(&t, Method::GET, &location(&a), None).await;
        versions.push(detail.2["version"]["name"].as_str().unwrap().to_string());
    }
    assert!(!versions[0].is_empty() && versions.iter().all(|v| v == &versions[0]), "{versions:?}");
    let a =
        signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-bad", "cloudId": cloud, "projectId": project, "version": "enterprise-1.0"}))).await;
    assert!(assert_cb_error(&a, StatusCode::UNPROCESSABLE_ENTITY, "RequestValidationError").contains("version"));
}

#[tokio::test]
async fn a_delete_during_a_running_create_supersedes_it() {
    let t = TestServer::with(Backend::Sqlite, config(150, 0.0)).await;
    let cloud = native_cloud(&t).await;
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let a = signed(&t, Method::POST, "/v2/clusters", Some(json!({"name": "cb-doomed", "cloudId": cloud, "projectId": project}))).await;
    assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
    let loc = location(&a);
    let id = loc.strip_prefix("/v2/clusters/").unwrap().to_string();
    assert_eq!(signed(&t, Method::GET, &format!("{loc}/status"), None).await.2["status"], "deploying");
    let d = signed(&t, Method::DELETE, &loc, None).await;
    assert_eq!(d.0, StatusCode::ACCEPTED, "{}", d.2);
    assert_eq!(location(&d), loc);
    t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    let ops: Vec<(String, String)> =
        ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string())).collect();
    assert_eq!(ops, [("create".to_string(), "CANCELLED".to_string()), ("delete".into(), "SUCCEEDED".into())]);
    let st = signed(&t, Method::GET, &format!("{loc}/status"), None).await;
    assert!(st.0 == StatusCode::NOT_FOUND || st.2["status"] == "destroy_succeeded", "{}", st.2);
    assert_eq!(signed(&t, Method::GET, "/v2/clusters", None).await.2["data"], json!([]));
}

/// Every cluster id a token lists on `/v2/clusters`, page by page, with the reported total.
async fn listed(t: &TestServer, token: &str, per_page: usize, query: &str) -> (BTreeSet<String>, u64) {
    let (mut out, mut total) = (BTreeSet::new(), None);
    for page in 1.. {
        let (s, _, body) = t.call_as(token, Method::GET, &format!("/v2/clusters?perPage={per_page}&page={page}{query}"), None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let pages = &body["cursor"]["pages"];
        let n = pages["totalItems"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(n), n, "the total is the same on every page");
        let items = body["data"].as_array().unwrap();
        assert!(items.len() <= per_page);
        out.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        if pages.get("next").is_none() {
            assert_eq!(pages["last"].as_u64(), Some(page.max(1)), "{body}");
            break;
        }
    }
    (out, total.unwrap_or(0))
}

#[tokio::test]
async fn cluster_lists_show_exactly_what_the_caller_may_read() {
    let t = TestServer::start().await;
    let (mut projects, mut clusters) = (vec![], vec![]);
    for p in ["alpha", "beta", "gamma"] {
        let (s, proj) = t.post("/v1/projects", json!({ "name": p })).await;
        assert_eq!(s, StatusCode::CREATED, "{proj}");
        let pid = proj["id"].as_str().unwrap().to_string();
        let mut ids = vec![];
        for i in 1..=2 {
            let (s, c) = t.post("/v1/clusters", json!({"name": format!("{p}-{i}"), "project_id": pid, "provider": "aws", "region": "us-east-1"})).await;
            assert_eq!(s, StatusCode::ACCEPTED, "{c}");
            ids.push(c["cluster"]["id"].as_str().unwrap().to_string());
        }
        projects.push(pid);
        clusters.push(ids);
    }
    let scope = |p: &str| Scope::Project(p.parse().unwrap());
    let two_projects = t
        .grants_key(vec![Grant { role: Role::ProjectViewer, scope: scope(&projects[0]) }, Grant { role: Role::ProjectViewer, scope: scope(&projects[1]) }])
        .await;
    let one_cluster = t.grants_key(vec![Grant { role: Role::ClusterMonitor, scope: Scope::Cluster(clusters[2][1].parse().unwrap()) }]).await;
    let want: BTreeSet<String> = clusters[0].iter().chain(&clusters[1]).cloned().collect();
    for per_page in [1, 3, 100] {
        assert_eq!(listed(&t, &two_projects, per_page, "").await, (want.clone(), 4), "pages of {per_page}");
        assert_eq!(listed(&t, &one_cluster, per_page, "").await, (BTreeSet::from([clusters[2][1].clone()]), 1), "pages of {per_page}");
        assert_eq!(listed(&t, &t.token, per_page, "&sortBy=name.desc").await.1, 6, "the owner sees all");
    }
    // Filters narrow within what may be read; another project's filter lists nothing.
    assert_eq!(listed(&t, &two_projects, 10, &format!("&projectId={}", projects[1])).await.0.len(), 2);
    assert_eq!(listed(&t, &two_projects, 10, &format!("&projectId={}", projects[2])).await, (BTreeSet::new(), 0));
    // Sorted by name, descending, across pages.
    let (s, _, body) = t.call_as(&two_projects, Method::GET, "/v2/clusters?perPage=3&page=1&sortBy=name.desc", None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = body["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["beta-2", "beta-1", "alpha-2"], "{body}");
    // Projects: the two granted ones.
    let (s, _, body) = t.call_as(&two_projects, Method::GET, "/v2/projects", None).await;
    assert_eq!((s, body["cursor"]["pages"]["totalItems"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
}
