//! The vendor's documents as typed structs (what croud reads): users, organizations,
//! projects, regions, products, subscriptions, API keys, clusters, operations, audit entries.
//! Optional fields the vendor document has no `null` for are left out when unset.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A time in RFC 3339, UTC.
pub fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Creation and change times.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbDc)]
pub struct Dc {
    /// Created.
    pub created: String,
    /// Last changed.
    pub modified: String,
}

impl Dc {
    /// From two times.
    pub fn new(created: OffsetDateTime, modified: OffsetDateTime) -> Dc {
        Dc { created: ts(created), modified: ts(modified) }
    }
}

/// A role in an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbOrgRole)]
pub struct OrgRole {
    /// Organization.
    pub organization_id: Uuid,
    /// `org_admin` or `org_member`.
    pub role_fqn: &'static str,
}

/// A role in a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbProjectRole)]
pub struct ProjectRole {
    /// Project.
    pub project_id: Uuid,
    /// `project_admin` or `project_member`.
    pub role_fqn: &'static str,
}

/// A user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbUser)]
pub struct User {
    /// Id.
    pub uid: Uuid,
    /// E-mail.
    pub email: String,
    /// Local part of the e-mail, in the vendor name pattern.
    pub username: String,
    /// Display name, in the vendor name pattern.
    pub name: String,
    /// Identity provider.
    pub idp: &'static str,
    /// Always false.
    pub is_superuser: bool,
    /// `active`.
    pub status: &'static str,
    /// Organization roles (left out with `no-roles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_roles: Option<Vec<OrgRole>>,
    /// Project roles (left out with `no-roles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_roles: Option<Vec<ProjectRole>>,
    /// The caller's organization (`users/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    /// Support-chat identity hash (`users/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac: Option<String>,
}

/// An organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbOrganization)]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Plan type (1–6).
    #[schema(value_type = i64, minimum = 1, maximum = 6)]
    pub plan_type: Value,
    /// Whether notifications are sent.
    #[schema(value_type = bool)]
    pub notifications_enabled: Value,
    /// Number of projects.
    pub project_count: usize,
    /// The caller's role.
    pub role_fqn: &'static str,
    /// Times.
    pub dc: Dc,
    /// Contact e-mail, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Value>,
}

/// A project.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbProject)]
pub struct Project {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Organization.
    pub organization_id: Uuid,
    /// Region (none: clusters choose theirs).
    pub region: &'static str,
    /// Always null.
    pub backup_location: Option<String>,
    /// Times.
    pub dc: Dc,
}

impl From<&dbcloud_types::Project> for Project {
    fn from(p: &dbcloud_types::Project) -> Project {
        Project {
            id: p.id,
            name: p.name.clone(),
            organization_id: p.organization_id,
            region: "",
            backup_location: None,
            dc: Dc::new(p.created_at, p.updated_at),
        }
    }
}

/// A region.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbRegion)]
pub struct Region {
    /// `<provider>.<region>`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Always false.
    pub is_edge_region: bool,
    /// `UP`.
    pub status: &'static str,
    /// Always false.
    pub deprecated: bool,
    /// Now.
    pub last_seen: String,
    /// Always false.
    pub upgrade_available: bool,
    /// Times.
    pub dc: Dc,
}

/// A role of the catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbRoleInfo)]
pub struct RoleInfo {
    /// Id (`org_admin`, …).
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
}

/// One row of a product's scaling table.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbScaling)]
pub struct Scaling {
    /// Product unit.
    pub value: i64,
    /// Nodes.
    pub nodes: i32,
    /// DTUs.
    pub dtus: i32,
    /// Price per minute.
    pub price_per_minute: i32,
    /// Description.
    pub description: String,
}

/// A product's node specification.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbSpecs)]
pub struct Specs {
    /// Cores.
    pub cpu_cores: u32,
    /// Memory.
    pub ram_bytes: u64,
    /// Storage.
    pub storage_bytes: u64,
    /// Smallest storage.
    pub storage_minimum_bytes: u64,
    /// Largest storage.
    pub storage_maximum_bytes: u64,
}

/// A product.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbProduct)]
pub struct Product {
    /// `cluster`.
    pub kind: &'static str,
    /// Name.
    pub name: &'static str,
    /// Tier.
    pub tier: &'static str,
    /// Label.
    pub label: &'static str,
    /// Description.
    pub description: &'static str,
    /// Scale summary.
    pub scale_summary: String,
    /// Price per DTU minute.
    pub price_per_dtu_minute: i32,
    /// Always false.
    pub deprecated: bool,
    /// None.
    pub tags: Vec<String>,
    /// Node specification.
    pub specs: Specs,
    /// Scaling table.
    pub scaling: Vec<Scaling>,
}

/// A subscription (the organization's).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbSubscription)]
pub struct Subscription {
    /// Id (the organization's).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Organization.
    pub organization_id: Uuid,
    /// `active`.
    pub state: &'static str,
    /// `cloud`.
    pub provider: &'static str,
    /// Always true.
    pub active: bool,
    /// `pay_as_you_go`.
    pub billing_model: &'static str,
    /// Always true.
    pub provisioned: bool,
    /// The organization.
    pub reference: Uuid,
    /// Times.
    pub dc: Dc,
}

impl From<&dbcloud_types::Organization> for Subscription {
    fn from(org: &dbcloud_types::Organization) -> Subscription {
        Subscription {
            id: org.id,
            name: format!("{} subscription", org.name),
            organization_id: org.id,
            state: "active",
            provider: "cloud",
            active: true,
            billing_model: "pay_as_you_go",
            provisioned: true,
            reference: org.id,
            dc: Dc::new(org.created_at, org.created_at),
        }
    }
}

