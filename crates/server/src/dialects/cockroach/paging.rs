//! Page tokens (2022-09-20 and later) and the legacy `start_key` shape (2022-03-31).
//!
//! A token is `crdb2.` + base64url of the JSON of the endpoint, a fingerprint of the
//! filters, the sort key of the last item returned, the snapshot time and the order, sealed
//! (AES-256-GCM) under the server's master key, so every replica reads the tokens of the
//! others. A token that was altered, truncated or made up is a 400, never another
//! position; reusing a token on another endpoint or with other filters is a 400 too.

use super::{CResult, field};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dbcloud_app::model::NamePage;
use dbcloud_core::crypto::MasterKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// List parameters, as the vendor names them (both pagination families are accepted).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Token from a previous `next_page`.
    #[serde(rename = "pagination.page")]
    pub page: Option<String>,
    /// Page size (default 100, at most 500; larger values are clamped).
    #[serde(rename = "pagination.limit")]
    pub limit: Option<i64>,
    /// Items created after this time are excluded (RFC 3339).
    #[serde(rename = "pagination.as_of_time")]
    pub as_of_time: Option<String>,
    /// `ASC` (default) or `DESC`.
    #[serde(rename = "pagination.sort_order")]
    pub sort_order: Option<String>,
    /// Clusters only: `NAME` (default), `CREATED_AT` or `DELETED_AT`.
    #[serde(rename = "pagination.sort_by")]
    pub sort_by: Option<String>,
    /// Legacy token (`Cc-Version: 2022-03-31`).
    #[serde(rename = "pagination.start_key")]
    pub start_key: Option<String>,
    /// Legacy direction: `PAGE_DIRECTION_NEXT` (default) or `PAGE_DIRECTION_LAST`.
    #[serde(rename = "pagination.direction")]
    pub direction: Option<String>,
    /// Legacy snapshot time.
    #[serde(rename = "pagination.time")]
    pub time: Option<String>,
    /// Legacy order: `ASC` or `DESC`.
    #[serde(rename = "pagination.order")]
    pub order: Option<String>,
    /// Clusters: include deleted and failed clusters.
    pub show_inactive: Option<bool>,
    /// Available regions: `GCP`, `AWS` or `AZURE`.
    pub provider: Option<String>,
    /// Available regions: only serverless regions (every catalogue region is).
    pub serverless: Option<bool>,
    /// Nodes: only this region.
    pub region_name: Option<String>,
    /// API keys: only the keys of this service account.
    pub service_account_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    e: String,
    f: String,
    k: String,
    t: i64,
    d: bool,
}

/// A checked page request.
#[derive(Debug)]
pub struct Paging {
    /// Page size.
    pub limit: usize,
    /// Sort key of the last item of the previous page.
    pub after: Option<String>,
    /// Snapshot time: items created later are excluded.
    pub as_of: OffsetDateTime,
    /// Descending order.
    pub desc: bool,
    endpoint: String,
    filter: String,
    key: MasterKey,
}

/// Prefix of page tokens.
const PREFIX: &str = "crdb2.";
/// What a sealed token is bound to (beside its own contents).
const CONTEXT: &str = "cockroach-page-token";

/// Seals a token: `crdb2.` + base64url (no padding) of the sealed JSON.
fn seal(key: &MasterKey, t: &Token) -> String {
    let sealed = key.seal(CONTEXT, &serde_json::to_string(t).unwrap_or_default());
    let raw = STANDARD.decode(sealed).unwrap_or_default();
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Opens a token made by [`seal`] with the same key; `None` for anything else.
fn open(key: &MasterKey, token: &str) -> Option<Token> {
    let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
    let json = key.open(CONTEXT, &STANDARD.encode(raw))?;
    serde_json::from_str(&json).ok()
}

fn parse_time(name: &str, v: &str) -> CResult<OffsetDateTime> {
    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| field(name, "must be an RFC 3339 time"))
}

