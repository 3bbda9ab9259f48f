//! Vendor API dialects: thin adapters (routes, wire shapes, paging, error bodies) over the
//! service layer (`dbcloud_app`) that the native API and the console stand on too.

/// Whether `method path` is one of `operations` (`(METHOD, template)` pairs of a vendor's
/// document, `{…}` segments matching any non-empty value; a trailing `/` is optional).
pub fn vendor_operation(operations: &[(&str, &str)], method: &str, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    operations.iter().any(|(m, p)| {
        let t: Vec<&str> = p.trim_end_matches('/').split('/').collect();
        *m == method && t.len() == segs.len() && t.iter().zip(&segs).all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
    })
}

pub mod cockroach;
pub mod couchbase;
pub mod cratedb;
