//! A short-lived per-replica cache of single-cluster reads (a cluster get on any surface and the
//! authorization lookup of every call on a cluster), so an authenticated read does not cost a
//! store round trip each time.
//!
//! Every change this replica makes to a cluster — through the API or its operation runner —
//! drops the entry at once, so a replica always reads its own writes (with SQLite, the only
//! writer is this process, so reads are exact). Changes made by another replica sharing a
//! PostgreSQL become visible within [`TTL`].

use dbcloud_types::Cluster;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an entry is served without reading the store again.
pub const TTL: Duration = Duration::from_millis(250);

/// The cache.
#[derive(Default)]
pub struct ClusterCache {
    map: RwLock<HashMap<Uuid, (Instant, Cluster)>>,
}

impl ClusterCache {
    /// A fresh entry for cluster `id` of organization `org`.
    pub fn get(&self, org: Uuid, id: Uuid) -> Option<Cluster> {
        let map = self.map.read().expect("cluster cache");
        map.get(&id).filter(|(at, c)| at.elapsed() < TTL && c.organization_id == org).map(|(_, c)| c.clone())
    }

    /// Remembers a cluster just read from the store.
    pub fn put(&self, c: &Cluster) {
        let mut map = self.map.write().expect("cluster cache");
        if map.len() > 50_000 {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        map.insert(c.id, (Instant::now(), c.clone()));
    }

    /// Forgets a cluster (after any change to it).
    pub fn invalidate(&self, id: Uuid) {
        self.map.write().expect("cluster cache").remove(&id);
    }
}
