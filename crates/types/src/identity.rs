//! Wire types of identity and access: API keys, service accounts, users, role grants,
//! audit events.

use crate::model::wire_enum;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

wire_enum!(
    /// Whether an API key can be used: `ACTIVE`, `EXPIRED` (its expiry passed) or `REVOKED`.
    /// Upper case, like every other state of the native API.
    ApiKeyState { Active => "ACTIVE", Expired => "EXPIRED", Revoked => "REVOKED" }
);
wire_enum!(
    /// Who an API key acts for: itself (`key`, roles of its own), a `service_account` or a
    /// `user` (it inherits the owner's grants).
    KeyOwnerType { Key => "key", ServiceAccount => "service_account", User => "user" }
);
wire_enum!(
    /// A kind of principal that holds role grants.
    PrincipalType { User => "user", ServiceAccount => "service_account", ApiKey => "api_key" }
);
wire_enum!(
    /// Where a grant applies.
    ScopeType { Organization => "organization", Project => "project", Cluster => "cluster" }
);

/// Project-scoped roles of a key (Capella `resources` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRoles {
    /// Project id.
    pub id: Uuid,
    /// Roles in that project (`projectOwner`, `projectManager`, `projectViewer`,
    /// `projectDataReaderWriter`, `projectDataReader`, or any role of the catalogue).
    pub roles: Vec<String>,
}

/// Create an API key (the schema of seed 003, plus dbcloud's owner and rate-limit fields).
/// Fields are snake_case like the rest of `/v1`; seed 003's camelCase spellings
/// (`organizationRoles`, `allowedCIDRs`, `serviceAccountId`, `userId`, `rateLimit`) are
/// accepted as aliases (giving both spellings of one field is a 400).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Name (1–64 characters).
    pub name: String,
    /// Description (at most 1024 characters).
    #[serde(default)]
    pub description: String,
    /// Expiry in days from now; 0 or absent: never expires.
    pub expiry: Option<f64>,
    /// Organization-level roles (`organizationOwner`, `organizationMember`, `projectCreator`,
    /// or any role of the catalogue). Required for keys with roles of their own (it may be
    /// empty when `resources` give project roles). Alias `organizationRoles`.
    #[serde(default, alias = "organizationRoles")]
    pub organization_roles: Option<Vec<String>>,
    /// Project-level roles.
    #[serde(default)]
    pub resources: Vec<ResourceRoles>,
    /// CIDRs allowed to use the key; calls from other addresses are refused. Empty: any.
    /// Alias `allowedCIDRs`.
    #[serde(default, alias = "allowedCIDRs")]
    pub allowed_cidrs: Vec<String>,
    /// Create the key for this service account: it inherits the account's grants
    /// (then give no roles). Alias `serviceAccountId`.
    #[serde(default, alias = "serviceAccountId")]
    pub service_account_id: Option<Uuid>,
    /// Create the key for this user: it inherits the user's grants (then give no roles).
    /// Alias `userId`.
    #[serde(default, alias = "userId")]
    pub user_id: Option<Uuid>,
    /// Requests per second allowed for this key (default: the organization's limit).
    /// Alias `rateLimit`.
    #[serde(default, alias = "rateLimit", with = "crate::de::integral_option")]
    pub rate_limit: Option<i64>,
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// Access key id (`dbc_…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `key` (roles of its own), `service_account` or `user` (inherits the owner's grants).
    #[schema(value_type = KeyOwnerType)]
    pub owner_type: String,
    /// The owning service account or user.
    pub owner_id: Option<Uuid>,
    /// Organization-level roles of the key itself.
    pub organization_roles: Vec<String>,
    /// Project-level roles of the key itself.
    pub resources: Vec<ResourceRoles>,
    /// Allowed CIDRs (empty: any).
    pub allowed_cidrs: Vec<String>,
    /// Expiry, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// `ACTIVE`, `EXPIRED` or `REVOKED`.
    pub state: ApiKeyState,
    /// Requests per second for this key, when set.
    pub rate_limit: Option<i64>,
    /// Key id of the creator.
    pub created_by: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Last successful use.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Address of the last successful use.
    pub last_used_ip: Option<String>,
    /// Until when the previous secret still works after a rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_valid_until: Option<OffsetDateTime>,
}

/// A key with its secret: returned once, by create and rotate.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyWithSecret {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret; shown only in this response.
    pub secret: String,
    /// `Authorization: Bearer` value (`<id>_<secret>`); shown only in this response.
    pub bearer_token: String,
}

impl std::fmt::Debug for ApiKeyWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyWithSecret").field("key", &self.key).field("secret", &"<redacted>").finish()
    }
}

/// Rename or describe a key, or change its rate limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New requests-per-second limit. Alias `rateLimit`.
    #[serde(default, alias = "rateLimit", with = "crate::de::integral_option")]
    pub rate_limit: Option<i64>,
}

/// Rotate a key's secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKey {
    /// Seconds the old secret keeps working (0–604800, default 0: it stops at once).
    /// The grace period never outlives the key's expiry. Alias `gracePeriodSeconds`.
    #[serde(default, alias = "gracePeriodSeconds", with = "crate::de::integral")]
    pub grace_period_seconds: i64,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantScope {
    /// `organization`, `project` or `cluster`.
    #[serde(rename = "type")]
    #[schema(value_type = ScopeType)]
    pub kind: String,
    /// Project or cluster id (absent for `organization`).
    pub id: Option<Uuid>,
}

/// A role granted to a principal at a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoleGrant {
    /// Grant id.
    pub id: Uuid,
    /// `user`, `service_account` or `api_key`.
    #[schema(value_type = PrincipalType)]
    pub principal_type: String,
    /// User or service account id, or access key id.
    pub principal_id: String,
    /// Role name (any vocabulary: `ORG_ADMIN`, `projectViewer`, `READ`, …).
    pub role: String,
    /// Scope.
    pub scope: GrantScope,
    /// Who granted it (key id).
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A role and scope, as given in requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Role name.
    pub role: String,
    /// Scope; the organization when absent.
    pub scope: Option<GrantScope>,
}

/// Grant a role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleGrant {
    /// `user`, `service_account` or `api_key`.
    #[schema(value_type = PrincipalType)]
    pub principal_type: String,
    /// Its id.
    pub principal_id: String,
    /// Role name.
    pub role: String,
    /// Scope; the organization when absent.
    pub scope: Option<GrantScope>,
}

/// A non-human principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccount {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Its grants.
    pub roles: Vec<RoleGrant>,
    /// Key id of the creator.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Create a service account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    /// Name (1–64 characters), unique in the organization.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Organization-wide roles, e.g. the legacy `ADMIN`, `CREATE`, `DELETE`, `EDIT`, `READ`
    /// or `CLUSTER_ADMIN`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Roles at project or cluster scope.
    #[serde(default)]
    pub grants: Vec<RoleSpec>,
}

/// Change a service account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccount {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// A human user of the organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: Uuid,
    /// E-mail, unique in the organization.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Grants.
    pub roles: Vec<RoleGrant>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Create a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// E-mail.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Organization-wide roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Roles at project or cluster scope.
    #[serde(default)]
    pub grants: Vec<RoleSpec>,
}

/// Organization settings that can change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// Default requests per second for the organization's keys (`null` or absent: the
    /// server default).
    #[serde(default, with = "crate::de::integral_option")]
    pub rate_limit: Option<i64>,
}
