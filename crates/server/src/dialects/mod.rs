//! Vendor API dialects: thin adapters (routes, wire shapes, paging) over the same store and
//! the same authorization checks as the native API.

pub mod cockroach;
pub mod couchbase;
pub mod cratedb;
