//! Synthetic data for benchmarks and tests (cargo feature `seed`; not in production builds).
//!
//! A caller opens the concrete store ([`crate::sqlite::SqliteStore`] or
//! [`crate::postgres::PgStore`]) and keeps it as both an `Arc<dyn Store>` and an
//! `Arc<dyn Seed>`:
//!
//! ```no_run
//! # async fn open(path: &std::path::Path) -> dbcloud_core::Result<()> {
//! use dbcloud_store::{Store, seed::Seed, sqlite::SqliteStore};
//! use std::sync::Arc;
//! let opened = Arc::new(SqliteStore::open(path).await?);
//! let (store, seeder): (Arc<dyn Store>, Arc<dyn Seed>) = (opened.clone(), opened);
//! # let _ = (store, seeder);
//! # Ok(())
//! # }
//! ```

use async_trait::async_trait;
use dbcloud_core::Result;
use uuid::Uuid;

/// Bulk inserts that bypass the service layer (no audit events, no operations).
#[async_trait]
pub trait Seed: Send + Sync + 'static {
    /// Inserts `count` CREATED clusters named `{prefix}-{i}` into `project` in one
    /// transaction; `AlreadyExists` when a name is taken.
    async fn seed_clusters(&self, org: Uuid, project: Uuid, cloud: Uuid, prefix: &str, count: u32) -> Result<()>;
}