impl Paging {
    /// Checks the parameters of a list on `endpoint` with the given filter fingerprint;
    /// `key` (the server's master key) seals and opens the tokens.
    pub fn new(q: &ListQuery, endpoint: &str, filter: &str, key: &MasterKey) -> CResult<Paging> {
        let limit = match q.limit {
            Some(l) if l < 0 => return Err(field("pagination.limit", "must not be negative")),
            Some(0) | None => 100,
            Some(l) => l.min(500) as usize,
        };
        let order = q.sort_order.as_deref().or(q.order.as_deref());
        let mut desc = match order {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(_) => return Err(field("pagination.sort_order", "must be ASC or DESC")),
        };
        match q.direction.as_deref() {
            None | Some("PAGE_DIRECTION_NEXT") => {}
            Some("PAGE_DIRECTION_LAST") => desc = !desc,
            Some(_) => return Err(field("pagination.direction", "must be PAGE_DIRECTION_NEXT or PAGE_DIRECTION_LAST")),
        }
        let as_of = match q.as_of_time.as_deref().or(q.time.as_deref()) {
            Some(t) => Some(parse_time("pagination.as_of_time", t)?),
            None => None,
        };
        let token = q.page.as_deref().or(q.start_key.as_deref()).filter(|t| !t.is_empty());
        let mut p = Paging {
            limit,
            after: None,
            as_of: as_of.unwrap_or_else(dbcloud_core::now),
            desc,
            endpoint: endpoint.to_string(),
            filter: filter.to_string(),
            key: key.clone(),
        };
        if let Some(t) = token {
            let bad = || field("pagination.page", "invalid page token");
            let tok = open(key, t).ok_or_else(bad)?;
            if tok.e != endpoint || tok.f != filter {
                return Err(field("pagination.page", "the page token belongs to another list or other filters"));
            }
            p.after = Some(tok.k);
            p.as_of = OffsetDateTime::from_unix_timestamp_nanos(tok.t as i128 * 1_000_000).map_err(|_| bad())?;
            p.desc = tok.d;
        }
        Ok(p)
    }

    /// The page as the service reads it from the store, for lists keyed by name (SQL users,
    /// databases): the same items and order as [`Paging::apply`] with the name as key.
    pub fn by_name(&self) -> NamePage {
        NamePage { after: self.after.clone(), descending: self.desc, as_of: self.as_of, limit: self.limit as u32 }
    }

    /// Sorts, filters and pages an in-memory list by `key` (small collections: the allow
    /// list, API keys, service accounts).
    pub fn apply<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String, created: impl Fn(&T) -> Option<OffsetDateTime>) -> (Vec<T>, Option<String>) {
        items.retain(|i| created(i).is_none_or(|c| c <= self.as_of));
        items.sort_by_key(|i| key(i));
        if self.desc {
            items.reverse();
        }
        if let Some(after) = &self.after {
            items.retain(|i| if self.desc { key(i) < *after } else { key(i) > *after });
        }
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next = if more { items.last().map(&key) } else { None };
        (items, next)
    }

    /// The `pagination` object of the answer in the shape of `version`: always an object
    /// (the vendor's document has no null here), `""` meaning no such page.
    pub fn render(&self, next_key: Option<String>, version: &str) -> CockroachPagination {
        let next = next_key
            .map(|k| {
                let t = Token { e: self.endpoint.clone(), f: self.filter.clone(), k, t: (self.as_of.unix_timestamp_nanos() / 1_000_000) as i64, d: self.desc };
                seal(&self.key, &t)
            })
            .unwrap_or_default();
        if version == "2022-03-31" {
            let order = if self.desc { "DESC" } else { "ASC" };
            CockroachPagination::Keyset(KeysetPagination { next, last: "", limit: self.limit as u32, time: super::rfc3339(self.as_of), order })
        } else {
            CockroachPagination::Tokens(PageTokens { next_page: next, previous_page: "" })
        }
    }
}

/// `pagination` of a list (`Paging::render`): page tokens (`""`: no such page), or with
/// `Cc-Version: 2022-03-31` the keyset form.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CockroachPagination {
    /// Page tokens.
    Tokens(PageTokens),
    /// Keyset form of `Cc-Version: 2022-03-31`.
    Keyset(KeysetPagination),
}

/// Page tokens of a list.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct PageTokens {
    /// Token of the next page; `""` on the last.
    pub next_page: String,
    /// Always `""`.
    pub previous_page: &'static str,
}

/// Keyset pagination of `Cc-Version: 2022-03-31`.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct KeysetPagination {
    /// Token of the next page; `""` on the last.
    pub next: String,
    /// Always `""`.
    pub last: &'static str,
    /// Page size.
    pub limit: u32,
    /// The page's snapshot time (RFC 3339).
    pub time: String,
    /// `ASC` or `DESC`.
    pub order: &'static str,
}

/// The store position after a cluster, as a page token carries it: the cluster's id, and
/// its name when the list is ordered by name (the key is then `name/id`; names have no `/`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCursor {
    /// The last cluster's id.
    pub id: uuid::Uuid,
    /// The last cluster's name (lists by name).
    pub name: Option<String>,
}

impl ClusterCursor {
    /// The position after `c`.
    pub fn of(c: &dbcloud_types::Cluster, by_name: bool) -> Self {
        ClusterCursor { id: c.id, name: by_name.then(|| c.name.clone()) }
    }

    /// The sort key sealed in a token.
    pub fn render(&self) -> String {
        match &self.name {
            Some(n) => format!("{n}/{}", self.id),
            None => self.id.to_string(),
        }
    }

