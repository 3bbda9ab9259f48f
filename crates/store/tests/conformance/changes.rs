//! Conformance: node operations, atomic replacements, vendor attributes, counts and visibility, superseding deletes, rate reservations.

use super::*;
/// Claims `op` and records one final step with `patch`.
pub(crate) async fn finish_with(h: &Harness, op: Uuid, patch: ClusterPatch) {
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    h.store.claim_operation(op, "me", now, 10_000).await.unwrap().expect("claimable");
    let step = OperationStep { status: OperationStatus::Succeeded, step: "done".into(), progress: 100, error: None };
    assert!(h.store.advance_operation(op, "me", 10_000, &step, &patch).await.unwrap());
}

pub(crate) async fn node_operations_change_version_and_attributes(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("ops", cloud.id, None).await;
    let id = k.cluster.id;
    // Not idle while CREATING: refused, nothing written.
    let up = NewOperation::new(OperationKind::Upgrade, serde_json::json!({"version": "7.7.0"}));
    assert!(matches!(h.store.start_operation(&ctx, id, &up, "cluster.upgrade").await, Err(Error::Busy { .. })));
    h.finish_ops(id, ClusterState::Created).await;
    let started = h.store.start_operation(&ctx, id, &up, "cluster.upgrade").await.unwrap();
    assert_eq!(started.cluster.state, ClusterState::Updating);
    assert_eq!(started.operation.as_ref().map(|o| (o.kind, o.status)), Some((OperationKind::Upgrade, OperationStatus::Sent)));
    // A second operation while one runs: refused.
    let again = NewOperation::new(OperationKind::Suspend, serde_json::json!({}));
    assert!(matches!(h.store.start_operation(&ctx, id, &again, "cluster.suspend").await, Err(Error::Busy { .. })));
    finish_with(h, up.id, ClusterPatch { state: Some(ClusterState::Created), version: Some("7.7.0".into()), ..Default::default() }).await;
    let c = h.store.get_cluster(h.org, id).await.unwrap();
    assert_eq!((c.state, c.version.as_str()), (ClusterState::Created, "7.7.0"));
    // Suspend: the attribute is merged by the final step, other attributes stay.
    let mut attrs = serde_json::Map::new();
    attrs.insert("channel".into(), serde_json::json!("stable"));
    h.store.update_cluster(&ctx, id, &ClusterUpdate { attributes: Some(attrs), ..Default::default() }).await.unwrap();
    h.store.start_operation(&ctx, id, &again, "cluster.suspend").await.unwrap();
    let mut flag = serde_json::Map::new();
    flag.insert("suspended".into(), serde_json::json!(true));
    finish_with(h, again.id, ClusterPatch { state: Some(ClusterState::Created), attributes: Some(flag), ..Default::default() }).await;
    let c = h.store.get_cluster(h.org, id).await.unwrap();
    assert_eq!(serde_json::Value::Object(c.attributes), serde_json::json!({"channel": "stable", "suspended": true}));
    let actions: Vec<String> = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "cluster.upgrade" || *a == "cluster.suspend").count(), 2, "{actions:?}");
}

pub(crate) async fn allowlist_replaced_atomically(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let k = h.cluster("allow", cloud.id, None).await;
    let id = k.cluster.id;
    let entry = |c: &str| NewAllowlistEntry { cidr: c.into(), comment: format!("net {c}"), expires_at: None, attributes: Default::default() };
    h.store.create_allowlist_entry(&ctx, id, &entry("10.0.0.0/8")).await.unwrap();
    // The create operation still runs: a replacement with an operation is refused and the old list stays.
    let op = NewOperation::new(OperationKind::AllowlistUpdate, serde_json::json!({}));
    let busy = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24")], Some(&op)).await;
    assert!(matches!(busy, Err(Error::Busy { .. })), "{busy:?}");
    assert_eq!(allowlist_cidrs(h, id).await, ["10.0.0.0/8"]);
    // A duplicate network fails the whole replacement.
    let dup = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24"), entry("192.0.2.0/24")], None).await;
    assert!(matches!(dup, Err(Error::AlreadyExists(_))), "{dup:?}");
    assert_eq!(allowlist_cidrs(h, id).await, ["10.0.0.0/8"]);
    h.finish_ops(id, ClusterState::Created).await;
    let (list, op_out) = h.store.replace_allowlist(&ctx, id, &[entry("192.0.2.0/24"), entry("2001:db8::/32")], Some(&op)).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(op_out.map(|o| (o.kind, o.status)), Some((OperationKind::AllowlistUpdate, OperationStatus::Sent)));
    assert_eq!(allowlist_cidrs(h, id).await, ["192.0.2.0/24", "2001:db8::/32"]);
    // The cluster's state is untouched by an allow-list operation.
    assert_eq!(h.store.get_cluster(h.org, id).await.unwrap().state, ClusterState::Created);
    h.finish_ops(id, ClusterState::Created).await;
    let (list, _) = h.store.replace_allowlist(&ctx, id, &[], None).await.unwrap();
    assert!(list.is_empty());
    assert!(allowlist_cidrs(h, id).await.is_empty());
    let replaced = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.iter().filter(|e| e.action == "allowlist.replace").count();
    assert_eq!(replaced, 2);
}

