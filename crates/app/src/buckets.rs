//! Buckets of a cluster (Couchbase buckets, CockroachDB databases, native buckets): one set
//! of rules — names, memory quota, replicas — for every surface.

use crate::idempotency::{self, Created};
use crate::model::{BucketChange, NamePage, NewBucket, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::Permission;
use dbcloud_core::{Error, Result, cluster, validate};
use dbcloud_types::{Bucket, Page};
use uuid::Uuid;

/// Smallest and largest memory quota of a bucket, in MiB.
pub const QUOTA_MB: std::ops::RangeInclusive<i64> = 100..=1_048_576;
/// Memory quota of a bucket created without one, in MiB.
pub const DEFAULT_QUOTA_MB: i64 = 100;
/// Allowed numbers of replicas.
pub const REPLICAS: std::ops::RangeInclusive<i32> = 0..=3;
/// Replicas of a bucket created without a number.
pub const DEFAULT_REPLICAS: i32 = 1;
/// Longest bucket name.
pub const MAX_NAME: usize = 100;

/// Checks a bucket name (`field` names it in the error).
pub fn check_name(v: &mut Violations, field: &str, name: &str) -> Option<String> {
    v.check(field, validate::identifier(name, MAX_NAME, true))
}

/// Checks a memory quota.
pub fn check_quota(v: &mut Violations, field: &str, quota: i64) {
    if !QUOTA_MB.contains(&quota) {
        v.add(field, format!("must be between {} and {}", QUOTA_MB.start(), QUOTA_MB.end()));
    }
}

/// Checks a number of replicas.
pub fn check_replicas(v: &mut Violations, field: &str, replicas: i32) {
    if !REPLICAS.contains(&replicas) {
        v.add(field, format!("must be between {} and {}", REPLICAS.start(), REPLICAS.end()));
    }
}

/// Checks a new bucket and fills in defaults; fields are named as in the native API
/// (`name`, `memory_quota_mb`, `replicas`).
pub fn check_new(name: &str, quota: Option<i64>, replicas: Option<i32>) -> Result<NewBucket> {
    let mut v = Violations::new();
    let name = check_name(&mut v, "name", name);
    let quota = quota.unwrap_or(DEFAULT_QUOTA_MB);
    check_quota(&mut v, "memory_quota_mb", quota);
    let replicas = replicas.unwrap_or(DEFAULT_REPLICAS);
    check_replicas(&mut v, "replicas", replicas);
    v.finish()?;
    Ok(NewBucket { name: name.expect("checked"), memory_quota_mb: quota, replicas })
}

/// Bucket use cases (see [`App::buckets`]).
pub struct Buckets<'a> {
    pub(crate) app: &'a App,
}

