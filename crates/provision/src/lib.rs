#![forbid(unsafe_code)]
//! Provisioning: the [`Provisioner`] trait, the [`simulated`] driver, the [`local`] driver
//! (real PostgreSQL instances on this machine) and the leased operation [`runner`].
//!
//! A provisioner decides the next step of an operation from the persisted operation and
//! cluster; the runner persists each step (with the cluster change it implies) under a
//! lease, so a step is never lost and a restarted or other replica resumes exactly where
//! the last one stopped.

pub mod ca;
pub mod dispatch;
pub mod local;
pub mod runner;
pub mod simulated;
pub mod store_catalog;

use async_trait::async_trait;
use dbcloud_store::{ClusterPatch, OperationStep};
use dbcloud_types::{Cluster, Operation};

/// The next step of an operation: what to record on the operation and on its cluster.
#[derive(Debug, Clone)]
pub struct Step {
    /// The operation's new status, step text, progress and error.
    pub operation: OperationStep,
    /// The cluster change the step makes.
    pub cluster: ClusterPatch,
}

/// Carries out operations. Implementations must be resumable: given the operation and
/// cluster as persisted, they return the next step, whatever happened before a restart.
#[async_trait]
pub trait Provisioner: Send + Sync + 'static {
    /// A short name for logs (`simulated`, …).
    fn name(&self) -> &'static str;
    /// Does the work of the next step and describes its outcome.
    async fn next_step(&self, op: &Operation, cluster: &Cluster) -> Step;
    /// The PEM certificate of the CA that signs the cluster's server certificates, when the
    /// provisioner issues one (clients pin it to verify TLS connections to the cluster).
    fn ca_certificate(&self, _cluster: &Cluster) -> Option<String> {
        None
    }
}
