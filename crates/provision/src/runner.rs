//! The operation runner: claims running operations under a lease, drives them through
//! the provisioner step by step, and persists every step.
//!
//! Leases live in the store, so with several replicas exactly one runs each operation; a
//! replica that dies stops renewing and its operations are taken over once the lease
//! expires. A graceful shutdown releases the leases at once, and a replica restarted under
//! the same identity ([`RunnerConfig::owner`]) takes its own operations back when it starts.

use crate::Provisioner;
use dbcloud_core::time_to_ms;
use dbcloud_store::Store;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Identity of this replica in leases. It must be unique among live replicas: a runner
    /// starting under an identity takes back every lease held under it (a restart of the
    /// same replica resumes at once). Defaults to a fresh random one.
    pub owner: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// How often to look for work when not woken.
    pub poll_interval: Duration,
    /// Operations driven at once by this replica.
    pub max_concurrent: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            owner: format!("replica-{}", Uuid::new_v4().simple()),
            lease: Duration::from_secs(15),
            poll_interval: Duration::from_millis(500),
            max_concurrent: 64,
        }
    }
}

/// Drives operations to completion.
pub struct Runner {
    store: Arc<dyn Store>,
    provisioner: Arc<dyn Provisioner>,
    cfg: RunnerConfig,
    wake: Arc<Notify>,
    running: Mutex<HashSet<Uuid>>,
    observer: std::sync::OnceLock<Box<dyn Fn(Uuid) + Send + Sync>>,
}

impl Runner {
    /// A runner over `store` using `provisioner`.
    pub fn new(store: Arc<dyn Store>, provisioner: Arc<dyn Provisioner>, cfg: RunnerConfig) -> Arc<Self> {
        Arc::new(Runner { store, provisioner, cfg, wake: Arc::new(Notify::new()), running: Mutex::new(HashSet::new()), observer: std::sync::OnceLock::new() })
    }

    /// Calls `f` with the cluster id after every step this runner records (caches use it to
    /// drop what changed). Only the first observer is kept.
    pub fn observe(&self, f: impl Fn(Uuid) + Send + Sync + 'static) {
        let _ = self.observer.set(Box::new(f));
    }

    /// Wakes the runner to look for new operations now (after a local enqueue).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The provisioner operations run through (for what it answers directly, such as a
    /// cluster's CA certificate).
    pub fn provisioner(&self) -> &Arc<dyn Provisioner> {
        &self.provisioner
    }

    /// This replica's lease identity.
    pub fn owner(&self) -> &str {
        &self.cfg.owner
    }

    /// Runs until `shutdown` turns true, then stops driving and releases its leases.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.cfg.max_concurrent));
        let mut tasks = tokio::task::JoinSet::new();
        tracing::info!(owner = %self.cfg.owner, provisioner = self.provisioner.name(), "operation runner started");
        // Leases still held under this identity belong to an earlier run of this replica that
        // ended without releasing them (kill -9, power loss): take those operations back now
        // rather than waiting for the leases to expire.
        match self.store.release_leases(&self.cfg.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(operations = n, "resuming the operations of this replica's earlier run"),
            Err(e) => tracing::warn!(error = %e, "could not take back this replica's earlier leases; they resume when they expire"),
        }
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = permits.available_permits();
            if free > 0 {
                match self.store.claimable_operations(time_to_ms(time::OffsetDateTime::now_utc()), free as u32).await {
                    Ok(ids) => {
                        for id in ids {
                            if !self.running.lock().expect("lock").insert(id) {
                                continue;
                            }
                            let Ok(permit) = permits.clone().try_acquire_owned() else {
                                self.running.lock().expect("lock").remove(&id);
                                break;
                            };
                            let me = self.clone();
                            tasks.spawn(async move {
                                me.drive(id).await;
                                me.running.lock().expect("lock").remove(&id);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot list claimable operations"),
                }
            }
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.cfg.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        match self.store.release_leases(&self.cfg.owner).await {
            Ok(n) => tracing::info!(released = n, "operation runner stopped"),
            Err(e) => tracing::warn!(error = %e, "could not release leases"),
        }
    }

    /// Claims one operation and drives it until it ends or the lease is lost.
    async fn drive(&self, id: Uuid) {
        let lease_ms = self.cfg.lease.as_millis() as i64;
        let now = time_to_ms(time::OffsetDateTime::now_utc());
        let (mut op, mut cluster) = match self.store.claim_operation(id, &self.cfg.owner, now, lease_ms).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(operation = %id, error = %e, "claim failed");
                return;
            }
        };
        tracing::info!(operation = %id, cluster = %cluster.id, kind = %op.kind, "driving operation");
        loop {
            let step = self.provisioner.next_step(&op, &cluster).await;
            match self.store.advance_operation(id, &self.cfg.owner, lease_ms, &step.operation, &step.cluster).await {
                Ok(true) => {
                    if let Some(f) = self.observer.get() {
                        f(cluster.id);
                    }
                }
                Ok(false) => {
                    tracing::warn!(operation = %id, "lease lost; another replica continues");
                    return;
                }
                Err(e) => {
                    tracing::warn!(operation = %id, error = %e, "could not record step; will retry after the lease expires");
                    return;
                }
            }
            op.status = step.operation.status;
            op.step = step.operation.step;
            op.progress = step.operation.progress;
            op.error = step.operation.error;
            if let Some(s) = step.cluster.state {
                cluster.state = s;
            }
            if let Some(n) = step.cluster.nodes {
                cluster.nodes = n;
            }
            if let Some(n) = step.cluster.node_count {
                cluster.node_count = n;
            }
            if !op.status.is_active() {
                metrics::counter!("dbcloud_operations_finished_total", "kind" => op.kind.as_str(), "status" => op.status.as_str()).increment(1);
                tracing::info!(operation = %id, status = %op.status, "operation finished");
                return;
            }
        }
    }
}
