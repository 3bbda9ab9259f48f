//! Schemas, for the OpenAPI document only, of the CockroachDB answers the handlers build as
//! JSON trees or with hand-written serializers: the error body. Each
//! mirrors the code that renders it (named on each type); tests/openapi.rs checks real
//! answers against them.
#![allow(dead_code)]

use dbcloud_types::FieldViolation;
use serde::Serialize;
use utoipa::ToSchema;

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
