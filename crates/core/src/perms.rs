//! The permission catalogue, every vendor's role vocabulary mapped onto it, grants with
//! scopes, and the authenticated principal that handlers check against.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! named {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The catalogue name.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            /// Parses the catalogue name.
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some($name::$variant),)+ _ => None } }
        }
    };
}

named!(
    /// One permission of the catalogue. Every handler names the one it needs.
    Permission {
        /// Read the organization.
        OrgRead => "org.read",
        /// Change organization settings (rate limits).
        OrgUpdate => "org.update",
        /// Create projects.
        ProjectCreate => "project.create",
        /// Read projects.
        ProjectRead => "project.read",
        /// Rename / describe projects.
        ProjectUpdate => "project.update",
        /// Delete projects.
        ProjectDelete => "project.delete",
        /// Read clouds and the region catalogue.
        CloudRead => "cloud.read",
        /// Create, change and delete clouds.
        CloudManage => "cloud.manage",
        /// Create clusters.
        ClusterCreate => "cluster.create",
        /// Read clusters, their buckets, users, allow lists and operations.
        ClusterRead => "cluster.read",
        /// Change clusters (rename, scale, spend limit, buckets).
        ClusterUpdate => "cluster.update",
        /// Delete clusters.
        ClusterDelete => "cluster.delete",
        /// Manage database users.
        DbuserManage => "dbuser.manage",
        /// Manage allow lists.
        AllowlistManage => "allowlist.manage",
        /// Manage API keys.
        ApikeyManage => "apikey.manage",
        /// Manage service accounts.
        ServiceaccountManage => "serviceaccount.manage",
        /// Manage users and role grants.
        UserManage => "user.manage",
        /// Read the audit log.
        AuditRead => "audit.read",
        /// Read billing.
        BillingRead => "billing.read",
        /// Read data in clusters.
        DataRead => "data.read",
        /// Write data in clusters.
        DataWrite => "data.write",
    }
);

named!(
    /// A role of any supported vocabulary.
    Role {
        /// Capella: everything in the organization.
        OrganizationOwner => "organizationOwner",
        /// Capella: read the organization.
        OrganizationMember => "organizationMember",
        /// Capella: create projects (owns what it creates).
        ProjectCreator => "projectCreator",
        /// Capella: everything in a project.
        ProjectOwner => "projectOwner",
        /// Capella: manage the clusters of a project.
        ProjectManager => "projectManager",
        /// Capella: read a project.
        ProjectViewer => "projectViewer",
        /// Capella: read and write data.
        ProjectDataReaderWriter => "projectDataReaderWriter",
        /// Capella: read data.
        ProjectDataReader => "projectDataReader",
        /// CockroachDB: organization admin.
        OrgAdmin => "ORG_ADMIN",
        /// CockroachDB: organization member.
        OrgMember => "ORG_MEMBER",
        /// CockroachDB: billing coordinator.
        BillingCoordinator => "BILLING_COORDINATOR",
        /// CockroachDB: billing viewer.
        BillingViewer => "BILLING_VIEWER",
        /// CockroachDB: full cluster access including create, update, delete and billing.
        ClusterAdmin => "CLUSTER_ADMIN",
        /// CockroachDB: create and delete clusters, not modify existing ones (seed 001).
        ClusterCreator => "CLUSTER_CREATOR",
        /// CockroachDB: view and modify existing clusters, not create or delete (seed 001).
        ClusterDeveloper => "CLUSTER_DEVELOPER",
        /// CockroachDB: maintenance windows and operational settings ("Cluster Operator").
        ClusterOperatorWriter => "CLUSTER_OPERATOR_WRITER",
        /// CockroachDB: get and list clusters.
        ClusterMonitor => "CLUSTER_MONITOR",
        /// CockroachDB: get and list clusters (metrics are not served here).
        MetricsViewer => "METRICS_VIEWER",
        /// CockroachDB: get and list clusters of its folders (granting within them is not
        /// offered by this server).
        FolderAdmin => "FOLDER_ADMIN",
        /// CockroachDB: get and list clusters of its folders.
        FolderMover => "FOLDER_MOVER",
        /// Legacy service-account permission: everything.
        Admin => "ADMIN",
        /// Legacy: create.
        Create => "CREATE",
        /// Legacy: delete.
        Delete => "DELETE",
        /// Legacy: edit.
        Edit => "EDIT",
        /// Legacy: read.
        Read => "READ",
    }
);

