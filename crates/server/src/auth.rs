//! Authentication: the [`Caller`] extractor turns a credential into a principal, after the
//! per-address limit and before the per-key limit.
//!
//! Accepted forms (every API surface):
//! - `Authorization: Bearer <access key>_<secret>` (the dbcloud secret key);
//! - `Authorization: Bearer <access key>:<signature>` + `Couchbase-Timestamp` (HMAC);
//! - `Authorization: Basic base64(<access key>:<secret>)`;
//! - `Authorization: Bearer base64(<access key>:<secret>)`.
//!
//! Every failure — missing or malformed header, unknown key, wrong secret or signature,
//! revoked, expired, skewed or replayed, refused address — is the same 401 and is audited.
//! Secrets are compared as SHA-256 hashes, signatures as HMACs, in constant time.

use crate::error::ApiError;
use crate::ratelimit::{Decision, RateLimiter};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use dbcloud_core::crypto::MasterKey;
use dbcloud_core::keys::{is_access_key, split_bearer_token, verify_secret};
use dbcloud_core::perms::{Permission, Principal, Target};
use dbcloud_core::signing;
use dbcloud_store::{ApiKeyRecord, AuditEvent, Ctx, IdempotencyKey};
use dbcloud_types::Code;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Authentication settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Key that seals HMAC secrets at rest.
    pub master_key: MasterKey,
    /// Allowed clock skew of signed requests.
    pub skew: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Public authority (`host[:port]`) clients sign absolute URLs with; else the `Host` header.
    pub public_host: Option<String>,
    /// Requests per second of a key when neither it nor its organization sets one.
    pub default_rate_limit: i64,
    /// Requests per second per source address for unauthenticated and failed traffic.
    pub ip_rate_limit: i64,
    /// How long a looked-up key is reused before it is read again.
    pub cache_ttl: Duration,
}

impl AuthConfig {
    /// Defaults with a fresh random master key (tests; the server loads a persistent one).
    pub fn ephemeral() -> Self {
        AuthConfig {
            master_key: MasterKey::generate().0,
            skew: Duration::from_millis(signing::DEFAULT_SKEW_MS as u64),
            trusted_proxies: vec![],
            public_host: None,
            default_rate_limit: 10,
            ip_rate_limit: 20,
            cache_ttl: Duration::from_secs(1),
        }
    }
}

/// Key cache, last-use throttle and limiter.
pub struct AuthService {
    /// Settings.
    pub cfg: AuthConfig,
    /// The rate limiter.
    pub limiter: Arc<RateLimiter>,
    cache: RwLock<HashMap<String, (Instant, Arc<ApiKeyRecord>)>>,
    touched: Mutex<HashMap<String, Instant>>,
}

impl AuthService {
    /// A service with `cfg`; `shared_store` when replicas share the store.
    pub fn new(cfg: AuthConfig, shared_store: bool) -> Arc<Self> {
        Arc::new(AuthService { cfg, limiter: RateLimiter::new(shared_store), cache: RwLock::new(HashMap::new()), touched: Mutex::new(HashMap::new()) })
    }

    /// Drops every cached key (after any key, grant or account change here or elsewhere).
    pub fn invalidate(&self) {
        self.cache.write().expect("auth cache").clear();
    }

    async fn lookup(&self, state: &AppState, access_key: &str) -> Result<Option<Arc<ApiKeyRecord>>, ApiError> {
        if let Some((at, k)) = self.cache.read().expect("auth cache").get(access_key)
            && at.elapsed() < self.cfg.cache_ttl
        {
            return Ok(Some(k.clone()));
        }
        let found = state.store.find_api_key(access_key).await?.map(Arc::new);
        if let Some(k) = &found {
            let mut cache = self.cache.write().expect("auth cache");
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(access_key.to_string(), (Instant::now(), k.clone()));
        }
        Ok(found)
    }

    /// Whether the last-use record of `key` is due (at most one write per key every 5 s).
    fn touch_due(&self, key: &str) -> bool {
        let mut t = self.touched.lock().expect("touch map");
        match t.get(key) {
            Some(at) if at.elapsed() < Duration::from_secs(5) => false,
            _ => {
                if t.len() > 100_000 {
                    t.clear();
                }
                t.insert(key.to_string(), Instant::now());
                true
            }
        }
    }
}

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

/// A credential as presented.
enum Presented {
    Secret { access_key: String, secret: String },
    Signed { access_key: String, signature: Vec<u8> },
}

