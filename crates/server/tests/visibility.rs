//! Every list shows exactly what the caller may read: a key with read grants on two projects,
//! and a key with only a cluster grant, list exactly their clusters — no more, and no 403 for
//! a partial view — on native `/v1` and on every dialect's cluster list.

mod common;

use common::*;
use dbcloud_core::perms::{Grant, Role, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Three projects with two clusters each: `(project ids, cluster ids per project)`.
async fn layout(t: &TestServer) -> (Vec<Uuid>, Vec<Vec<Uuid>>) {
    let (mut projects, mut clusters) = (vec![], vec![]);
    for p in ["alpha", "beta", "gamma"] {
        let (s, proj) = t.post("/v1/projects", json!({ "name": p })).await;
        assert_eq!(s, StatusCode::CREATED, "{proj}");
        let pid: Uuid = proj["id"].as_str().unwrap().parse().unwrap();
        let mut ids = vec![];
        for i in 1..=2 {
            let body = json!({"name": format!("{p}-{i}"), "project_id": pid, "provider": "aws", "region": "us-east-1", "node_count": 1});
            let (s, c) = t.post("/v1/clusters", body).await;
            assert_eq!(s, StatusCode::ACCEPTED, "{c}");
            ids.push(c["cluster"]["id"].as_str().unwrap().parse().unwrap());
        }
        projects.push(pid);
        clusters.push(ids);
    }
    (projects, clusters)
}

/// Every cluster id a token lists, following `next_cursor` with pages of `limit`.
async fn listed(t: &TestServer, token: &str, limit: u32) -> BTreeSet<Uuid> {
    let mut out = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/clusters?limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, _, page) = t.call_as(token, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        out.extend(items.iter().map(|c| c["id"].as_str().unwrap().parse::<Uuid>().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn native_lists_show_exactly_what_the_caller_may_read() {
    let t = TestServer::start().await;
    let (projects, clusters) = layout(&t).await;
    let two_projects = t
        .grants_key(vec![
            Grant { role: Role::ProjectViewer, scope: Scope::Project(projects[0]) },
            Grant { role: Role::ProjectViewer, scope: Scope::Project(projects[1]) },
        ])
        .await;
    let one_cluster = t.grants_key(vec![Grant { role: Role::ClusterMonitor, scope: Scope::Cluster(clusters[2][1]) }]).await;
    let want: BTreeSet<Uuid> = clusters[0].iter().chain(&clusters[1]).copied().collect();
    for limit in [1, 3, 100] {
        assert_eq!(listed(&t, &two_projects, limit).await, want, "pages of {limit}");
        assert_eq!(listed(&t, &one_cluster, limit).await, BTreeSet::from([clusters[2][1]]), "pages of {limit}");
    }
    // Filters narrow within what may be read; another project's filter lists nothing.
    let (s, _, page) = t.call_as(&two_projects, Method::GET, &format!("/v1/clusters?project_id={}", projects[1]), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (s, _, page) = t.call_as(&two_projects, Method::GET, &format!("/v1/clusters?project_id={}", projects[2]), None).await;
    assert_eq!((s, page["items"].clone()), (StatusCode::OK, json!([])));
    // Projects: the two granted ones; a cluster grant reveals no project.
    let (s, _, page) = t.call_as(&two_projects, Method::GET, "/v1/projects?limit=1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let (_, _, rest) = t.call_as(&two_projects, Method::GET, &format!("/v1/projects?cursor={next}"), None).await;
    let seen: BTreeSet<String> =
        page["items"].as_array().unwrap().iter().chain(rest["items"].as_array().unwrap()).map(|p| p["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, BTreeSet::from(["alpha".to_string(), "beta".to_string()]));
    let (s, _, _) = t.call_as(&one_cluster, Method::GET, "/v1/projects", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a key that may read no project is refused");
    // Reads outside the grants stay refused.
    let (s, _, _) = t.call_as(&two_projects, Method::GET, &format!("/v1/clusters/{}", clusters[2][0]), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, c): (_, _, Value) = t.call_as(&one_cluster, Method::GET, &format!("/v1/clusters/{}", clusters[2][1]), None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    // A key that may read no cluster at all is refused (and audited), not given an empty list.
    let billing = t.role_key(Role::BillingViewer).await;
    let (s, _, _) = t.call_as(&billing, Method::GET, "/v1/clusters", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// Every cluster id a token lists on a dialect, following that dialect's paging.
async fn dialect_listed(t: &TestServer, token: &str, surface: &str) -> Result<BTreeSet<Uuid>, String> {
    let mut out = BTreeSet::new();
    let ids = |items: &Value, out: &mut BTreeSet<Uuid>| {
        for c in items.as_array().cloned().unwrap_or_default() {
            out.insert(c["id"].as_str().or(c["uuid"].as_str()).unwrap().parse::<Uuid>().unwrap());
        }
    };
    match surface {
        // Couchbase: page numbers, `cursor.pages.next` while more.
        "couchbase" => {
            for page in 1..=10 {
                let (s, _, v) = t.call_as(token, Method::GET, &format!("/v2/clusters?perPage=2&page={page}"), None).await;
                if s != StatusCode::OK {
                    return Err(format!("{s} {v}"));
                }
                ids(&v["data"], &mut out);
                if v["cursor"]["pages"].get("next").is_none() {
                    return Ok(out);
                }
            }
            Err("more than 10 pages".into())
        }
        // CockroachDB: sealed page tokens.
        "cockroach" => {
            let mut token_q = String::new();
            for _ in 0..10 {
                let (s, _, v) = t.call_as(token, Method::GET, &format!("/api/v1/clusters?pagination.limit=2{token_q}"), None).await;
                if s != StatusCode::OK {
                    return Err(format!("{s} {v}"));
                }
                ids(&v["clusters"], &mut out);
                match v["pagination"]["next_page"].as_str().filter(|n| !n.is_empty()) {
                    Some(n) => token_q = format!("&pagination.page={n}"),
                    None => return Ok(out),
                }
            }
            Err("more than 10 pages".into())
        }
        // CrateDB: one unpaged array.
        _ => {
            let (s, _, v) = t.call_as(token, Method::GET, "/api/v2/clusters/", None).await;
            if s != StatusCode::OK {
                return Err(format!("{s} {v}"));
            }
            ids(&v, &mut out);
            Ok(out)
        }
    }
}

#[tokio::test]
async fn dialect_lists_show_exactly_what_the_caller_may_read() {
    let t = TestServer::start().await;
    let (projects, clusters) = layout(&t).await;
    let two_projects = t
        .grants_key(vec![
            Grant { role: Role::ProjectViewer, scope: Scope::Project(projects[0]) },
            Grant { role: Role::ProjectViewer, scope: Scope::Project(projects[1]) },
        ])
        .await;
    let one_cluster = t.grants_key(vec![Grant { role: Role::ClusterMonitor, scope: Scope::Cluster(clusters[2][1]) }]).await;
    let want: BTreeSet<Uuid> = clusters[0].iter().chain(&clusters[1]).copied().collect();
    let everything: BTreeSet<Uuid> = clusters.iter().flatten().copied().collect();
    for surface in ["couchbase", "cockroach", "cratedb"] {
        assert_eq!(dialect_listed(&t, &t.token, surface).await, Ok(everything.clone()), "{surface}: the owner sees every cluster");
        assert_eq!(dialect_listed(&t, &two_projects, surface).await, Ok(want.clone()), "{surface}: two project grants");
        assert_eq!(dialect_listed(&t, &one_cluster, surface).await, Ok(BTreeSet::from([clusters[2][1]])), "{surface}: one cluster grant");
    }
}
