//! Authentication: a presented credential and the facts of its request become a [`Caller`],
//! after the per-address budget and before the per-key budget.
//!
//! Surfaces parse their headers into a [`Credential`] (the four forms every surface accepts:
//! `Bearer <key>_<secret>`, `Bearer <key>:<signature>` + `Couchbase-Timestamp`, `Basic`,
//! `Bearer base64(<key>:<secret>)`) and call [`AuthService::authenticate`]. Every failure —
//! no or malformed credential, unknown key, wrong secret or signature, revoked, expired,
//! skewed or replayed, refused address — is one [`AuthError::Unauthenticated`] whose reason
//! goes to the audit log only. Secrets are compared as SHA-256 hashes, signatures as HMACs,
//! in constant time.
//!
//! Looked-up keys are kept for [`AuthConfig::cache_ttl`] (1 s) with what verifying them
//! needs — the record with its grants, and the HMAC secret(s) opened from their sealed form
//! and keyed once — so a request does not pay a store read, an AES-GCM open or an HMAC key
//! setup; identity changes here
//! drop the cache at once, and other replicas' changes arrive through the store's notices.

pub mod ratelimit;

use crate::Caller;
use crate::model::{ApiKeyRecord, AuditEvent};
use dbcloud_core::crypto::MasterKey;
use dbcloud_core::keys::verify_secret;
use dbcloud_core::perms::Principal;
use dbcloud_core::signing;
use dbcloud_store::Store;
use ipnet::IpNet;
use ratelimit::{Decision, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
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

/// A credential as presented (parsed from the `Authorization` header by the surface).
pub enum Credential {
    /// An access key with its secret (bearer token, Basic, or base64 pair).
    Secret {
        /// Access key id.
        access_key: String,
        /// The secret.
        secret: String,
    },
    /// An access key with an HMAC signature of `METHOD\nENDPOINT\nTIMESTAMP`.
    Signed {
        /// Access key id.
        access_key: String,
        /// The decoded signature.
        signature: Vec<u8>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("access_key", &self.access_key()).finish_non_exhaustive()
    }
}

impl Credential {
    /// The access key id presented.
    pub fn access_key(&self) -> &str {
        match self {
            Credential::Secret { access_key, .. } | Credential::Signed { access_key, .. } => access_key,
        }
    }
}

/// What authentication needs to know of the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path and query as sent (signatures cover it).
    pub target: &'a str,
    /// Path only (for the audit event of a failure).
    pub path: &'a str,
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    /// The `Couchbase-Timestamp` header, if any.
    pub timestamp: Option<&'a str>,
    /// The client address (after trusted proxies).
    pub ip: Option<IpAddr>,
    /// The request id.
    pub request_id: &'a str,
    /// Whether an `Authorization` header was present at all (for the failure reason).
    pub had_header: bool,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No valid credential: one uniform 401; the reason is for logs and dialects' 401 words.
    Unauthenticated {
        /// Why (audited).
        reason: &'static str,
    },
    /// Over a budget (the address's, or the key's): 429.
    RateLimited(Decision),
}

/// A request that passed: the caller and its rate-limit decision (for `RateLimit-*`).
pub struct Admitted {
    /// The caller.
    pub caller: Caller,
    /// The key's budget after this request.
    pub decision: Decision,
}

/// A cached key: the record and its HMAC secrets, opened and keyed once.
struct Verified {
    at: Instant,
    record: Arc<ApiKeyRecord>,
    secret: Option<signing::SigningKey>,
    previous: Option<signing::SigningKey>,
}