pub(crate) async fn buckets_updated_all_or_none(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let id = h.cluster("bkt", cloud.id, None).await.cluster.id;
    for n in ["a", "b"] {
        h.store.create_bucket(&ctx, id, &NewBucket { name: n.into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    }
    let ch = |n: &str, q: Option<i64>, r: Option<i32>| BucketChange { name: n.into(), memory_quota_mb: q, replicas: r };
    let missing = h.store.update_buckets(&ctx, id, &[ch("a", Some(500), None), ch("nope", Some(200), None)]).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let list = h.store.list_buckets(h.org, id, PageReq::first(10)).await.unwrap().items;
    assert!(list.iter().all(|b| b.memory_quota_mb == 100), "nothing changed: {list:?}");
    let out = h.store.update_buckets(&ctx, id, &[ch("b", None, Some(2)), ch("a", Some(300), None)]).await.unwrap();
    assert_eq!(out.iter().map(|b| (b.name.as_str(), b.memory_quota_mb, b.replicas)).collect::<Vec<_>>(), [("b", 100, 2), ("a", 300, 1)]);
    let updates = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items.iter().filter(|e| e.action == "bucket.update").count();
    assert_eq!(updates, 2);
    let mut foreign = h.ctx();
    foreign.organization_id = Uuid::now_v7();
    assert!(matches!(h.store.update_buckets(&foreign, id, &[ch("a", Some(1), None)]).await, Err(Error::NotFound(_))));
}

pub(crate) async fn organization_update_and_audit_paging(h: &Harness) {
    let ctx = h.ctx();
    let mut attrs = serde_json::Map::new();
    attrs.insert("plan_type".into(), serde_json::json!(5));
    attrs.insert("email".into(), serde_json::json!("ops@example.com"));
    let o = h.store.update_organization(&ctx, Some("renamed"), Some(&attrs)).await.unwrap();
    assert_eq!(o.name, "renamed");
    let mut clear = serde_json::Map::new();
    clear.insert("email".into(), serde_json::Value::Null);
    let o = h.store.update_organization(&ctx, None, Some(&clear)).await.unwrap();
    assert_eq!((o.name.as_str(), serde_json::Value::Object(o.attributes.clone())), ("renamed", serde_json::json!({"plan_type": 5})));
    assert_eq!(h.store.get_organization(h.org).await.unwrap(), o);
    // Newest-first pages with a `before` cursor end with an empty page.
    for i in 0..5 {
        h.store.create_project(&ctx, &format!("p{i}"), "").await.unwrap();
    }
    let all = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    let mut seen = vec![];
    let mut filter = AuditFilter { newest_first: true, ..Default::default() };
    loop {
        let page = h.store.list_audit_filtered(h.org, &filter, PageReq::first(3)).await.unwrap().items;
        if page.is_empty() {
            break;
        }
        filter.before = page.last().map(|e| e.id);
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let mut expected: Vec<Uuid> = all.iter().map(|e| e.id).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let one = AuditFilter { id: Some(expected[0]), ..Default::default() };
    assert_eq!(h.store.list_audit_filtered(h.org, &one, PageReq::first(5)).await.unwrap().items.len(), 1);
    let p = h.store.create_project(&ctx, "target_%", "").await.unwrap();
    let by_target = AuditFilter { target_prefix: Some(format!("project:{}", p.id)), ..Default::default() };
    assert_eq!(h.store.list_audit_filtered(h.org, &by_target, PageReq::first(5)).await.unwrap().items.len(), 1);
    let none = AuditFilter { target_prefix: Some("project:%".into()), ..Default::default() };
    assert!(h.store.list_audit_filtered(h.org, &none, PageReq::first(5)).await.unwrap().items.is_empty());
}

pub(crate) async fn vendor_attributes_renames_and_batch_reads(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let a = h.cluster("attr-a", cloud.id, None).await.cluster.id;
    let b = h.cluster("attr-b", cloud.id, None).await.cluster.id;
    let lonely = h.cluster("attr-c", cloud.id, None).await.cluster.id;
    // Cluster attributes merge; null removes a key.
    let set = |v: serde_json::Value| ClusterUpdate { attributes: v.as_object().cloned(), ..Default::default() };
    h.store.update_cluster(&ctx, a, &set(serde_json::json!({"labels": {"x": "1"}, "tier": "gold"}))).await.unwrap();
    let c = h.store.update_cluster(&ctx, a, &set(serde_json::json!({"tier": null, "delete_protection": "ENABLED"}))).await.unwrap().cluster;
    assert_eq!(serde_json::Value::Object(c.attributes.clone()), serde_json::json!({"labels": {"x": "1"}, "delete_protection": "ENABLED"}));
    assert_eq!(h.store.get_cluster(h.org, a).await.unwrap().attributes, c.attributes, "stored");
    // Bucket rename: unique per cluster, audited.
    let b1 = h.store.create_bucket(&ctx, a, &NewBucket { name: "one".into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    h.store.create_bucket(&ctx, a, &NewBucket { name: "two".into(), memory_quota_mb: 100, replicas: 1 }).await.unwrap();
    assert!(matches!(h.store.rename_bucket(&ctx, a, b1.id, "two").await, Err(Error::AlreadyExists(_))));
    assert_eq!(h.store.rename_bucket(&ctx, a, b1.id, "uno").await.unwrap().name, "uno");
    assert!(matches!(h.store.rename_bucket(&ctx, a, Uuid::nil(), "x").await, Err(Error::NotFound(_))));
    // Allow-list entry attributes and comment.
    let attrs = serde_json::json!({"ui": false, "sql": true}).as_object().cloned().unwrap();
    let e = h
        .store
        .create_allowlist_entry(&ctx, b, &NewAllowlistEntry { cidr: "10.0.0.0/8".into(), comment: "n".into(), expires_at: None, attributes: attrs.clone() })
        .await
        .unwrap();
    let listed = h.store.list_allowlist(h.org, b, PageReq::first(10)).await.unwrap().items;
    assert_eq!(listed[0].attributes, attrs);
    let flipped = serde_json::json!({"ui": true, "sql": true}).as_object().cloned().unwrap();
    let e2 = h.store.set_allowlist_entry(&ctx, b, e.id, Some("renamed"), Some(&flipped)).await.unwrap();
    assert_eq!((e2.comment.as_str(), &e2.attributes), ("renamed", &flipped));
    // Batch reads: the newest operation per cluster and every allow list, in one call each.
    let newest = h.store.latest_operations(h.org, &[a, b, lonely]).await.unwrap();
    assert_eq!(newest.len(), 3);
    assert!(newest.iter().all(|o| o.kind == OperationKind::Create));
    let lists = h.store.allowlists_of(h.org, &[a, b]).await.unwrap();
    assert_eq!(lists.iter().map(|e| (e.cluster_id, e.cidr.as_str())).collect::<Vec<_>>(), vec![(b, "10.0.0.0/8")]);
    assert!(h.store.latest_operations(h.org, &[]).await.unwrap().is_empty());
    assert!(h.store.latest_operations(Uuid::nil(), &[a]).await.unwrap().is_empty(), "other organizations see nothing");
    let audit = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    assert!(audit.iter().any(|e| e.action == "bucket.rename") && audit.iter().any(|e| e.action == "allowlist.update"));
    // Lists by name (keyset on name and id), both directions.
    for desc in [false, true] {
        let filter = ClusterFilter { by_name: true, descending: desc, ..Default::default() };
        let (mut names, mut page) = (vec![], PageReq::first(2));
        loop {
            let got = h.store.list_clusters(h.org, &filter, page.clone()).await.unwrap();
            names.extend(got.items.iter().map(|c| c.name.clone()));
            match (got.next_cursor, got.items.last()) {
                (Some(_), Some(last)) => page = PageReq { after: Some(last.id), after_key: Some(last.name.clone()), limit: 2 },
                _ => break,
            }
        }
        let mut want = vec!["attr-a", "attr-b", "attr-c"];
        if desc {
            want.reverse();
        }
        assert_eq!(names, want);
    }
}

pub(crate) async fn allowlist_cidrs(h: &Harness, id: Uuid) -> Vec<String> {
    let mut v: Vec<String> = h.store.list_allowlist(h.org, id, PageReq::first(100)).await.unwrap().items.into_iter().map(|e| e.cidr).collect();
    v.sort();
    v
}

pub(crate) async fn counts_visibility_and_page_numbers(h: &Harness) {
    use dbcloud_core::perms::Visibility;
    let ctx = h.ctx();
    let (c1, c2) = (h.cloud("one").await, h.cloud("two").await);
    let p = h.store.create_project(&ctx, "side", "").await.unwrap();
    let mut ids = vec![];
    for (i, (cloud, project)) in [(c1.id, None), (c1.id, None), (c2.id, Some(p.id)), (c2.id, Some(p.id)), (c1.id, Some(p.id))].into_iter().enumerate() {
        ids.push(h.cluster(&format!("n-{i}"), cloud, project).await.cluster.id);
    }
    let count = |f: ClusterFilter| async move { h.store.count_clusters(h.org, &f).await.unwrap() };
    assert_eq!(count(ClusterFilter::default()).await, 5);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 3);
    assert_eq!(count(ClusterFilter { cloud_id: Some(c1.id), ..Default::default() }).await, 3);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), cloud_id: Some(c2.id), ..Default::default() }).await, 2);
    // Visibility: one project plus one cluster of another project, counted and listed alike.
    let only = Visibility::Only { projects: [p.id].into(), clusters: [ids[0]].into() };
    let f = ClusterFilter { visible: Some(only.clone()), ..Default::default() };
    assert_eq!(count(f.clone()).await, 4);
    let listed = h.store.list_clusters(h.org, &f, PageReq::first(10)).await.unwrap().items;
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[3], ids[4]]);
    let nothing = ClusterFilter { visible: Some(Visibility::Only { projects: Default::default(), clusters: Default::default() }), ..Default::default() };
    assert_eq!(count(nothing.clone()).await, 0);
    assert!(h.store.list_clusters(h.org, &nothing, PageReq::first(10)).await.unwrap().items.is_empty());
    // Page numbers: skip, in either order.
    let second = h.store.list_clusters(h.org, &ClusterFilter { skip: 2, ..Default::default() }, PageReq::first(2)).await.unwrap();
    assert_eq!(second.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[2], ids[3]]);
    assert!(second.next_cursor.is_some());
    let last = h.store.list_clusters(h.org, &ClusterFilter { skip: 4, descending: true, ..Default::default() }, PageReq::first(2)).await.unwrap();
    assert_eq!(last.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[0]]);
    // Counts follow deletes (the maintained counters, and the filtered count alike).
    h.finish_ops(ids[4], ClusterState::Created).await;
    h.store.delete_cluster(&ctx, ids[4], &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(count(ClusterFilter::default()).await, 5, "a deleting cluster still counts");
    h.finish_ops(ids[4], ClusterState::Deleted).await;
    assert_eq!(count(ClusterFilter::default()).await, 4);
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 2);
    assert_eq!(count(ClusterFilter { state: Some(ClusterState::Deleted), ..Default::default() }).await, 1);
    assert_eq!(count(ClusterFilter { include_deleted: true, ..Default::default() }).await, 5);
    // Seeded clusters are counted too.
    h.seeder.seed_clusters(h.org, p.id, c2.id, "seed", 7).await.unwrap();
    assert_eq!(count(ClusterFilter { project_id: Some(p.id), ..Default::default() }).await, 9);
}

