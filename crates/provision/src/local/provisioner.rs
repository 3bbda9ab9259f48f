//! The [`Provisioner`] implementation: every operation of a `local` cluster, one idempotent
//! step at a time, each decided from the persisted cluster and what is on disk and running.
//!
//! - create / scale: converge to `node_count` nodes — node 1 from the template, node i > 1
//!   by `pg_basebackup`; one node started (or adopted) and found healthy per step; surplus
//!   standbys stopped and removed one per step; then roles, databases and `pg_hba.conf` are
//!   reconciled and the endpoints set;
//! - suspend / resume: stop / start every node, data kept;
//! - upgrade: to the cluster's own major (a no-op); another installed major is refused with
//!   a clear error for now (`pg_upgrade` is not wired yet); a version not installed fails;
//! - allow-list update: `pg_hba.conf` regenerated from the catalog and reloaded;
//! - delete: every node stopped, the cluster directory removed, its ports freed.

use super::instance::{node_dir, remove_tree, running_pid, socket_dir};
use super::{LocalDriver, Result, err, exists, node_name};
use crate::{Provisioner, Step};
use async_trait::async_trait;
use dbcloud_store::{ClusterPatch, OperationStep};
use dbcloud_types::*;
use std::path::Path;

fn running(step: String, progress: i32) -> OperationStep {
    OperationStep { status: OperationStatus::InProgress, step, progress, error: None }
}

fn succeeded(step: &str) -> OperationStep {
    OperationStep { status: OperationStatus::Succeeded, step: step.into(), progress: 100, error: None }
}

fn suspended_attr(value: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(dbcloud_core::cluster::SUSPENDED_ATTRIBUTE.into(), serde_json::Value::Bool(value));
    m
}

/// Indices of the node data directories present in `cluster_dir`, ascending.
pub fn node_indices(cluster_dir: &Path) -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir(cluster_dir)
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix("node-")?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

impl LocalDriver {
    /// The cluster directory with its socket directory, TLS files and a first `pg_hba.conf`.
    async fn prepare_cluster_dir(&self, c: &Cluster) -> Result<()> {
        let dir = self.cluster_dir(c.id);
        let sock = socket_dir(&dir);
        let path_len = sock.join(".s.PGSQL.65535.lock").as_os_str().len();
        if path_len > 107 {
            return Err(err(format!("the data directory path is too long for PostgreSQL's Unix sockets ({path_len} > 107 bytes); use a shorter --data-dir")));
        }
        for d in [&dir, &sock, &dir.join("tls")] {
            if !exists(d) {
                std::fs::create_dir_all(d).map_err(|e| err(format!("{}: {e}", d.display())))?;
            }
            self.run_as.own(d)?;
        }
        self.ensure_tls(c).await?;
        if !exists(&dir.join("pg_hba.conf")) {
            let desired = self.catalog.desired(c.id).await?;
            self.apply_hba(c, &desired.allowlist, &mut vec![]).await?;
        }
        Ok(())
    }

    /// The CA (from the catalog, created once) and a server certificate for the endpoint
    /// host, written to `<cluster>/tls/`; re-issued when the endpoint host changed.
    async fn ensure_tls(&self, c: &Cluster) -> Result<()> {
        let tls = self.cluster_dir(c.id).join("tls");
        let hosts = vec![self.cfg.endpoint_host.clone(), self.cfg.listen_address.clone(), "localhost".into(), "127.0.0.1".into()];
        let stamp = hosts.join("\n");
        if std::fs::read_to_string(tls.join("hosts")).ok().as_deref() == Some(stamp.as_str()) && exists(&tls.join("server.key")) {
            return Ok(());
        }
        let ca = match self.catalog.load_ca(c.id).await? {
            Some(ca) => ca,
            None => {
                self.catalog.save_ca(c.id, &super::tls::new_ca(c.id)?).await?;
                self.catalog.load_ca(c.id).await?.ok_or_else(|| err("the cluster CA was not kept by the catalog"))?
            }
        };
        let (cert, key) = super::tls::server_cert(c.id, &ca, &hosts)?;
        for (name, text) in [("ca.crt", ca.cert_pem.as_str()), ("server.crt", cert.as_str()), ("server.key", key.as_str()), ("hosts", stamp.as_str())] {
            let path = tls.join(name);
            std::fs::write(&path, text).map_err(|e| err(format!("{}: {e}", path.display())))?;
            self.run_as.own(&path)?;
        }
        Ok(())
    }

