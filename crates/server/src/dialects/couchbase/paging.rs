//! Page-number paging (spec §2.4): the query parameters, and the `{cursor, data}` envelope
//! with absolute hrefs. Cluster, project and cloud lists page in the store (skip + count);
//! the organization users list is sorted and cut here.

use super::wire::{Cursor, Envelope, Hrefs, Pages};
use crate::state::AppState;
use axum::http::{HeaderMap, Uri, header};
use dbcloud_app::model::{ListOrder, NumberedPage};
use dbcloud_core::Error;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

/// Largest `perPage`.
pub const MAX_PER_PAGE: usize = 1000;

/// Page-number paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, ≥ 1 (default 1).
    pub page: Option<String>,
    /// Items per page, ≥ 1 (default 10, at most 1000).
    #[serde(rename = "perPage")]
    #[param(rename = "perPage")]
    pub per_page: Option<String>,
    /// `name`, `createdAt` or `id`, optionally `.asc`/`.desc`.
    #[serde(rename = "sortBy")]
    #[param(rename = "sortBy")]
    pub sort_by: Option<String>,
}

/// The sort field of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// By name, then id.
    Name,
    /// By creation time, then id.
    CreatedAt,
    /// By id.
    Id,
}

/// Checked paging parameters.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Page number (≥ 1).
    pub page: usize,
    /// Items per page (1..=MAX_PER_PAGE).
    pub per_page: usize,
    /// Sort field.
    pub field: SortField,
    /// Descending order.
    pub desc: bool,
}

impl Paging {
    /// How many items precede the page.
    pub fn skip(&self) -> u64 {
        ((self.page - 1) as u64).saturating_mul(self.per_page as u64)
    }

    /// The page as the service reads it from the store (projects, clouds); the same order as [`cut`].
    pub fn numbered(&self) -> NumberedPage {
        let order = match self.field {
            SortField::Name => ListOrder::Name,
            SortField::CreatedAt => ListOrder::CreatedAt,
            SortField::Id => ListOrder::Id,
        };
        NumberedPage { order, descending: self.desc, skip: self.skip(), limit: self.per_page as u32, only: None }
    }
}

fn positive(v: Option<&str>, field: &str, default: usize) -> Result<usize, Error> {
    match v {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::field(field, "must be an integer of at least 1")),
        },
    }
}

/// Checks `page`, `perPage` (clamped to [`MAX_PER_PAGE`]) and `sortBy`.
pub fn paging(q: &PageParams) -> Result<Paging, Error> {
    let page = positive(q.page.as_deref(), "page", 1)?;
    let per_page = positive(q.per_page.as_deref(), "perPage", 10)?.min(MAX_PER_PAGE);
    let (field, desc) = match q.sort_by.as_deref() {
        None => (SortField::CreatedAt, false),
        Some(s) => {
            let (f, desc) = match s.rsplit_once('.') {
                Some((f, "asc")) => (f, false),
                Some((f, "desc")) => (f, true),
                _ => (s, false),
            };
            let field = match f {
                "name" => SortField::Name,
                "createdAt" => SortField::CreatedAt,
                "id" => SortField::Id,
                _ => return Err(Error::field("sortBy", "must be name, createdAt or id, optionally with .asc or .desc")),
            };
            (field, desc)
        }
    };
    Ok(Paging { page, per_page, field, desc })
}

/// One item of a list paged here: its sort keys and its rendering.
pub struct Row<T> {
    /// Name.
    pub name: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Id (as text).
    pub id: String,
    /// The rendered item.
    pub value: T,
}

/// Sorts `rows` and cuts the page: (total, the page's items).
pub fn cut<T>(p: &Paging, mut rows: Vec<Row<T>>) -> (u64, Vec<T>) {
    rows.sort_by(|a, b| {
        let o = match p.field {
            SortField::Name => a.name.cmp(&b.name),
            SortField::Id => std::cmp::Ordering::Equal,
            SortField::CreatedAt => a.created.cmp(&b.created),
        }
        .then_with(|| a.id.cmp(&b.id));
        if p.desc { o.reverse() } else { o }
    });
    let total = rows.len() as u64;
    let skip = usize::try_from(p.skip()).unwrap_or(usize::MAX);
    (total, rows.into_iter().skip(skip).take(p.per_page).map(|r| r.value).collect())
}

/// The base of absolute hrefs: the configured public authority, else the `Host` header.
fn base_url(s: &AppState, headers: &HeaderMap) -> String {
    let host = s.auth.cfg.public_host.clone().or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string));
    let host = host.unwrap_or_else(|| "localhost".into());
    if host.contains("://") { host.trim_end_matches('/').to_string() } else { format!("http://{host}") }
}

/// The envelope of one page of `total` items.
pub fn envelope<T>(s: &AppState, headers: &HeaderMap, uri: &Uri, p: &Paging, total: u64, data: Vec<T>) -> Envelope<T> {
    let last = usize::try_from(total.div_ceil(p.per_page as u64)).unwrap_or(usize::MAX).max(1);
    let others: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or("");
            k != "page" && k != "perPage"
        })
        .collect();
    let base = base_url(s, headers);
    let href = |n: usize| {
        let mut q = others.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        format!("{base}{}?{q}page={n}&perPage={}", uri.path(), p.per_page)
    };
    let next = (p.page < last).then(|| p.page + 1);
    let previous = (p.page > 1 && p.page - 1 <= last).then(|| p.page - 1);
    Envelope {
        cursor: Cursor {
            pages: Pages { page: p.page, last, per_page: p.per_page, total_items: total, next, previous },
            hrefs: Hrefs { first: href(1), last: href(last), next: next.map(href), previous: previous.map(href) },
        },
        data,
    }
}
