//! Query code shared by both backends. This file is compiled twice, once inside
//! `sqlite.rs` and once inside `postgres.rs`; `super::Db` names the driver and
//! `super::begin_write` opens a write transaction the backend's way.

use super::{Backend, Db, begin_write};
use crate::Store;
use crate::records::*;
use async_trait::async_trait;
use dbcloud_core::{Error, Result, cursor, ms_to_time, new_id, now, regions, time_to_ms};
use dbcloud_types::*;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) type DbRow = <Db as sqlx::Database>::Row;
pub(super) type Tx = sqlx::Transaction<'static, Db>;

/// Maps a driver error that is not an expected constraint violation.
/// The key query by access key id.
fn concat_key_select_by_id() -> sqlx::AssertSqlSafe<String> {
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

macro_rules! project_select {
    () => {
        "SELECT p.id, p.org_id, p.name, p.description, p.created_at, p.updated_at, \
         (SELECT COUNT(*) FROM clusters c WHERE c.project_id = p.id AND c.state <> 'DELETED') AS cluster_count \
         FROM projects p "
    };
}
macro_rules! cloud_select {
    () => {
        "SELECT k.id, k.org_id, k.name, k.provider, k.region, k.vpc_cidr, k.created_at, k.updated_at, \
         (SELECT COUNT(*) FROM clusters c WHERE c.cloud_id = k.id AND c.state <> 'DELETED') AS cluster_count \
         FROM clouds k "
    };
}
macro_rules! cluster_select {
    () => {
        "SELECT c.id, c.org_id, c.project_id, c.cloud_id, c.name, c.plan, c.version, c.node_count, c.node_size, \
         c.spend_limit, c.state, c.failure_reason, c.nodes, c.endpoints, c.attributes, c.created_by, c.created_at, c.updated_at, \
         (SELECT COUNT(*) FROM buckets b WHERE b.cluster_id = c.id) AS bucket_count FROM clusters c "
    };
}
macro_rules! operation_select {
    () => {
        "SELECT id, org_id, cluster_id, kind, status, step, progress, error, params, created_at, updated_at, \
         finished_at FROM operations "
    };
}
macro_rules! bucket_select {
    () => {
        "SELECT id, cluster_id, name, memory_quota_mb, replicas, created_at FROM buckets "
    };
}
macro_rules! db_user_select {
    () => {
        "SELECT id, cluster_id, name, access, scope, created_at, password_changed_at FROM db_users "
    };
}
macro_rules! allowlist_select {
    () => {
        "SELECT id, cluster_id, cidr, comment, expires_at, attributes, created_at FROM allowlist_entries "
    };
}

/// Runs `head <org> AND cluster_id IN (<chunk>) tail` for chunks of `clusters` (bounded
/// bind parameters whatever their number) and collects the rows.
async fn by_cluster_chunks<T>(
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
async fn finish_child_update<T>(
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

pub(super) fn organization_row(r: &DbRow) -> Result<Organization> {
    Ok(Organization {
        id: get_uuid(r, "id")?,
        name: get_str(r, "name")?,
        rate_limit: get_opt_i64(r, "rate_limit")?,
        attributes: get_json(r, "attributes")?,
        created_at: get_time(r, "created_at")?,
    })
}

fn project_row(r: &DbRow) -> Result<Project> {
    Ok(Project {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        name: get_str(r, "name")?,
        description: get_str(r, "description")?,
        cluster_count: get_i64(r, "cluster_count")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

fn cloud_row(r: &DbRow) -> Result<Cloud> {
    Ok(Cloud {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        name: get_str(r, "name")?,
        provider: get_enum(r, "provider", Provider::parse)?,
        region: get_str(r, "region")?,
        virtual_network_cidr: get_str(r, "vpc_cidr")?,
        cluster_count: get_i64(r, "cluster_count")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

pub(super) fn cluster_row(r: &DbRow) -> Result<Cluster> {
    Ok(Cluster {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        project_id: get_uuid(r, "project_id")?,
        cloud_id: get_uuid(r, "cloud_id")?,
        name: get_str(r, "name")?,
        plan: get_enum(r, "plan", Plan::parse)?,
        version: get_str(r, "version")?,
        node_count: get_i64(r, "node_count")? as i32,
        node_size: get_str(r, "node_size")?,
        spend_limit: get_opt_i64(r, "spend_limit")?,
        state: get_enum(r, "state", ClusterState::parse)?,
        failure_reason: get_opt_str(r, "failure_reason")?,
        nodes: get_json(r, "nodes")?,
        endpoints: get_json(r, "endpoints")?,
        connection_strings: vec![],
        attributes: get_json(r, "attributes")?,
        bucket_count: get_i64(r, "bucket_count")?,
        created_by: get_str(r, "created_by")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

fn operation_row(r: &DbRow) -> Result<Operation> {
    Ok(Operation {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        cluster_id: get_uuid(r, "cluster_id")?,
        kind: get_enum(r, "kind", OperationKind::parse)?,
        status: get_enum(r, "status", OperationStatus::parse)?,
        step: get_str(r, "step")?,
        progress: get_i64(r, "progress")? as i32,
        error: get_opt_str(r, "error")?,
        params: get_json(r, "params")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        finished_at: get_opt_time(r, "finished_at")?,
    })
}

fn bucket_row(r: &DbRow) -> Result<Bucket> {
    Ok(Bucket {
        id: get_uuid(r, "id")?,
        cluster_id: get_uuid(r, "cluster_id")?,
        name: get_str(r, "name")?,
        memory_quota_mb: get_i64(r, "memory_quota_mb")?,
        replicas: get_i64(r, "replicas")? as i32,
        created_at: get_time(r, "created_at")?,
    })
}

fn db_user_row(r: &DbRow) -> Result<DatabaseUser> {
    Ok(DatabaseUser {
        id: get_uuid(r, "id")?,
        cluster_id: get_uuid(r, "cluster_id")?,
        name: get_str(r, "name")?,
        access: get_enum(r, "access", Access::parse)?,
        scope: get_opt_str(r, "scope")?,
        created_at: get_time(r, "created_at")?,
        password_changed_at: get_time(r, "password_changed_at")?,
    })
}

fn allowlist_row(r: &DbRow) -> Result<AllowlistEntry> {
    Ok(AllowlistEntry {
        id: get_uuid(r, "id")?,
        cluster_id: get_uuid(r, "cluster_id")?,
        cidr: get_str(r, "cidr")?,
        comment: get_str(r, "comment")?,
        expires_at: get_opt_time(r, "expires_at")?,
        attributes: get_json(r, "attributes")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub(super) fn audit_row(r: &DbRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: get_uuid(r, "id")?,
        organization_id: get_opt_str(r, "org_id")?.and_then(|s| Uuid::try_parse(&s).ok()),
        time: get_time(r, "at")?,
        actor: get_str(r, "actor")?,
        source_ip: get_str(r, "source_ip")?,
        action: get_str(r, "action")?,
        target: get_str(r, "target")?,
        outcome: get_str(r, "outcome")?,
        request_id: get_str(r, "request_id")?,
        details: get_json(r, "details")?,
    })
}

pub(super) const API_KEY_SELECT: &str = "SELECT k.access_key, k.org_id, k.name, k.description, k.secret_hash, k.secret_enc, \
    k.prev_secret_hash, k.prev_secret_enc, k.prev_valid_until, k.grants, k.owner_kind, k.owner_id, k.allowed_cidrs, \
    k.expires_at, k.state, k.rate_limit, o.rate_limit AS org_rate_limit, k.created_by, k.created_at, k.updated_at, \
    k.last_used_at, k.last_used_ip FROM api_keys k JOIN organizations o ON o.id = k.org_id ";

/// A key row; `grants` holds only the key's own roles until [`resolve_grants`] runs.
pub(super) fn api_key_row(r: &DbRow) -> Result<ApiKeyRecord> {
    let own: Vec<dbcloud_core::perms::Grant> = get_json(r, "grants")?;
    let owner_id = get_opt_str(r, "owner_id")?.and_then(|s| Uuid::try_parse(&s).ok());
    let owner = match (get_str(r, "owner_kind")?.as_str(), owner_id) {
        ("service_account", Some(id)) => KeyOwner::ServiceAccount(id),
        ("user", Some(id)) => KeyOwner::User(id),
        _ => KeyOwner::Key,
    };
    Ok(ApiKeyRecord {
        access_key: get_str(r, "access_key")?,
        organization_id: get_uuid(r, "org_id")?,
        name: get_str(r, "name")?,
        description: get_str(r, "description")?,
        secret_hash: get_str(r, "secret_hash")?,
        secret_enc: get_opt_str(r, "secret_enc")?,
        prev_secret_hash: get_opt_str(r, "prev_secret_hash")?,
        prev_secret_enc: get_opt_str(r, "prev_secret_enc")?,
        prev_valid_until: get_opt_time(r, "prev_valid_until")?,
        grants: own.clone(),
        own_grants: own,
        owner,
        allowed_cidrs: get_json(r, "allowed_cidrs")?,
        expires_at: get_opt_time(r, "expires_at")?,
        state: get_str(r, "state")?,
        rate_limit: get_opt_i64(r, "rate_limit")?,
        org_rate_limit: get_opt_i64(r, "org_rate_limit")?,
        created_by: get_opt_str(r, "created_by")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        last_used_at: get_opt_time(r, "last_used_at")?,
        last_used_ip: get_opt_str(r, "last_used_ip")?,
    })
}

/// Adds the grants a key holds through its owner and those granted to the key itself.
pub(super) async fn resolve_grants<'e, E: sqlx::Executor<'e, Database = Db>>(ex: E, k: &mut ApiKeyRecord) -> Result<()> {
    let rows = sqlx::query(
        "SELECT role, scope_kind, scope_id FROM role_grants \
         WHERE (principal_kind = 'api_key' AND principal_id = $1) OR (principal_kind = $2 AND principal_id = $3)",
    )
    .bind(&k.access_key)
    .bind(k.owner.kind())
    .bind(k.owner.id().map(|u| u.to_string()).unwrap_or_default())
    .fetch_all(ex)
    .await
    .map_err(db)?;
    for r in &rows {
        if let Some(g) = grant_from_parts(&get_str(r, "role")?, &get_str(r, "scope_kind")?, &get_str(r, "scope_id")?)
            && !k.grants.contains(&g)
        {
            k.grants.push(g);
        }
    }
    Ok(())
}

/// Rebuilds a grant from its stored parts (`None` for a role this build does not know).
pub(super) fn grant_from_parts(role: &str, kind: &str, id: &str) -> Option<dbcloud_core::perms::Grant> {
    use dbcloud_core::perms::{Grant, Role, Scope};
    let scope = match kind {
        "organization" => Scope::Organization,
        "project" => Scope::Project(Uuid::try_parse(id).ok()?),
        "cluster" => Scope::Cluster(Uuid::try_parse(id).ok()?),
        _ => return None,
    };
    Some(Grant { role: Role::parse(role)?, scope })
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

/// Reads a cluster inside a transaction; `NotFound` when absent from the organization.
async fn cluster_in_tx(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Cluster> {
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
async fn open_cluster(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Cluster> {
    let c = cluster_in_tx(tx, org, id).await?;
    dbcloud_core::cluster::check_accepts_children(&c)?;
    Ok(c)
}

async fn operation_in_tx(tx: &mut Tx, id: Uuid) -> Result<Operation> {
    sqlx::query(concat!(operation_select!(), "WHERE id = $1")).bind(id.to_string()).fetch_one(&mut **tx).await.map_err(db).and_then(|r| operation_row(&r))
}

async fn insert_operation(tx: &mut Tx, org: Uuid, cluster: Uuid, op: &NewOperation, step: &str) -> Result<()> {
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
async fn insert_allowlist_entry(
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
async fn resolve_cloud(tx: &mut Tx, ctx: &Ctx, cloud: &CloudRef) -> Result<(Uuid, Provider, String)> {
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
        let mut tx = begin_write(&self.pool).await?;
        let existing = sqlx::query("SELECT id FROM organizations LIMIT 1").fetch_optional(&mut *tx).await.map_err(db)?;
        if existing.is_some() {
            return Ok(None);
        }
        let org = new_id();
        let t = time_to_ms(now());
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.to_string())
            .bind(org_name)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO projects (id, org_id, name, description, is_default, created_at, updated_at) \
             VALUES ($1, $2, 'default', 'Default project', 1, $3, $3)",
        )
        .bind(new_id().to_string())
        .bind(org.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_api_key(&mut tx, org, key, None).await?;
        let ctx = Ctx { organization_id: org, actor: "system".into(), request_id: "bootstrap".into(), source_ip: "local".into(), idempotency: None };
        audit(&mut tx, &ctx, "organization.bootstrap", format!("organization:{org}")).await?;
        audit(&mut tx, &ctx, "apikey.create", format!("apikey:{}", key.access_key)).await?;
        commit(tx).await?;
        Ok(Some(org))
    }

    async fn get_organization(&self, id: Uuid) -> Result<Organization> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let o = organization_in_tx(&mut tx, id).await?;
        tx.rollback().await.map_err(db)?;
        Ok(o)
    }

    async fn create_api_key(&self, ctx: &Ctx, key: &NewApiKey) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        insert_api_key(&mut tx, ctx.organization_id, key, Some(&ctx.actor)).await?;
        audit(&mut tx, ctx, "apikey.create", format!("apikey:{}", key.access_key)).await?;
        commit(tx).await
    }

    async fn find_api_key(&self, access_key: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(concat_key_select_by_id()).bind(access_key).fetch_optional(&self.pool).await.map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let mut k = api_key_row(&row)?;
        resolve_grants(&self.pool, &mut k).await?;
        Ok(Some(k))
    }

    async fn idempotent_response(&self, org: Uuid, principal: &str, key: &str) -> Result<Option<StoredResponse>> {
        let r = sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE org_id = $1 AND principal = $2 AND idem_key = $3")
            .bind(org.to_string())
            .bind(principal)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.map(|r| Ok(StoredResponse { request_hash: get_str(&r, "request_hash")?, status: get_i64(&r, "status")? as u16, body: get_json(&r, "body")? }))
            .transpose()
    }

    async fn create_project(&self, ctx: &Ctx, name: &str, description: &str) -> Result<Project> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = now();
        sqlx::query("INSERT INTO projects (id, org_id, name, description, is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, $5)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(name)
            .bind(description)
            .bind(time_to_ms(t))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a project named {name:?} already exists")))?;
        let p = Project {
            id,
            organization_id: ctx.organization_id,
            name: name.into(),
            description: description.into(),
            cluster_count: 0,
            created_at: t,
            updated_at: t,
        };
        finish_create(&mut tx, ctx, "project.create", format!("project:{id}"), &p).await?;
        commit(tx).await?;
        Ok(p)
    }

    async fn list_projects(&self, org: Uuid, page: PageReq) -> Result<Page<Project>> {
        let rows = sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3"))
            .bind(org.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, project_row, |p| p.id)
    }

    async fn get_project(&self, org: Uuid, id: Uuid) -> Result<Project> {
        sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| project_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("project {id}")))
    }

    async fn update_project(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<Project> {
        let mut tx = begin_write(&self.pool).await?;
        const SQL: &str = "UPDATE projects SET name = COALESCE($1, name), description = COALESCE($2, description), updated_at = $3 \
                           WHERE org_id = $4 AND id = $5";
        update_name_description(&mut tx, ctx, SQL, "project", id, name, description).await?;
        audit(&mut tx, ctx, "project.update", format!("project:{id}")).await?;
        let p = sqlx::query(concat!(project_select!(), "WHERE p.id = $1")).bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let p = project_row(&p)?;
        commit(tx).await?;
        Ok(p)
    }

    async fn delete_project(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("project {id}")))?;
        let p = project_row(&r)?;
        let is_default = sqlx::query("SELECT is_default FROM projects WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)
            .and_then(|r| get_i64(&r, "is_default"))?;
        if is_default != 0 {
            return Err(Error::FailedPrecondition("the default project cannot be deleted".into()));
        }
        if p.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("project {id} still has {} cluster(s); delete them first", p.cluster_count)));
        }
        sqlx::query(
            "DELETE FROM projects WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM clusters c WHERE c.project_id = $1 AND c.state <> 'DELETED')",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        audit(&mut tx, ctx, "project.delete", format!("project:{id}")).await?;
        commit(tx).await
    }

    async fn default_project(&self, org: Uuid) -> Result<Project> {
        sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.is_default = 1"))
            .bind(org.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| project_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound("default project".into()))
    }

    async fn create_cloud(&self, ctx: &Ctx, new: &NewCloud) -> Result<Cloud> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = now();
        sqlx::query("INSERT INTO clouds (id, org_id, name, provider, region, vpc_cidr, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(&new.name)
            .bind(new.provider.as_str())
            .bind(&new.region)
            .bind(&new.vpc_cidr)
            .bind(time_to_ms(t))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a cloud named {:?} already exists", new.name)))?;
        let c = Cloud {
            id,
            organization_id: ctx.organization_id,
            name: new.name.clone(),
            provider: new.provider,
            region: new.region.clone(),
            virtual_network_cidr: new.vpc_cidr.clone(),
            cluster_count: 0,
            created_at: t,
            updated_at: t,
        };
        finish_create(&mut tx, ctx, "cloud.create", format!("cloud:{id}"), &c).await?;
        commit(tx).await?;
        Ok(c)
    }

    async fn list_clouds(&self, org: Uuid, provider: Option<Provider>, page: PageReq) -> Result<Page<Cloud>> {
        let rows = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND ($2 = '' OR k.provider = $2) AND k.id > $3 ORDER BY k.id LIMIT $4"))
            .bind(org.to_string())
            .bind(provider.map(|p| p.as_str()).unwrap_or(""))
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, cloud_row, |c| c.id)
    }

    async fn get_cloud(&self, org: Uuid, id: Uuid) -> Result<Cloud> {
        sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| cloud_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))
    }

    async fn update_cloud(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, vpc_cidr: Option<&str>) -> Result<Cloud> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))?;
        let mut c = cloud_row(&r)?;
        if vpc_cidr.is_some_and(|v| v != c.virtual_network_cidr) && c.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("cloud {id} has {} cluster(s); its network cannot change", c.cluster_count)));
        }
        c.updated_at = now();
        sqlx::query("UPDATE clouds SET name = COALESCE($1, name), vpc_cidr = COALESCE($2, vpc_cidr), updated_at = $3 WHERE id = $4")
            .bind(name)
            .bind(vpc_cidr)
            .bind(time_to_ms(c.updated_at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a cloud named {:?} already exists", name.unwrap_or_default())))?;
        if let Some(n) = name {
            c.name = n.into();
        }
        if let Some(v) = vpc_cidr {
            c.virtual_network_cidr = v.into();
        }
        audit(&mut tx, ctx, "cloud.update", format!("cloud:{id}")).await?;
        commit(tx).await?;
        Ok(c)
    }

    async fn delete_cloud(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))?;
        let c = cloud_row(&r)?;
        if c.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("cloud {id} still has {} cluster(s); delete them first", c.cluster_count)));
        }
        sqlx::query(
            "DELETE FROM clouds WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM clusters c WHERE c.cloud_id = $1 AND c.state <> 'DELETED')",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        audit(&mut tx, ctx, "cloud.delete", format!("cloud:{id}")).await?;
        commit(tx).await
    }

    async fn create_cluster(&self, ctx: &Ctx, new: &NewCluster, op: &NewOperation) -> Result<ClusterChange> {
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

    async fn count_clusters(&self, org: Uuid, filter: &ClusterFilter) -> Result<u64> {
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
                return Ok(sum_of(&r)?);
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

    async fn list_clusters(&self, org: Uuid, filter: &ClusterFilter, page: PageReq) -> Result<Page<Cluster>> {
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

    async fn get_cluster(&self, org: Uuid, id: Uuid) -> Result<Cluster> {
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

    async fn update_cluster(&self, ctx: &Ctx, id: Uuid, change: &ClusterUpdate) -> Result<ClusterChange> {
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

    async fn delete_cluster(&self, ctx: &Ctx, id: Uuid, op: &NewOperation) -> Result<ClusterChange> {
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

    async fn start_operation(&self, ctx: &Ctx, id: Uuid, op: &NewOperation, action: &str) -> Result<ClusterChange> {
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

    async fn create_bucket(&self, ctx: &Ctx, cluster: Uuid, new: &NewBucket) -> Result<Bucket> {
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

    async fn list_buckets(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Bucket>> {
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

    async fn delete_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query("DELETE FROM buckets WHERE cluster_id = $1 AND id = $2")
            .bind(cluster.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::NotFound(format!("bucket {id}")));
        }
        audit(&mut tx, ctx, "bucket.delete", format!("cluster:{cluster}/bucket:{id}")).await?;
        commit(tx).await
    }

    async fn rename_bucket(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, name: &str) -> Result<Bucket> {
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

    async fn set_allowlist_entry(
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

    async fn update_buckets(&self, ctx: &Ctx, cluster: Uuid, changes: &[BucketChange]) -> Result<Vec<Bucket>> {
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

    async fn create_db_user(&self, ctx: &Ctx, cluster: Uuid, new: &NewDbUser) -> Result<DatabaseUser> {
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

    async fn list_db_users(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<DatabaseUser>> {
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

    async fn delete_db_user(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query("DELETE FROM db_users WHERE cluster_id = $1 AND id = $2")
            .bind(cluster.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::NotFound(format!("database user {id}")));
        }
        audit(&mut tx, ctx, "dbuser.delete", format!("cluster:{cluster}/user:{id}")).await?;
        commit(tx).await
    }

    async fn set_db_user_password(&self, ctx: &Ctx, cluster: Uuid, id: Uuid, password_hash: &str) -> Result<DatabaseUser> {
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

    async fn create_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, new: &NewAllowlistEntry) -> Result<AllowlistEntry> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let e = insert_allowlist_entry(&mut tx, ctx.organization_id, cluster, new, now())
            .await
            .map_err(|err| unique(err, || format!("{} is already on the allow list of cluster {cluster}", new.cidr)))?;
        finish_create(&mut tx, ctx, "allowlist.create", format!("cluster:{cluster}/allowlist:{}", e.id), &e).await?;
        commit(tx).await?;
        Ok(e)
    }

    async fn list_allowlist(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<AllowlistEntry>> {
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

    async fn delete_allowlist_entry(&self, ctx: &Ctx, cluster: Uuid, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        open_cluster(&mut tx, ctx.organization_id, cluster).await?;
        let res = sqlx::query("DELETE FROM allowlist_entries WHERE cluster_id = $1 AND id = $2")
            .bind(cluster.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::NotFound(format!("allow-list entry {id}")));
        }
        audit(&mut tx, ctx, "allowlist.delete", format!("cluster:{cluster}/allowlist:{id}")).await?;
        commit(tx).await
    }

    async fn replace_allowlist(
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

    async fn latest_operations(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<Operation>> {
        let head = concat!(operation_select!(), "WHERE id IN (SELECT MAX(id) FROM operations WHERE org_id = ");
        by_cluster_chunks(&self.pool, head, org, clusters, ") GROUP BY cluster_id)", operation_row).await
    }

    async fn allowlists_of(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<AllowlistEntry>> {
        let head = concat!(allowlist_select!(), "WHERE org_id = ");
        let mut all = by_cluster_chunks(&self.pool, head, org, clusters, ")", allowlist_row).await?;
        all.sort_by_key(|e| e.id);
        Ok(all)
    }

    async fn list_operations(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Operation>> {
        self.get_cluster(org, cluster).await?;
        let rows = sqlx::query(concat!(operation_select!(), "WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(cluster.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, operation_row, |o| o.id)
    }

    async fn get_operation(&self, org: Uuid, id: Uuid) -> Result<Operation> {
        sqlx::query(concat!(operation_select!(), "WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| operation_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("operation {id}")))
    }

    async fn claimable_operations(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM operations WHERE status IN ('SENT', 'IN_PROGRESS') \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| get_uuid(r, "id")).collect()
    }

    async fn claim_operation(&self, id: Uuid, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Option<(Operation, Cluster)>> {
        let mut tx = begin_write(&self.pool).await?;
        let res = sqlx::query(
            "UPDATE operations SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             status = CASE WHEN status = 'SENT' THEN 'IN_PROGRESS' ELSE status END, updated_at = $3 \
             WHERE id = $4 AND status IN ('SENT', 'IN_PROGRESS') AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        let op = operation_in_tx(&mut tx, id).await?;
        let c = cluster_in_tx(&mut tx, op.organization_id, op.cluster_id).await?;
        commit(tx).await?;
        Ok(Some((op, c)))
    }

    async fn advance_operation(&self, id: Uuid, owner: &str, lease_ms: i64, step: &OperationStep, patch: &ClusterPatch) -> Result<bool> {
        let mut tx = begin_write(&self.pool).await?;
        let t = time_to_ms(now());
        let finished = (!step.status.is_active()).then_some(t);
        let res = sqlx::query(
            "UPDATE operations SET status = $1, step = $2, progress = $3, error = $4, finished_at = $5, updated_at = $6, \
             lease_until = CASE WHEN $5 IS NULL THEN $7 ELSE NULL END \
             WHERE id = $8 AND lease_owner = $9 AND status IN ('SENT', 'IN_PROGRESS')",
        )
        .bind(step.status.as_str())
        .bind(&step.step)
        .bind(step.progress as i64)
        .bind(step.error.clone())
        .bind(finished)
        .bind(t)
        .bind(t + lease_ms)
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        let r = sqlx::query("SELECT org_id, cluster_id FROM operations WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let cluster = get_str(&r, "cluster_id")?;
        let attributes = match &patch.attributes {
            Some(a) => {
                let c = cluster_in_tx(&mut tx, get_uuid(&r, "org_id")?, get_uuid(&r, "cluster_id")?).await?;
                Some(json(&merge_attributes(&c.attributes, a)))
            }
            None => None,
        };
        sqlx::query(
            "UPDATE clusters SET state = COALESCE($1, state), nodes = COALESCE($2, nodes), endpoints = COALESCE($3, endpoints), \
             node_count = COALESCE($4, node_count), failure_reason = COALESCE($5, failure_reason), updated_at = $6, \
             version = COALESCE($8, version), attributes = COALESCE($9, attributes) WHERE id = $7",
        )
        .bind(patch.state.map(|s| s.as_str()))
        .bind(patch.nodes.as_ref().map(json))
        .bind(patch.endpoints.as_ref().map(json))
        .bind(patch.node_count.map(|n| n as i64))
        .bind(patch.failure_reason.clone())
        .bind(t)
        .bind(&cluster)
        .bind(patch.version.clone())
        .bind(attributes)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx).await?;
        Ok(true)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let res = sqlx::query("UPDATE operations SET lease_until = NULL WHERE lease_owner = $1 AND status IN ('SENT', 'IN_PROGRESS')")
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(res.rows_affected())
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        insert_audit(&mut tx, event).await?;
        commit(tx).await
    }

    async fn list_audit(&self, org: Uuid, page: PageReq) -> Result<Page<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, org_id, at, actor, source_ip, action, target, outcome, request_id, details FROM audit_events \
             WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(org.to_string())
        .bind(after(&page))
        .bind(page.limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        paginate(rows, page.limit, audit_row, |e| e.id)
    }

    async fn publish_identity_change(&self) -> Result<()> {
        super::publish_identity_change(&self.pool).await
    }

    async fn identity_changes(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>> {
        super::identity_changes(&self.pool).await
    }

    async fn seed_clusters(&self, org: Uuid, project: Uuid, cloud: Uuid, prefix: &str, count: u32) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let t = time_to_ms(now());
        let mut done = 0u32;
        while done < count {
            let n = (count - done).min(500);
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO clusters (id, org_id, project_id, cloud_id, name, plan, version, node_count, node_size, \
                 spend_limit, state, nodes, endpoints, created_by, created_at, updated_at) ",
            );
            qb.push_values(done..done + n, |mut b, i| {
                b.push_bind(new_id().to_string())
                    .push_bind(org.to_string())
                    .push_bind(project.to_string())
                    .push_bind(cloud.to_string())
                    .push_bind(format!("{prefix}-{i}"))
                    .push_bind("dedicated")
                    .push_bind(dbcloud_core::cluster::DEFAULT_VERSION)
                    .push_bind(3i64)
                    .push_bind("m5.xlarge")
                    .push_bind(None::<i64>)
                    .push_bind("CREATED")
                    .push_bind("[]")
                    .push_bind("[]")
                    .push_bind("seed")
                    .push_bind(t)
                    .push_bind(t);
            });
            qb.build().execute(&mut *tx).await.map_err(|e| unique(e, || format!("clusters named {prefix}-* exist")))?;
            done += n;
        }
        commit(tx).await
    }
}

/// The `WHERE` conditions of a cluster list after the organization: project, cloud, state
/// (DELETED only when asked for), name, and what the caller may see.
fn push_cluster_filters(qb: &mut QueryBuilder<Db>, filter: &ClusterFilter) {
    if let Some(p) = filter.project_id {
        qb.push(" AND c.project_id = ").push_bind(p.to_string());
    }
    if let Some(k) = filter.cloud_id {
        qb.push(" AND c.cloud_id = ").push_bind(k.to_string());
    }
    match filter.state {
        Some(s) => {
            qb.push(" AND c.state = ").push_bind(s.as_str());
        }
        None if filter.include_deleted => {}
        None => {
            qb.push(" AND c.state <> 'DELETED'");
        }
    }
    if let Some(n) = &filter.name {
        qb.push(" AND c.name = ").push_bind(n.clone());
    }
    if let Some(dbcloud_core::perms::Visibility::Only { projects, clusters }) = &filter.visible {
        qb.push(" AND (");
        let mut or = "";
        for (column, ids) in [("c.project_id", projects), ("c.id", clusters)] {
            if ids.is_empty() {
                continue;
            }
            qb.push(or).push(column).push(" IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id.to_string());
            }
            qb.push(")");
            or = " OR ";
        }
        if or.is_empty() {
            qb.push("1 = 0");
        }
        qb.push(")");
    }
}

/// The `n` column of a `SUM` row (NULL-safe, as a count).
fn sum_of(r: &<Db as sqlx::Database>::Row) -> Result<u64> {
    Ok(r.try_get::<i64, _>("n").map_err(db)?.max(0) as u64)
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
