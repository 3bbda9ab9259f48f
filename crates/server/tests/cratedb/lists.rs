//! The vendor cluster list has no paging: it is read from the service page by page (500 a
//! page) with batched details, and shows exactly what the caller may read.

use super::changes::basic;
use super::common::*;
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;

/// 1,100 clusters (three service pages) are listed once each, with their region; a key with
/// one project grant lists that project's clusters, one with a cluster grant that cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unpaged_cluster_list_crosses_pages_and_shows_only_what_the_caller_may_read() {
    use dbcloud_core::perms::{Grant, Role, Scope};
    let t = TestServer::start().await;
    let store = t.store();
    let org = uuid::Uuid::parse_str(&t.org).unwrap();
    let project = store.default_project(org).await.unwrap();
    let (_, cloud) = t.post("/v1/clouds", json!({"name": "c", "provider": "aws", "region": "us-east-1"})).await;
    let cloud: uuid::Uuid = cloud["id"].as_str().unwrap().parse().unwrap();
    t.seeder().seed_clusters(org, project.id, cloud, "seed", 1_100).await.unwrap();
    let (s, other) = t.post("/v1/projects", json!({"name": "other"})).await;
    assert_eq!(s, 201, "{other}");
    let other: uuid::Uuid = other["id"].as_str().unwrap().parse().unwrap();
    t.seeder().seed_clusters(org, other, cloud, "other", 3).await.unwrap();

    let (s, all) = basic(&t, Method::GET, "/api/v2/clusters/", None).await;
    assert_eq!(s, 200, "{all}");
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1_103);
    assert_eq!(all.iter().map(|c| c["id"].as_str().unwrap()).collect::<HashSet<_>>().len(), 1_103);
    for c in all {
        let fqdn = c["fqdn"].as_str().unwrap();
        if fqdn.ends_with(".cratedb.dbcloud.internal.") {
            assert!(fqdn.contains(".aws.us-east-1."), "{fqdn}");
        }
    }

    let (s, mine) = basic(&t, Method::GET, &format!("/api/v2/clusters/?project_id={other}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(mine.as_array().unwrap().len(), 3, "{mine}");

    let viewer = t.grants_key(vec![Grant { role: Role::ProjectViewer, scope: Scope::Project(other) }]).await;
    let (s, _, seen) = t.call_as(&viewer, Method::GET, "/api/v2/clusters/", None).await;
    assert_eq!(s, 200, "{seen}");
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|c| c["project_id"] == other.to_string()));

    let one = seen[0]["id"].as_str().unwrap().to_string();
    let admin = t.grants_key(vec![Grant { role: Role::ClusterAdmin, scope: Scope::Cluster(one.parse().unwrap()) }]).await;
    let (s, _, seen) = t.call_as(&admin, Method::GET, "/api/v2/clusters/", None).await;
    assert_eq!(s, 200, "{seen}");
    assert_eq!(seen.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(), [one.as_str()]);
}
