//! Cluster rules: the state machine, defaults and the checks of create and update requests.

use crate::error::Violations;
use crate::{Error, Result, validate};
use dbcloud_types::{Cluster, ClusterState, CreateCluster, OperationKind, Plan, UpdateCluster};

/// The version a cluster gets when the request names none.
pub const DEFAULT_VERSION: &str = "7.6.2";
/// Node count of a dedicated cluster when the request names none.
pub const DEFAULT_NODE_COUNT: i32 = 3;
/// Largest node count.
pub const MAX_NODE_COUNT: i32 = 32;
/// Largest spend limit (US cents per month).
pub const MAX_SPEND_LIMIT: i64 = 100_000_000;

/// Whether the state machine allows `from → to`.
pub fn can_transition(from: ClusterState, to: ClusterState) -> bool {
    use ClusterState::*;
    matches!(
        (from, to),
        (Creating, Created)
            | (Creating, CreationFailed)
            | (Created, Scaling)
            | (Created, Updating)
            | (Scaling, Created)
            | (Updating, Created)
            | (Created, Deleting)
            | (CreationFailed, Deleting)
            | (Deleting, Deleted)
    )
}

/// The validated, defaulted fields of a create request (project and cloud are resolved by
/// the service, which needs the store).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSpec {
    /// Name.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Version.
    pub version: String,
    /// Node count.
    pub node_count: i32,
    /// Node size; `None` means the provider's default.
    pub node_size: Option<String>,
    /// Spend limit (serverless only).
    pub spend_limit: Option<i64>,
}

fn check_spend_limit(v: i64) -> std::result::Result<i64, String> {
    if (0..=MAX_SPEND_LIMIT).contains(&v) { Ok(v) } else { Err(format!("must be between 0 and {MAX_SPEND_LIMIT}")) }
}

fn check_node_count(v: i32) -> std::result::Result<i32, String> {
    if (1..=MAX_NODE_COUNT).contains(&v) { Ok(v) } else { Err(format!("must be between 1 and {MAX_NODE_COUNT}")) }
}

/// Validates a create request and fills in defaults. Reports every bad field at once.
pub fn check_create(req: &CreateCluster) -> Result<CreateSpec> {
    let mut v = Violations::new();
    let name = v.check("name", validate::cluster_name(&req.name));
    let plan = req.plan.unwrap_or(Plan::Dedicated);
    let version = v.check("version", validate::version(req.version.as_deref().unwrap_or(DEFAULT_VERSION)));
    let node_size = match &req.node_size {
        Some(s) => v.check("node_size", validate::node_size(s)).map(Some),
        None => Some(None),
    };
    let node_count = match (plan, req.node_count) {
        (Plan::Serverless, None | Some(1)) => Some(1),
        (Plan::Serverless, Some(_)) => {
            v.add("node_count", "serverless clusters have exactly one node");
            None
        }
        (Plan::Dedicated, n) => v.check("node_count", check_node_count(n.unwrap_or(DEFAULT_NODE_COUNT))),
    };
    let spend_limit = match (plan, req.spend_limit) {
        (_, None) => Some(None),
        (Plan::Serverless, Some(s)) => v.check("spend_limit", check_spend_limit(s)).map(Some),
        (Plan::Dedicated, Some(_)) => {
            v.add("spend_limit", "only serverless clusters have a spend limit");
            None
        }
    };
    match (req.cloud_id, req.provider, &req.region) {
        (Some(_), None, None) => {}
        (Some(_), _, _) => v.add("cloud_id", "give either cloud_id or provider and region, not both"),
        (None, Some(_), Some(_)) => {}
        (None, _, _) => v.add("cloud_id", "required unless provider and region are given"),
    }
    v.finish()?;
    Ok(CreateSpec {
        name: name.expect("checked"),
        plan,
        version: version.expect("checked"),
        node_count: node_count.expect("checked"),
        node_size: node_size.expect("checked"),
        spend_limit: spend_limit.expect("checked"),
    })
}

/// What an update request changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdatePlan {
    /// New name.
    pub name: Option<String>,
    /// New spend limit.
    pub spend_limit: Option<i64>,
    /// New node count (needs a scale operation).
    pub scale_to: Option<i32>,
}

