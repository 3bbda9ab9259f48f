//! A cluster's children: buckets, database users and allow-list entries.
//! Compiled once per backend, like `common.rs` (see there).

use super::clusters_impl::*;
use super::common::*;
use super::rows::*;
use super::{BYTE_ORDER, Backend, Db, begin_write};
use crate::records::*;
use dbcloud_core::{Error, Result, new_id, now, time_to_ms};
use dbcloud_types::*;
use sqlx::QueryBuilder;
use uuid::Uuid;

impl Backend {
    pub(super) async fn create_bucket(&self, ctx: &Ctx, cluster: Uuid, new: &NewBucket) -> Result<Bucket> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let b = Bucket {
            id: new_id(),
            cluster_id: cluster,
            name: new.name.clone(),
            memory_quota_mb: new.memory_quota_mb,
            replicas: new.replicas,
            created_at: now(),
        };
        sqlx::query("INSERT INTO buckets (id, org_id, cluster_id, name, memory_quota_mb, replicas, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(b.id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(cluster.to_string())
            .bind(&b.name)
            .bind(b.memory_quota_mb)
            .bind(b.replicas as i64)
            .bind(time_to_ms(b.created_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a bucket named {:?} already exists in cluster {cluster}", new.name)))?;
        finish_create(&mut tx, ctx, "bucket.create", format!("cluster:{cluster}/bucket:{}", b.id), &b).await?;
        commit(tx).await?;
        Ok(b)
    }

    pub(super) async fn list_buckets(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Bucket>> {
        self.get_cluster(org, cluster).await?;
        let rows = sqlx::query(concat!(bucket_select!(), "WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(cluster.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, bucket_row, |b| b.id)
    }

    /// One page by name of the children `select` reads (buckets, database users) of a cluster
    /// of `org`, and whether more follow.
    pub(super) async fn children_by_name<T>(
        &self,
        select: &str,
        org: Uuid,
        cluster: Uuid,
        page: &NamePage,
        row: fn(&DbRow) -> Result<T>,
    ) -> Result<(Vec<T>, bool)> {
        self.get_cluster(org, cluster).await?;
        let mut qb = QueryBuilder::<Db>::new(select);
        qb.push("WHERE cluster_id = ").push_bind(cluster.to_string());
        qb.push(" AND created_at <= ").push_bind(time_to_ms(page.as_of));
        let (dir, cmp) = if page.descending { (" DESC", "<") } else { ("", ">") };
        if let Some(after) = &page.after {
            qb.push(format!(" AND name{BYTE_ORDER} {cmp} ")).push_bind(after.clone());
        }
        qb.push(format!(" ORDER BY name{BYTE_ORDER}{dir} LIMIT ")).push_bind(i64::from(page.limit) + 1);
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        let more = rows.len() > page.limit as usize;
        Ok((rows.iter().take(page.limit as usize).map(row).collect::<Result<_>>()?, more))
    }

    pub(super) async fn delete_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let sql = "DELETE FROM buckets WHERE cluster_id = $1 AND id = $2";
        delete_child(&self.pool, ctx, cluster, id, sql, format!("bucket {id}"), "bucket.delete", format!("cluster:{cluster}/bucket:{id}")).await
    }

    pub(super) async fn rename_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, name: &str) -> Result<Bucket> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query("UPDATE buckets SET name = $1 WHERE cluster_id = $2 AND id = $3")
            .bind(name)
            .bind(cluster.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a bucket named {name:?} already exists in cluster {cluster}")))?;
        let target = format!("cluster:{cluster}/bucket:{id}");
        finish_child_update(
            tx,
            res.rows_affected(),
            ctx,
            format!("bucket {id}"),
            "bucket.rename",
            target,
            concat!(bucket_select!(), "WHERE id = $1"),
            id,
            bucket_row,
        )
        .await
    }

    pub(super) async fn set_allowlist_entry(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        id: Uuid,
        comment: Option<&str>,
        attributes: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<AllowlistEntry> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query(
            "UPDATE allowlist_entries SET comment = COALESCE($1, comment), attributes = COALESCE($2, attributes) \
             WHERE cluster_id = $3 AND id = $4",
        )
        .bind(comment)
        .bind(attributes.map(json))
        .bind(cluster.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let target = format!("cluster:{cluster}/allowlist:{id}");
        finish_child_update(
            tx,
            res.rows_affected(),
            ctx,
            format!("allow-list entry {id}"),
            "allowlist.update",
            target,
            concat!(allowlist_select!(), "WHERE id = $1"),
            id,
            allowlist_row,
        )
        .await
    }

    pub(super) async fn update_buckets(&self, ctx: &Ctx, cluster: Uuid, changes: &[BucketChange]) -> Result<Vec<Bucket>> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let mut out = Vec::with_capacity(changes.len());
        for ch in changes {
            let res = sqlx::query(
                "UPDATE buckets SET memory_quota_mb = COALESCE($1, memory_quota_mb), replicas = COALESCE($2, replicas) \
                 WHERE cluster_id = $3 AND name = $4",
            )
            .bind(ch.memory_quota_mb)
            .bind(ch.replicas.map(|r| r as i64))
            .bind(cluster.to_string())
            .bind(&ch.name)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if res.rows_affected() == 0 {
                return Err(Error::NotFound(format!("bucket {:?} in cluster {cluster}", ch.name)));
            }
            let b = sqlx::query(concat!(bucket_select!(), "WHERE cluster_id = $1 AND name = $2"))
                .bind(cluster.to_string())
                .bind(&ch.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)
                .and_then(|r| bucket_row(&r))?;
            audit(&mut tx, ctx, "bucket.update", format!("cluster:{cluster}/bucket:{}", b.id)).await?;
            out.push(b);
        }
        commit(tx).await?;
        Ok(out)
    }

    pub(super) async fn create_db_user(&self, ctx: &Ctx, cluster: Uuid, new: &NewDbUser) -> Result<DatabaseUser> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let t = now();
        let u = DatabaseUser {
            id: new_id(),
            cluster_id: cluster,
            name: new.name.clone(),
            access: new.access,
            scope: new.scope.clone(),
            created_at: t,
            password_changed_at: t,
        };
        sqlx::query(
            "INSERT INTO db_users (id, org_id, cluster_id, name, access, scope, password_hash, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(u.id.to_string())
        .bind(ctx.organization_id.to_string())
        .bind(cluster.to_string())
        .bind(&u.name)
        .bind(u.access.as_str())
        .bind(u.scope.clone())
        .bind(&new.password_hash)
        .bind(time_to_ms(t))
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("a database user named {:?} already exists in cluster {cluster}", new.name)))?;
        finish_create(&mut tx, ctx, "dbuser.create", format!("cluster:{cluster}/user:{}", u.id), &u).await?;
        commit(tx).await?;
        Ok(u)
    }

    pub(super) async fn list_db_users(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<DatabaseUser>> {
        self.get_cluster(org, cluster).await?;
        let rows = sqlx::query(concat!(db_user_select!(), "WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(cluster.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, db_user_row, |u| u.id)
    }

    pub(super) async fn delete_db_user(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let sql = "DELETE FROM db_users WHERE cluster_id = $1 AND id = $2";
        delete_child(&self.pool, ctx, cluster, id, sql, format!("database user {id}"), "dbuser.delete", format!("cluster:{cluster}/user:{id}")).await
    }

    pub(super) async fn set_db_user_password(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, password_hash: &str) -> Result<DatabaseUser> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query("UPDATE db_users SET password_hash = $1, password_changed_at = $2 WHERE cluster_id = $3 AND id = $4")
            .bind(password_hash)
            .bind(time_to_ms(now()))
            .bind(cluster.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let target = format!("cluster:{cluster}/user:{id}");
        finish_child_update(
            tx,
            res.rows_affected(),
            ctx,
            format!("database user {id}"),
            "dbuser.password",
            target,
            concat!(db_user_select!(), "WHERE id = $1"),
            id,
            db_user_row,
        )
        .await
    }

    pub(super) async fn create_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, new: &NewAllowlistEntry) -> Result<AllowlistEntry> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let e = insert_allowlist_entry(&mut tx, ctx.organization_id, cluster, new, now())
            .await
            .map_err(|err| unique(err, || format!("{} is already on the allow list of cluster {cluster}", new.cidr)))?;
        finish_create(&mut tx, ctx, "allowlist.create", format!("cluster:{cluster}/allowlist:{}", e.id), &e).await?;
        commit(tx).await?;
        Ok(e)
    }

    pub(super) async fn list_allowlist(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<AllowlistEntry>> {
        self.get_cluster(org, cluster).await?;
        let rows = sqlx::query(concat!(allowlist_select!(), "WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(cluster.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, allowlist_row, |e| e.id)
    }

    pub(super) async fn delete_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let sql = "DELETE FROM allowlist_entries WHERE cluster_id = $1 AND id = $2";
        delete_child(&self.pool, ctx, cluster, id, sql, format!("allow-list entry {id}"), "allowlist.delete", format!("cluster:{cluster}/allowlist:{id}")).await
    }

    pub(super) async fn replace_allowlist(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        entries: &[NewAllowlistEntry],
        op: Option<&NewOperation>,
    ) -> Result<(Vec<AllowlistEntry>, Option<Operation>)> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id;
        open_cluster(&mut tx, org, cluster).await?;
        sqlx::query("DELETE FROM allowlist_entries WHERE cluster_id = $1").bind(cluster.to_string()).execute(&mut *tx).await.map_err(db)?;
        let t = now();
        let mut out = Vec::with_capacity(entries.len());
        for new in entries {
            let e = insert_allowlist_entry(&mut tx, org, cluster, new, t).await.map_err(|err| unique(err, || format!("{} is listed twice", new.cidr)))?;
            out.push(e);
        }
        if let Some(op) = op {
            insert_operation(&mut tx, org, cluster, op, "queued: apply the allow list").await?;
        }
        audit(&mut tx, ctx, "allowlist.replace", format!("cluster:{cluster}")).await?;
        let op = match op {
            Some(op) => Some(operation_in_tx(&mut tx, op.id).await?),
            None => None,
        };
        commit(tx).await?;
        Ok((out, op))
    }

    pub(super) async fn allowlists_of(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<AllowlistEntry>> {
        let head = concat!(allowlist_select!(), "WHERE org_id = ");
        let mut all = by_cluster_chunks(&self.pool, head, org, clusters, ")", allowlist_row).await?;
        all.sort_by_key(|e| e.id);
        Ok(all)
    }
}
