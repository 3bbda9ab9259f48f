//! Query code shared by both backends. This file is compiled twice, once inside
//! `sqlite.rs` and once inside `postgres.rs`; `super::Db` names the driver and
//! `super::begin_write` opens a write transaction the backend's way.

use super::rows::*;
use super::{Backend, Db, begin_write};
use crate::Store;
use crate::records::*;
use async_trait::async_trait;
use dbcloud_core::{Error, Result, cursor, ms_to_time, new_id, now, time_to_ms};
use dbcloud_types::*;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) type DbRow = <Db as sqlx::Database>::Row;
pub(super) type Tx = sqlx::Transaction<'static, Db>;

/// Maps a driver error that is not an expected constraint violation.
/// The key query by access key id.
pub(super) fn concat_key_select_by_id() -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{API_KEY_SELECT}WHERE k.access_key = $1"))
}

pub(super) fn db(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => Error::Unavailable("database unavailable".into()),
        other => Error::Internal(format!("database: {other}")),
    }
}

pub(super) fn is_unique(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// Maps a unique violation to `AlreadyExists(msg)`, anything else through [`db`].
pub(super) fn unique(e: sqlx::Error, msg: impl FnOnce() -> String) -> Error {
    if is_unique(&e) { Error::AlreadyExists(msg()) } else { db(e) }
}

pub(super) fn get_str(r: &DbRow, c: &str) -> Result<String> {
    r.try_get::<String, _>(c).map_err(db)
}
pub(super) fn get_opt_str(r: &DbRow, c: &str) -> Result<Option<String>> {
    r.try_get::<Option<String>, _>(c).map_err(db)
}
pub(super) fn get_i64(r: &DbRow, c: &str) -> Result<i64> {
    r.try_get::<i64, _>(c).map_err(db)
}
pub(super) fn get_opt_i64(r: &DbRow, c: &str) -> Result<Option<i64>> {
    r.try_get::<Option<i64>, _>(c).map_err(db)
}
pub(super) fn get_uuid(r: &DbRow, c: &str) -> Result<Uuid> {
    let s = get_str(r, c)?;
    Uuid::try_parse(&s).map_err(|e| Error::Internal(format!("corrupt id in {c}: {e}")))
}
pub(super) fn get_time(r: &DbRow, c: &str) -> Result<OffsetDateTime> {
    Ok(ms_to_time(get_i64(r, c)?))
}
pub(super) fn get_opt_time(r: &DbRow, c: &str) -> Result<Option<OffsetDateTime>> {
    Ok(get_opt_i64(r, c)?.map(ms_to_time))
}
pub(super) fn get_json<T: serde::de::DeserializeOwned>(r: &DbRow, c: &str) -> Result<T> {
    serde_json::from_str(&get_str(r, c)?).map_err(|e| Error::Internal(format!("corrupt json in {c}: {e}")))
}
pub(super) fn get_enum<T>(r: &DbRow, c: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s = get_str(r, c)?;
    parse(&s).ok_or_else(|| Error::Internal(format!("corrupt value {s:?} in {c}")))
}
pub(super) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serializable")
}

/// Turns `limit + 1` fetched rows into a page with a cursor when there are more.
pub(super) fn paginate<T>(rows: Vec<DbRow>, limit: u32, f: impl Fn(&DbRow) -> Result<T>, id: impl Fn(&T) -> Uuid) -> Result<Page<T>> {
    let more = rows.len() > limit as usize;
    let items: Vec<T> = rows.iter().take(limit as usize).map(f).collect::<Result<_>>()?;
    let next_cursor = if more { items.last().map(|t| cursor::encode(id(t))) } else { None };
    Ok(Page { items, next_cursor })
}

pub(super) fn after(p: &PageReq) -> String {
    p.after.map(|u| u.to_string()).unwrap_or_default()
}

