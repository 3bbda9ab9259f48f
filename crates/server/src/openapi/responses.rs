//! The responses every native operation can give besides its own, added where they are
//! true for that operation, with their error body and headers:
//!
//! - every operation: 400, and on every response `x-request-id` (`Cc-Version` belongs to the
//!   CockroachDB routes only);
//! - authenticated operations: 401 (with `WWW-Authenticate`), 403, 429 (with `Retry-After`),
//!   `RateLimit-Limit`/`-Remaining`/`-Reset` on every response, and 503 (with `Retry-After`)
//!   when the handler reads the store;
//! - operations with path parameters: 400 (a malformed id) and 404;
//! - operations with a body: 400 (malformed JSON, wrong types, unknown fields) and 413;
//! - creates with `Idempotency-Key`: 422 (the key was used for another request), and
//!   `Idempotent-Replayed` on the replayed success.
//!
//! Error answers in the native shape are shared components (`#/components/responses/…`),
//! headers too (`#/components/headers/…`).

use super::native_operations;
use std::collections::BTreeMap;
use utoipa::Modify;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// Operations whose handler never reads the store (no 503).
const STORELESS: &[&str] = &["health", "ready", "metrics", "list_regions"];

/// The shared error answers: status, component name, description.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "Invalid argument (code 3): a malformed id, query parameter, header (`Idempotency-Key`) or body. \
         The message and `details` name each offending field; nothing was changed.",
    ),
    (
        "401",
        "Unauthenticated",
        "Unauthenticated: a missing, malformed, unknown, revoked or expired credential, or an address the key does not allow. \
         Always `{\"code\":16,\"message\":\"unauthenticated\",\"details\":[]}`.",
    ),
    ("403", "PermissionDenied", "Permission denied (code 7)."),
    ("404", "NotFound", "Not found (code 5); objects of other organizations are not found either."),
    (
        "409",
        "Conflict",
        "Conflict: the name or entry already exists (code 6), the object's state forbids the change (code 9), \
         or the cluster is busy with another operation (code 10, with `Retry-After`).",
    ),
    ("413", "PayloadTooLarge", "The request body is larger than 256 KiB (code 3)."),
    ("422", "IdempotencyKeyReused", "The `Idempotency-Key` was already used for a different request (code 3)."),
    ("429", "RateLimited", "Rate limit exceeded (code 8); retry after `Retry-After` seconds."),
    ("503", "Unavailable", "The store is unavailable (code 14); retry after `Retry-After` seconds."),
];

fn success_description(status: &str) -> &'static str {
    match status {
        "201" => "Created.",
        "202" => "Accepted: the change runs as an operation.",
        "204" => "Done; no content.",
        "503" => "Not ready.",
        _ => "OK.",
    }
}

fn integer(minimum: i64) -> Object {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(minimum)).build()
}

fn header(schema: Object, text: &str) -> Header {
    let mut h = Header::new(schema);
    h.description = Some(text.to_string());
    h
}

/// The shared headers by name.
fn shared_headers() -> Vec<(&'static str, Header)> {
    let string = || Object::with_type(Type::String);
    vec![
        ("x-request-id", header(string(), "The request id (the client's own, when it sent one).")),
        ("RateLimit-Limit", header(integer(0), "Requests per second allowed for the caller (absent when authentication was not reached).")),
        ("RateLimit-Remaining", header(integer(0), "Requests left in the current second.")),
        ("RateLimit-Reset", header(integer(0), "Seconds until the window resets.")),
        ("Retry-After", header(integer(1), "Seconds to wait before retrying (on 409: when the cluster is busy).")),
        ("WWW-Authenticate", header(string(), "`Bearer realm=\"dbcloud\"`.")),
        ("Idempotent-Replayed", header(string(), "`true` when this is the stored answer of an earlier request with the same `Idempotency-Key`.")),
    ]
}

