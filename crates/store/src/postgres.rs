//! The PostgreSQL backend: shared by several `dbcloud serve` replicas.

use dbcloud_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

#[path = "rows.rs"]
#[macro_use]
mod rows;
#[path = "children_impl.rs"]
mod children_impl;
#[path = "clusters_impl.rs"]
mod clusters_impl;
#[path = "common.rs"]
mod common;
#[path = "identity_impl.rs"]
mod identity_impl;
#[path = "local_impl.rs"]
mod local_impl;
#[path = "operations_impl.rs"]
mod operations_impl;
#[path = "org_impl.rs"]
mod org_impl;
#[cfg(feature = "seed")]
#[path = "seed_impl.rs"]
mod seed_impl;
#[path = "sessions_impl.rs"]
mod sessions_impl;

pub(crate) type Db = sqlx::Postgres;
/// Run after a bulk seed (`seed` feature): what autovacuum would do within a minute — clear
/// the dead versions of the per-project counter rows the triggers updated once per insert,
/// and give the planner statistics of the new rows — so a benchmark measures the steady state.
#[cfg(feature = "seed")]
pub(crate) const AFTER_BULK_LOAD: &[&str] = &["VACUUM ANALYZE cluster_counts", "ANALYZE clusters"];
pub(crate) const NAME: &str = "postgres";
/// Appended to a text column in ORDER BY: byte order, whatever the database's collation.
pub(crate) const BYTE_ORDER: &str = " COLLATE \"C\"";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store.
#[derive(Clone)]
pub struct Backend {
    pool: sqlx::PgPool,
}

/// The PostgreSQL store.
pub type PgStore = Backend;

/// Write transactions run at READ COMMITTED; races are settled by constraints and
/// conditional updates, never by reading first.
pub(crate) async fn begin_write(pool: &sqlx::PgPool) -> Result<sqlx::Transaction<'static, Db>> {
    pool.begin().await.map_err(common::db)
}

const IDENTITY_CHANNEL: &str = "dbcloud_identity";

/// `NOTIFY`s the other replicas that keys or grants changed.
pub(crate) async fn publish_identity_change(pool: &sqlx::PgPool) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(IDENTITY_CHANNEL).execute(pool).await.map_err(common::db)?;
    Ok(())
}

/// `LISTEN`s for identity changes; a connection loss is reported as a change too, since
/// notices may have been missed meanwhile.
pub(crate) async fn identity_changes(pool: &sqlx::PgPool) -> Result<Option<tokio::sync::mpsc::Receiver<()>>> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.map_err(common::db)?;
    listener.listen(IDENTITY_CHANNEL).await.map_err(common::db)?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let r = listener.recv().await;
            if r.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if tx.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok(Some(rx))
}

impl Backend {
    /// Connects to `url` and applies migrations. With `schema`, every connection works in
    /// that schema (created if missing): the conformance tests give each test its own.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut opts = PgConnectOptions::from_str(url).map_err(|e| Error::Internal(format!("bad database url: {e}")))?;
        if let Some(s) = schema {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(|e| Error::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
            let ddl = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", s.replace('"', ""));
            sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&admin).await.map_err(common::db)?;
            admin.close().await;
            opts = opts.options([("search_path", s)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        MIGRATOR.run(&pool).await.map_err(|e| Error::Internal(format!("migrations: {e}")))?;
        Ok(Backend { pool })
    }
}