/// Runs `head <org> AND cluster_id IN (<chunk>) tail` for chunks of `clusters` (bounded
/// bind parameters whatever their number) and collects the rows.
pub(super) async fn by_cluster_chunks<T>(
    pool: &sqlx::Pool<Db>,
    head: &'static str,
    org: Uuid,
    clusters: &[Uuid],
    tail: &'static str,
    row: fn(&DbRow) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for chunk in clusters.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(head);
        qb.push_bind(org.to_string()).push(" AND cluster_id IN (");
        let mut sep = qb.separated(", ");
        for c in chunk {
            sep.push_bind(c.to_string());
        }
        qb.push(tail);
        for r in qb.build().fetch_all(pool).await.map_err(db)? {
            out.push(row(&r)?);
        }
    }
    Ok(out)
}

/// Reads an organization inside a transaction; `NotFound` when absent.
pub(super) async fn organization_in_tx(tx: &mut Tx, id: Uuid) -> Result<Organization> {
    let r = sqlx::query("SELECT id, name, rate_limit, attributes, created_at FROM organizations WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::NotFound(format!("organization {id}")))?;
    organization_row(&r)
}

/// Ends the change of one child row of a cluster: `NotFound` (`what`) when the UPDATE
/// matched nothing, else the audit event, the row as now stored (`select_by_id`, `$1` = id)
/// and the commit.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_child_update<T>(
    mut tx: Tx,
    matched: u64,
    ctx: &Ctx,
    what: String,
    action: &str,
    target: String,
    select_by_id: &'static str,
    id: Uuid,
    row: fn(&DbRow) -> Result<T>,
) -> Result<T> {
    if matched == 0 {
        return Err(Error::NotFound(what));
    }
    audit(&mut tx, ctx, action, target).await?;
    let r = sqlx::query(select_by_id).bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
    let out = row(&r)?;
    commit(tx).await?;
    Ok(out)
}

/// Deletes one child row of a cluster that accepts changes, in one transaction with its
/// audit event: `delete_sql` takes the cluster (`$1`) and the row id (`$2`); `NotFound`
/// (`what`) when it matched nothing.
#[allow(clippy::too_many_arguments)]
pub(super) async fn delete_child(
    pool: &sqlx::Pool<Db>,
    ctx: &Ctx,
    cluster: Uuid,
    id: Uuid,
    delete_sql: &'static str,
    what: String,
    action: &str,
    target: String,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    super::clusters_impl::open_cluster(&mut tx, ctx.organization_id, cluster).await?;
    let res = sqlx::query(delete_sql).bind(cluster.to_string()).bind(id.to_string()).execute(&mut *tx).await.map_err(db)?;
    if res.rows_affected() == 0 {
        return Err(Error::NotFound(what));
    }
    audit(&mut tx, ctx, action, target).await?;
    commit(tx).await
}

pub(super) async fn insert_audit(tx: &mut Tx, e: &AuditEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, org_id, at, actor, key_id, source_ip, action, target, outcome, request_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.id.to_string())
    .bind(e.organization_id.map(|u| u.to_string()))
    .bind(time_to_ms(e.time))
    .bind(&e.actor)
    .bind(Some(e.actor.clone()).filter(|a| a.starts_with(dbcloud_core::keys::KEY_PREFIX)))
    .bind(&e.source_ip)
    .bind(&e.action)
    .bind(&e.target)
    .bind(&e.outcome)
    .bind(&e.request_id)
    .bind(json(&e.details))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Records the successful mutation `action` on `target` in the audit log.
pub(super) async fn audit(tx: &mut Tx, ctx: &Ctx, action: &str, target: String) -> Result<()> {
    audit_with(tx, ctx, action, target, serde_json::json!({})).await
}

/// [`audit`] with details.
pub(super) async fn audit_with(tx: &mut Tx, ctx: &Ctx, action: &str, target: String, details: serde_json::Value) -> Result<()> {
    let e = AuditEvent {
        id: new_id(),
        organization_id: Some(ctx.organization_id),
        time: now(),
        actor: ctx.actor.clone(),
        source_ip: ctx.source_ip.clone(),
        action: action.into(),
        target,
        outcome: "success".into(),
        request_id: ctx.request_id.clone(),
        details,
    };
    insert_audit(tx, &e).await
}

