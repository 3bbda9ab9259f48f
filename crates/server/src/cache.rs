//! The per-replica cache of single-cluster reads lives in the service layer.

pub use dbcloud_app::cache::*;