/// An API key (its secret only when just created).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbApiKey)]
pub struct ApiKey {
    /// Access key id.
    pub key: String,
    /// The user it is shown under.
    pub user_id: Uuid,
    /// Whether it works.
    pub active: bool,
    /// Times.
    pub dc: Dc,
    /// Last use (none before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// The secret (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `true` (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// An allowed network of a cluster.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbIpEntry)]
pub struct IpEntry {
    /// CIDR.
    pub cidr: String,
    /// Comment.
    pub description: String,
}

/// Node hardware of a cluster.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbHardwareSpecs)]
pub struct HardwareSpecs {
    /// Cores per node.
    pub cpus_per_node: u32,
    /// Memory per node.
    pub memory_per_node_bytes: u64,
    /// Heap.
    pub heap_size_bytes: u64,
    /// Disk type.
    pub disk_type: &'static str,
    /// Disks per node.
    pub disks_per_node: u32,
    /// Disk size.
    pub disk_size_per_node_bytes: u64,
}

/// A cluster's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbHealth)]
pub struct Health {
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN` or `SUSPENDED`.
    pub status: &'static str,
    /// Last change.
    pub last_seen: String,
    /// The running operation's type, only while one runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_operation: Option<&'static str>,
}

/// A cluster's newest operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbLastOperation)]
pub struct LastOperation {
    /// Id.
    pub id: Uuid,
    /// Type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Status.
    pub status: &'static str,
    /// Times.
    pub dc: Dc,
}

/// A cluster.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbCluster)]
pub struct Cluster {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Project.
    pub project_id: Uuid,
    /// Subscription (the organization).
    pub subscription_id: Uuid,
    /// Version.
    pub crate_version: String,
    /// Channel.
    pub channel: String,
    /// Product name.
    pub product_name: &'static str,
    /// Product tier.
    pub product_tier: &'static str,
    /// Product unit (nodes − 1).
    pub product_unit: i32,
    /// Nodes.
    pub num_nodes: i32,
    /// Database user.
    pub username: &'static str,
    /// Host name with a trailing dot.
    pub fqdn: String,
    /// Console URL.
    pub url: String,
    /// Whether suspended.
    pub suspended: bool,
    /// Whether deletes are refused.
    pub deletion_protected: bool,
    /// Always true.
    pub allow_suspend: bool,
    /// Always false.
    pub allow_custom_storage: bool,
    /// Always false.
    pub gc_available: bool,
    /// `cloud`.
    pub origin: &'static str,
    /// Allow list.
    pub ip_whitelist: Vec<IpEntry>,
    /// Hardware.
    pub hardware_specs: HardwareSpecs,
    /// Health.
    pub health: Health,
    /// Times.
    pub dc: Dc,
    /// Newest operation, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_async_operation: Option<LastOperation>,
}

/// An operation's outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbFeedback)]
pub struct Feedback {
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbOperation)]
pub struct Operation {
    /// Id.
    pub id: Uuid,
    /// Type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Status.
    pub status: &'static str,
    /// `CLUSTER`.
    pub entity: &'static str,
    /// The cluster.
    pub entity_id: Uuid,
    /// Outcome.
    pub feedback_data: Feedback,
    /// Parameters.
    pub non_sensitive_data: Value,
    /// Times.
    pub dc: Dc,
}

/// A cluster's operations.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbOperations)]
pub struct Operations {
    /// Newest first.
    pub operations: Vec<Operation>,
}

/// The actor of an audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbActor)]
pub struct Actor {
    /// User id (null: system or anonymous).
    pub id: Option<Uuid>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name.
    pub name: String,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// What an audit entry is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbAuditContext)]
pub struct AuditContext {
    /// Target.
    pub target: String,
    /// Outcome.
    pub outcome: String,
    /// Client address.
    pub source_ip: String,
    /// Request id.
    pub request_id: String,
    /// The acting key, if a key acted.
    pub key_id: Option<String>,
    /// Details.
    pub details: Value,
}

/// An audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbAuditEntry)]
pub struct AuditEntry {
    /// Id.
    pub id: Uuid,
    /// Action.
    pub action: String,
    /// Time.
    pub created: String,
    /// Who.
    pub actor: Actor,
    /// What.
    pub context: AuditContext,
}

/// The answer of a membership change.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbMembership)]
pub struct Membership {
    /// The user.
    pub user_id: Uuid,
    /// The project (project memberships).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<Uuid>,
    /// The organization (organization memberships).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    /// The role.
    pub role_fqn: String,
    /// Whether the user was added (not only changed).
    pub added: bool,
}

/// What a SCALE operation records (shown back as its `non_sensitive_data`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbScaleData)]
pub struct ScaleData {
    /// Product unit before.
    pub current_product_unit: i32,
    /// Product unit asked for.
    pub target_product_unit: i64,
    /// Nodes before.
    pub current_num_nodes: i32,
    /// Nodes asked for.
    pub target_num_nodes: i32,
}

/// What a SUSPEND operation records.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbSuspendData)]
pub struct SuspendData {
    /// Suspended before.
    pub current_suspended: bool,
    /// Suspended asked for.
    pub target_suspended: bool,
}

/// What an ALLOWED_CIDR_UPDATE operation records.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CrateDbIpRestrictionsData)]
pub struct IpRestrictionsData {
    /// The allow list before.
    pub current_ip_whitelist: Vec<IpEntry>,
    /// The allow list asked for.
    pub target_ip_whitelist: Vec<IpEntry>,
}

/// `data` as operation parameters.
pub fn op_data(data: impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or_default()
}
