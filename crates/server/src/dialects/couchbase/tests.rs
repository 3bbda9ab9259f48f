//! Unit tests of the dialect's pure parts: bucket ids, Go durations, paging parameters,
//! versions, the error mapping.

use super::allowlist::parse_go_duration;
use super::clusters::core_version;
use super::paging::{MAX_PER_PAGE, PageParams, Paging, Row, SortField, cut, paging};
use super::wire::{bucket_id, bucket_name, go_duration};
use super::{TIMESTAMP_REASON, couchbase_error};
use crate::error::ApiError;
use axum::http::StatusCode;
use dbcloud_core::Error;

#[test]
fn bucket_ids() {
    assert_eq!(bucket_id("couchbasecloudbucket"), "Y291Y2hiYXNlY2xvdWRidWNrZXQ=");
    assert_eq!(bucket_name("Y291Y2hiYXNlY2xvdWRidWNrZXQ=").unwrap(), "couchbasecloudbucket");
    assert_eq!(bucket_name("Y291Y2hiYXNlY2xvdWRidWNrZXQ").unwrap(), "couchbasecloudbucket");
    assert_eq!(bucket_name(&bucket_id("a?b>").replace('+', "-").replace('/', "_")).unwrap(), "a?b>");
}

#[test]
fn durations() {
    assert_eq!(parse_go_duration("1h0m0s"), Some(3600.0));
    assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
    assert_eq!(parse_go_duration("90s"), Some(90.0));
    assert_eq!(parse_go_duration("x"), None);
    assert_eq!(parse_go_duration(""), None);
    assert_eq!(go_duration(3600), "1h0m0s");
    assert_eq!(go_duration(90), "1m30s");
    assert_eq!(go_duration(5), "5s");
}

#[test]
fn empty_absent_and_latest_versions_mean_the_latest() {
    assert_eq!(core_version(None), Ok(None));
    assert_eq!(core_version(Some("")), Ok(None));
    assert_eq!(core_version(Some("latest")), Ok(None));
    assert_eq!(core_version(Some("enterprise-6.6.0")), Ok(Some("6.6.0".into())));
    assert!(core_version(Some("7.0")).is_err());
}

#[test]
fn pages_cut_in_memory() {
    let t = time::OffsetDateTime::UNIX_EPOCH;
    let rows = |n: usize| (0..n).map(|i| Row { name: format!("n{}", n - i), created: t, id: format!("{i:03}"), value: i }).collect::<Vec<_>>();
    let p = Paging { page: 2, per_page: 2, field: SortField::Id, desc: false };
    assert_eq!(cut(&p, rows(5)), (5, vec![2, 3]));
    let p = Paging { page: 1, per_page: 2, field: SortField::Name, desc: true };
    assert_eq!(cut(&p, rows(3)), (3, vec![0, 1]));
    let p = Paging { page: 9, per_page: 2, field: SortField::CreatedAt, desc: false };
    assert_eq!(cut(&p, rows(3)), (3, vec![]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

    #[test]
    fn durations_round_trip_and_never_panic(secs in 0i64..10_000_000_000, junk in "[0-9.hms ]{0,40}|.{0,40}") {
        proptest::prop_assert_eq!(parse_go_duration(&go_duration(secs)), Some(secs as f64));
        if let Some(d) = parse_go_duration(&junk) {
            proptest::prop_assert!(d >= 0.0);
        }
    }

    #[test]
    fn page_parameters_never_panic(page in proptest::option::of(".{0,24}"), per_page in proptest::option::of("[0-9+-]{0,24}"), sort in proptest::option::of("[a-zA-Z.]{0,16}")) {
        if let Ok(p) = paging(&PageParams { page, per_page, sort_by: sort }) {
            proptest::prop_assert!(p.page >= 1 && (1..=MAX_PER_PAGE).contains(&p.per_page));
            let _ = p.skip();
        }
    }
}

#[test]
fn error_mapping() {
    let mut e = ApiError::unauthenticated();
    e.auth_reason = Some(TIMESTAMP_REASON);
    assert_eq!(couchbase_error(&e).2, TIMESTAMP_REASON);
    let e: ApiError = Error::field("name", "bad").into();
    assert_eq!(couchbase_error(&e).0, StatusCode::UNPROCESSABLE_ENTITY);
    let e: ApiError = Error::Aborted("busy".into()).into();
    assert_eq!(couchbase_error(&e).1, "EntityStateInvalid");
    let e: ApiError = Error::busy(uuid::Uuid::nil(), "SCALING").into();
    assert_eq!((couchbase_error(&e).1, e.retry_after), ("EntityStateInvalid", Some(1)));
}
