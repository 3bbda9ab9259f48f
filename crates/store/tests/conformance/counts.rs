//! Conformance: the live cluster counts of projects and clouds (read from the maintained
//! `cluster_counts`, never by counting clusters) follow creates, deletes, seeding, and the
//! deletion of project and cloud rows; numbered pages of projects and clouds; pages of a
//! cluster's buckets and database users by name.

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
    h.seeder.seed_clusters(h.org, p.id, b.id, "seed", 5).await.unwrap();
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

/// The ids of one numbered page of projects, and the total.
async fn project_page(h: &Harness, order: ListOrder, descending: bool, skip: u64, limit: u32, only: Option<Vec<Uuid>>) -> (u64, Vec<Uuid>) {
    let page = NumberedPage { order, descending, skip, limit, only };
    let (total, items) = h.store.page_projects(h.org, &page).await.unwrap();
    (total, items.into_iter().map(|p| p.id).collect())
}

pub(crate) async fn numbered_pages_of_projects_and_clouds(h: &Harness) {
    let ctx = h.ctx();
    let default = h.store.default_project(h.org).await.unwrap();
    let mut made = vec![];
    for name in ["Beta", "alpha", "\u{c4}rger"] {
        made.push(h.store.create_project(&ctx, name, "").await.unwrap());
    }
    let (beta, alpha, umlaut) = (made[0].id, made[1].id, made[2].id);
    // Names in byte order on both backends (not the database's collation).
    assert_eq!(project_page(h, ListOrder::Name, false, 0, 10, None).await, (4, vec![beta, alpha, default.id, umlaut]));
    assert_eq!(project_page(h, ListOrder::Name, true, 1, 2, None).await, (4, vec![default.id, alpha]));
    assert_eq!(project_page(h, ListOrder::Name, false, 10, 2, None).await, (4, vec![]), "past the end: empty, same total");
    // Every order, either way, is the keyset list sorted as the page-number surfaces sort it.
    let all = h.store.list_projects(h.org, PageReq::first(100)).await.unwrap().items;
    for order in [ListOrder::CreatedAt, ListOrder::Name, ListOrder::Id] {
        for descending in [false, true] {
            let mut want = all.clone();
            want.sort_by(|a, b| {
                let o = match order {
                    ListOrder::Name => a.name.cmp(&b.name),
                    ListOrder::CreatedAt => a.created_at.cmp(&b.created_at),
                    ListOrder::Id => std::cmp::Ordering::Equal,
                }
                .then_with(|| a.id.to_string().cmp(&b.id.to_string()));
                if descending { o.reverse() } else { o }
            });
            let want: Vec<Uuid> = want.iter().map(|p| p.id).collect();
            assert_eq!(project_page(h, order, descending, 0, 10, None).await, (4, want.clone()), "{order:?} descending={descending}");
            assert_eq!(project_page(h, order, descending, 1, 2, None).await, (4, want[1..3].to_vec()), "{order:?} descending={descending}");
        }
    }
    // Only the named projects (those a caller may read); unknown ids match nothing.
    assert_eq!(project_page(h, ListOrder::Name, false, 0, 10, Some(vec![umlaut, alpha, Uuid::now_v7()])).await, (2, vec![alpha, umlaut]));
    assert_eq!(project_page(h, ListOrder::Name, false, 0, 10, Some(vec![])).await, (0, vec![]));
    // Clouds page alike, with their counts.
    let (b, a) = (h.cloud("b").await, h.cloud("A").await);
    h.cluster("in-b", b.id, Some(alpha)).await;
    let (total, clouds) = h.store.page_clouds(h.org, &NumberedPage { order: ListOrder::Name, limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!((total, clouds.iter().map(|c| (c.id, c.cluster_count)).collect::<Vec<_>>()), (2, vec![(a.id, 0), (b.id, 1)]));
    let (_, projects) = h.store.page_projects(h.org, &NumberedPage { order: ListOrder::Name, skip: 1, limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(projects.iter().map(|p| (p.id, p.cluster_count)).collect::<Vec<_>>(), [(alpha, 1)]);
}

pub(crate) async fn children_pages_by_name(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("kids", cloud.id, None).await.cluster.id;
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(5);
    for name in ["b", "B", "a"] {
        h.store.create_bucket(&ctx, k, &NewBucket { name: name.into(), memory_quota_mb: 100, replicas: 0 }).await.unwrap();
        let user = NewDbUser { name: format!("u-{name}"), access: Access::Read, scope: None, password_hash: "h".into() };
        h.store.create_db_user(&ctx, k, &user).await.unwrap();
    }
    let page = |after: Option<&str>, descending: bool, as_of: time::OffsetDateTime| NamePage { after: after.map(str::to_string), descending, as_of, limit: 2 };
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let buckets = |p: NamePage| async move {
        let (items, more) = h.store.page_buckets_by_name(h.org, k, &p).await.unwrap();
        (items.into_iter().map(|b| b.name).collect::<Vec<_>>(), more)
    };
    // Byte order (upper case first), both ways, after the last name of the previous page.
    assert_eq!(buckets(page(None, false, now)).await, (vec!["B".to_string(), "a".into()], true));
    assert_eq!(buckets(page(Some("a"), false, now)).await, (vec!["b".to_string()], false));
    assert_eq!(buckets(page(None, true, now)).await, (vec!["b".to_string(), "a".into()], true));
    assert_eq!(buckets(page(Some("a"), true, now)).await, (vec!["B".to_string()], false));
    assert_eq!(buckets(page(None, false, before)).await, (vec![], false), "children created after the snapshot are left out");
    let (users, more) = h.store.page_db_users_by_name(h.org, k, &page(Some("u-B"), false, now)).await.unwrap();
    assert_eq!((users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), more), (vec!["u-a", "u-b"], false));
    let elsewhere = h.store.page_buckets_by_name(Uuid::now_v7(), k, &page(None, false, now)).await;
    assert!(matches!(elsewhere, Err(Error::NotFound(_))), "another organization's cluster");
}
