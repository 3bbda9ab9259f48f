//! The one error vocabulary: gRPC status codes and the native error body.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// gRPC status codes used as stable error codes by every API surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    /// The client went away.
    Cancelled = 1,
    /// Bad field, query, cursor or header.
    InvalidArgument = 3,
    /// A store timeout.
    DeadlineExceeded = 4,
    /// Missing object or unknown path.
    NotFound = 5,
    /// Duplicate name or entry.
    AlreadyExists = 6,
    /// Authenticated but lacking the permission.
    PermissionDenied = 7,
    /// Rate limit or quota.
    ResourceExhausted = 8,
    /// The object is not in a state that allows the change.
    FailedPrecondition = 9,
    /// A concurrent change won (write conflict, cluster busy).
    Aborted = 10,
    /// Not served by this server.
    Unimplemented = 12,
    /// Server fault; the detail is only in the log.
    Internal = 13,
    /// Temporarily unavailable.
    Unavailable = 14,
    /// Missing, malformed, unknown, revoked or expired credential.
    Unauthenticated = 16,
}

impl Code {
    /// The HTTP status the native API answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Cancelled => 499,
            Code::InvalidArgument => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::FailedPrecondition => 409,
            Code::Aborted => 409,
            Code::Unimplemented => 501,
            Code::Internal => 500,
            Code::Unavailable => 503,
            Code::Unauthenticated => 401,
        }
    }

    /// The numeric gRPC code.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// One offending field of a rejected request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldViolation {
    /// Path of the field, e.g. `node_count` or `allowed_cidrs[2]`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// The native error body: `{"code","message","details"}` (gRPC `Status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// gRPC status code (3 invalid argument, 5 not found, 7 permission denied, 16 unauthenticated …).
    pub code: i32,
    /// Human-readable message; names the offending field for validation errors.
    pub message: String,
    /// Structured details; for validation errors one `{"field","description"}` object per field.
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<serde_json::Value>,
}