use Permission as P;

const READS: &[Permission] = &[P::OrgRead, P::ProjectRead, P::CloudRead, P::ClusterRead];
/// What the Capella project roles read (the organization itself is not theirs to read).
const PROJECT_READS: &[Permission] = &[P::ProjectRead, P::CloudRead, P::ClusterRead];

impl Role {
    /// The permissions this role grants within its scope.
    pub fn permissions(self) -> Vec<Permission> {
        let mut v: Vec<Permission> = match self {
            Role::OrganizationOwner | Role::OrgAdmin | Role::Admin => P::ALL.to_vec(),
            Role::OrganizationMember | Role::OrgMember => vec![P::OrgRead, P::ProjectRead, P::CloudRead],
            Role::ProjectCreator => vec![P::OrgRead, P::ProjectCreate, P::CloudRead],
            // A project owner also mints keys with roles in its project (never beyond it).
            Role::ProjectOwner => vec![
                P::ProjectRead,
                P::ProjectUpdate,
                P::ProjectDelete,
                P::CloudRead,
                P::ClusterCreate,
                P::ClusterRead,
                P::ClusterUpdate,
                P::ClusterDelete,
                P::DbuserManage,
                P::AllowlistManage,
                P::DataRead,
                P::DataWrite,
                P::ApikeyManage,
            ],
            Role::ProjectManager => vec![
                P::ProjectRead,
                P::CloudRead,
                P::ClusterCreate,
                P::ClusterRead,
                P::ClusterUpdate,
                P::ClusterDelete,
                P::DbuserManage,
                P::AllowlistManage,
                P::DataRead,
                P::DataWrite,
            ],
            Role::ProjectViewer => PROJECT_READS.to_vec(),
            Role::ProjectDataReaderWriter => [PROJECT_READS, &[P::DataRead, P::DataWrite]].concat(),
            Role::ProjectDataReader => [PROJECT_READS, &[P::DataRead]].concat(),
            Role::BillingCoordinator | Role::BillingViewer => vec![P::OrgRead, P::BillingRead],
            Role::ClusterAdmin => {
                [READS, &[P::ClusterCreate, P::ClusterUpdate, P::ClusterDelete, P::DbuserManage, P::AllowlistManage, P::BillingRead, P::DataRead, P::DataWrite]]
                    .concat()
            }
            Role::ClusterCreator => [READS, &[P::ClusterCreate, P::ClusterDelete]].concat(),
            Role::ClusterDeveloper => [READS, &[P::ClusterUpdate, P::DbuserManage, P::AllowlistManage]].concat(),
            Role::ClusterOperatorWriter => [READS, &[P::ClusterUpdate, P::AllowlistManage]].concat(),
            Role::Create => [READS, &[P::ProjectCreate, P::ClusterCreate]].concat(),
            Role::Delete => [READS, &[P::ProjectDelete, P::ClusterDelete]].concat(),
            Role::Edit => [READS, &[P::ProjectUpdate, P::ClusterUpdate, P::DbuserManage, P::AllowlistManage]].concat(),
            Role::Read | Role::ClusterMonitor | Role::MetricsViewer | Role::FolderAdmin | Role::FolderMover => READS.to_vec(),
        };
        v.sort();
        v.dedup();
        v
    }

    /// Whether this role grants `p`.
    pub fn grants(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

/// Where a grant applies. Wider scopes are inherited downward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Scope {
    /// The whole organization.
    Organization,
    /// One project and its clusters.
    Project(Uuid),
    /// One cluster.
    Cluster(Uuid),
}

/// What a permission is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The organization itself (org-wide lists and creates).
    Organization,
    /// A project.
    Project(Uuid),
    /// A cluster of a project.
    Cluster {
        /// The cluster's project.
        project: Uuid,
        /// The cluster.
        cluster: Uuid,
    },
}

