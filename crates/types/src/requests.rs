//! Request bodies of the native API. Unknown fields are refused.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{Access, Plan, Provider};

/// Create a project.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Name (1–64 characters), unique within the organization.
    pub name: String,
    /// Free text (at most 1024 characters).
    #[serde(default)]
    pub description: String,
}

/// Change a project; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Create a cloud connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCloud {
    /// Name (1–64 characters), unique within the organization.
    pub name: String,
    /// Provider.
    pub provider: Provider,
    /// Region, from `GET /v1/regions?provider=…`.
    pub region: String,
    /// Virtual network CIDR, IPv4, prefix length 8–28 (default `10.0.0.0/16`).
    #[serde(default)]
    pub virtual_network_cidr: Option<String>,
}

/// Change a cloud; only its name and network may change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCloud {
    /// New name.
    pub name: Option<String>,
    /// New virtual network CIDR (only while the cloud has no clusters).
    pub virtual_network_cidr: Option<String>,
}

/// Create a cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCluster {
    /// Name: 3–63 lowercase letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// Project; the organization's default project when absent.
    pub project_id: Option<Uuid>,
    /// Cloud to deploy into. Alternatively give `provider` and `region`.
    pub cloud_id: Option<Uuid>,
    /// Provider, used with `region` when `cloud_id` is absent.
    pub provider: Option<Provider>,
    /// Region, used with `provider` when `cloud_id` is absent.
    pub region: Option<String>,
    /// Plan (default `dedicated`).
    pub plan: Option<Plan>,
    /// Database version (default the newest).
    pub version: Option<String>,
    /// Node count, 1–32 (dedicated, default 3); serverless clusters have 1.
    #[serde(default, with = "crate::de::integral_option")]
    pub node_count: Option<i32>,
    /// Node size (default `m5.xlarge`).
    pub node_size: Option<String>,
    /// Monthly spend limit in US cents (serverless only).
    #[serde(default, with = "crate::de::integral_option")]
    pub spend_limit: Option<i64>,
}

/// Change a cluster; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCluster {
    /// New name.
    pub name: Option<String>,
    /// New spend limit in US cents (serverless only).
    #[serde(default, with = "crate::de::integral_option")]
    pub spend_limit: Option<i64>,
    /// New node count (dedicated only); runs a scale operation.
    #[serde(default, with = "crate::de::integral_option")]
    pub node_count: Option<i32>,
}

/// Create a bucket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    /// Name: 1–100 letters, digits, `_`, `-`, `.`, `%`.
    pub name: String,
    /// Memory quota in MiB, 100–1048576 (default 100).
    #[serde(default, with = "crate::de::integral_option")]
    pub memory_quota_mb: Option<i64>,
    /// Replicas 0–3 (default 1).
    #[serde(default, with = "crate::de::integral_option")]
    pub replicas: Option<i32>,
}

/// Create a database user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabaseUser {
    /// User name: 1–63 letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// Access level.
    pub access: Access,
    /// Limit the access to one bucket / database.
    pub scope: Option<String>,
    /// Password (at least 12 characters); generated and returned once when absent.
    pub password: Option<String>,
}

/// Change a database user's password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The new password; generated and returned once when absent.
    pub password: Option<String>,
}

/// Add an allow-list entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAllowlistEntry {
    /// An IPv4 or IPv6 address or CIDR; a bare address means a single host.
    pub cidr: String,
    /// Free text (at most 256 characters).
    #[serde(default)]
    pub comment: String,
    /// When the entry stops applying (RFC 3339, in the future).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}