impl Buckets<'_> {
    /// Adds a bucket (`cluster.update`; not on a deleting cluster), checked with
    /// [`check_new`] by the caller's surface or here.
    pub async fn create(&self, caller: &Caller, cluster_id: Uuid, new: NewBucket, idempotency_key: Option<&str>) -> Result<Created<Bucket>> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::ClusterUpdate).await?;
        let new = check_new(&new.name, Some(new.memory_quota_mb), Some(new.replicas))?;
        cluster::check_accepts_children(&c)?;
        let identity = serde_json::json!({ "cluster": cluster_id, "name": new.name, "quota": new.memory_quota_mb, "replicas": new.replicas });
        let store = self.app.0.store.clone();
        let r =
            idempotency::run(
                self.app,
                caller,
                idempotency_key,
                "bucket.create",
                &identity,
                |ctx| async move { store.create_bucket(&ctx, cluster_id, &new).await },
            )
            .await;
        self.app.0.clusters.invalidate(cluster_id);
        if r.is_ok() {
            self.app.local_changed(caller, cluster_id).await;
        }
        r
    }

    /// One page of a cluster's buckets (`cluster.read`).
    pub async fn list(&self, caller: &Caller, cluster_id: Uuid, page: PageReq) -> Result<Page<Bucket>> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().list_buckets(caller.org(), cluster_id, page).await
    }

    /// One page of a cluster's buckets by name, and whether more follow (`cluster.read`).
    pub async fn page_by_name(&self, caller: &Caller, cluster_id: Uuid, page: &NamePage) -> Result<(Vec<Bucket>, bool)> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().page_buckets_by_name(caller.org(), cluster_id, page).await
    }

    /// Every bucket of a cluster (`cluster.read`).
    pub async fn list_all(&self, caller: &Caller, cluster_id: Uuid) -> Result<Vec<Bucket>> {
        self.app.clusters().get(caller, cluster_id).await?;
        let org = caller.org();
        all_pages(|p| self.app.store().list_buckets(org, cluster_id, p)).await
    }

    /// A bucket by name (`cluster.read`).
    pub async fn by_name(&self, caller: &Caller, cluster_id: Uuid, name: &str) -> Result<Bucket> {
        self.list_all(caller, cluster_id).await?.into_iter().find(|b| b.name == name).ok_or_else(|| Error::NotFound(format!("bucket {name}")))
    }

    /// Removes a bucket (`cluster.update`).
    pub async fn delete(&self, caller: &Caller, cluster_id: Uuid, bucket_id: Uuid) -> Result<()> {
        self.app.clusters().authorized(caller, cluster_id, Permission::ClusterUpdate).await?;
        let r = self.app.store().delete_bucket(&caller.ctx(None), cluster_id, bucket_id).await;
        self.app.0.clusters.invalidate(cluster_id);
        if r.is_ok() {
            self.app.local_changed(caller, cluster_id).await;
        }
        r
    }

    /// Renames a bucket (`cluster.update`; a name taken in the cluster is refused).
    pub async fn rename(&self, caller: &Caller, cluster_id: Uuid, bucket_id: Uuid, name: &str) -> Result<Bucket> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::ClusterUpdate).await?;
        let mut v = Violations::new();
        let name = check_name(&mut v, "name", name);
        v.finish()?;
        cluster::check_accepts_children(&c)?;
        let b = self.app.store().rename_bucket(&caller.ctx(None), cluster_id, bucket_id, &name.expect("checked")).await?;
        self.app.local_changed(caller, cluster_id).await;
        Ok(b)
    }

    /// Changes quota and/or replicas of the named buckets, all or none (`cluster.update`).
    /// Fields are named `[i].memory_quota_mb`/`[i].replicas` in errors.
    pub async fn update_many(&self, caller: &Caller, cluster_id: Uuid, changes: Vec<BucketChange>) -> Result<Vec<Bucket>> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::ClusterUpdate).await?;
        let mut v = Violations::new();
        if changes.is_empty() {
            v.add("body", "list at least one bucket");
        }
        for (i, ch) in changes.iter().enumerate() {
            check_name(&mut v, &format!("[{i}].name"), &ch.name);
            if let Some(q) = ch.memory_quota_mb {
                check_quota(&mut v, &format!("[{i}].memory_quota_mb"), q);
            }
            if let Some(r) = ch.replicas {
                check_replicas(&mut v, &format!("[{i}].replicas"), r);
            }
            if changes[..i].iter().any(|x| x.name == ch.name) {
                v.add(format!("[{i}].name"), format!("bucket {} is listed twice", ch.name));
            }
        }
        v.finish()?;
        cluster::check_accepts_children(&c)?;
        let out = self.app.store().update_buckets(&caller.ctx(None), cluster_id, &changes).await;
        self.app.0.clusters.invalidate(cluster_id);
        out
    }
}

/// Follows every page of a keyset-paged store list.
pub(crate) async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(PageReq) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    let mut out = vec![];
    let mut page = PageReq::first(dbcloud_core::cursor::MAX_PAGE_SIZE);
    loop {
        let p = fetch(page.clone()).await?;
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => page.after = Some(dbcloud_core::cursor::decode(&c)?),
            None => return Ok(out),
        }
    }
}

/// Buckets that a surface changes only on a ready cluster (Couchbase v2: created, no
/// operation running) — stricter than [`cluster::check_accepts_children`].
pub fn check_ready(c: &dbcloud_types::Cluster) -> Result<()> {
    cluster::check_accepts_children(c)?;
    if c.state != dbcloud_types::ClusterState::Created {
        return Err(Error::FailedPrecondition(format!("cluster {} is not ready ({})", c.id, c.state)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbcloud_types::{Cluster, ClusterState, Plan};

    #[test]
    fn buckets_change_only_on_a_ready_cluster() {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        let mut c = Cluster {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            project_id: Uuid::nil(),
            cloud_id: Uuid::nil(),
            name: "c1x".into(),
            plan: Plan::Dedicated,
            version: "7.2".into(),
            node_count: 3,
            node_size: "m".into(),
            spend_limit: None,
            state: ClusterState::Created,
            failure_reason: None,
            nodes: vec![],
            endpoints: vec![],
            connection_strings: vec![],
            bucket_count: 0,
            attributes: Default::default(),
            created_by: "k".into(),
            created_at: t,
            updated_at: t,
        };
        assert!(check_ready(&c).is_ok());
        for state in [ClusterState::Creating, ClusterState::Scaling, ClusterState::Updating, ClusterState::Deleting, ClusterState::Deleted] {
            c.state = state;
            assert!(check_ready(&c).is_err(), "{state}");
        }
    }
}
