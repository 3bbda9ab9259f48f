//! Conformance: the live cluster counts of projects and clouds (read from the maintained
//! `cluster_counts`, never by counting clusters) follow creates, deletes, seeding, and the
//! deletion of project and cloud rows.

use super::*;

/// `(project count, cloud count)` through the single reads and through the lists.
async fn counts(h: &Harness, project: Uuid, cloud: Uuid) -> (i64, i64) {
    let p = h.store.get_project(h.org, project).await.unwrap().cluster_count;
    let k = h.store.get_cloud(h.org, cloud).await.unwrap().cluster_count;
    let listed_p = h.store.list_projects(h.org, PageReq::first(100)).await.unwrap().items.into_iter().find(|x| x.id == project).unwrap();
    let listed_k = h.store.list_clouds(h.org, None, PageReq::first(100)).await.unwrap().items.into_iter().find(|x| x.id == cloud).unwrap();
    assert_eq!((listed_p.cluster_count, listed_k.cluster_count), (p, k), "the lists and the single reads agree");
    (p, k)
}

async fn delete_fully(h: &Harness, cluster: Uuid) {
    h.finish_ops(cluster, ClusterState::Created).await;
    h.store.delete_cluster(&h.ctx(), cluster, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    h.finish_ops(cluster, ClusterState::Deleted).await;
}

pub(crate) async fn project_and_cloud_counts_follow_clusters(h: &Harness) {
    let ctx = h.ctx();
    let (a, b) = (h.cloud("a").await, h.cloud("b").await);
    let p = h.store.create_project(&ctx, "p", "").await.unwrap();
    let default = h.store.default_project(h.org).await.unwrap();
    assert_eq!(counts(h, p.id, a.id).await, (0, 0));
    let first = h.cluster("a-p-1", a.id, Some(p.id)).await.cluster.id;
    h.cluster("a-p-2", a.id, Some(p.id)).await;
    h.cluster("b-p", b.id, Some(p.id)).await;
    h.cluster("a-default", a.id, None).await;
    assert_eq!(counts(h, p.id, a.id).await, (3, 3), "p has 2 clusters in a and 1 in b; a has 2 of p and 1 of the default project");
    assert_eq!(counts(h, default.id, b.id).await, (1, 1));
    // Deleting: counted until the cluster is DELETED.
    h.finish_ops(first, ClusterState::Created).await;
    h.store.delete_cluster(&ctx, first, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(counts(h, p.id, a.id).await, (3, 3), "a deleting cluster still counts");
    h.finish_ops(first, ClusterState::Deleted).await;
    assert_eq!(counts(h, p.id, a.id).await, (2, 2));
    // Seeded clusters count.
    h.store.seed_clusters(h.org, p.id, b.id, "seed", 5).await.unwrap();
    assert_eq!(counts(h, p.id, b.id).await, (7, 6));
    assert_eq!(counts(h, default.id, a.id).await, (1, 2));
    // A project whose clusters are all DELETED counts 0, can be deleted, and its deletion
    // changes no other count.
    let q = h.store.create_project(&ctx, "q", "").await.unwrap();
    let gone = h.cluster("b-q", b.id, Some(q.id)).await.cluster.id;
    assert_eq!(counts(h, q.id, b.id).await, (1, 7));
    delete_fully(h, gone).await;
    assert_eq!(counts(h, q.id, b.id).await, (0, 6));
    h.store.delete_project(&ctx, q.id).await.unwrap();
    assert_eq!(counts(h, p.id, b.id).await, (7, 6));
    // The same for a cloud; a name reused by a new cloud starts from 0.
    let c = h.cloud("c").await;
    let gone = h.cluster("c-p", c.id, Some(p.id)).await.cluster.id;
    assert_eq!(counts(h, p.id, c.id).await, (8, 1));
    assert!(matches!(h.store.delete_cloud(&ctx, c.id).await, Err(Error::FailedPrecondition(_))));
    delete_fully(h, gone).await;
    h.store.delete_cloud(&ctx, c.id).await.unwrap();
    let again = h.cloud("c").await;
    assert_eq!(counts(h, p.id, again.id).await, (7, 0));
    assert_eq!(counts(h, default.id, a.id).await, (1, 2));
}
