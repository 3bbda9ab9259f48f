//! The provisioner the runner uses: operations of clusters whose cloud is `local` go to the
//! [`LocalDriver`], every other one to the [`Simulated`] provisioner (the stand-in for
//! vendor clouds).

use crate::local::LocalDriver;
use crate::simulated::Simulated;
use crate::{Provisioner, Step};
use async_trait::async_trait;
use dbcloud_store::{ClusterPatch, OperationStep, Store};
use dbcloud_types::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The local provider of this server: a driver, or why there is none (a message for a
/// person, answered as a 400 to creates on `local`).
#[derive(Clone, Debug)]
pub enum LocalEngine {
    /// The driver runs clusters of `local` clouds.
    Ready(Arc<LocalDriver>),
    /// The local provider cannot run clusters here, and why.
    Unavailable(String),
}

impl LocalEngine {
    /// The driver, when there is one.
    pub fn driver(&self) -> Option<&Arc<LocalDriver>> {
        match self {
            LocalEngine::Ready(d) => Some(d),
            LocalEngine::Unavailable(_) => None,
        }
    }

    /// The version a `local` cluster gets for `requested` (the newest installed major when
    /// `None`), or a message saying what is installed or how to install PostgreSQL.
    pub fn resolve_version(&self, requested: Option<&str>) -> Result<String, String> {
        let d = match self {
            LocalEngine::Ready(d) => d,
            LocalEngine::Unavailable(why) => return Err(why.clone()),
        };
        match requested {
            Some(v) => d.check_version(v).map(|_| v.to_string()).map_err(|e| e.0),
            None => match d.default_version() {
                Some(v) => Ok(v),
                None => d.check_version("").map(|_| String::new()).map_err(|e| e.0),
            },
        }
    }
}

/// Sends each operation to the provisioner of its cluster's provider.
pub struct Dispatch {
    store: Arc<dyn Store>,
    simulated: Simulated,
    local: LocalEngine,
    /// Provider of each cloud seen (a cloud never changes provider).
    providers: Mutex<HashMap<Uuid, Provider>>,
}

impl Dispatch {
    /// A dispatcher over `store` (to read the provider of a cluster's cloud).
    pub fn new(store: Arc<dyn Store>, simulated: Simulated, local: LocalEngine) -> Self {
        Dispatch { store, simulated, local, providers: Mutex::new(HashMap::new()) }
    }

    /// The provider of `c`'s cloud.
    pub async fn provider_of(&self, c: &Cluster) -> dbcloud_core::Result<Provider> {
        if let Some(p) = self.providers.lock().expect("lock").get(&c.cloud_id) {
            return Ok(*p);
        }
        let cloud = self.store.get_cloud(c.organization_id, c.cloud_id).await?;
        self.providers.lock().expect("lock").insert(c.cloud_id, cloud.provider);
        Ok(cloud.provider)
    }
}

#[async_trait]
impl Provisioner for Dispatch {
    fn name(&self) -> &'static str {
        "dispatch (simulated, local)"
    }

    async fn next_step(&self, op: &Operation, c: &Cluster) -> Step {
        match self.provider_of(c).await {
            Ok(Provider::Local) => match &self.local {
                LocalEngine::Ready(d) => d.next_step(op, c).await,
                LocalEngine::Unavailable(why) => {
                    let operation = OperationStep { status: OperationStatus::Failed, step: "failed".into(), progress: op.progress, error: Some(why.clone()) };
                    let cluster = if op.kind == OperationKind::Create {
                        ClusterPatch { state: Some(ClusterState::CreationFailed), failure_reason: Some(why.clone()), ..Default::default() }
                    } else if op.kind == OperationKind::Delete {
                        ClusterPatch { state: Some(ClusterState::Deleted), nodes: Some(vec![]), endpoints: Some(vec![]), ..Default::default() }
                    } else {
                        ClusterPatch { state: Some(ClusterState::Created), ..Default::default() }
                    };
                    let operation = if op.kind == OperationKind::Delete {
                        OperationStep { status: OperationStatus::Succeeded, step: "cluster deleted".into(), progress: 100, error: None }
                    } else {
                        operation
                    };
                    Step { operation, cluster }
                }
            },
            Ok(_) => self.simulated.next_step(op, c).await,
            Err(e) => {
                // The store did not answer: the same step again after a pause.
                tracing::warn!(cluster = %c.id, error = %e, "cannot read the cluster's cloud; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Step {
                    operation: OperationStep { status: op.status, step: op.step.clone(), progress: op.progress, error: None },
                    cluster: ClusterPatch::default(),
                }
            }
        }
    }

    fn ca_certificate(&self, c: &Cluster) -> Option<String> {
        // Only clusters of the local driver have a directory of theirs.
        if let Some(d) = self.local.driver()
            && let Some(pem) = d.ca_certificate(c)
        {
            return Some(pem);
        }
        if self.providers.lock().expect("lock").get(&c.cloud_id) == Some(&Provider::Local) {
            return None;
        }
        self.simulated.ca_certificate(c)
    }
}