pub(crate) async fn delete_supersedes_the_running_operation(h: &Harness) {
    let ctx = h.ctx();
    let cloud = h.cloud("c").await;
    let mut new = new_cluster("busy", CloudRef::Id(cloud.id), None);
    new.allowlist = vec![NewAllowlistEntry { cidr: "0.0.0.0/0".into(), comment: "default".into(), expires_at: None, attributes: Default::default() }];
    let k = h.store.create_cluster(&ctx, &new, &NewOperation::new(OperationKind::Create, serde_json::json!({}))).await.unwrap();
    assert_eq!(allowlist_cidrs(h, k.cluster.id).await, vec!["0.0.0.0/0"], "the initial allow list is written with the cluster");
    let create = k.operation.unwrap();
    // A runner holds the create's lease.
    let now = time_to_ms(time::OffsetDateTime::now_utc());
    assert!(h.store.claim_operation(create.id, "runner-a", now, 60_000).await.unwrap().is_some());
    let d = h.store.delete_cluster(&ctx, k.cluster.id, &NewOperation::new(OperationKind::Delete, serde_json::json!({}))).await.unwrap();
    assert_eq!(d.cluster.state, ClusterState::Deleting);
    let cancelled = h.store.get_operation(h.org, create.id).await.unwrap();
    assert_eq!(cancelled.status, OperationStatus::Cancelled);
    assert!(cancelled.finished_at.is_some() && cancelled.error.as_deref().is_some_and(|e| e.contains("superseded")));
    // The runner's next step of the create is refused and changes nothing.
    let step = OperationStep { status: OperationStatus::Succeeded, step: "ready".into(), progress: 100, error: None };
    let patch = ClusterPatch { state: Some(ClusterState::Created), ..Default::default() };
    assert!(!h.store.advance_operation(create.id, "runner-a", 60_000, &step, &patch).await.unwrap());
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().state, ClusterState::Deleting);
    let audit = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    let del = audit.iter().find(|e| e.action == "cluster.delete").unwrap();
    assert_eq!(del.details["superseded_operations"], 1);
    h.finish_ops(k.cluster.id, ClusterState::Deleted).await;
    assert_eq!(h.store.get_cluster(h.org, k.cluster.id).await.unwrap().state, ClusterState::Deleted);
}

