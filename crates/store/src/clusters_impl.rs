//! Clusters: create (with its operation, allow list and counts), lists and counts, changes, delete, operations started on them.
//! Compiled once per backend, like `common.rs` (see there).

use super::common::*;
use super::rows::*;
use super::{Backend, Db, begin_write};
use crate::records::*;
use dbcloud_core::{Error, Result, new_id, now, regions, time_to_ms};
use dbcloud_types::*;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

impl Backend {
    pub(super) async fn create_cluster(&self, ctx: &Ctx, new: &NewCluster, op: &NewOperation) -> Result<ClusterChange> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let org = ctx.organization_id;
        let project_id = match new.project_id {
            Some(p) => {
                let found = sqlx::query("SELECT id FROM projects WHERE org_id = $1 AND id = $2")
                    .bind(org.to_string())
                    .bind(p.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                found.ok_or_else(|| Error::field("project_id", format!("project {p} not found")))?;
                p
            }
            None => {
                let r = sqlx::query("SELECT id FROM projects WHERE org_id = $1 AND is_default = 1")
                    .bind(org.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| Error::field("project_id", "the organization has no default project; name one"))?;
                get_uuid(&r, "id")?
            }
        };
        let (cloud_id, provider, region) = resolve_cloud(&mut tx, ctx, &new.cloud).await?;
        let node_size = new.node_size.clone().unwrap_or_else(|| regions::default_node_size(provider).to_string());
        let t = time_to_ms(now());
        sqlx::query(
            "INSERT INTO clusters (id, org_id, project_id, cloud_id, name, plan, version, node_count, node_size, spend_limit, \
             state, nodes, endpoints, attributes, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'CREATING', '[]', '[]', $13, $11, $12, $12)",
        )
        .bind(new.id.to_string())
        .bind(org.to_string())
        .bind(project_id.to_string())
        .bind(cloud_id.to_string())
        .bind(&new.name)
        .bind(new.plan.as_str())
        .bind(&new.version)
        .bind(new.node_count as i64)
        .bind(&node_size)
        .bind(new.spend_limit)
        .bind(&ctx.actor)
        .bind(t)
        .bind(json(&new.attributes))
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("a cluster named {:?} already exists", new.name)))?;
        insert_operation(&mut tx, org, new.id, op, &format!("queued: create {} node(s) in {provider} {region}", new.node_count)).await?;
        let at = now();
        for entry in &new.allowlist {
            insert_allowlist_entry(&mut tx, org, new.id, entry, at)
                .await
                .map_err(|err| unique(err, || format!("{} is on the initial allow list twice", entry.cidr)))?;
        }
        let change = ClusterChange { cluster: cluster_in_tx(&mut tx, org, new.id).await?, operation: Some(operation_in_tx(&mut tx, op.id).await?) };
        finish_create(&mut tx, ctx, "cluster.create", format!("cluster:{}", new.id), &change).await?;
        commit(tx).await?;
        Ok(change)
    }

    pub(super) async fn count_clusters(&self, org: Uuid, filter: &ClusterFilter) -> Result<u64> {
        use dbcloud_core::perms::Visibility;
        if filter.state.is_some() || filter.name.is_some() || filter.include_deleted {
            // Rare (filtered) counts read the clusters themselves.
            let mut qb = QueryBuilder::<Db>::new("SELECT count(*) AS n FROM clusters c WHERE c.org_id = ");
            qb.push_bind(org.to_string());
            push_cluster_filters(&mut qb, filter);
            let r = qb.build().fetch_one(&self.pool).await.map_err(db)?;
            return Ok(r.try_get::<i64, _>("n").map_err(db)?.max(0) as u64);
        }
        let mut qb = QueryBuilder::<Db>::new("SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT) AS n FROM cluster_counts WHERE org_id = ");
        qb.push_bind(org.to_string());
        if let Some(p) = filter.project_id {
            qb.push(" AND project_id = ").push_bind(p.to_string());
        }
        if let Some(k) = filter.cloud_id {
            qb.push(" AND cloud_id = ").push_bind(k.to_string());
        }
        let (projects, clusters) = match &filter.visible {
            None | Some(Visibility::All) => {
                let r = qb.build().fetch_one(&self.pool).await.map_err(db)?;
                return sum_of(&r);
            }
            Some(Visibility::Only { projects, clusters }) => (projects, clusters),
        };
        let mut total = 0;
        if !projects.is_empty() {
            qb.push(" AND project_id IN (");
            let mut sep = qb.separated(", ");
            for p in projects {
                sep.push_bind(p.to_string());
            }
            qb.push(")");
            total += sum_of(&qb.build().fetch_one(&self.pool).await.map_err(db)?)?;
        }
        if !clusters.is_empty() {
            // Clusters granted one by one, outside the granted projects (a few).
            let mut qb = QueryBuilder::<Db>::new("SELECT count(*) AS n FROM clusters c WHERE c.org_id = ");
            qb.push_bind(org.to_string());
            push_cluster_filters(&mut qb, &ClusterFilter { visible: None, ..filter.clone() });
            qb.push(" AND c.id IN (");
            let mut sep = qb.separated(", ");
            for c in clusters {
                sep.push_bind(c.to_string());
            }
            qb.push(")");
            for p in projects {
                qb.push(" AND c.project_id <> ").push_bind(p.to_string());
            }
            let r = qb.build().fetch_one(&self.pool).await.map_err(db)?;
            total += r.try_get::<i64, _>("n").map_err(db)?.max(0) as u64;
        }
        Ok(total)
    }

    pub(super) async fn list_clusters(&self, org: Uuid, filter: &ClusterFilter, page: PageReq) -> Result<Page<Cluster>> {
        if matches!(&filter.visible, Some(v) if v.is_nothing()) {
            return Ok(Page { items: vec![], next_cursor: None });
        }
        let mut qb = QueryBuilder::<Db>::new(concat!(cluster_select!(), "WHERE c.org_id = "));
        qb.push_bind(org.to_string());
        push_cluster_filters(&mut qb, filter);
        let (cmp, dir) = if filter.descending { ("<", " DESC") } else { (">", "") };
        match (filter.by_name, page.after) {
            (_, Some(_)) if filter.skip > 0 => {}
            (false, Some(a)) => {
                qb.push(format!(" AND c.id {cmp} ")).push_bind(a.to_string());
            }
            (true, Some(a)) => {
                qb.push(format!(" AND (c.name, c.id) {cmp} ("));
                qb.push_bind(page.after_key.clone().unwrap_or_default()).push(", ").push_bind(a.to_string()).push(")");
            }
            (_, None) => {}
        }
        if filter.by_name {
            qb.push(format!(" ORDER BY c.name{dir}, c.id{dir} LIMIT "));
        } else {
            qb.push(format!(" ORDER BY c.id{dir} LIMIT "));
        }
        qb.push_bind(page.limit as i64 + 1);
        if filter.skip > 0 {
            qb.push(" OFFSET ").push_bind(i64::try_from(filter.skip).unwrap_or(i64::MAX));
        }
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        paginate(rows, page.limit, cluster_row, |c| c.id)
    }

    pub(super) async fn get_cluster(&self, org: Uuid, id: Uuid) -> Result<Cluster> {
        sqlx::query(concat!(cluster_select!(), "WHERE c.org_id = $1 AND c.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| cluster_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("cluster {id}")))
    }

    pub(super) async fn update_cluster(&self, ctx: &Ctx, id: Uuid, change: &ClusterUpdate) -> Result<ClusterChange> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id;
        let c = cluster_in_tx(&mut tx, org, id).await?;
        if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
            return Err(Error::FailedPrecondition(format!("cluster {id} is {}", c.state)));
        }
        let t = time_to_ms(now());
        let attributes = change.attributes.as_ref().map(|a| json(&merge_attributes(&c.attributes, a)));
        sqlx::query(
            "UPDATE clusters SET name = COALESCE($1, name), spend_limit = COALESCE($2, spend_limit), \
             attributes = COALESCE($5, attributes), updated_at = $3 WHERE id = $4",
        )
        .bind(change.name.as_deref())
        .bind(change.spend_limit)
        .bind(t)
        .bind(id.to_string())
        .bind(attributes)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("a cluster named {:?} already exists", change.name.clone().unwrap_or_default())))?;
        if let Some(op) = &change.scale {
            let res = sqlx::query("UPDATE clusters SET state = 'SCALING', updated_at = $1 WHERE id = $2 AND state = 'CREATED'")
                .bind(t)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            if res.rows_affected() == 0 {
                return Err(Error::busy(id, c.state));
            }
            insert_operation(&mut tx, org, id, op, "queued: scale").await?;
        }
        audit(&mut tx, ctx, "cluster.update", format!("cluster:{id}")).await?;
        let out = ClusterChange {
            cluster: cluster_in_tx(&mut tx, org, id).await?,
            operation: match &change.scale {
                Some(op) => Some(operation_in_tx(&mut tx, op.id).await?),
                None => None,
            },
        };
        commit(tx).await?;
        Ok(out)
    }

    pub(super) async fn delete_cluster(&self, ctx: &Ctx, id: Uuid, op: &NewOperation) -> Result<ClusterChange> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id;
        let c = cluster_in_tx(&mut tx, org, id).await?;
        dbcloud_core::cluster::check_delete(&c)?;
        let t = time_to_ms(now());
        // The delete supersedes whatever runs (a create, a scale, …): that operation ends
        // CANCELLED, and its runner's next step finds it no longer active and stops.
        let cancelled = sqlx::query(
            "UPDATE operations SET status = 'CANCELLED', step = 'cancelled: superseded by a delete', error = $1,              finished_at = $2, updated_at = $2, lease_until = NULL WHERE cluster_id = $3 AND status IN ('SENT', 'IN_PROGRESS')",
        )
        .bind(format!("superseded by delete operation {}", op.id))
        .bind(t)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let res = sqlx::query("UPDATE clusters SET state = 'DELETING', updated_at = $1 WHERE id = $2 AND state = $3")
            .bind(t)
            .bind(id.to_string())
            .bind(c.state.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::Aborted(format!("cluster {id} changed concurrently; retry")));
        }
        insert_operation(&mut tx, org, id, op, "queued: delete").await?;
        let details = serde_json::json!({ "superseded_operations": cancelled.rows_affected() });
        audit_with(&mut tx, ctx, "cluster.delete", format!("cluster:{id}"), details).await?;
        let out = ClusterChange { cluster: cluster_in_tx(&mut tx, org, id).await?, operation: Some(operation_in_tx(&mut tx, op.id).await?) };
        commit(tx).await?;
        Ok(out)
    }

    pub(super) async fn start_operation(&self, ctx: &Ctx, id: Uuid, op: &NewOperation, action: &str) -> Result<ClusterChange> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id;
        let c = cluster_in_tx(&mut tx, org, id).await?;
        if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
            return Err(Error::FailedPrecondition(format!("cluster {id} is {}", c.state)));
        }
        let t = time_to_ms(now());
        if let Some(state) = dbcloud_core::cluster::operation_state(op.kind) {
            if !dbcloud_core::cluster::can_transition(c.state, state) {
                return Err(Error::busy(id, c.state));
            }
            let res = sqlx::query("UPDATE clusters SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
                .bind(state.as_str())
                .bind(t)
                .bind(id.to_string())
                .bind(c.state.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            if res.rows_affected() == 0 {
                return Err(Error::Aborted(format!("cluster {id} changed concurrently; retry")));
            }
        }
        insert_operation(&mut tx, org, id, op, &format!("queued: {}", op.kind)).await?;
        audit(&mut tx, ctx, action, format!("cluster:{id}")).await?;
        let out = ClusterChange { cluster: cluster_in_tx(&mut tx, org, id).await?, operation: Some(operation_in_tx(&mut tx, op.id).await?) };
        commit(tx).await?;
        Ok(out)
    }
}

