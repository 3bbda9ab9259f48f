//! SQL users (core database users with read-write access), databases (core buckets) and
//! the IP allow list (core entries keyed by address and mask, `ui`/`sql` kept as entry
//! attributes) of a cluster.

use super::CockroachErrorBody;
use super::clusters::cluster_id;
use super::create::flags;
use super::paging::{CockroachPagination, ListQuery, Paging};
use super::{CCaller, CJson, CQuery, CResult, field};
use crate::auth::Caller;
use crate::state::AppState;
use crate::version::CcVersion;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use dbcloud_app::Permission;
use dbcloud_app::db_users::NewUser;
use dbcloud_app::model::{NewAllowlistEntry, NewBucket};
use dbcloud_core::validate;
use dbcloud_types::{Access, AllowlistEntry, Bucket, Cluster, ClusterState, DatabaseUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A cluster whose sub-resources may be read or changed: 404 once deleted (the service
/// checks the permission of each change).
async fn live(s: &AppState, caller: &Caller, id: &str, p: Permission) -> CResult<Cluster> {
    super::clusters::live(s, caller, cluster_id(id)?, p).await
}

async fn sql_user(s: &AppState, caller: &Caller, c: &Cluster, name: &str) -> CResult<DatabaseUser> {
    s.app.db_users().by_name(caller, c.id, name).await.map_err(|e| match e {
        dbcloud_core::Error::NotFound(_) => dbcloud_core::Error::NotFound(format!("SQL user {name}")).into(),
        other => other.into(),
    })
}

/// List SQL users by name.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/sql-users", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ListQuery),
    responses((status = 200, body = SqlUserList, description = "ListSQLUsersResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn list_sql_users(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<SqlUserList>> {
    let c = live(&s, &caller, &id, Permission::ClusterRead).await?;
    let paging = Paging::new(&q, &format!("sql-users/{}", c.id), "", s.app.master_key())?;
    let (users, more) = s.app.db_users().page_by_name(&caller, c.id, &paging.by_name()).await?;
    let next = users.last().filter(|_| more).map(|u| u.name.clone());
    let users = users.into_iter().map(|u| SqlUserOut { name: u.name }).collect();
    Ok(Json(SqlUserList { users, pagination: paging.render(next, version) }))
}

/// `POST …/sql-users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSqlUser {
    /// User name.
    pub name: String,
    /// Password (required; stored hashed, never returned).
    pub password: String,
}

/// Create a SQL user (read-write access to the whole cluster).
#[utoipa::path(post, path = "/api/v1/clusters/{cluster_id}/sql-users", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = CreateSqlUser,
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = SqlUserOut, description = "SQLUser"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn create_sql_user(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<CreateSqlUser>,
) -> CResult<Json<SqlUserOut>> {
    let c = live(&s, &caller, &id, Permission::DbuserManage).await?;
    let name = validate::identifier(&req.name, 63, false).map_err(|e| field("name", e))?;
    let new = NewUser { name, access: Access::ReadWrite, scope: None, password: Some(req.password) };
    let u = s.app.db_users().create(&caller, c.id, new, None).await?;
    Ok(Json(SqlUserOut { name: u.value.user.name }))
}

/// Delete a SQL user; answers it.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}/sql-users/{name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = SqlUserOut, description = "SQLUser"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn delete_sql_user(State(s): State<AppState>, CCaller(caller): CCaller, Path((id, name)): Path<(String, String)>) -> CResult<Json<SqlUserOut>> {
    let c = live(&s, &caller, &id, Permission::DbuserManage).await?;
    let u = sql_user(&s, &caller, &c, &name).await?;
    s.app.db_users().delete(&caller, c.id, u.id).await?;
    Ok(Json(SqlUserOut { name: u.name }))
}

/// `PUT …/sql-users/{name}/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlPassword {
    /// The new password.
    pub password: String,
}

/// Change a SQL user's password.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster_id}/sql-users/{name}/password", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = SqlPassword,
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = SqlUserOut, description = "SQLUser"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn sql_user_password(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((id, name)): Path<(String, String)>,
    CJson(req): CJson<SqlPassword>,
) -> CResult<Json<SqlUserOut>> {
    let c = live(&s, &caller, &id, Permission::DbuserManage).await?;
    let u = sql_user(&s, &caller, &c, &name).await?;
    s.app.db_users().set_password(&caller, c.id, u.id, Some(&req.password)).await?;
    Ok(Json(SqlUserOut { name: u.name }))
}

fn database(b: &Bucket) -> DatabaseOut {
    DatabaseOut { name: b.name.clone(), table_count: "0" }
}