/// Opens the transaction of a create. When the request carried an idempotency key, its
/// record is claimed first, so a concurrent retry with the same key fails fast with
/// [`IDEMPOTENCY_RACE`] (and then replays) instead of racing on the object itself.
pub(super) async fn begin_create(pool: &sqlx::Pool<Db>, ctx: &Ctx) -> Result<Tx> {
    let mut tx = begin_write(pool).await?;
    if let Some(k) = &ctx.idempotency {
        sqlx::query(
            "INSERT INTO idempotency_keys (org_id, principal, idem_key, request_hash, status, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'null', $6)",
        )
        .bind(ctx.organization_id.to_string())
        .bind(&k.principal)
        .bind(&k.key)
        .bind(&k.request_hash)
        .bind(k.status as i64)
        .bind(time_to_ms(now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| if is_unique(&e) { Error::Aborted(IDEMPOTENCY_RACE.into()) } else { db(e) })?;
    }
    Ok(tx)
}

/// Writes the audit event of a create and, when the request carried an idempotency key,
/// the recorded answer `body`.
pub(super) async fn finish_create<T: Serialize>(tx: &mut Tx, ctx: &Ctx, action: &str, target: String, body: &T) -> Result<()> {
    audit(tx, ctx, action, target).await?;
    if let Some(k) = &ctx.idempotency {
        sqlx::query("UPDATE idempotency_keys SET body = $1 WHERE org_id = $2 AND principal = $3 AND idem_key = $4")
            .bind(json(body))
            .bind(ctx.organization_id.to_string())
            .bind(&k.principal)
            .bind(&k.key)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Renames and/or re-describes one object of the context's organization with `sql` (an
/// UPDATE taking name, description, updated_at, org_id, id), and audits `<what>.update`.
pub(super) async fn update_name_description(
    tx: &mut Tx,
    ctx: &Ctx,
    sql: &'static str,
    what: &str,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    let res = sqlx::query(sql)
        .bind(name)
        .bind(description)
        .bind(time_to_ms(now()))
        .bind(ctx.organization_id.to_string())
        .bind(id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(|e| unique(e, || format!("a {} named {:?} already exists", what.replace('_', " "), name.unwrap_or_default())))?;
    if res.rows_affected() == 0 {
        return Err(Error::NotFound(format!("{} {id}", what.replace('_', " "))));
    }
    audit(tx, ctx, &format!("{}.update", what.replace('_', "")), format!("{what}:{id}")).await
}

/// `current` with `patch` merged in: a `null` value removes the key, others replace it.
pub(super) fn merge_attributes(
    current: &serde_json::Map<String, serde_json::Value>,
    patch: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut merged = current.clone();
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(k);
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

pub(super) async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(db)
}

#[async_trait]
impl Store for Backend {
    fn backend(&self) -> &'static str {
        super::NAME
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn bootstrap(&self, org_name: &str, key: &NewApiKey) -> Result<Option<Uuid>> {
        Backend::bootstrap(self, org_name, key).await
    }

    async fn get_organization(&self, id: Uuid) -> Result<Organization> {
        Backend::get_organization(self, id).await
    }

    async fn create_api_key(&self, ctx: &Ctx, key: &NewApiKey) -> Result<()> {
        Backend::create_api_key(self, ctx, key).await
    }

    async fn find_api_key(&self, access_key: &str) -> Result<Option<ApiKeyRecord>> {
        Backend::find_api_key(self, access_key).await
    }

    async fn idempotent_response(&self, org: Uuid, principal: &str, key: &str) -> Result<Option<StoredResponse>> {
        Backend::idempotent_response(self, org, principal, key).await
    }

    async fn create_project(&self, ctx: &Ctx, name: &str, description: &str) -> Result<Project> {
        Backend::create_project(self, ctx, name, description).await
    }

    async fn list_projects(&self, org: Uuid, page: PageReq) -> Result<Page<Project>> {
        Backend::list_projects(self, org, page).await
    }

    async fn page_projects(&self, org: Uuid, page: &NumberedPage) -> Result<(u64, Vec<Project>)> {
        Backend::numbered(self, project_select!(), "projects p", "p", org, page, project_row).await
    }

    async fn get_project(&self, org: Uuid, id: Uuid) -> Result<Project> {
        Backend::get_project(self, org, id).await
    }

    async fn update_project(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<Project> {
        Backend::update_project(self, ctx, id, name, description).await
    }

    async fn delete_project(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        Backend::delete_project(self, ctx, id).await
    }

    async fn default_project(&self, org: Uuid) -> Result<Project> {
        Backend::default_project(self, org).await
    }

    async fn create_cloud(&self, ctx: &Ctx, new: &NewCloud) -> Result<Cloud> {
        Backend::create_cloud(self, ctx, new).await
    }

    async fn list_clouds(&self, org: Uuid, provider: Option<Provider>, page: PageReq) -> Result<Page<Cloud>> {
        Backend::list_clouds(self, org, provider, page).await
    }

    async fn page_clouds(&self, org: Uuid, page: &NumberedPage) -> Result<(u64, Vec<Cloud>)> {
        Backend::numbered(self, cloud_select!(), "clouds k", "k", org, page, cloud_row).await
    }

    async fn get_cloud(&self, org: Uuid, id: Uuid) -> Result<Cloud> {
        Backend::get_cloud(self, org, id).await
    }

    async fn update_cloud(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, vpc_cidr: Option<&str>) -> Result<Cloud> {
        Backend::update_cloud(self, ctx, id, name, vpc_cidr).await
    }

    async fn delete_cloud(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        Backend::delete_cloud(self, ctx, id).await
    }

    async fn create_cluster(&self, ctx: &Ctx, new: &NewCluster, op: &NewOperation) -> Result<ClusterChange> {
        Backend::create_cluster(self, ctx, new, op).await
    }

    async fn count_clusters(&self, org: Uuid, filter: &ClusterFilter) -> Result<u64> {
        Backend::count_clusters(self, org, filter).await
    }

    async fn list_clusters(&self, org: Uuid, filter: &ClusterFilter, page: PageReq) -> Result<Page<Cluster>> {
        Backend::list_clusters(self, org, filter, page).await
    }

    async fn get_cluster(&self, org: Uuid, id: Uuid) -> Result<Cluster> {
        Backend::get_cluster(self, org, id).await
    }

    async fn update_cluster(&self, ctx: &Ctx, id: Uuid, change: &ClusterUpdate) -> Result<ClusterChange> {
        Backend::update_cluster(self, ctx, id, change).await
    }

    async fn delete_cluster(&self, ctx: &Ctx, id: Uuid, op: &NewOperation) -> Result<ClusterChange> {
        Backend::delete_cluster(self, ctx, id, op).await
    }

    async fn start_operation(&self, ctx: &Ctx, id: Uuid, op: &NewOperation, action: &str) -> Result<ClusterChange> {
        Backend::start_operation(self, ctx, id, op, action).await
    }

    async fn create_bucket(&self, ctx: &Ctx, cluster: Uuid, new: &NewBucket) -> Result<Bucket> {
        Backend::create_bucket(self, ctx, cluster, new).await
    }

    async fn list_buckets(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Bucket>> {
        Backend::list_buckets(self, org, cluster, page).await
    }

    async fn page_buckets_by_name(&self, org: Uuid, cluster: Uuid, page: &NamePage) -> Result<(Vec<Bucket>, bool)> {
        Backend::children_by_name(self, bucket_select!(), org, cluster, page, bucket_row).await
    }

    async fn delete_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        Backend::delete_bucket(self, ctx, cluster, id).await
    }

    async fn rename_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, name: &str) -> Result<Bucket> {
        Backend::rename_bucket(self, ctx, cluster, id, name).await
    }

    async fn set_allowlist_entry(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        id: Uuid,
        comment: Option<&str>,
        attributes: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<AllowlistEntry> {
        Backend::set_allowlist_entry(self, ctx, cluster, id, comment, attributes).await
    }

    async fn update_buckets(&self, ctx: &Ctx, cluster: Uuid, changes: &[BucketChange]) -> Result<Vec<Bucket>> {
        Backend::update_buckets(self, ctx, cluster, changes).await
    }

    async fn create_db_user(&self, ctx: &Ctx, cluster: Uuid, new: &NewDbUser) -> Result<DatabaseUser> {
        Backend::create_db_user(self, ctx, cluster, new).await
    }

    async fn list_db_users(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<DatabaseUser>> {
        Backend::list_db_users(self, org, cluster, page).await
    }

    async fn page_db_users_by_name(&self, org: Uuid, cluster: Uuid, page: &NamePage) -> Result<(Vec<DatabaseUser>, bool)> {
        Backend::children_by_name(self, db_user_select!(), org, cluster, page, db_user_row).await
    }

    async fn delete_db_user(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        Backend::delete_db_user(self, ctx, cluster, id).await
    }

    async fn set_db_user_password(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, password_hash: &str) -> Result<DatabaseUser> {
        Backend::set_db_user_password(self, ctx, cluster, id, password_hash).await
    }

    async fn create_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, new: &NewAllowlistEntry) -> Result<AllowlistEntry> {
        Backend::create_allowlist_entry(self, ctx, cluster, new).await
    }

    async fn list_allowlist(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<AllowlistEntry>> {
        Backend::list_allowlist(self, org, cluster, page).await
    }

    async fn delete_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        Backend::delete_allowlist_entry(self, ctx, cluster, id).await
    }

    async fn replace_allowlist(
        &self,
        ctx: &Ctx,
        cluster: Uuid,
        entries: &[NewAllowlistEntry],
        op: Option<&NewOperation>,
    ) -> Result<(Vec<AllowlistEntry>, Option<Operation>)> {
        Backend::replace_allowlist(self, ctx, cluster, entries, op).await
    }

    async fn latest_operations(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<Operation>> {
        Backend::latest_operations(self, org, clusters).await
    }

    async fn allowlists_of(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<AllowlistEntry>> {
        Backend::allowlists_of(self, org, clusters).await
    }

    async fn list_operations(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Operation>> {
        Backend::list_operations(self, org, cluster, page).await
    }

    async fn get_operation(&self, org: Uuid, id: Uuid) -> Result<Operation> {
        Backend::get_operation(self, org, id).await
    }

    async fn claimable_operations(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>> {
        Backend::claimable_operations(self, now_ms, limit).await
    }

    async fn claim_operation(&self, id: Uuid, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Option<(Operation, Cluster)>> {
        Backend::claim_operation(self, id, owner, now_ms, lease_ms).await
    }

    async fn advance_operation(&self, id: Uuid, owner: &str, lease_ms: i64, step: &OperationStep, patch: &ClusterPatch) -> Result<bool> {
        Backend::advance_operation(self, id, owner, lease_ms, step, patch).await
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        Backend::release_leases(self, owner).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        Backend::append_audit(self, event).await
    }

    async fn list_audit(&self, org: Uuid, page: PageReq) -> Result<Page<AuditEvent>> {
        Backend::list_audit(self, org, page).await
    }

    async fn publish_identity_change(&self) -> Result<()> {
        super::publish_identity_change(&self.pool).await
    }

    async fn identity_changes(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>> {
        super::identity_changes(&self.pool).await
    }
}

pub(super) async fn insert_api_key(tx: &mut Tx, org: Uuid, key: &NewApiKey, created_by: Option<&str>) -> Result<()> {
    let t = time_to_ms(now());
    sqlx::query(
        "INSERT INTO api_keys (access_key, org_id, name, description, secret_hash, secret_enc, grants, owner_kind, owner_id, \
         allowed_cidrs, expires_at, rate_limit, state, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $14, $14)",
    )
    .bind(&key.access_key)
    .bind(org.to_string())
    .bind(&key.name)
    .bind(&key.description)
    .bind(&key.secret_hash)
    .bind(key.secret_enc.clone())
    .bind(json(&key.grants))
    .bind(key.owner.kind())
    .bind(key.owner.id().map(|u| u.to_string()))
    .bind(json(&key.allowed_cidrs))
    .bind(key.expires_at.map(time_to_ms))
    .bind(key.rate_limit)
    .bind(created_by)
    .bind(t)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique(e, || "access key collision; retry".into()))?;
    Ok(())
}
