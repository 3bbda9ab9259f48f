//! Start-up of the local PostgreSQL provider: the driver (never fatal: without PostgreSQL,
//! or without a usable OS account, creates on `local` answer why), its warm-up, and the
//! supervisor of the local clusters this replica holds.
//!
//! Several replicas on one host share the port space (ports are reserved per host name in
//! the store) and the data directory; each cluster's processes are supervised by exactly
//! one replica at a time (a lease in the store, renewed on every pass, taken over when it
//! expires), and operations keep their own leases. A multi-host deployment needs more than
//! this: a `local` cluster's data lives on the host that created it, so every replica that
//! may run its operations or supervise it must see the same data directory (shared storage)
//! and reach its instances at the same addresses (`--pg-endpoint-host` a name every host and
//! client resolves, `--pg-listen-address` an address clients can reach); otherwise run the
//! `local` provider on one replica only, with `--data-dir` on that host.

use crate::ServerConfig;
use dbcloud_provision::dispatch::LocalEngine;
use dbcloud_provision::local::{LocalCatalog, LocalDriver};
use dbcloud_provision::runner::RunnerConfig;
use dbcloud_provision::store_catalog::{StoreCatalog, host_name};
use dbcloud_store::Store;
use std::sync::Arc;

/// The local engine of `cfg`: a driver (its template warmed up in the background) or the
/// reason there is none.
pub fn engine(store: &Arc<dyn Store>, cfg: &ServerConfig, runner: &RunnerConfig) -> LocalEngine {
    let Some(local) = cfg.local.clone() else {
        return LocalEngine::Unavailable("the local provider is not enabled on this server".into());
    };
    let catalog: Arc<dyn LocalCatalog> = Arc::new(StoreCatalog::new(
        store.clone(),
        cfg.auth.master_key.clone(),
        host_name(),
        runner.owner.clone(),
        runner.lease.max(std::time::Duration::from_secs(10)),
    ));
    match LocalDriver::new(local, catalog) {
        Ok(driver) => {
            let driver = Arc::new(driver);
            tracing::info!(versions = ?driver.versions(), os_user = ?driver.os_user(), "local PostgreSQL provider ready");
            if !driver.versions().is_empty() {
                let d = driver.clone();
                tokio::spawn(async move {
                    if let Err(e) = d.warm_up().await {
                        tracing::warn!(error = %e, "local provider: warm-up failed (the first create prepares the template)");
                    }
                });
            } else {
                tracing::warn!("local provider: no PostgreSQL server installed; creates on `local` are refused until one is");
            }
            LocalEngine::Ready(driver)
        }
        Err(e) => {
            tracing::warn!(error = %e, "local provider unavailable");
            LocalEngine::Unavailable(e.0)
        }
    }
}

/// How often the supervisor looks at the processes of local clusters.
pub const SUPERVISE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the supervisor of the local clusters this replica holds, until `shutdown`: each
/// node status change it sees goes to the cluster's node list (unless an operation runs)
/// and to the audit log (`cluster.node_status`, actor `system`).
pub fn spawn_supervisor(engine: &LocalEngine, store: Arc<dyn Store>, clusters: Arc<crate::cache::ClusterCache>, shutdown: tokio::sync::watch::Receiver<bool>) {
    let Some(driver) = engine.driver().cloned() else { return };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<dbcloud_provision::local::NodeEvent>();
    tokio::spawn(driver.supervise(SUPERVISE_INTERVAL, move |e| drop(tx.send(e)), shutdown));
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            let org = match store.local_set_node_status(e.cluster_id, e.index, e.status).await {
                Ok(Some(org)) => org,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(cluster = %e.cluster_id, error = %err, "local supervisor: cannot record a node status");
                    continue;
                }
            };
            clusters.invalidate(e.cluster_id);
            let event = dbcloud_store::AuditEvent {
                id: dbcloud_core::new_id(),
                organization_id: Some(org),
                time: dbcloud_core::now(),
                actor: "system".into(),
                source_ip: String::new(),
                action: "cluster.node_status".into(),
                target: format!("cluster:{}", e.cluster_id),
                outcome: "success".into(),
                request_id: String::new(),
                details: serde_json::json!({ "node": e.node, "status": e.status, "detail": e.detail }),
            };
            if let Err(err) = store.append_audit(&event).await {
                tracing::warn!(cluster = %e.cluster_id, error = %err, "local supervisor: cannot write the audit record");
            }
        }
    });
}