async fn database_named(s: &AppState, caller: &Caller, c: &Cluster, name: &str) -> CResult<Bucket> {
    s.app.buckets().by_name(caller, c.id, name).await.map_err(|e| match e {
        dbcloud_core::Error::NotFound(_) => dbcloud_core::Error::NotFound(format!("database {name}")).into(),
        other => other.into(),
    })
}

/// List databases by name.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/databases", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ListQuery),
    responses((status = 200, body = DatabaseList, description = "ApiListDatabasesResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn list_databases(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<DatabaseList>> {
    let c = live(&s, &caller, &id, Permission::ClusterRead).await?;
    let paging = Paging::new(&q, &format!("databases/{}", c.id), "", s.app.master_key())?;
    let (dbs, more) = s.app.buckets().page_by_name(&caller, c.id, &paging.by_name()).await?;
    let next = dbs.last().filter(|_| more).map(|b| b.name.clone());
    Ok(Json(DatabaseList { databases: dbs.iter().map(database).collect(), pagination: paging.render(next, version) }))
}

/// `POST …/databases`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabase {
    /// Database name.
    pub name: String,
}

/// Create a database.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster_id}/databases", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = CreateDatabase,
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = DatabaseOut, description = "Database"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn create_database(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<CreateDatabase>,
) -> CResult<Json<DatabaseOut>> {
    let c = live(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let name = validate::identifier(&req.name, 63, false).map_err(|e| field("name", e))?;
    let b = s.app.buckets().create(&caller, c.id, NewBucket { name, memory_quota_mb: 100, replicas: 1 }, None).await?;
    Ok(Json(database(&b.value)))
}

/// `PATCH …/databases/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDatabase {
    /// The new name.
    #[serde(alias = "newName")]
    pub new_name: String,
}

/// `PATCH …/databases` (name in the body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDatabaseBody {
    /// The current name.
    pub name: String,
    /// The new name.
    #[serde(alias = "newName")]
    pub new_name: String,
}

async fn rename(s: &AppState, caller: &Caller, id: &str, name: &str, new_name: &str) -> CResult<Json<DatabaseOut>> {
    let c = live(s, caller, id, Permission::ClusterUpdate).await?;
    let new_name = validate::identifier(new_name, 63, false).map_err(|e| field("new_name", e))?;
    let b = database_named(s, caller, &c, name).await?;
    let b = s.app.buckets().rename(caller, c.id, b.id, &new_name).await?;
    Ok(Json(database(&b)))
}

/// Rename a database.
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster_id}/databases/{name}", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = RenameDatabase,
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DatabaseOut, description = "Database"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn rename_database(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((id, name)): Path<(String, String)>,
    CJson(req): CJson<RenameDatabase>,
) -> CResult<Json<DatabaseOut>> {
    rename(&s, &caller, &id, &name, &req.new_name).await
}

/// Rename a database named in the body.
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster_id}/databases", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = RenameDatabaseBody,
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = DatabaseOut, description = "Database"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn rename_database_body(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<RenameDatabaseBody>,
) -> CResult<Json<DatabaseOut>> {
    rename(&s, &caller, &id, &req.name, &req.new_name).await
}

/// Delete a database; answers it.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}/databases/{name}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DatabaseOut, description = "Database"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn delete_database(State(s): State<AppState>, CCaller(caller): CCaller, Path((id, name)): Path<(String, String)>) -> CResult<Json<DatabaseOut>> {
    let c = live(&s, &caller, &id, Permission::ClusterUpdate).await?;
    let b = database_named(&s, &caller, &c, &name).await?;
    s.app.buckets().delete(&caller, c.id, b.id).await?;
    Ok(Json(database(&b)))
}

/// An allow-list entry in the vendor's shape.
fn entry(e: &AllowlistEntry) -> EntryOut {
    let (ip, mask) = e.cidr.split_once('/').unwrap_or((&e.cidr, "32"));
    let flag = |k: &str| e.attributes.get(k).and_then(|v| v.as_bool()).unwrap_or(true);
    EntryOut {
        cidr_ip: ip.to_string(),
        cidr_mask: mask.parse().unwrap_or(32),
        ui: flag("ui"),
        sql: flag("sql"),
        name: (!e.comment.is_empty()).then(|| e.comment.clone()),
    }
}