impl Scope {
    /// Whether a grant at this scope applies to `t`.
    pub fn covers(self, t: Target) -> bool {
        match (self, t) {
            (Scope::Organization, _) => true,
            (Scope::Project(p), Target::Project(q)) => p == q,
            (Scope::Project(p), Target::Cluster { project, .. }) => p == project,
            (Scope::Cluster(c), Target::Cluster { cluster, .. }) => c == cluster,
            _ => false,
        }
    }
}

/// A role at a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// Where it applies.
    pub scope: Scope,
}

/// An authenticated caller: the organization it acts in, the key it used and its grants.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Organization the caller belongs to; every object it sees is in it.
    pub organization_id: Uuid,
    /// Access key id used.
    pub key_id: String,
    /// The grants in force.
    pub grants: Vec<Grant>,
}

impl Principal {
    /// Whether the caller holds `p` on `t`.
    pub fn can(&self, p: Permission, t: Target) -> bool {
        self.grants.iter().any(|g| g.scope.covers(t) && g.role.grants(p))
    }

    /// Whether the caller holds `p` on some scope at all (for org-wide lists, which are
    /// then filtered to what the caller may see).
    pub fn can_somewhere(&self, p: Permission) -> bool {
        self.grants.iter().any(|g| g.role.grants(p))
    }

    /// Whether the caller holds every permission of `role` on `t`: the test for granting
    /// `role` (or minting a key or service account with it) without escalating.
    pub fn holds_role(&self, role: Role, t: Target) -> bool {
        role.permissions().iter().all(|p| self.can(*p, t))
    }

    /// `Ok` when the caller holds `p` on `t`, else [`crate::Error::PermissionDenied`].
    pub fn require(&self, p: Permission, t: Target) -> crate::Result<()> {
        if self.can(p, t) { Ok(()) } else { Err(crate::Error::PermissionDenied) }
    }
}

/// What part of an organization a caller reaches with one permission: the rule behind
/// every list (a caller lists exactly what it may read — never more, and never a refusal
/// for a partial view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Everything in the organization (an organization-wide grant).
    All,
    /// Only these projects (with everything in them) and these single clusters; both empty
    /// means nothing.
    Only {
        /// Projects granted as a whole.
        projects: std::collections::BTreeSet<Uuid>,
        /// Clusters granted one by one.
        clusters: std::collections::BTreeSet<Uuid>,
    },
}

impl Visibility {
    /// Whether nothing at all is visible.
    pub fn is_nothing(&self) -> bool {
        matches!(self, Visibility::Only { projects, clusters } if projects.is_empty() && clusters.is_empty())
    }

    /// Whether `t` is visible.
    pub fn covers(&self, t: Target) -> bool {
        match (self, t) {
            (Visibility::All, _) => true,
            (Visibility::Only { .. }, Target::Organization) => false,
            (Visibility::Only { projects, .. }, Target::Project(p)) => projects.contains(&p),
            (Visibility::Only { projects, clusters }, Target::Cluster { project, cluster }) => projects.contains(&project) || clusters.contains(&cluster),
        }
    }
}

