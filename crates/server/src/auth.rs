//! Authentication: the [`Caller`] extractor turns a credential into a principal.
//!
//! Accepted forms (every API surface):
//! - `Authorization: Bearer <access key>_<secret>` (the dbcloud secret key);
//! - `Authorization: Basic base64(<access key>:<secret>)`;
//! - `Authorization: Bearer base64(<access key>:<secret>)`.
//!
//! Every failure — missing header, unknown key, wrong secret, revoked, expired, refused
//! address — is the same 401, so a caller learns nothing about which keys exist.
//! Secrets are compared as SHA-256 hashes in constant time.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use dbcloud_core::keys::{is_access_key, split_bearer_token, verify_secret};
use dbcloud_core::perms::{Permission, Principal, Target};
use dbcloud_store::{AuditEvent, Ctx, IdempotencyKey};
use std::net::{IpAddr, SocketAddr};

/// An authenticated request: who calls, and the request's id and source address.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal.
    pub principal: Principal,
    /// Request id (`x-request-id`).
    pub request_id: String,
    /// Peer address.
    pub source_ip: String,
}

impl Caller {
    /// Checks the principal holds `p` on `t` (every handler calls this explicitly).
    pub fn require(&self, p: Permission, t: Target) -> Result<(), ApiError> {
        self.principal.require(p, t).map_err(ApiError::from)
    }

    /// Checks the principal holds `p` at some scope (org-wide catalogues, filtered lists).
    pub fn require_somewhere(&self, p: Permission) -> Result<(), ApiError> {
        if self.principal.can_somewhere(p) { Ok(()) } else { Err(dbcloud_core::Error::PermissionDenied.into()) }
    }

    /// The organization the caller acts in.
    pub fn org(&self) -> uuid::Uuid {
        self.principal.organization_id
    }

    /// The store context of a change made by this caller.
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

/// A credential as presented: access key id and secret.
struct Presented {
    access_key: String,
    secret: String,
}

/// Parses the `Authorization` header into a presented credential.
fn parse_authorization(headers: &HeaderMap) -> Option<Presented> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    let decode_pair = |s: &str| -> Option<Presented> {
        let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (ak, secret) = text.split_once(':')?;
        is_access_key(ak).then(|| Presented { access_key: ak.into(), secret: secret.into() })
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return decode_pair(rest);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    if let Some((ak, secret)) = split_bearer_token(rest) {
        return Some(Presented { access_key: ak.into(), secret: secret.into() });
    }
    decode_pair(rest)
}

/// The peer address of a request.
pub fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The request id the request-id layer assigned.
pub fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

fn cidr_allows(cidrs: &[String], ip: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(ip) = ip else { return false };
    cidrs.iter().filter_map(|c| c.parse::<ipnet::IpNet>().ok()).any(|n| n.contains(&ip))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = request_id(&parts.headers);
        let ip = peer_ip(parts);
        let source_ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
        let presented = parse_authorization(&parts.headers);
        let fail = |reason: &'static str, key: Option<String>, org: Option<uuid::Uuid>| {
            let store = state.store.clone();
            let event = AuditEvent {
                id: dbcloud_core::new_id(),
                organization_id: org,
                time: dbcloud_core::now(),
                actor: key.unwrap_or_else(|| "anonymous".into()),
                source_ip: source_ip.clone(),
                action: "auth.authenticate".into(),
                target: format!("{} {}", parts.method, parts.uri.path()),
                outcome: "failed".into(),
                request_id: request_id.clone(),
                details: serde_json::json!({ "reason": reason }),
            };
            async move {
                metrics::counter!("dbcloud_auth_failures_total", "reason" => reason).increment(1);
                if let Err(e) = store.append_audit(&event).await {
                    tracing::warn!(error = %e, "could not audit a failed authentication");
                }
                ApiError::unauthenticated()
            }
        };
        let Some(p) = presented else {
            let reason = if parts.headers.contains_key(header::AUTHORIZATION) { "malformed credential" } else { "no credential" };
            return Err(fail(reason, None, None).await);
        };
        let record = state.store.find_api_key(&p.access_key).await?;
        let Some(k) = record else {
            return Err(fail("unknown key", None, None).await);
        };
        let org = Some(k.organization_id);
        let key = Some(k.access_key.clone());
        if !verify_secret(&p.secret, &k.secret_hash) {
            return Err(fail("wrong secret", key, org).await);
        }
        if k.state != "active" {
            return Err(fail("revoked key", key, org).await);
        }
        if k.expires_at.is_some_and(|e| e <= time::OffsetDateTime::now_utc()) {
            return Err(fail("expired key", key, org).await);
        }
        if !cidr_allows(&k.allowed_cidrs, ip) {
            return Err(fail("address not allowed", key, org).await);
        }
        Ok(Caller {
            principal: Principal { organization_id: k.organization_id, key_id: k.access_key, grants: k.grants },
            request_id,
            source_ip,
        })
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
            let p = parse_authorization(&headers(&h)).unwrap_or_else(|| panic!("{h}"));
            assert_eq!((p.access_key.as_str(), p.secret.as_str()), (k.access_key.as_str(), k.secret.as_str()));
        }
        assert!(parse_authorization(&headers("Bearer nonsense")).is_none());
        assert!(parse_authorization(&headers("Digest x")).is_none());
        assert!(parse_authorization(&HeaderMap::new()).is_none());
    }

    #[test]
    fn cidrs_restrict() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(cidr_allows(&[], Some(ip)));
        assert!(cidr_allows(&["10.0.0.0/8".into()], Some(ip)));
        assert!(!cidr_allows(&["192.168.0.0/16".into()], Some(ip)));
        assert!(!cidr_allows(&["10.0.0.0/8".into()], None));
    }
}
