//! The supervisor: watches the instances of the clusters this replica supervises (see
//! [`super::LocalCatalog::supervised`]), reports node status changes, restarts nodes that
//! died, and rewrites `pg_hba.conf` when a temporary allow-list entry expires.
//!
//! Clusters with a running operation, not in state `CREATED`, or suspended are left alone
//! (the operation, or a resume, owns their processes then).

use super::instance::{health, running_pid};
use super::{LocalDriver, node_name};
use dbcloud_types::{ClusterState, NodeStatus};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

/// A change of a node's status seen by the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    /// The cluster.
    pub cluster_id: Uuid,
    /// Node index (1 is the primary).
    pub index: u32,
    /// Node name, as in the cluster's node list.
    pub node: String,
    /// New status.
    pub status: NodeStatus,
    /// What happened, for a person (e.g. `node 2 is not running; restarting`).
    pub detail: String,
}

impl LocalDriver {
    /// One pass over the supervised clusters (concurrently); returns the events of this pass.
    pub async fn supervise_once(self: &Arc<Self>) -> Vec<NodeEvent> {
        let clusters = match self.catalog.supervised().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "local supervisor: cannot list clusters");
                return vec![];
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for s in clusters {
            let suspended = s.cluster.attributes.get(dbcloud_core::cluster::SUSPENDED_ATTRIBUTE).and_then(|v| v.as_bool()).unwrap_or(false);
            if s.busy || suspended || s.cluster.state != ClusterState::Created {
                continue;
            }
            let me = self.clone();
            tasks.spawn(async move { me.check_cluster(&s.cluster).await });
        }
        let mut events = vec![];
        while let Some(r) = tasks.join_next().await {
            events.extend(r.unwrap_or_default());
        }
        events
    }

    async fn check_cluster(&self, c: &dbcloud_types::Cluster) -> Vec<NodeEvent> {
        let seen = &self.seen;
        let lock = self.lock_of(c.id);
        let Ok(_guard) = lock.try_lock() else { return vec![] };
        let dir = self.cluster_dir(c.id);
        let mut events = vec![];
        // A temporary allow-list entry expired: regenerate pg_hba.conf without it.
        let applied = self.applied.lock().expect("lock").get(&c.id).cloned();
        if let Some(list) = applied
            && list.iter().any(|e| e.expires_at.is_some_and(|t| t <= OffsetDateTime::now_utc()))
        {
            let live: Vec<_> = list.into_iter().filter(|e| e.expires_at.is_none_or(|t| t > OffsetDateTime::now_utc())).collect();
            if let Err(e) = self.apply_hba(c, &live, &mut vec![]).await {
                tracing::warn!(cluster = %c.id, error = %e, "local supervisor: cannot rewrite pg_hba.conf");
            }
        }
        let Ok(ports) = self.catalog.ports(c.id).await else { return events };
        for i in 1..=c.node_count.max(1) as u32 {
            let Some(port) = ports.get(&i).copied() else { continue };
            let node = node_name(c, i);
            let reported = c.nodes.get(i as usize - 1).map(|n| n.status).unwrap_or(NodeStatus::NotReady);
            seen.lock().expect("lock").entry((c.id, i)).or_insert(reported);
            let mut emit = |status: NodeStatus, detail: String| {
                let mut s = seen.lock().expect("lock");
                if s.get(&(c.id, i)) != Some(&status) {
                    s.insert((c.id, i), status);
                    events.push(NodeEvent { cluster_id: c.id, index: i, node: node.clone(), status, detail });
                }
            };
            match health(&dir, port, i > 1).await {
                Ok(()) => emit(NodeStatus::Live, format!("node {i} is LIVE")),
                Err(e) if running_pid(&super::instance::node_dir(&dir, i)).is_some() => {
                    emit(NodeStatus::NotReady, format!("node {i} is running but not ready: {e}"));
                }
                Err(_) => {
                    emit(NodeStatus::NotReady, format!("node {i} is not running; restarting it"));
                    match self.start_node(&dir, i, port).await {
                        Ok(()) => emit(NodeStatus::Live, format!("node {i} was restarted and is LIVE")),
                        Err(e) => tracing::warn!(cluster = %c.id, node = i, error = %e, "local supervisor: restart failed"),
                    }
                }
            }
        }
        events
    }

    /// Supervises until `shutdown` turns true: a pass every `interval`, each event handed
    /// to `on_event` (the wiring maps it to the cluster's nodes, health and an audit record).
    pub async fn supervise(self: Arc<Self>, interval: Duration, on_event: impl Fn(NodeEvent) + Send + Sync + 'static, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            for e in self.supervise_once().await {
                tracing::info!(cluster = %e.cluster_id, node = %e.node, status = %e.status, detail = %e.detail, "local node status");
                on_event(e);
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