    /// The port of node `i`: the catalog's, re-assigned when another program holds it.
    async fn node_port(&self, c: &Cluster, i: u32) -> Result<u16> {
        let mut avoid = vec![];
        loop {
            let port = self.catalog.assign_port(c.id, i, self.cfg.port_range.clone(), &avoid).await?;
            if running_pid(&node_dir(&self.cluster_dir(c.id), i)).is_some() || std::net::TcpListener::bind((self.cfg.listen_address.as_str(), port)).is_ok() {
                return Ok(port);
            }
            if avoid.len() >= 64 {
                return Err(err(format!("no usable port for node {i}: ports {avoid:?} are taken by other programs")));
            }
            avoid.push(port);
            self.catalog.release_ports(c.id, Some(i)).await?;
        }
    }

    /// One step towards `target` nodes, all healthy; `None` when there.
    async fn converge(&self, c: &Cluster, target: u32) -> Result<Option<(String, Vec<Node>)>> {
        self.prepare_cluster_dir(c).await?;
        let dir = self.cluster_dir(c.id);
        let major = match super::instance::data_major(&node_dir(&dir, 1)) {
            Some(m) => m,
            None => super::install::check(&self.installs, &c.version)?.major,
        };
        let mut nodes = c.nodes.clone();
        let primary_port = self.node_port(c, 1).await?;
        for i in 1..=target {
            let port = if i == 1 { primary_port } else { self.node_port(c, i).await? };
            if i == 1 {
                self.init_primary(&dir, major, port).await?;
            } else {
                self.init_standby(&dir, i, primary_port, port).await?;
            }
            self.start_node(&dir, i, port).await?;
            // Nodes 1..=i are healthy now: report them so.
            let prefix: Vec<Node> = (1..=i).map(|j| Node { name: node_name(c, j), status: NodeStatus::Live }).collect();
            if nodes.get(..i as usize) != Some(&prefix[..]) {
                let rest = nodes.get(i as usize..).map(<[Node]>::to_vec).unwrap_or_default();
                nodes = prefix.into_iter().chain(rest).collect();
                return Ok(Some((format!("node {i} of {target} is LIVE"), nodes)));
            }
        }
        let on_disk = node_indices(&dir).into_iter().max().unwrap_or(0);
        let reported = self.catalog.ports(c.id).await?.keys().max().copied().unwrap_or(0);
        let highest = on_disk.max(nodes.len() as u32).max(reported);
        if highest > target {
            self.remove_standby(c.id, &dir, highest, Some(primary_port)).await?;
            nodes.truncate(highest as usize - 1);
            return Ok(Some((format!("removed node {highest}"), nodes)));
        }
        Ok(None)
    }

    /// Roles, databases and allow list from the catalog, then the endpoints.
    async fn finish(&self, c: &Cluster) -> Result<Vec<Endpoint>> {
        let desired = self.catalog.desired(c.id).await?;
        let report = self.reconcile_locked(c, &desired).await?;
        if !report.errors.is_empty() {
            tracing::warn!(cluster = %c.id, errors = ?report.errors, "local cluster: parts of the desired state were not applied");
        }
        Ok(self.endpoints(&self.catalog.ports(c.id).await?))
    }

    /// Stops every node, standbys first (immediately when the data is about to be removed).
    async fn stop_all(&self, dir: &Path, discard: bool) -> Result<()> {
        for i in node_indices(dir).into_iter().rev() {
            super::instance::stop_data_dir(&node_dir(dir, i), discard).await?;
        }
        Ok(())
    }