/// Validates an update request against the cluster as it is.
pub fn check_update(c: &Cluster, req: &UpdateCluster) -> Result<UpdatePlan> {
    let mut v = Violations::new();
    let name = req.name.as_deref().and_then(|n| v.check("name", validate::cluster_name(n)));
    let spend_limit = match req.spend_limit {
        None => None,
        Some(_) if c.plan == Plan::Dedicated => {
            v.add("spend_limit", "only serverless clusters have a spend limit");
            None
        }
        Some(s) => v.check("spend_limit", check_spend_limit(s)),
    };
    let scale_to = match req.node_count {
        None => None,
        Some(_) if c.plan == Plan::Serverless => {
            v.add("node_count", "serverless clusters cannot be scaled");
            None
        }
        Some(n) => v.check("node_count", check_node_count(n)).filter(|n| *n != c.node_count),
    };
    if req.name.is_none() && req.spend_limit.is_none() && req.node_count.is_none() {
        v.add("body", "nothing to change: give name, spend_limit or node_count");
    }
    v.finish()?;
    if matches!(c.state, ClusterState::Deleting | ClusterState::Deleted) {
        return Err(Error::FailedPrecondition(format!("cluster {} is {}", c.id, c.state)));
    }
    if scale_to.is_some() && is_suspended(c) {
        return Err(Error::FailedPrecondition(format!("cluster {} is suspended; resume it before scaling", c.id)));
    }
    if scale_to.is_some() {
        match c.state {
            ClusterState::Created => {}
            // Another operation runs: the scale waits for it.
            ClusterState::Creating | ClusterState::Scaling | ClusterState::Updating => return Err(Error::busy(c.id, c.state)),
            s => return Err(Error::FailedPrecondition(format!("cluster {} is {s}; it can be scaled only when CREATED", c.id))),
        }
    }
    Ok(UpdatePlan { name, spend_limit, scale_to })
}

/// Attribute holding whether a cluster is suspended (set by the store when a suspend or
/// resume operation succeeds; absent means running).
pub const SUSPENDED_ATTRIBUTE: &str = "suspended";

/// Whether the cluster's nodes are suspended.
pub fn is_suspended(c: &Cluster) -> bool {
    c.attributes.get(SUSPENDED_ATTRIBUTE).and_then(|v| v.as_bool()) == Some(true)
}

/// The state a cluster enters while an operation of `kind` runs (the store sets it when it
/// records the operation, the provisioner's final step sets it back). `None`: the cluster
/// keeps its state (an allow-list update changes no node).
pub fn operation_state(kind: OperationKind) -> Option<ClusterState> {
    match kind {
        OperationKind::Create => Some(ClusterState::Creating),
        OperationKind::Delete => Some(ClusterState::Deleting),
        OperationKind::Scale => Some(ClusterState::Scaling),
        OperationKind::Upgrade | OperationKind::Suspend | OperationKind::Resume => Some(ClusterState::Updating),
        OperationKind::AllowlistUpdate => None,
    }
}

/// Numeric parts of a version, for ordering (`5.10` > `5.9.2`; missing parts count as 0).
fn version_key(v: &str) -> [u64; 3] {
    let mut k = [0u64; 3];
    for (i, p) in v.split('.').take(3).enumerate() {
        k[i] = p.parse().unwrap_or(0);
    }
    k
}

/// Checks a node operation (upgrade, suspend, resume) on a cluster as it is: it must be
/// CREATED (idle; the one-operation rule is enforced again by the store).
fn check_idle(c: &Cluster, what: &str) -> Result<()> {
    match c.state {
        ClusterState::Created => Ok(()),
        ClusterState::Deleting | ClusterState::Deleted | ClusterState::CreationFailed => {
            Err(Error::FailedPrecondition(format!("cluster {} is {}; it cannot be {what}", c.id, c.state)))
        }
        s => Err(Error::busy(c.id, s)),
    }
}

/// Validates an upgrade to `version`: a well-formed version, not older than the current
/// one, on an idle, running (not suspended) cluster. Returns the checked version.
pub fn check_upgrade(c: &Cluster, version: &str) -> Result<String> {
    let mut v = Violations::new();
    let version = v.check("version", validate::version(version));
    if version.as_deref().is_some_and(|new| version_key(new) < version_key(&c.version)) {
        v.add("version", format!("must not be older than the current version {}", c.version));
    }
    v.finish()?;
    if is_suspended(c) {
        return Err(Error::FailedPrecondition(format!("cluster {} is suspended; resume it before upgrading", c.id)));
    }
    check_idle(c, "upgraded")?;
    Ok(version.expect("checked"))
}

/// Validates suspending (`true`) or resuming (`false`) a cluster and returns the operation
/// kind to run. The cluster must be idle and not already in the requested state.
pub fn check_suspend(c: &Cluster, suspend: bool) -> Result<OperationKind> {
    if is_suspended(c) == suspend {
        let s = if suspend { "already suspended" } else { "not suspended" };
        return Err(Error::FailedPrecondition(format!("cluster {} is {s}", c.id)));
    }
    check_idle(c, if suspend { "suspended" } else { "resumed" })?;
    Ok(if suspend { OperationKind::Suspend } else { OperationKind::Resume })
}

