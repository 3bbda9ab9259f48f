//! Authentication at the HTTP edge: the [`Caller`] extractor parses the `Authorization`
//! header into a [`Credential`], finds the client address (behind trusted proxies) and asks
//! the service layer ([`dbcloud_app::auth::AuthService`]) to admit the request.
//!
//! Accepted forms (every API surface):
//! - `Authorization: Bearer <access key>_<secret>` (the dbcloud secret key);
//! - `Authorization: Bearer <access key>:<signature>` + `Couchbase-Timestamp` (HMAC);
//! - `Authorization: Basic base64(<access key>:<secret>)`;
//! - `Authorization: Bearer base64(<access key>:<secret>)`.
//!
//! Every failure is the same 401 (audited by the service with its reason).

use crate::error::ApiError;
use crate::ratelimit::Decision;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use dbcloud_app::App;
pub use dbcloud_app::auth::{AuthConfig, AuthService};
use dbcloud_app::auth::{AuthError, Credential, RequestFacts};
use dbcloud_core::keys::{is_access_key, split_bearer_token};
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::signing;
use dbcloud_store::{Ctx, IdempotencyKey};
use dbcloud_types::Code;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// An authenticated request: who calls, and the request's id and source address.
#[derive(Clone)]
pub struct Caller(pub dbcloud_app::Caller);

impl std::ops::Deref for Caller {
    type Target = dbcloud_app::Caller;
    fn deref(&self) -> &dbcloud_app::Caller {
        &self.0
    }
}

impl Caller {
    /// Checks the principal holds `p` on `t`; a refusal is audited. Every handler calls
    /// this (or [`Caller::require_somewhere`]) explicitly.
    pub async fn require(&self, p: Permission, t: Target) -> Result<(), ApiError> {
        Ok(self.0.require(p, t).await?)
    }

    /// Checks the principal holds `p` at some scope (org-wide catalogues, filtered lists).
    pub async fn require_somewhere(&self, p: Permission) -> Result<(), ApiError> {
        Ok(self.0.require_somewhere(p).await?)
    }

    /// Records a refusal in the audit log and returns the 403.
    pub async fn denied(&self, what: &str, target: &str) -> ApiError {
        self.0.denied(what, target).await.into()
    }

    /// The store context of a change made by this caller (for handlers not yet on the
    /// service layer).
    pub fn ctx(&self, idempotency: Option<IdempotencyKey>) -> Ctx {
        Ctx {
            organization_id: self.principal.organization_id,
            actor: self.principal.key_id.clone(),
            request_id: self.request_id.clone(),
            source_ip: self.source_ip.clone(),
            idempotency,
        }
    }
}

/// Parses the `Authorization` header into a credential.
fn parse_authorization(headers: &HeaderMap) -> Option<Credential> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    let decode_pair = |s: &str| -> Option<Credential> {
        let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (ak, secret) = text.split_once(':')?;
        is_access_key(ak).then(|| Credential::Secret { access_key: ak.into(), secret: secret.into() })
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return decode_pair(rest);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    if let Some((ak, sig)) = rest.split_once(':') {
        let signature = signing::decode_signature(sig)?;
        return is_access_key(ak).then(|| Credential::Signed { access_key: ak.into(), signature });
    }
    if let Some((ak, secret)) = split_bearer_token(rest) {
        return Some(Credential::Secret { access_key: ak.into(), secret: secret.into() });
    }
    decode_pair(rest)
}

/// The client address: the peer, or — when the peer is a trusted proxy — the nearest
/// untrusted address of `X-Forwarded-For`.
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?;
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(chain.into_iter().rev().find(|ip| !trusted.iter().any(|n| n.contains(ip))).unwrap_or(peer))
}

/// The request id the request-id layer assigned.
pub fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// The `RateLimit-*` decision of a request, filled by the extractor, read by [`rate_headers`].
#[derive(Clone, Default)]
pub struct RateSlot(Arc<Mutex<Option<Decision>>>);

impl RateSlot {
    fn set(&self, d: Decision) {
        *self.0.lock().expect("rate slot") = Some(d);
    }
}

/// Middleware: adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to the
/// response of every request that went through authentication.
pub async fn rate_headers(mut req: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some(d) = *slot.0.lock().expect("rate slot") {
        let h = res.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
        h.insert("ratelimit-reset", HeaderValue::from(d.reset_secs));
    }
    res
}

/// The 429 answer.
pub fn too_many(d: Decision) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, Code::ResourceExhausted, "rate limit exceeded");
    e.retry_after = Some(d.reset_secs.max(1));
    e
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    App: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_ref(state);
        let auth = app.auth();
        let slot = parts.extensions.get::<RateSlot>().cloned().unwrap_or_default();
        let request_id = request_id(&parts.headers);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let facts = RequestFacts {
            method: parts.method.as_str(),
            target: parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
            path: parts.uri.path(),
            host: header("host"),
            timestamp: header("couchbase-timestamp"),
            ip: client_ip(parts, &auth.cfg.trusted_proxies),
            request_id: &request_id,
            had_header: parts.headers.contains_key(header::AUTHORIZATION),
        };
        let (outcome, decision) = auth.authenticate(parse_authorization(&parts.headers), facts).await;
        if let Some(d) = decision {
            slot.set(d);
        }
        match outcome {
            Ok(admitted) => Ok(Caller(admitted.caller)),
            Err(AuthError::RateLimited(d)) => Err(too_many(d)),
            Err(AuthError::Unauthenticated { reason }) => {
                let mut e = ApiError::unauthenticated();
                e.auth_reason = Some(reason);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn parses_every_form() {
        let k = dbcloud_core::keys::NewKey::generate();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", k.access_key, k.secret));
        for h in [format!("Bearer {}", k.bearer_token()), format!("Basic {b64}"), format!("Bearer {b64}")] {
            match parse_authorization(&headers(&h)) {
                Some(Credential::Secret { access_key, secret }) => assert_eq!((access_key, secret), (k.access_key.clone(), k.secret.clone())),
                _ => panic!("{h}"),
            }
        }
        let sig = signing::sign(&k.secret, "GET", "/v1/clusters", "1");
        assert!(matches!(parse_authorization(&headers(&format!("Bearer {}:{sig}", k.access_key))), Some(Credential::Signed { .. })));
        assert!(parse_authorization(&headers(&format!("Bearer {}:notbase64!", k.access_key))).is_none());
        assert!(parse_authorization(&headers("Bearer nonsense")).is_none());
        assert!(parse_authorization(&headers("Digest x")).is_none());
        assert!(parse_authorization(&HeaderMap::new()).is_none());
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let req = |peer: &str, xff: &str| {
            let mut r = axum::http::Request::builder().uri("/").header("x-forwarded-for", xff).body(()).unwrap();
            r.extensions_mut().insert(ConnectInfo::<SocketAddr>(format!("{peer}:1000").parse().unwrap()));
            r.into_parts().0
        };
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(&req("203.0.113.9", "1.2.3.4"), &trusted).unwrap().to_string(), "203.0.113.9", "untrusted peer");
        assert_eq!(client_ip(&req("10.0.0.5", "1.2.3.4, 10.0.0.7"), &trusted).unwrap().to_string(), "1.2.3.4");
        assert_eq!(client_ip(&req("10.0.0.5", "garbage"), &trusted).unwrap().to_string(), "10.0.0.5");
    }
}