/// Reads a cluster inside a transaction; `NotFound` when absent from the organization.
pub(super) async fn cluster_in_tx(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Cluster> {
    sqlx::query(concat!(cluster_select!(), "WHERE c.org_id = $1 AND c.id = $2"))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
        .map(|r| cluster_row(&r))
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("cluster {id}")))
}

/// Reads a cluster that accepts changes to its children.
pub(super) async fn open_cluster(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Cluster> {
    let c = cluster_in_tx(tx, org, id).await?;
    dbcloud_core::cluster::check_accepts_children(&c)?;
    Ok(c)
}

pub(super) async fn operation_in_tx(tx: &mut Tx, id: Uuid) -> Result<Operation> {
    sqlx::query(concat!(operation_select!(), "WHERE id = $1")).bind(id.to_string()).fetch_one(&mut **tx).await.map_err(db).and_then(|r| operation_row(&r))
}

pub(super) async fn insert_operation(tx: &mut Tx, org: Uuid, cluster: Uuid, op: &NewOperation, step: &str) -> Result<()> {
    let t = time_to_ms(now());
    sqlx::query(
        "INSERT INTO operations (id, org_id, cluster_id, kind, status, step, progress, params, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'SENT', $5, 0, $6, 0, $7, $7)",
    )
    .bind(op.id.to_string())
    .bind(org.to_string())
    .bind(cluster.to_string())
    .bind(op.kind.as_str())
    .bind(step)
    .bind(json(&op.params))
    .bind(t)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_unique(&e) { Error::Busy { message: format!("cluster {cluster} is busy: another operation is in progress"), retry_after_secs: 1 } } else { db(e) }
    })?;
    Ok(())
}