/// Checks an address and mask: IPv4, mask 0–32, host bits zero (nothing is normalised).
fn key(ip: &str, mask: i64) -> CResult<String> {
    let addr: std::net::Ipv4Addr = ip.parse().map_err(|_| field("cidr_ip", "must be an IPv4 address"))?;
    if !(0..=32).contains(&mask) {
        return Err(field("cidr_mask", "must be between 0 and 32"));
    }
    let net = ipnet::Ipv4Net::new(addr, mask as u8).map_err(|_| field("cidr_mask", "must be between 0 and 32"))?;
    if net.network() != addr {
        return Err(field("cidr_ip", format!("has host bits set for mask {mask}; use {}", net.network())));
    }
    Ok(format!("{addr}/{mask}"))
}

async fn entry_at(s: &AppState, caller: &Caller, c: &Cluster, cidr: &str) -> CResult<Option<AllowlistEntry>> {
    let entries = s.app.allowlist().list_all(caller, c.id).await?;
    Ok(entries.into_iter().find(|e| e.cidr == cidr))
}

/// List the allow list, by address then mask.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/networking/allowlist", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ListQuery),
    responses((status = 200, body = EntryList, description = "ListAllowlistEntriesResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn list_allowlist(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Extension(CcVersion(version)): Extension<CcVersion>,
    Path(id): Path<String>,
    CQuery(q): CQuery<ListQuery>,
) -> CResult<Json<EntryList>> {
    let c = live(&s, &caller, &id, Permission::ClusterRead).await?;
    let entries: Vec<AllowlistEntry> = s.app.allowlist().list_all(&caller, c.id).await?.into_iter().filter(|e| !e.cidr.contains(':')).collect();
    let paging = Paging::new(&q, &format!("allowlist/{}", c.id), "", s.app.master_key())?;
    let sort = |e: &AllowlistEntry| {
        let (ip, mask) = e.cidr.split_once('/').unwrap_or((&e.cidr, "32"));
        let n: u32 = ip.parse::<std::net::Ipv4Addr>().map(u32::from).unwrap_or(0);
        format!("{n:010}/{:02}", mask.parse::<u8>().unwrap_or(32))
    };
    let (entries, next) = paging.apply(entries, sort, |e| Some(e.created_at));
    let allowlist = entries.iter().map(entry).collect();
    Ok(Json(EntryList { allowlist, propagating: c.state == ClusterState::Creating, pagination: paging.render(next, version) }))
}

/// `POST …/networking/allowlist` (AllowlistEntry).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// IPv4 address.
    #[serde(alias = "cidrIp")]
    pub cidr_ip: String,
    /// Mask length.
    #[serde(alias = "cidrMask")]
    pub cidr_mask: i64,
    /// Allow the DB Console.
    #[serde(default)]
    pub ui: bool,
    /// Allow SQL.
    #[serde(default)]
    pub sql: bool,
    /// Name.
    pub name: Option<String>,
}

/// Add an allow-list entry (409 when the address and mask are already there).
#[utoipa::path(post, path = "/api/v1/clusters/{cluster_id}/networking/allowlist", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = NewEntry,
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = EntryOut, description = "AllowlistEntry"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn add_allowlist(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CJson(req): CJson<NewEntry>,
) -> CResult<Json<EntryOut>> {
    let c = live(&s, &caller, &id, Permission::AllowlistManage).await?;
    let cidr = key(&req.cidr_ip, req.cidr_mask)?;
    create_entry(&s, &caller, &c, cidr, req.name, req.ui, req.sql).await
}

async fn create_entry(s: &AppState, caller: &Caller, c: &Cluster, cidr: String, name: Option<String>, ui: bool, sql: bool) -> CResult<Json<EntryOut>> {
    let comment = validate::free_text(name.as_deref().unwrap_or(""), 256).map_err(|e| field("name", e))?;
    let new = NewAllowlistEntry { cidr, comment, expires_at: None, attributes: flags(ui, sql) };
    let e = s.app.allowlist().add(caller, c.id, new, None).await?;
    Ok(Json(entry(&e.value)))
}

/// `PUT`/`PATCH …/networking/allowlist/{ip}/{mask}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryUpdate {
    /// Allow the DB Console.
    pub ui: Option<bool>,
    /// Allow SQL.
    pub sql: Option<bool>,
    /// Name.
    pub name: Option<String>,
    /// Ignored when equal to the path's.
    #[serde(alias = "cidrIp")]
    pub cidr_ip: Option<String>,
    /// Ignored when equal to the path's.
    #[serde(alias = "cidrMask")]
    pub cidr_mask: Option<i64>,
}

fn path_key(ip: &str, mask: &str) -> CResult<String> {
    key(ip, mask.parse().map_err(|_| field("cidr_mask", "must be an integer"))?)
}

