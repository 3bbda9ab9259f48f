#![forbid(unsafe_code)]
//! Wire types and error codes shared by the dbcloud server and its CLI.
//!
//! Everything here is plain data: serde for the JSON wire format and utoipa for the
//! OpenAPI document. Behaviour lives in `dbcloud-core`.

pub mod de;
pub mod error;
pub mod identity;
pub mod model;
pub mod profile;
pub mod requests;

pub use error::{Code, ErrorBody, FieldViolation};
pub use identity::*;
pub use model::*;
pub use requests::*;
