//! Row mapping shared by both backends (compiled once per backend, like `common.rs`): the
//! SELECT column lists (macros, so queries can `concat!` them), one `*_row` function per
//! table, key rows with their grants, and the WHERE clauses of cluster lists.
//!
//! Projects and clouds give their live cluster count from `cluster_counts` (kept exact by
//! triggers on `clusters`, migration 0009), never by counting clusters: a project or cloud
//! read costs the same with 100 or 100,000 clusters in it.

use super::Db;
use super::common::*;
use crate::records::*;
use dbcloud_core::Result;
use dbcloud_core::perms::Scope;
use dbcloud_types::*;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

macro_rules! project_select {
    () => {
        "SELECT p.id, p.org_id, p.name, p.description, p.created_at, p.updated_at, \
         (SELECT CAST(COALESCE(SUM(n.live), 0) AS BIGINT) FROM cluster_counts n WHERE n.org_id = p.org_id AND n.project_id = p.id) AS cluster_count \
         FROM projects p "
    };
}
macro_rules! cloud_select {
    () => {
        "SELECT k.id, k.org_id, k.name, k.provider, k.region, k.vpc_cidr, k.created_at, k.updated_at, \
         (SELECT CAST(COALESCE(SUM(n.live), 0) AS BIGINT) FROM cluster_counts n WHERE n.org_id = k.org_id AND n.cloud_id = k.id) AS cluster_count \
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

pub(super) fn organization_row(r: &DbRow) -> Result<Organization> {
    Ok(Organization {
        id: get_uuid(r, "id")?,
        name: get_str(r, "name")?,
        rate_limit: get_opt_i64(r, "rate_limit")?,
        attributes: get_json(r, "attributes")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub(super) fn project_row(r: &DbRow) -> Result<Project> {
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

pub(super) fn cloud_row(r: &DbRow) -> Result<Cloud> {
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

pub(super) fn operation_row(r: &DbRow) -> Result<Operation> {
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

pub(super) fn bucket_row(r: &DbRow) -> Result<Bucket> {
    Ok(Bucket {
        id: get_uuid(r, "id")?,
        cluster_id: get_uuid(r, "cluster_id")?,
        name: get_str(r, "name")?,
        memory_quota_mb: get_i64(r, "memory_quota_mb")?,
        replicas: get_i64(r, "replicas")? as i32,
        created_at: get_time(r, "created_at")?,
    })
}

pub(super) fn db_user_row(r: &DbRow) -> Result<DatabaseUser> {
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

pub(super) fn allowlist_row(r: &DbRow) -> Result<AllowlistEntry> {
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

/// The `WHERE` conditions of a cluster list after the organization: project, cloud, state
/// (DELETED only when asked for), name, and what the caller may see.
pub(super) fn push_cluster_filters(qb: &mut QueryBuilder<Db>, filter: &ClusterFilter) {
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
pub(super) fn sum_of(r: &<Db as sqlx::Database>::Row) -> Result<u64> {
    Ok(r.try_get::<i64, _>("n").map_err(db)?.max(0) as u64)
}

pub(super) fn scope_parts(s: &Scope) -> (&'static str, String) {
    match s {
        Scope::Organization => ("organization", String::new()),
        Scope::Project(p) => ("project", p.to_string()),
        Scope::Cluster(c) => ("cluster", c.to_string()),
    }
}

pub(super) fn grant_row(r: &DbRow) -> Result<RoleGrant> {
    let kind = get_str(r, "scope_kind")?;
    let id = get_str(r, "scope_id")?;
    Ok(RoleGrant {
        id: get_uuid(r, "id")?,
        principal_type: get_str(r, "principal_kind")?,
        principal_id: get_str(r, "principal_id")?,
        role: get_str(r, "role")?,
        scope: GrantScope { kind, id: Uuid::try_parse(&id).ok() },
        created_by: get_str(r, "created_by")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub(super) fn sa_row(r: &DbRow, roles: Vec<RoleGrant>) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        name: get_str(r, "name")?,
        description: get_str(r, "description")?,
        roles,
        created_by: get_str(r, "created_by")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

pub(super) fn user_row(r: &DbRow, roles: Vec<RoleGrant>) -> Result<User> {
    Ok(User {
        id: get_uuid(r, "id")?,
        organization_id: get_uuid(r, "org_id")?,
        email: get_str(r, "email")?,
        name: get_str(r, "name")?,
        roles,
        created_at: get_time(r, "created_at")?,
    })
}