/// Checks that a cluster may be deleted now: anything but a deleting or deleted one, unless
/// delete protection is on.
pub fn check_delete(c: &Cluster) -> Result<()> {
    if c.attributes.get("delete_protection").and_then(|v| v.as_str()) == Some("ENABLED") {
        return Err(Error::FailedPrecondition(format!("cluster {} has delete protection enabled; disable it first", c.id)));
    }
    // A delete supersedes a running create, scale, upgrade, suspend or resume.
    match c.state {
        ClusterState::Deleting | ClusterState::Deleted => Err(Error::FailedPrecondition(format!("cluster {} is already {}", c.id, c.state))),
        _ => Ok(()),
    }
}

/// Checks that a cluster accepts changes to its buckets, users or allow list.
pub fn check_accepts_children(c: &Cluster) -> Result<()> {
    match c.state {
        ClusterState::Deleting | ClusterState::Deleted => Err(Error::FailedPrecondition(format!("cluster {} is {}", c.id, c.state))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> CreateCluster {
        CreateCluster { name: "prod-1".into(), cloud_id: Some(uuid::Uuid::nil()), ..Default::default() }
    }

    #[test]
    fn create_defaults_and_errors() {
        let s = check_create(&req()).unwrap();
        assert_eq!((s.plan, s.node_count, s.version.as_str()), (Plan::Dedicated, 3, DEFAULT_VERSION));
        let bad = CreateCluster { name: "X".into(), node_count: Some(99), cloud_id: None, ..req() };
        let Err(Error::InvalidArgument { violations, message }) = check_create(&bad) else { panic!() };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "node_count", "cloud_id"]);
        assert!(message.contains("node_count"));
        let sl = CreateCluster { spend_limit: Some(5), ..req() };
        assert!(check_create(&sl).is_err());
        let sl = CreateCluster { spend_limit: Some(5), plan: Some(Plan::Serverless), ..req() };
        assert_eq!(check_create(&sl).unwrap().node_count, 1);
    }

    #[test]
    fn upgrade_and_suspend_rules() {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        let mut c = Cluster {
            id: uuid::Uuid::nil(),
            organization_id: uuid::Uuid::nil(),
            project_id: uuid::Uuid::nil(),
            cloud_id: uuid::Uuid::nil(),
            name: "c1x".into(),
            plan: Plan::Dedicated,
            version: "5.9.2".into(),
            node_count: 3,
            node_size: "m".into(),
            spend_limit: None,
            state: ClusterState::Created,
            failure_reason: None,
            nodes: vec![],
            endpoints: vec![],
            connection_strings: vec![],
            bucket_count: 0,
            attributes: Default::default(),
            created_by: "k".into(),
            created_at: t,
            updated_at: t,
        };
        assert_eq!(check_upgrade(&c, "5.10.1").unwrap(), "5.10.1");
        assert_eq!(check_upgrade(&c, "5.9.2").unwrap(), "5.9.2");
        assert!(matches!(check_upgrade(&c, "5.8.9"), Err(Error::InvalidArgument { .. })));
        assert!(matches!(check_upgrade(&c, "x"), Err(Error::InvalidArgument { .. })));
        assert_eq!(check_suspend(&c, true).unwrap(), OperationKind::Suspend);
        assert!(matches!(check_suspend(&c, false), Err(Error::FailedPrecondition(_))));
        c.attributes.insert(SUSPENDED_ATTRIBUTE.into(), serde_json::Value::Bool(true));
        assert_eq!(check_suspend(&c, false).unwrap(), OperationKind::Resume);
        assert!(matches!(check_upgrade(&c, "5.10.1"), Err(Error::FailedPrecondition(_))));
        let scale = UpdateCluster { node_count: Some(5), ..Default::default() };
        assert!(matches!(check_update(&c, &scale), Err(Error::FailedPrecondition(_))));
        c.attributes.clear();
        c.state = ClusterState::Scaling;
        assert!(matches!(check_suspend(&c, true), Err(Error::Busy { .. })));
        assert_eq!(operation_state(OperationKind::AllowlistUpdate), None);
        assert!(operation_state(OperationKind::Suspend).is_some_and(|s| can_transition(ClusterState::Created, s)));
    }

    #[test]
    fn state_machine() {
        use ClusterState::*;
        assert!(can_transition(Creating, Created));
        assert!(!can_transition(Deleted, Created));
        assert!(!can_transition(Creating, Deleting));
        assert!(can_transition(CreationFailed, Deleting));
    }
}
