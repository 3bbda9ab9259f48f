//! `Cc-Version`: the API version a request asks for, echoed on every response.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Supported versions, oldest first; the last is the latest (used when none is asked for).
pub const SUPPORTED: &[&str] = &["2022-03-31", "2022-09-20", "2023-04-10", "2024-09-16"];
/// The latest version.
pub const LATEST: &str = "2024-09-16";

/// The version in force for a request (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcVersion(pub &'static str);

/// Resolves the header: missing → latest; one supported value → it; anything else → `None`.
pub fn resolve(values: &[&HeaderValue]) -> Option<&'static str> {
    match values {
        [] => Some(LATEST),
        [one] => {
            let v = one.to_str().ok()?.trim();
            SUPPORTED.iter().find(|s| **s == v).copied()
        }
        _ => None,
    }
}

/// Middleware: refuses unknown versions with 400 `invalid Cc-Version` and echoes the
/// version in force on every response.
pub async fn cc_version(mut req: Request, next: Next) -> Response {
    let version = resolve(&req.headers().get_all("cc-version").iter().collect::<Vec<_>>());
    let (mut res, echoed) = match version {
        Some(v) => {
            req.extensions_mut().insert(CcVersion(v));
            (next.run(req).await, v)
        }
        None => (ApiError::bad_request("invalid Cc-Version").into_response(), LATEST),
    };
    res.headers_mut().insert("cc-version", HeaderValue::from_static(echoed));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(resolve(&[]), Some(LATEST));
        assert_eq!(resolve(&[&h("2022-09-20")]), Some("2022-09-20"));
        assert_eq!(resolve(&[&h("2024-01-01")]), None);
        assert_eq!(resolve(&[&h("yesterday")]), None);
        assert_eq!(resolve(&[&h("2022-09-20"), &h("2022-09-20")]), None, "repeated");
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn only_a_supported_version_resolves(bytes in proptest::collection::vec(any::<u8>(), 0..40), date in "[0-9]{4}-[0-9]{2}-[0-9]{2}", pad in "[ \t]{0,2}") {
            if let Ok(v) = HeaderValue::from_bytes(&bytes)
                && let Some(got) = resolve(&[&v])
            {
                prop_assert!(SUPPORTED.contains(&got));
                prop_assert_eq!(std::str::from_utf8(&bytes).unwrap().trim(), got);
            }
            let v = HeaderValue::from_str(&format!("{pad}{date}{pad}")).unwrap();
            prop_assert_eq!(resolve(&[&v]), SUPPORTED.iter().find(|s| **s == date).copied());
            prop_assert_eq!(resolve(&[&v, &v]), None, "repeated");
        }
    }
}
