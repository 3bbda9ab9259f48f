//! The simulated provisioner: nodes come up (and go away) one by one, with a configurable
//! delay per step and a configurable fraction of creations that fail.

use crate::{Provisioner, Step};
use async_trait::async_trait;
use dbcloud_store::{ClusterPatch, OperationStep};
use dbcloud_types::*;
use std::time::Duration;

/// Settings of the simulated provisioner.
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    /// Time each step takes.
    pub step_delay: Duration,
    /// Fraction (0.0–1.0) of cluster creations that fail.
    pub failure_rate: f64,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig { step_delay: Duration::from_secs(2), failure_rate: 0.0 }
    }
}

/// The simulated driver.
#[derive(Debug, Clone, Default)]
pub struct Simulated {
    cfg: SimulatedConfig,
}

impl Simulated {
    /// A simulated provisioner with `cfg`.
    pub fn new(cfg: SimulatedConfig) -> Self {
        Simulated { cfg }
    }

    /// Whether this operation is one of the injected failures. Decided from the operation
    /// id, so the decision survives restarts.
    fn fails(&self, op: &Operation) -> bool {
        let bucket = (op.id.as_u128() % 10_000) as f64;
        bucket < self.cfg.failure_rate * 10_000.0
    }
}

fn node(c: &Cluster, i: usize, status: NodeStatus) -> Node {
    Node { name: format!("{}-node-{}", c.name, i + 1), status }
}

fn progress(done: usize, total: usize) -> i32 {
    (done * 90).checked_div(total).map_or(95, |p| p.min(95) as i32)
}

fn running(step: String, progress: i32) -> OperationStep {
    OperationStep { status: OperationStatus::InProgress, step, progress, error: None }
}

fn succeeded(step: &str) -> OperationStep {
    OperationStep { status: OperationStatus::Succeeded, step: step.into(), progress: 100, error: None }
}

/// Endpoints of a ready cluster, derived from its name and id.
fn endpoints(c: &Cluster) -> Vec<Endpoint> {
    let host = format!("{}-{}.dbcloud.local", c.name, &c.id.simple().to_string()[24..]);
    vec![Endpoint { kind: "sql".into(), host: host.clone(), port: 5432 }, Endpoint { kind: "http".into(), host, port: 8443 }]
}

/// One node transition towards `target` nodes, all LIVE: bring the newest node LIVE, add
/// a node, or remove one. `None` when the layout is already at the target.
fn converge(c: &Cluster, target: usize) -> Option<(String, Vec<Node>)> {
    let mut nodes = c.nodes.clone();
    if let Some(last) = nodes.last_mut().filter(|n| n.status == NodeStatus::NotReady) {
        last.status = NodeStatus::Live;
        let text = format!("node {} of {target} is LIVE", nodes.len());
        return Some((text, nodes));
    }
    if nodes.len() < target {
        nodes.push(node(c, nodes.len(), NodeStatus::NotReady));
        let text = format!("starting node {} of {target}", nodes.len());
        return Some((text, nodes));
    }
    if nodes.len() > target {
        let gone = nodes.pop().map(|n| n.name).unwrap_or_default();
        return Some((format!("decommissioned {gone}"), nodes));
    }
    None
}

#[async_trait]
impl Provisioner for Simulated {
    fn name(&self) -> &'static str {
        "simulated"
    }

    /// A self-signed Ed25519 CA certificate per cluster, derived only from the cluster's id
    /// and creation time, so every replica and restart answers the same PEM (see [`crate::ca`];
    /// simulated: its key is derivable, it protects nothing).
    fn ca_certificate(&self, c: &Cluster) -> Option<String> {
        Some(crate::ca::simulated_ca_pem(c.id, &c.name, c.created_at))
    }

    async fn next_step(&self, op: &Operation, c: &Cluster) -> Step {
        if !self.cfg.step_delay.is_zero() {
            tokio::time::sleep(self.cfg.step_delay).await;
        }
        match op.kind {
            OperationKind::Create => {
                let target = c.node_count.max(1) as usize;
                if self.fails(op) && c.nodes.len() * 2 >= target {
                    let reason = format!("simulated provisioning failure: node {} of {target} did not become ready", c.nodes.len().max(1));
                    return Step {
                        operation: OperationStep {
                            status: OperationStatus::Failed,
                            step: "failed".into(),
                            progress: progress(c.nodes.len(), target),
                            error: Some(reason.clone()),
                        },
                        cluster: ClusterPatch { state: Some(ClusterState::CreationFailed), failure_reason: Some(reason), ..Default::default() },
                    };
                }
                match converge(c, target) {
                    Some((text, nodes)) => {
                        Step { operation: running(text, progress(nodes.len(), target)), cluster: ClusterPatch { nodes: Some(nodes), ..Default::default() } }
                    }
                    None => Step {
                        operation: succeeded("cluster is ready"),
                        cluster: ClusterPatch { state: Some(ClusterState::Created), endpoints: Some(endpoints(c)), ..Default::default() },
                    },
                }
            }
            OperationKind::Scale => {
                let target = op.params.get("node_count").and_then(|v| v.as_i64()).unwrap_or(c.node_count as i64).max(1);
                match converge(c, target as usize) {
                    Some((text, nodes)) => Step {
                        operation: running(text, progress(nodes.len(), target as usize)),
                        cluster: ClusterPatch { nodes: Some(nodes), ..Default::default() },
                    },
                    None => Step {
                        operation: succeeded("scaled"),
                        cluster: ClusterPatch { state: Some(ClusterState::Created), node_count: Some(target as i32), ..Default::default() },
                    },
                }
            }
            OperationKind::Delete => match converge(c, 0) {
                Some((text, nodes)) => Step {
                    operation: running(text, 90 - progress(nodes.len(), c.nodes.len().max(1))),
                    cluster: ClusterPatch { nodes: Some(nodes), ..Default::default() },
                },
                None => Step {
                    operation: succeeded("cluster deleted"),
                    cluster: ClusterPatch { state: Some(ClusterState::Deleted), endpoints: Some(vec![]), ..Default::default() },
                },
            },
            OperationKind::Upgrade => {
                // The target version is a parameter of the operation (`version`); an upgrade
                // recorded without one leaves the version as it is.
                let version = op.params.get("version").and_then(|v| v.as_str()).map(str::to_string);
                Step { operation: succeeded("upgraded"), cluster: ClusterPatch { state: Some(ClusterState::Created), version, ..Default::default() } }
            }
            OperationKind::Suspend | OperationKind::Resume => {
                let suspended = op.kind == OperationKind::Suspend;
                let mut attributes = serde_json::Map::new();
                attributes.insert(dbcloud_core::cluster::SUSPENDED_ATTRIBUTE.into(), serde_json::Value::Bool(suspended));
                Step {
                    operation: succeeded(if suspended { "suspended" } else { "resumed" }),
                    cluster: ClusterPatch { state: Some(ClusterState::Created), attributes: Some(attributes), ..Default::default() },
                }
            }
            // The store replaced the list already; applying it changes no cluster field.
            OperationKind::AllowlistUpdate => Step { operation: succeeded("allow list applied"), cluster: ClusterPatch::default() },
        }
    }
}