/// `x-request-id` → `XRequestId`: the component name of a header.
fn component_name(header: &str) -> String {
    header.split('-').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

fn add_header(h: &mut BTreeMap<String, RefOr<Header>>, name: &str) {
    h.insert(name.to_string(), RefOr::Ref(Ref::new(format!("#/components/headers/{}", component_name(name)))));
}

/// The headers every response of an operation carries, and those of `status`.
fn add_headers(h: &mut BTreeMap<String, RefOr<Header>>, status: &str, authenticated: bool, idempotent: bool) {
    add_header(h, "x-request-id");
    if authenticated {
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            add_header(h, name);
        }
    }
    match status {
        "401" => add_header(h, "WWW-Authenticate"),
        "409" | "429" | "503" => add_header(h, "Retry-After"),
        s if idempotent && s.starts_with('2') => add_header(h, "Idempotent-Replayed"),
        _ => {}
    }
}

/// The shared error answer of `status`; for operations without authentication (the system
/// routes) a variant without the rate-limit headers.
fn error_component(status: &str, authenticated: bool) -> Option<(String, Response)> {
    let (_, name, text) = ERRORS.iter().find(|(s, _, _)| *s == status)?;
    let mut r = Response::new(*text);
    r.content.insert("application/json".into(), RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorBody")))));
    add_headers(&mut r.headers, status, authenticated, false);
    Some((if authenticated { name.to_string() } else { format!("Public{name}") }, r))
}

fn is_error_body(r: &RefOr<Response>) -> bool {
    match r {
        RefOr::T(r) => {
            r.content.values().all(|c| matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(s)) if s.ref_location.ends_with("/ErrorBody"))))
        }
        RefOr::Ref(_) => false,
    }
}

/// What an operation is, as far as its common responses go.
struct Traits {
    authenticated: bool,
    path_params: bool,
    body: bool,
    idempotent: bool,
    reads_store: bool,
}

impl Traits {
    fn of(op: &Operation) -> Self {
        let params: Vec<_> = op.parameters.iter().flatten().filter_map(|p| if let RefOr::T(p) = p { Some(p) } else { None }).collect();
        let id = op.operation_id.as_deref().unwrap_or_default();
        Traits {
            authenticated: op.security.as_ref().is_some_and(|s| !s.is_empty()),
            path_params: params.iter().any(|p| p.parameter_in == ParameterIn::Path),
            body: op.request_body.is_some(),
            idempotent: params.iter().any(|p| p.parameter_in == ParameterIn::Header && p.name.eq_ignore_ascii_case("idempotency-key")),
            reads_store: !STORELESS.contains(&id),
        }
    }

    /// The error statuses this operation can answer besides its own.
    fn common_errors(&self) -> Vec<&'static str> {
        let mut v = vec!["400"];
        if self.authenticated {
            v.extend(["401", "403", "429"]);
            if self.reads_store {
                v.push("503");
            }
        }
        if self.path_params {
            v.push("404");
        }
        if self.body {
            v.push("413");
        }
        if self.idempotent {
            v.push("422");
        }
        v
    }
}

/// Adds the common responses and headers to every native operation.
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut OpenApi) {
        let mut errors = BTreeMap::new();
        for (_, _, op) in native_operations(doc) {
            let t = Traits::of(op);
            let responses = &mut op.responses.responses;
            for status in t.common_errors() {
                responses.entry(status.to_string()).or_insert_with(|| RefOr::T(Response::default()));
            }
            for (status, r) in responses.iter_mut() {
                if status.starts_with(['4', '5'])
                    && (is_error_body(r) || matches!(r, RefOr::T(r) if r.content.is_empty()))
                    && let Some((name, component)) = error_component(status, t.authenticated)
                {
                    errors.entry(name.clone()).or_insert(component);
                    *r = RefOr::Ref(Ref::new(format!("#/components/responses/{name}")));
                    continue;
                }
                let RefOr::T(r) = r else { continue };
                if r.description.is_empty() {
                    r.description = success_description(status).to_string();
                }
                add_headers(&mut r.headers, status, t.authenticated, t.idempotent);
            }
        }
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, h) in shared_headers() {
            components.headers.insert(component_name(name), RefOr::T(h));
        }
        components.responses.extend(errors.into_iter().map(|(n, r)| (n, RefOr::T(r))));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_component_names() {
        assert_eq!(super::component_name("x-request-id"), "XRequestId");
        assert_eq!(super::component_name("RateLimit-Limit"), "RateLimitLimit");
    }
}
