//! The SQLite backend: the embedded default (WAL, one file in the data directory).

use dbcloud_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
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

pub(crate) type Db = sqlx::Sqlite;
/// Run after a bulk seed (`seed` feature): fold the write-ahead log into the database file,
/// as the automatic checkpoint does once readers let it, so a benchmark measures the steady
/// state rather than reads through a 100 MB log.
#[cfg(feature = "seed")]
pub(crate) const AFTER_BULK_LOAD: &[&str] = &["PRAGMA wal_checkpoint(TRUNCATE)"];
pub(crate) const NAME: &str = "sqlite";
/// Appended to a text column in ORDER BY: byte order (SQLite's default BINARY collation).
pub(crate) const BYTE_ORDER: &str = "";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Clone)]
pub struct Backend {
    pool: sqlx::SqlitePool,
}

/// The SQLite store.
pub type SqliteStore = Backend;

/// Write transactions take the write lock up front (`BEGIN IMMEDIATE`), so a transaction
/// that reads then writes never fails on a lock upgrade.
pub(crate) async fn begin_write(pool: &sqlx::SqlitePool) -> Result<sqlx::Transaction<'static, Db>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(common::db)
}

/// One process owns a SQLite store: there is no other replica to tell.
pub(crate) async fn publish_identity_change(_: &sqlx::SqlitePool) -> Result<()> {
    Ok(())
}

/// One process owns a SQLite store: no notices.
pub(crate) async fn identity_changes(_: &sqlx::SqlitePool) -> Result<Option<tokio::sync::mpsc::Receiver<()>>> {
    Ok(None)
}

/// Makes the database readable by this user only: creates the file with mode 0600 if it is
/// new (SQLite then gives its `-wal` and `-shm` files the same mode) and narrows an
/// existing database and its `-wal` / `-shm` files to 0600.
fn private_files(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            match std::fs::metadata(file) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Bytes of the database file mapped into memory for reads (address space, filled only as
/// pages are read, and given back by the OS under pressure).
pub const MMAP_SIZE: u64 = 1 << 30;

impl Backend {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        private_files(path).map_err(|e| Error::Unavailable(format!("cannot restrict {}: {e}", path.display())))?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| Error::Internal(format!("bad sqlite path: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Reads go through a shared memory map of the file (no read() per page missed in
            // a connection's own cache), so a page of a large table costs what it costs in a
            // small one; each connection keeps 8 MiB of pages of its own.
            .pragma("mmap_size", MMAP_SIZE.to_string())
            .pragma("cache_size", "-8192");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        MIGRATOR.run(&pool).await.map_err(|e| Error::Internal(format!("migrations: {e}")))?;
        Ok(Backend { pool })
    }
}