impl Presented {
    fn access_key(&self) -> &str {
        match self {
            Presented::Secret { access_key, .. } | Presented::Signed { access_key, .. } => access_key,
        }
    }
}

/// Parses the `Authorization` header.
fn parse_authorization(headers: &HeaderMap) -> Option<Presented> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    let decode_pair = |s: &str| -> Option<Presented> {
        let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (ak, secret) = text.split_once(':')?;
        is_access_key(ak).then(|| Presented::Secret { access_key: ak.into(), secret: secret.into() })
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return decode_pair(rest);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    if let Some((ak, sig)) = rest.split_once(':') {
        let signature = signing::decode_signature(sig)?;
        return is_access_key(ak).then(|| Presented::Signed { access_key: ak.into(), signature });
    }
    if let Some((ak, secret)) = split_bearer_token(rest) {
        return Some(Presented::Secret { access_key: ak.into(), secret: secret.into() });
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

fn cidr_allows(cidrs: &[String], ip: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(ip) = ip else { return false };
    cidrs.iter().filter_map(|c| c.parse::<IpNet>().ok()).any(|n| n.contains(&ip))
}

/// Why authentication failed (for the audit log only; the client sees one 401).
struct Failure {
    reason: &'static str,
    key: Option<String>,
    org: Option<uuid::Uuid>,
}

fn fail(reason: &'static str, k: Option<&ApiKeyRecord>) -> Failure {
    Failure { reason, key: k.map(|k| k.access_key.clone()), org: k.map(|k| k.organization_id) }
}

/// Whether a signature for this method is accepted only once: the body is not signed, so a
/// replayed change — whatever its method — could carry another body. Only reads (GET, HEAD,
/// OPTIONS) may reuse a signature within the skew window.
fn signature_is_one_use(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn authenticate(parts: &Parts, state: &AppState, ip: Option<IpAddr>) -> Result<Arc<ApiKeyRecord>, Failure> {
    let auth = &state.auth;
    let Some(presented) = parse_authorization(&parts.headers) else {
        let reason = if parts.headers.contains_key(header::AUTHORIZATION) { "malformed credential" } else { "no credential" };
        return Err(fail(reason, None));
    };
    let k = match auth.lookup(state, presented.access_key()).await {
        Ok(Some(k)) => k,
        Ok(None) => return Err(fail("unknown key", None)),
        Err(e) => {
            tracing::error!(error = ?e.body, "key lookup failed");
            return Err(fail("store unavailable", None));
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let grace = k.prev_valid_until.is_some_and(|u| u > now);
    match &presented {
        Presented::Secret { secret, .. } => {
            let current = verify_secret(secret, &k.secret_hash);
            let previous = grace && k.prev_secret_hash.as_deref().is_some_and(|h| verify_secret(secret, h));
            if !(current | previous) {
                return Err(fail("wrong secret", Some(&k)));
            }
        }
        Presented::Signed { signature, .. } => {
            let ts = parts.headers.get("couchbase-timestamp").and_then(|v| v.to_str().ok()).unwrap_or("");
            let now_ms = dbcloud_core::time_to_ms(now);
            if signing::check_timestamp(ts, now_ms, auth.cfg.skew.as_millis() as i64).is_err() {
                return Err(fail("invalid or expired Couchbase-Timestamp", Some(&k)));
            }
            let host = auth.cfg.public_host.clone().or_else(|| parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string));
            let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let endpoints = signing::candidates(target, host.as_deref());
            let open = |sealed: &Option<String>| sealed.as_deref().and_then(|s| auth.cfg.master_key.open(&k.access_key, s));
            let mut ok = open(&k.secret_enc).is_some_and(|s| signing::verify(&s, parts.method.as_str(), &endpoints, ts, signature));
            if !ok && grace {
                ok = open(&k.prev_secret_enc).is_some_and(|s| signing::verify(&s, parts.method.as_str(), &endpoints, ts, signature));
            }
            if !ok {
                return Err(fail("wrong signature", Some(&k)));
            }
            if signature_is_one_use(&parts.method) {
                let expires = now + auth.cfg.skew * 2;
                // One canonical text per signature, however it was padded.
                let canonical = base64::engine::general_purpose::STANDARD_NO_PAD.encode(signature);
                match state.store.use_signature(&k.access_key, &canonical, now, expires).await {
                    Ok(true) => {}
                    Ok(false) => return Err(fail("replayed signature", Some(&k))),
                    Err(e) => {
                        tracing::error!(error = %e, "replay guard unavailable");
                        return Err(fail("store unavailable", Some(&k)));
                    }
                }
            }
        }
    }
    if k.state != "active" {
        return Err(fail("revoked key", Some(&k)));
    }
    if k.expires_at.is_some_and(|e| e <= now) {
        return Err(fail("expired key", Some(&k)));
    }
    if !cidr_allows(&k.allowed_cidrs, ip) {
        return Err(fail("address not allowed", Some(&k)));
    }
    Ok(k)
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let slot = parts.extensions.get::<RateSlot>().cloned().unwrap_or_default();
        let request_id = request_id(&parts.headers);
        let ip = client_ip(parts, &state.auth.cfg.trusted_proxies);
        let source_ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
        let ip_bucket = format!("ip:{source_ip}");
        let limiter = &state.auth.limiter;
        if let Some(d) = limiter.exhausted(&ip_bucket, state.auth.cfg.ip_rate_limit) {
            slot.set(d);
            metrics::counter!("dbcloud_rate_limited_total", "bucket" => "ip").increment(1);
            return Err(too_many(d));
        }
        match authenticate(parts, state, ip).await {
            Ok(k) => {
                let limit = k.rate_limit.or(k.org_rate_limit).unwrap_or(state.auth.cfg.default_rate_limit);
                let bucket = format!("key:{}", k.access_key);
                let d = limiter.check(state.store.as_ref(), &bucket, limit).await;
                slot.set(d);
                if !d.allowed {
                    metrics::counter!("dbcloud_rate_limited_total", "bucket" => "key").increment(1);
                    return Err(too_many(d));
                }
                if state.auth.touch_due(&k.access_key) {
                    let (store, ak, ip) = (state.store.clone(), k.access_key.clone(), source_ip.clone());
                    tokio::spawn(async move {
                        if let Err(e) = store.touch_api_key(&ak, time::OffsetDateTime::now_utc(), &ip).await {
                            tracing::warn!(error = %e, "could not record key use");
                        }
                    });
                }
                let principal = Principal { organization_id: k.organization_id, key_id: k.access_key.clone(), grants: k.grants.clone() };
                Ok(Caller(state.app.caller(principal, k.owner, request_id, source_ip)))
            }
            Err(f) => {
                metrics::counter!("dbcloud_auth_failures_total", "reason" => f.reason).increment(1);
                let event = AuditEvent {
                    id: dbcloud_core::new_id(),
                    organization_id: f.org,
                    time: dbcloud_core::now(),
                    actor: f.key.unwrap_or_else(|| "anonymous".into()),
                    source_ip: source_ip.clone(),
                    action: "auth.authenticate".into(),
                    target: format!("{} {}", parts.method, parts.uri.path()),
                    outcome: "failed".into(),
                    request_id,
                    details: serde_json::json!({ "reason": f.reason }),
                };
                if let Err(e) = state.store.append_audit(&event).await {
                    tracing::warn!(error = %e, "could not audit a failed authentication");
                }
                let d = limiter.check(state.store.as_ref(), &ip_bucket, state.auth.cfg.ip_rate_limit).await;
                slot.set(d);
                if !d.allowed {
                    return Err(too_many(d));
                }
                let mut e = ApiError::unauthenticated();
                e.auth_reason = Some(f.reason);
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
                Some(Presented::Secret { access_key, secret }) => assert_eq!((access_key, secret), (k.access_key.clone(), k.secret.clone())),
                _ => panic!("{h}"),
            }
        }
        let sig = signing::sign(&k.secret, "GET", "/v1/clusters", "1");
        assert!(matches!(parse_authorization(&headers(&format!("Bearer {}:{sig}", k.access_key))), Some(Presented::Signed { .. })));
        assert!(parse_authorization(&headers(&format!("Bearer {}:notbase64!", k.access_key))).is_none());
        assert!(parse_authorization(&headers("Bearer nonsense")).is_none());
        assert!(parse_authorization(&headers("Digest x")).is_none());
        assert!(parse_authorization(&HeaderMap::new()).is_none());
    }

    #[test]
    fn every_signed_change_is_one_use() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::from_bytes(b"PURGE").unwrap()] {
            assert!(signature_is_one_use(&m), "{m}");
        }
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!signature_is_one_use(&m), "{m}");
        }
    }

    #[test]
    fn cidrs_restrict() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(cidr_allows(&[], Some(ip)));
        assert!(cidr_allows(&["10.0.0.0/8".into()], Some(ip)));
        assert!(!cidr_allows(&["192.168.0.0/16".into()], Some(ip)));
        assert!(!cidr_allows(&["10.0.0.0/8".into()], None));
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