fn same_key(req: &EntryUpdate, cidr: &str) -> CResult<()> {
    if let (Some(ip), Some(mask)) = (&req.cidr_ip, req.cidr_mask)
        && key(ip, mask)? != cidr
    {
        return Err(field("cidr_ip", "differs from the path"));
    }
    Ok(())
}

/// Create an entry at this address (409 when it exists).
#[utoipa::path(put, path = "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = EntryUpdate,
    params(("cluster_id" = String, Path), ("cidr_ip" = String, Path), ("cidr_mask" = i32, Path)),
    responses((status = 200, body = EntryOut, description = "AllowlistEntry"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody), (status = 409, body = CockroachErrorBody)))]
pub async fn put_allowlist(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((id, ip, mask)): Path<(String, String, String)>,
    CJson(req): CJson<EntryUpdate>,
) -> CResult<Json<EntryOut>> {
    let c = live(&s, &caller, &id, Permission::AllowlistManage).await?;
    let cidr = path_key(&ip, &mask)?;
    same_key(&req, &cidr)?;
    create_entry(&s, &caller, &c, cidr, req.name, req.ui.unwrap_or(false), req.sql.unwrap_or(false)).await
}

/// Change an entry's `ui`, `sql` or `name` (404 when missing).
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", tag = "cockroachdb cloud", security(("bearer" = [])), request_body = EntryUpdate,
    params(("cluster_id" = String, Path), ("cidr_ip" = String, Path), ("cidr_mask" = i32, Path)),
    responses((status = 200, body = EntryOut, description = "AllowlistEntry"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn patch_allowlist(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((id, ip, mask)): Path<(String, String, String)>,
    CJson(req): CJson<EntryUpdate>,
) -> CResult<Json<EntryOut>> {
    let c = live(&s, &caller, &id, Permission::AllowlistManage).await?;
    let cidr = path_key(&ip, &mask)?;
    same_key(&req, &cidr)?;
    let comment = match &req.name {
        Some(n) => Some(validate::free_text(n, 256).map_err(|e| field("name", e))?),
        None => None,
    };
    let e = entry_at(&s, &caller, &c, &cidr).await?.ok_or_else(|| dbcloud_core::Error::NotFound(format!("allowlist entry {cidr}")))?;
    let flag = |k: &str| e.attributes.get(k).and_then(|v| v.as_bool()).unwrap_or(true);
    let attrs = flags(req.ui.unwrap_or(flag("ui")), req.sql.unwrap_or(flag("sql")));
    let e = s.app.allowlist().set(&caller, c.id, e.id, comment.as_deref(), Some(&attrs)).await?;
    Ok(Json(entry(&e)))
}

/// Remove an entry; answers it (404 when missing).
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster_id}/networking/allowlist/{cidr_ip}/{cidr_mask}", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = String, Path), ("cidr_ip" = String, Path), ("cidr_mask" = i32, Path)),
    responses((status = 200, body = EntryOut, description = "AllowlistEntry"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody), (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn delete_allowlist(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path((id, ip, mask)): Path<(String, String, String)>,
) -> CResult<Json<EntryOut>> {
    let c = live(&s, &caller, &id, Permission::AllowlistManage).await?;
    let cidr = path_key(&ip, &mask)?;
    let e = entry_at(&s, &caller, &c, &cidr).await?.ok_or_else(|| dbcloud_core::Error::NotFound(format!("allowlist entry {cidr}")))?;
    s.app.allowlist().delete(&caller, c.id, e.id).await?;
    Ok(Json(entry(&e)))
}

/// `SQLUser`.
#[derive(Serialize, ToSchema)]
pub struct SqlUserOut {
    name: String,
}

/// `ListSQLUsersResponse`.
#[derive(Serialize, ToSchema)]
pub struct SqlUserList {
    users: Vec<SqlUserOut>,
    pagination: CockroachPagination,
}

/// `Database`.
#[derive(Serialize, ToSchema)]
pub struct DatabaseOut {
    name: String,
    table_count: &'static str,
}

/// `ApiListDatabasesResponse`.
#[derive(Serialize, ToSchema)]
pub struct DatabaseList {
    databases: Vec<DatabaseOut>,
    pagination: CockroachPagination,
}

/// `AllowlistEntry`.
#[derive(Serialize, ToSchema)]
pub struct EntryOut {
    cidr_ip: String,
    cidr_mask: i32,
    ui: bool,
    sql: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// `ListAllowlistEntriesResponse`.
#[derive(Serialize, ToSchema)]
pub struct EntryList {
    allowlist: Vec<EntryOut>,
    propagating: bool,
    pagination: CockroachPagination,
}