    async fn step(&self, op: &Operation, c: &Cluster) -> Result<Step> {
        let dir = self.cluster_dir(c.id);
        Ok(match op.kind {
            OperationKind::Create | OperationKind::Scale => {
                let target = op.params.get("node_count").and_then(|v| v.as_i64()).unwrap_or(c.node_count as i64).clamp(1, 64) as u32;
                match self.converge(c, target).await? {
                    Some((text, nodes)) => {
                        let progress = ((nodes.len() as u32 * 90) / target.max(1)).min(95) as i32;
                        Step { operation: running(text, progress), cluster: ClusterPatch { nodes: Some(nodes), ..Default::default() } }
                    }
                    None => {
                        let endpoints = self.finish(c).await?;
                        let done = if op.kind == OperationKind::Create { "cluster is ready" } else { "scaled" };
                        Step {
                            operation: succeeded(done),
                            cluster: ClusterPatch {
                                state: Some(ClusterState::Created),
                                endpoints: Some(endpoints),
                                node_count: Some(target as i32),
                                ..Default::default()
                            },
                        }
                    }
                }
            }
            OperationKind::Delete => {
                self.stop_all(&dir, true).await?;
                remove_tree(&dir)?;
                self.catalog.release_ports(c.id, None).await?;
                self.applied.lock().expect("lock").remove(&c.id);
                Step {
                    operation: succeeded("cluster deleted"),
                    cluster: ClusterPatch { state: Some(ClusterState::Deleted), nodes: Some(vec![]), endpoints: Some(vec![]), ..Default::default() },
                }
            }
            OperationKind::Suspend => {
                self.stop_all(&dir, false).await?;
                let nodes = c.nodes.iter().map(|n| Node { name: n.name.clone(), status: NodeStatus::NotReady }).collect();
                Step {
                    operation: succeeded("suspended"),
                    cluster: ClusterPatch {
                        state: Some(ClusterState::Created),
                        nodes: Some(nodes),
                        attributes: Some(suspended_attr(true)),
                        ..Default::default()
                    },
                }
            }
            OperationKind::Resume => {
                let ports = self.catalog.ports(c.id).await?;
                let mut nodes = vec![];
                for i in node_indices(&dir) {
                    let port = *ports.get(&i).ok_or_else(|| err(format!("node {i} has no port recorded")))?;
                    self.start_node(&dir, i, port).await?;
                    nodes.push(Node { name: node_name(c, i), status: NodeStatus::Live });
                }
                Step {
                    operation: succeeded("resumed"),
                    cluster: ClusterPatch {
                        state: Some(ClusterState::Created),
                        nodes: Some(nodes),
                        attributes: Some(suspended_attr(false)),
                        ..Default::default()
                    },
                }
            }
            OperationKind::Upgrade => {
                let wanted = op.params.get("version").and_then(|v| v.as_str()).unwrap_or(&c.version).to_string();
                let install = super::install::check(&self.installs, &wanted)?;
                let current = super::instance::data_major(&node_dir(&dir, 1)).unwrap_or(install.major);
                if install.major != current {
                    return Err(err(format!(
                        "upgrading a local cluster from PostgreSQL {current} to {} is not supported yet; the cluster is unchanged",
                        install.major
                    )));
                }
                Step {
                    operation: succeeded("upgraded"),
                    cluster: ClusterPatch { state: Some(ClusterState::Created), version: Some(install.major.to_string()), ..Default::default() },
                }
            }
            OperationKind::AllowlistUpdate => {
                let desired = self.catalog.desired(c.id).await?;
                let mut errors = vec![];
                self.apply_hba(c, &desired.allowlist, &mut errors).await?;
                if !errors.is_empty() {
                    tracing::warn!(cluster = %c.id, ?errors, "allow-list entries left out");
                }
                Step { operation: succeeded("allow list applied"), cluster: ClusterPatch::default() }
            }
        })
    }
}

#[async_trait]
impl Provisioner for LocalDriver {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn next_step(&self, op: &Operation, c: &Cluster) -> Step {
        let lock = self.lock_of(c.id);
        let _guard = lock.lock().await;
        match self.step(op, c).await {
            Ok(step) => step,
            Err(e) => {
                tracing::warn!(cluster = %c.id, operation = %op.id, kind = %op.kind, error = %e, "local operation failed");
                let operation = OperationStep { status: OperationStatus::Failed, step: "failed".into(), progress: op.progress, error: Some(e.0.clone()) };
                let cluster = if op.kind == OperationKind::Create {
                    ClusterPatch { state: Some(ClusterState::CreationFailed), failure_reason: Some(e.0), ..Default::default() }
                } else {
                    ClusterPatch { state: Some(ClusterState::Created), ..Default::default() }
                };
                Step { operation, cluster }
            }
        }
    }

    /// The cluster CA written at creation (`<cluster>/tls/ca.crt`).
    fn ca_certificate(&self, c: &Cluster) -> Option<String> {
        std::fs::read_to_string(self.cluster_dir(c.id).join("tls").join("ca.crt")).ok()
    }
}