/// Inserts one allow-list entry (the caller maps a unique violation to its message).
pub(super) async fn insert_allowlist_entry(
    tx: &mut Tx,
    org: Uuid,
    cluster: Uuid,
    new: &NewAllowlistEntry,
    at: time::OffsetDateTime,
) -> std::result::Result<AllowlistEntry, sqlx::Error> {
    let e = AllowlistEntry {
        id: new_id(),
        cluster_id: cluster,
        cidr: new.cidr.clone(),
        comment: new.comment.clone(),
        expires_at: new.expires_at,
        attributes: new.attributes.clone(),
        created_at: at,
    };
    sqlx::query(
        "INSERT INTO allowlist_entries (id, org_id, cluster_id, cidr, comment, expires_at, created_at, attributes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.id.to_string())
    .bind(org.to_string())
    .bind(cluster.to_string())
    .bind(&e.cidr)
    .bind(&e.comment)
    .bind(e.expires_at.map(time_to_ms))
    .bind(time_to_ms(e.created_at))
    .bind(json(&e.attributes))
    .execute(&mut **tx)
    .await?;
    Ok(e)
}

/// Resolves (or, for provider + region, creates) the cloud of a new cluster.
pub(super) async fn resolve_cloud(tx: &mut Tx, ctx: &Ctx, cloud: &CloudRef) -> Result<(Uuid, Provider, String)> {
    let org = ctx.organization_id.to_string();
    let find = |sql: &'static str, a: String, b: Option<String>| {
        let org = org.clone();
        async move {
            let mut q = sqlx::query(sql).bind(org).bind(a);
            if let Some(b) = b {
                q = q.bind(b);
            }
            q
        }
    };
    let row = match cloud {
        CloudRef::Id(id) => {
            let q = find("SELECT id, provider, region FROM clouds WHERE org_id = $1 AND id = $2", id.to_string(), None).await;
            q.fetch_optional(&mut **tx).await.map_err(db)?.ok_or_else(|| Error::field("cloud_id", format!("cloud {id} not found")))?
        }
        CloudRef::ProviderRegion(p, region) => {
            if !regions::is_valid(*p, region) {
                return Err(Error::field("region", format!("`{region}` is not a region of {p}; see GET /v1/regions?provider={p}")));
            }
            const FIND: &str = "SELECT id, provider, region FROM clouds WHERE org_id = $1 AND provider = $2 AND region = $3 ORDER BY id LIMIT 1";
            let existing = find(FIND, p.as_str().into(), Some(region.clone())).await.fetch_optional(&mut **tx).await.map_err(db)?;
            match existing {
                Some(r) => r,
                None => {
                    let base = format!("{p}-{region}");
                    for name in [base.clone(), format!("{base}-{}", &new_id().simple().to_string()[24..])] {
                        let id = new_id();
                        let t = time_to_ms(now());
                        let res = sqlx::query(
                            "INSERT INTO clouds (id, org_id, name, provider, region, vpc_cidr, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, '10.0.0.0/16', $6, $6) ON CONFLICT DO NOTHING",
                        )
                        .bind(id.to_string())
                        .bind(org.clone())
                        .bind(&name)
                        .bind(p.as_str())
                        .bind(region)
                        .bind(t)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                        if res.rows_affected() == 1 {
                            audit(tx, ctx, "cloud.create", format!("cloud:{id}")).await?;
                        }
                        let found = find(FIND, p.as_str().into(), Some(region.clone())).await.fetch_optional(&mut **tx).await.map_err(db)?;
                        if let Some(r) = found {
                            return Ok((get_uuid(&r, "id")?, *p, region.clone()));
                        }
                    }
                    return Err(Error::Aborted("could not create the cloud for this provider and region; retry".into()));
                }
            }
        }
    };
    Ok((get_uuid(&row, "id")?, get_enum(&row, "provider", Provider::parse)?, get_str(&row, "region")?))
}
