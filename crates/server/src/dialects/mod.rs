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

/// Declares a dialect's error type `$err` (the native [`crate::error::ApiError`], answered
/// in the dialect's own shape by the `IntoResponse` the dialect writes) with its `From`
/// conversions, and the handler result alias `$result`.
macro_rules! dialect_error {
    ($(#[$doc:meta])* $err:ident, $result:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $err(pub crate::error::ApiError);

        impl From<crate::error::ApiError> for $err {
            fn from(e: crate::error::ApiError) -> Self {
                $err(e)
            }
        }

        impl From<dbcloud_core::Error> for $err {
            fn from(e: dbcloud_core::Error) -> Self {
                $err(e.into())
            }
        }

        /// Result of a handler of this dialect.
        pub type $result<T> = Result<T, $err>;
    };
}

/// Declares a dialect's extractors: the authenticated caller, a JSON body and query
/// parameters, each the native extractor with its rejection wrapped in the dialect's error
/// type (`$err(ApiError)`), so every dialect answers failures in its own shape.
macro_rules! dialect_extractors {
    ($err:ident, $caller:ident, $json:ident, $query:ident) => {
        /// The authenticated caller; failures answer in this dialect's shape.
        pub struct $caller(pub crate::auth::Caller);

        impl axum::extract::FromRequestParts<crate::state::AppState> for $caller {
            type Rejection = $err;

            async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &crate::state::AppState) -> Result<Self, Self::Rejection> {
                <crate::auth::Caller as axum::extract::FromRequestParts<_>>::from_request_parts(parts, state).await.map($caller).map_err($err)
            }
        }

        /// A JSON body (any or no content type); failures answer in this dialect's shape.
        pub struct $json<T>(pub T);

        impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for $json<T> {
            type Rejection = $err;

            async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
                <crate::extract::ApiJson<T> as axum::extract::FromRequest<S>>::from_request(req, state).await.map(|j| $json(j.0)).map_err($err)
            }
        }

        /// Query parameters; failures answer in this dialect's shape.
        pub struct $query<T>(pub T);

        impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for $query<T> {
            type Rejection = $err;

            async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
                <crate::extract::ApiQuery<T> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state).await.map(|q| $query(q.0)).map_err($err)
            }
        }
    };
}

pub mod cockroach;
pub mod couchbase;
pub mod cratedb;