impl Principal {
    /// Where the caller holds `p`: everything, or the projects and clusters its grants name.
    pub fn visibility(&self, p: Permission) -> Visibility {
        let mut projects = std::collections::BTreeSet::new();
        let mut clusters = std::collections::BTreeSet::new();
        for g in self.grants.iter().filter(|g| g.role.grants(p)) {
            match g.scope {
                Scope::Organization => return Visibility::All,
                Scope::Project(id) => {
                    projects.insert(id);
                }
                Scope::Cluster(id) => {
                    clusters.insert(id);
                }
            }
        }
        Visibility::Only { projects, clusters }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_is_exactly_the_granted_scopes() {
        let (p1, p2, c1, c9) = (crate::new_id(), crate::new_id(), crate::new_id(), crate::new_id());
        let two_projects = Principal {
            organization_id: Uuid::nil(),
            key_id: "k".into(),
            grants: vec![Grant { role: Role::ProjectViewer, scope: Scope::Project(p1) }, Grant { role: Role::ProjectViewer, scope: Scope::Project(p2) }],
        };
        let v = two_projects.visibility(P::ClusterRead);
        assert!(v.covers(Target::Cluster { project: p1, cluster: c9 }) && v.covers(Target::Cluster { project: p2, cluster: c9 }));
        assert!(!v.covers(Target::Cluster { project: Uuid::nil(), cluster: c9 }));
        assert!(!v.covers(Target::Organization));
        let one_cluster = principal(Role::ClusterAdmin, Scope::Cluster(c1));
        let v = one_cluster.visibility(P::ClusterRead);
        assert!(v.covers(Target::Cluster { project: p1, cluster: c1 }) && !v.covers(Target::Cluster { project: p1, cluster: c9 }));
        assert!(!v.covers(Target::Project(p1)), "a cluster grant does not reveal its project");
        assert_eq!(principal(Role::OrganizationOwner, Scope::Organization).visibility(P::ClusterRead), Visibility::All);
        // Roles that do not grant the permission reveal nothing.
        let billing = principal(Role::BillingViewer, Scope::Organization);
        assert!(billing.visibility(P::ClusterRead).is_nothing());
        // The rule agrees with `can` for every role and scope.
        for role in Role::ALL {
            for scope in [Scope::Organization, Scope::Project(p1), Scope::Cluster(c1)] {
                let who = principal(*role, scope);
                let v = who.visibility(P::ClusterRead);
                for t in [Target::Cluster { project: p1, cluster: c1 }, Target::Cluster { project: p2, cluster: c9 }, Target::Project(p1)] {
                    assert_eq!(v.covers(t), who.can(P::ClusterRead, t), "{role:?} at {scope:?} on {t:?}");
                }
            }
        }
    }

    fn principal(role: Role, scope: Scope) -> Principal {
        Principal { organization_id: Uuid::nil(), key_id: "k".into(), grants: vec![Grant { role, scope }] }
    }

    #[test]
    fn seed_001_roles_win() {
        let c = Target::Cluster { project: Uuid::nil(), cluster: Uuid::max() };
        let dev = principal(Role::ClusterDeveloper, Scope::Organization);
        assert!(dev.can(P::ClusterUpdate, c) && !dev.can(P::ClusterCreate, c) && !dev.can(P::ClusterDelete, c));
        let creator = principal(Role::ClusterCreator, Scope::Organization);
        assert!(creator.can(P::ClusterCreate, c) && creator.can(P::ClusterDelete, c));
        assert!(!creator.can(P::ClusterUpdate, c));
    }

    #[test]
    fn no_escalation() {
        let dev = principal(Role::ClusterDeveloper, Scope::Organization);
        assert!(dev.holds_role(Role::ClusterDeveloper, Target::Organization));
        assert!(dev.holds_role(Role::Read, Target::Organization));
        assert!(!dev.holds_role(Role::Admin, Target::Organization));
        assert!(!dev.holds_role(Role::OrgAdmin, Target::Organization));
        let owner = principal(Role::OrganizationOwner, Scope::Organization);
        for r in Role::ALL {
            assert!(owner.holds_role(*r, Target::Organization));
        }
        let p = crate::new_id();
        let po = principal(Role::ProjectOwner, Scope::Project(p));
        assert!(po.holds_role(Role::ProjectViewer, Target::Project(p)));
        assert!(!po.holds_role(Role::ProjectViewer, Target::Project(crate::new_id())));
        assert!(!po.holds_role(Role::ProjectViewer, Target::Organization));
    }

    #[test]
    fn scopes_inherit_downward_only() {
        let p1 = crate::new_id();
        let p2 = crate::new_id();
        let viewer = principal(Role::ProjectViewer, Scope::Project(p1));
        assert!(viewer.can(P::ClusterRead, Target::Cluster { project: p1, cluster: Uuid::nil() }));
        assert!(!viewer.can(P::ClusterRead, Target::Cluster { project: p2, cluster: Uuid::nil() }));
        assert!(!viewer.can(P::ClusterRead, Target::Organization));
        assert!(viewer.require(P::ClusterUpdate, Target::Project(p1)).is_err());
        let owner = principal(Role::OrganizationOwner, Scope::Organization);
        for p in P::ALL {
            assert!(owner.can(*p, Target::Project(p2)));
        }
    }
}