pub(crate) async fn rate_reservations_never_pass_the_limit(h: &Harness) {
    // 40 concurrent reservations of 3 against a limit of 50: exactly 50 are granted.
    let window = 1_700_000_001_000;
    let calls = (0..40).map(|_| {
        let store = h.store.clone();
        tokio::spawn(async move { store.rate_reserve("key:a", window, 3, 50).await.unwrap() })
    });
    let mut granted = 0;
    for c in calls {
        let (g, count) = c.await.unwrap();
        assert!((0..=3).contains(&g) && count <= 50, "grant {g}, count {count}");
        granted += g;
    }
    assert_eq!(granted, 50, "the grants add up to the limit, never more");
    assert_eq!(h.store.rate_reserve("key:a", window, 3, 50).await.unwrap(), (0, 50), "a spent window grants nothing");
    assert_eq!(h.store.rate_reserve("key:a", window, 0, 50).await.unwrap(), (0, 50), "want 0 reads");
    // A partial grant near the limit; a wish above the limit is cut to it; buckets and windows are separate.
    assert_eq!(h.store.rate_reserve("key:b", window, 7, 10).await.unwrap(), (7, 7));
    assert_eq!(h.store.rate_reserve("key:b", window, 7, 10).await.unwrap(), (3, 10));
    assert_eq!(h.store.rate_reserve("key:c", window, 500, 10).await.unwrap(), (10, 10));
    assert_eq!(h.store.rate_reserve("key:a", window + 1_000, 3, 50).await.unwrap(), (3, 3));
    assert_eq!(h.store.rate_reserve("key:d", window, 0, 50).await.unwrap(), (0, 0), "an unknown window reads 0");
    // A lowered limit grants nothing more once the count is at or over it.
    assert_eq!(h.store.rate_reserve("key:a", window, 1, 20).await.unwrap(), (0, 50));
    // The first reservation of a window starting on a ten-second mark sweeps older windows.
    let later = window - 1_000 + 60_000;
    assert_eq!(later % 10_000, 0);
    assert_eq!(h.store.rate_reserve("key:e", later, 1, 5).await.unwrap(), (1, 1));
    assert_eq!(h.store.rate_reserve("key:a", window, 0, 50).await.unwrap(), (0, 0), "swept");
    assert_eq!(h.store.rate_reserve("key:e", later, 0, 5).await.unwrap(), (0, 1), "the current window stays");
}
