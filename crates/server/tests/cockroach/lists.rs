//! Page tokens of every list, and the sub-resources: SQL users, databases, allow list.

use super::common::*;
use super::{basic, call_v};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

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

/// The names of a child list walked one per page through its page tokens.
async fn walk_names(t: &TestServer, list: &str, field: &str) -> Vec<String> {
    let sep = if list.ends_with('?') { "" } else { "&" };
    let (mut names, mut token) = (vec![], String::new());
    for _ in 0..10 {
        let page = t.get(&format!("{list}{sep}pagination.limit=1&pagination.page={token}")).await;
        names.extend(page[field].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()));
        token = page["pagination"]["next_page"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    names
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
    assert_eq!(walk_names(&t, &format!("{base}/sql-users?pagination.sort_order=DESC"), "users").await, ["maxroach", "alice"], "one per page, by token");
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
    assert_eq!(walk_names(&t, &format!("{base}/databases?"), "databases").await, ["bank", "movr3"], "one per page, by token");
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
async fn the_cluster_list_shows_exactly_what_a_folder_role_may_read() {
    let t = TestServer::start().await;
    let (s, folder) = t.post("/v1/projects", json!({"name": "folder-a"})).await;
    assert_eq!(s, StatusCode::CREATED, "{folder}");
    let folder = folder["id"].as_str().unwrap().to_string();
    for (name, project) in [("crdb-in-a", Some(folder.as_str())), ("crdb-root-1", None), ("crdb-root-2", None)] {
        let mut body = json!({"name": name, "provider": "gcp", "region": "us-central1"});
        if let Some(p) = project {
            body["project_id"] = json!(p);
        }
        let (s, b) = t.post("/v1/clusters", body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    }
    let roles = json!([{"name": "CLUSTER_MONITOR", "resource": {"type": "FOLDER", "id": folder}}]);
    let (s, _, sa) = t.call(Method::POST, "/api/v1/service-accounts", Some(json!({"name": "folder-reader", "roles": roles}))).await;
    assert_eq!(s, StatusCode::OK, "{sa}");
    let (s, _, key) = t.call(Method::POST, "/api/v1/api-keys", Some(json!({"name": "fk", "service_account_id": sa["id"]}))).await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let secret = key["secret"].as_str().unwrap();
    // A partial view is no 403: the folder's cluster, one per page, and nothing else.
    let (s, _, page) = t.call_as(secret, Method::GET, "/api/v1/clusters?pagination.limit=1", None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let names: Vec<&str> = page["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["crdb-in-a"]);
    assert_eq!(page["pagination"]["next_page"], "", "no further page: {page}");
    let (s, _, inactive) = t.call_as(secret, Method::GET, "/api/v1/clusters?show_inactive=true", None).await;
    assert_eq!((s, inactive["clusters"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{inactive}");
    assert_eq!(t.get("/api/v1/clusters").await["clusters"].as_array().unwrap().len(), 3, "the owner sees every cluster");
}