    /// Reads a sort key made by [`ClusterCursor::render`] for the same order.
    pub fn parse(k: &str, by_name: bool) -> Option<Self> {
        if by_name {
            let (name, id) = k.rsplit_once('/')?;
            Some(ClusterCursor { id: uuid::Uuid::try_parse(id).ok()?, name: Some(name.to_string()) })
        } else {
            Some(ClusterCursor { id: uuid::Uuid::try_parse(k).ok()?, name: None })
        }
    }
}

/// Whether `method path` is an operation of the vendor's document.
pub fn vendor_operation(method: &str, path: &str) -> bool {
    crate::dialects::vendor_operation(super::vendor_ops::OPERATIONS, method, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn next_page(p: CockroachPagination) -> String {
        serde_json::to_value(p).unwrap()["next_page"].as_str().unwrap().to_string()
    }

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_list() {
        let key = MasterKey::generate().0;
        let q = ListQuery { limit: Some(2), ..Default::default() };
        let p = Paging::new(&q, "sql-users", "c1", &key).unwrap();
        let (page, next) = p.apply(vec!["c", "a", "b", "d"], |s| s.to_string(), |_| None);
        assert_eq!(page, vec!["a", "b"]);
        let token = next_page(p.render(next, "2024-09-16"));
        let q2 = ListQuery { limit: Some(2), page: Some(token.clone()), ..Default::default() };
        let p2 = Paging::new(&q2, "sql-users", "c1", &key).unwrap();
        let (page, next) = p2.apply(vec!["c", "a", "b", "d"], |s| s.to_string(), |_| None);
        assert_eq!((page, next), (vec!["c", "d"], None));
        assert!(Paging::new(&q2, "sql-users", "c2", &key).is_err(), "other filters");
        assert!(Paging::new(&q2, "databases", "c1", &key).is_err(), "other endpoint");
        assert!(Paging::new(&q2, "sql-users", "c1", &MasterKey::generate().0).is_err(), "another server's key");
        let bad = ListQuery { page: Some("crdb2.garbage".into()), ..Default::default() };
        assert!(Paging::new(&bad, "sql-users", "c1", &key).is_err());
        assert!(Paging::new(&ListQuery { limit: Some(-1), ..Default::default() }, "x", "", &key).is_err());
        assert_eq!(
            serde_json::to_value(p2.render(None, "2024-09-16")).unwrap(),
            json!({"next_page": "", "previous_page": ""}),
            "an object, also on the last page"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// A token opens to the position it was made for, on its own list only; any other
        /// non-empty string (empty means the first page), and the token with any one
        /// character changed, is a 400.
        #[test]
        fn tokens_round_trip_and_refuse_anything_else(endpoint in "[a-z/-]{1,20}", filter in ".{0,20}", last in ".{0,40}", limit in 1i64..600, desc in proptest::bool::ANY, junk in ".{1,80}", pos in 0usize..200, c in "[A-Za-z0-9_.-]") {
            let key = MasterKey::generate().0;
            let order = if desc { "DESC" } else { "ASC" };
            let q = ListQuery { limit: Some(limit), sort_order: Some(order.into()), ..Default::default() };
            let p = Paging::new(&q, &endpoint, &filter, &key).unwrap();
            let token = next_page(p.render(Some(last.clone()), "2024-09-16"));
            let back = Paging::new(&ListQuery { page: Some(token.clone()), ..Default::default() }, &endpoint, &filter, &key).unwrap();
            proptest::prop_assert_eq!((back.after.as_deref(), back.desc, back.as_of), (Some(last.as_str()), desc, p.as_of));
            let junk_page = Paging::new(&ListQuery { page: Some(junk), ..Default::default() }, &endpoint, &filter, &key);
            proptest::prop_assert!(junk_page.is_err());
            let pos = pos % token.len();
            let mut altered = token.clone();
            altered.replace_range(pos..pos + 1, &c);
            let got = Paging::new(&ListQuery { page: Some(altered.clone()), ..Default::default() }, &endpoint, &filter, &key);
            proptest::prop_assert_eq!(got.is_ok(), altered == token, "{} from {}", altered, token);
        }
    }

    #[test]
    fn cluster_cursors_round_trip_in_their_order_only() {
        let id = uuid::Uuid::from_u128(7);
        for c in [ClusterCursor { id, name: Some("crdb-a".into()) }, ClusterCursor { id, name: None }] {
            let by_name = c.name.is_some();
            assert_eq!(ClusterCursor::parse(&c.render(), by_name), Some(c.clone()));
            assert_eq!(ClusterCursor::parse(&c.render(), !by_name), None);
        }
        assert_eq!(ClusterCursor::parse("no-id", true), None);
    }

    #[test]
    fn vendor_operations_match_templates() {
        assert!(vendor_operation("GET", "/api/v1/clusters/abc/backups"));
        assert!(vendor_operation("GET", "/api/v1/folders"));
        assert!(!vendor_operation("GET", "/api/v1/nothing"));
        assert!(!vendor_operation("POST", "/api/v1/organization"));
    }
}
