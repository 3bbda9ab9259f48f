//! Schemas, for the OpenAPI document only, of the CockroachDB answers the handlers build as
//! JSON trees or with hand-written serializers: the error body and the audit log. Each
//! mirrors the code that renders it (named on each type); tests/openapi.rs checks real
//! answers against them.
#![allow(dead_code)]

use dbcloud_types::FieldViolation;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The vendor's `Status` error body (`CrdbError`'s answer).
#[derive(Serialize, ToSchema)]
pub struct CockroachErrorBody {
    /// gRPC status code (3 invalid argument, 5 not found, 7 permission denied, 16 unauthenticated …).
    pub code: i32,
    /// Human-readable message.
    pub message: String,
    /// Empty, or for validation errors one `google.rpc.BadRequest` naming each field.
    pub details: Vec<CockroachBadRequest>,
}

/// `google.rpc.BadRequest`.
#[derive(Serialize, ToSchema)]
pub struct CockroachBadRequest {
    /// `type.googleapis.com/google.rpc.BadRequest`.
    #[serde(rename = "@type")]
    pub type_url: String,
    /// One entry per offending field.
    pub field_violations: Vec<FieldViolation>,
}

/// `ListAuditLogsResponse` (`audit::audit_log`).
#[derive(Serialize, ToSchema)]
pub struct AuditLogPage {
    /// The entries.
    pub entries: Vec<AuditLogEntry>,
    /// Where the next page starts (RFC 3339); null on the last page.
    pub next_starting_from: Option<String>,
}

/// `AuditLogEntry` (`audit::entry`).
#[derive(Serialize, ToSchema)]
pub struct AuditLogEntry {
    /// Event id.
    pub id: Uuid,
    /// RFC 3339.
    pub created_at: String,
    /// `AUDIT_LOG_ACTION_…`; null for actions the vendor has no name for.
    pub action: Option<String>,
    /// `AUDIT_LOG_SOURCE_CC_API` or `AUDIT_LOG_SOURCE_INTERNAL`.
    pub source: String,
    /// Always `""`.
    pub user_email: String,
    /// The acting key or component.
    pub service_account_name: String,
    /// The cluster acted on, or `""`.
    pub cluster_id: String,
    /// Always `""`.
    pub cluster_name: String,
    /// The native event as JSON text.
    pub payload: String,
    /// `""` on success, else the outcome.
    pub error: String,
    /// Request id.
    pub trace_id: String,
    /// Always `""`.
    pub session_id: String,
    /// Where the request came from.
    pub metadata: AuditMetadata,
}

/// `metadata` of an audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditMetadata {
    /// Client address.
    pub ip_address: String,
}
