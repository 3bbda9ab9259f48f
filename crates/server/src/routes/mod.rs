//! Native API routes (`/v1/`), one module per resource. Each handler is documented for
//! OpenAPI where it is routed and states its permission explicitly.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod certificate;
pub mod children;
pub mod clouds;
pub mod clusters;
pub mod grants;
pub mod org;
pub mod projects;
pub mod system;

use dbcloud_app::model::PageReq;
use dbcloud_core::cursor;
use serde::Deserialize;
use utoipa::IntoParams;

/// Cursor paging parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The checked page request.
    pub fn page(&self) -> dbcloud_core::Result<PageReq> {
        page(self.cursor.as_deref(), self.limit)
    }
}

/// Checks the new name and/or description of a rename; at least one must be given.
pub fn rename(name: Option<&str>, description: Option<&str>) -> dbcloud_core::Result<(Option<String>, Option<String>)> {
    use dbcloud_core::validate;
    let mut v = dbcloud_core::error::Violations::new();
    let n = name.and_then(|n| v.check("name", validate::display_name(n)));
    let d = description.and_then(|d| v.check("description", validate::free_text(d, 1024)));
    if name.is_none() && description.is_none() {
        v.add("body", "nothing to change: give name or description");
    }
    v.finish()?;
    Ok((n, d))
}

/// A checked page request from a cursor and a limit.
pub fn page(c: Option<&str>, limit: Option<u32>) -> dbcloud_core::Result<PageReq> {
    Ok(PageReq { after: c.map(cursor::decode).transpose()?, after_key: None, limit: cursor::page_size(limit)? })
}

/// The answer to a create: `status` with the object (and `Location`), or — for a replay of an
/// earlier request with the same `Idempotency-Key` — the same answer marked
/// `Idempotent-Replayed: true`.
pub fn created<T: serde::Serialize>(status: axum::http::StatusCode, location: Option<String>, c: dbcloud_app::Created<T>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut r = (status, axum::Json(c.value)).into_response();
    if let Some(l) = location.and_then(|l| axum::http::HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(axum::http::header::LOCATION, l);
    }
    if c.replayed {
        r.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    r
}