/// Authentication: key cache, last-use throttle and the rate limiter.
pub struct AuthService {
    /// Settings.
    pub cfg: AuthConfig,
    /// The rate limiter.
    pub limiter: Arc<RateLimiter>,
    store: Arc<dyn Store>,
    cache: RwLock<HashMap<String, Arc<Verified>>>,
    touched: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

/// Whether a signature for this method is accepted only once: the body is not signed, so a
/// replayed change — whatever its method — could carry another body. Only reads (GET, HEAD,
/// OPTIONS) may reuse a signature within the skew window.
pub fn signature_is_one_use(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

fn cidr_allows(cidrs: &[String], ip: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(ip) = ip else { return false };
    cidrs.iter().filter_map(|c| c.parse::<IpNet>().ok()).any(|n| n.contains(&ip))
}

/// A failure with its key, for the audit log.
struct Failure {
    reason: &'static str,
    key: Option<(String, uuid::Uuid)>,
}

fn fail(reason: &'static str, k: Option<&ApiKeyRecord>) -> Failure {
    Failure { reason, key: k.map(|k| (k.access_key.clone(), k.organization_id)) }
}

impl AuthService {
    /// A service over `store` with `cfg` (the limiter is shared through the store when it is
    /// PostgreSQL).
    pub(crate) fn new(cfg: AuthConfig, store: Arc<dyn Store>) -> Arc<Self> {
        let shared = store.backend() == "postgres";
        Arc::new(AuthService { cfg, limiter: RateLimiter::new(shared), store, cache: RwLock::new(HashMap::new()), touched: Mutex::new(HashMap::new()) })
    }

    /// Drops every cached key (after any key, grant or account change here or elsewhere).
    pub fn invalidate(&self) {
        self.cache.write().expect("auth cache").clear();
    }

    /// The key with what verifying it needs, from the cache when fresh.
    async fn lookup(&self, access_key: &str) -> dbcloud_core::Result<Option<Arc<Verified>>> {
        if let Some(v) = self.cache.read().expect("auth cache").get(access_key)
            && v.at.elapsed() < self.cfg.cache_ttl
        {
            return Ok(Some(v.clone()));
        }
        let Some(record) = self.store.find_api_key(access_key).await? else { return Ok(None) };
        let open =
            |sealed: &Option<String>| sealed.as_deref().and_then(|s| self.cfg.master_key.open(&record.access_key, s)).map(|s| signing::SigningKey::new(&s));
        let v = Arc::new(Verified { at: Instant::now(), secret: open(&record.secret_enc), previous: open(&record.prev_secret_enc), record: Arc::new(record) });
        let mut cache = self.cache.write().expect("auth cache");
        if cache.len() > 10_000 {
            cache.retain(|_, v| v.at.elapsed() < self.cfg.cache_ttl);
        }
        cache.insert(access_key.to_string(), v.clone());
        Ok(Some(v))
    }

    /// Whether the last-use record of `key` is due (at most one write per key every 5 s).
    fn touch_due(&self, key: &str) -> bool {
        let mut t = self.touched.lock().expect("touch map");
        match t.get(key) {
            Some(at) if at.elapsed() < Duration::from_secs(5) => false,
            _ => {
                if t.len() > 10_000 {
                    t.retain(|_, at| at.elapsed() < Duration::from_secs(5));
                }
                t.insert(key.to_string(), Instant::now());
                true
            }
        }
    }

    /// Checks a credential against its key: secret or signature (with the rotation grace),
    /// the one-use rule of signed changes, state, expiry and allowed networks.
    async fn verify(&self, cred: &Credential, facts: &RequestFacts<'_>) -> Result<Arc<ApiKeyRecord>, Failure> {
        let v = match self.lookup(cred.access_key()).await {
            Ok(Some(v)) => v,
            Ok(None) => return Err(fail("unknown key", None)),
            Err(e) => {
                tracing::error!(error = %e, "key lookup failed");
                return Err(fail("store unavailable", None));
            }
        };
        let k = &v.record;
        let now = time::OffsetDateTime::now_utc();
        let grace = k.prev_valid_until.is_some_and(|u| u > now);
        match cred {
            Credential::Secret { secret, .. } => {
                let current = verify_secret(secret, &k.secret_hash);
                let previous = grace && k.prev_secret_hash.as_deref().is_some_and(|h| verify_secret(secret, h));
                if !(current | previous) {
                    return Err(fail("wrong secret", Some(k)));
                }
            }
            Credential::Signed { signature, .. } => {
                let ts = facts.timestamp.unwrap_or("");
                if signing::check_timestamp(ts, dbcloud_core::time_to_ms(now), self.cfg.skew.as_millis() as i64).is_err() {
                    return Err(fail("invalid or expired Couchbase-Timestamp", Some(k)));
                }
                let host = self.cfg.public_host.as_deref().or(facts.host);
                let signs = |key: &Option<signing::SigningKey>| key.as_ref().is_some_and(|k| k.verify_request(facts.method, facts.target, host, ts, signature));
                let ok = signs(&v.secret) || (grace && signs(&v.previous));
                if !ok {
                    return Err(fail("wrong signature", Some(k)));
                }
                if signature_is_one_use(facts.method) {
                    use base64::Engine;
                    let expires = now + self.cfg.skew * 2;
                    // One canonical text per signature, however it was padded.
                    let canonical = base64::engine::general_purpose::STANDARD_NO_PAD.encode(signature);
                    match self.store.use_signature(&k.access_key, &canonical, now, expires).await {
                        Ok(true) => {}
                        Ok(false) => return Err(fail("replayed signature", Some(k))),
                        Err(e) => {
                            tracing::error!(error = %e, "replay guard unavailable");
                            return Err(fail("store unavailable", Some(k)));
                        }
                    }
                }
            }
        }
        if k.state != "active" {
            return Err(fail("revoked key", Some(k)));
        }
        if k.expires_at.is_some_and(|e| e <= now) {
            return Err(fail("expired key", Some(k)));
        }
        if !cidr_allows(&k.allowed_cidrs, facts.ip) {
            return Err(fail("address not allowed", Some(k)));
        }
        Ok(v.record.clone())
    }

    /// Authenticates a request: the per-address budget, the credential, the key's budget;
    /// records the key's last use (at most every 5 s) and audits every failure. The
    /// returned decision (or the refusal's) fills the `RateLimit-*` headers.
    pub async fn authenticate(&self, cred: Option<Credential>, facts: RequestFacts<'_>) -> (Result<Admitted, AuthError>, Option<Decision>) {
        let source_ip = facts.ip.map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
        let ip_bucket = format!("ip:{source_ip}");
        if let Some(d) = self.limiter.exhausted(&ip_bucket, self.cfg.ip_rate_limit) {
            metrics::counter!("dbcloud_rate_limited_total", "bucket" => "ip").increment(1);
            return (Err(AuthError::RateLimited(d)), Some(d));
        }
        let verified = match &cred {
            Some(c) => self.verify(c, &facts).await,
            None => Err(fail(if facts.had_header { "malformed credential" } else { "no credential" }, None)),
        };
        match verified {
            Ok(k) => {
                let limit = k.rate_limit.or(k.org_rate_limit).unwrap_or(self.cfg.default_rate_limit);
                let d = self.limiter.check(self.store.as_ref(), &format!("key:{}", k.access_key), limit).await;
                if !d.allowed {
                    metrics::counter!("dbcloud_rate_limited_total", "bucket" => "key").increment(1);
                    return (Err(AuthError::RateLimited(d)), Some(d));
                }
                if self.touch_due(&k.access_key) {
                    let (store, ak, ip) = (self.store.clone(), k.access_key.clone(), source_ip.clone());
                    tokio::spawn(async move {
                        if let Err(e) = store.touch_api_key(&ak, time::OffsetDateTime::now_utc(), &ip).await {
                            tracing::warn!(error = %e, "could not record key use");
                        }
                    });
                }
                let principal = Principal { organization_id: k.organization_id, key_id: k.access_key.clone(), grants: k.grants.clone() };
                let caller = Caller::new(principal, k.owner, facts.request_id.to_string(), source_ip, self.store.clone());
                (Ok(Admitted { caller, decision: d }), Some(d))
            }
            Err(f) => {
                metrics::counter!("dbcloud_auth_failures_total", "reason" => f.reason).increment(1);
                let (actor, org) = match f.key {
                    Some((k, org)) => (k, Some(org)),
                    None => ("anonymous".to_string(), None),
                };
                let event = AuditEvent {
                    id: dbcloud_core::new_id(),
                    organization_id: org,
                    time: dbcloud_core::now(),
                    actor,
                    source_ip,
                    action: "auth.authenticate".into(),
                    target: format!("{} {}", facts.method, facts.path),
                    outcome: "failed".into(),
                    request_id: facts.request_id.to_string(),
                    details: serde_json::json!({ "reason": f.reason }),
                };
                if let Err(e) = self.store.append_audit(&event).await {
                    tracing::warn!(error = %e, "could not audit a failed authentication");
                }
                let d = self.limiter.check(self.store.as_ref(), &ip_bucket, self.cfg.ip_rate_limit).await;
                if !d.allowed {
                    return (Err(AuthError::RateLimited(d)), Some(d));
                }
                (Err(AuthError::Unauthenticated { reason: f.reason }), Some(d))
            }
        }
    }

    /// Counts one request against `bucket`'s budget of `limit` per second (console sessions).
    pub async fn check_budget(&self, bucket: &str, limit: i64) -> Decision {
        self.limiter.check(self.store.as_ref(), bucket, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signed_change_is_one_use() {
        for m in ["POST", "PUT", "PATCH", "DELETE", "PURGE"] {
            assert!(signature_is_one_use(m), "{m}");
        }
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert!(!signature_is_one_use(m), "{m}");
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
}
