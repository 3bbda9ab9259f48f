#![forbid(unsafe_code)]
//! The dbcloud domain core: errors, validation, roles and permissions, the API key
//! format, the region catalogue, the cluster state machine and cursors.
//!
//! No HTTP and no SQL here: the store, the provisioner and every API surface build on it.

pub mod cluster;
pub mod crypto;
pub mod cursor;
pub mod error;
pub mod keys;
pub mod perms;
pub mod regions;
pub mod secret;
pub mod signing;
pub mod validate;

pub use error::{Error, Result};

/// A new time-ordered (v7) id.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// The current time, truncated to milliseconds (the precision the stores keep).
pub fn now() -> time::OffsetDateTime {
    ms_to_time(time_to_ms(time::OffsetDateTime::now_utc()))
}

/// Milliseconds since the Unix epoch.
pub fn time_to_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The time `ms` milliseconds after the Unix epoch (saturating at the representable range).
pub fn ms_to_time(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
