//! People signing in to the console: passwords (argon2id), server-side sessions with an
//! idle and an absolute timeout, a CSRF token per session, and limits on failed sign-ins
//! per address and per account (shared by replicas through the store).
//!
//! A valid session yields a [`Caller`] whose principal carries the person's grants and
//! whose key id — what the audit log records as actor — is `user:<id>`: every console
//! action then goes through the same calls, permission checks and audit as the API.
//!
//! Sign-in failures are uniform: an unknown address, a user without a password and a wrong
//! password all answer [`Error::Unauthenticated`] after the same argon2 work. The cookie
//! value is never stored: sessions are keyed by its SHA-256.

use crate::identity::grants::{ensure_grantable, grants_of};
use crate::model::{AuditEvent, KeyOwner};
use crate::{App, Caller};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use dbcloud_core::perms::{Grant, Permission, Principal, Role, Scope, Target};
use dbcloud_core::{Error, Result, time_to_ms};
use dbcloud_store::{Ctx, NewSession, Store};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Session and sign-in limits.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever its use.
    pub absolute_timeout: Duration,
    /// Failed sign-ins per account (e-mail address) per window before sign-in is refused.
    pub max_account_failures: i64,
    /// Failed sign-ins per source address per window before sign-in is refused.
    pub max_address_failures: i64,
    /// The window of the failure counters.
    pub failure_window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            max_account_failures: 10,
            max_address_failures: 50,
            failure_window: Duration::from_secs(15 * 60),
        }
    }
}

/// A new session: the cookie value (the only time it exists outside the browser) and the
/// session's CSRF token.
pub struct SignedIn {
    /// The cookie value.
    pub cookie: String,
    /// The CSRF token of the session.
    pub csrf_token: String,
    /// The person.
    pub user_id: Uuid,
    /// When the session ends at the latest.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn").field("user_id", &self.user_id).field("cookie", &"<redacted>").finish_non_exhaustive()
    }
}

/// A valid session: who is signed in, as a caller of the service layer.
#[derive(Clone)]
pub struct Session {
    /// The caller (principal `user:<id>` with the person's grants).
    pub caller: Caller,
    /// The person.
    pub user_id: Uuid,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The organization's requests-per-second limit, if it sets one.
    pub org_rate_limit: Option<i64>,
    /// When the session ends at the latest.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("user_id", &self.user_id).field("email", &self.email).finish_non_exhaustive()
    }
}

/// Who is signing in and from where (for the limits and the audit log).
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// The e-mail address given.
    pub email: String,
    /// Source address.
    pub source_ip: String,
    /// The browser's `User-Agent`.
    pub user_agent: String,
    /// Request id.
    pub request_id: String,
}

/// Hex SHA-256 of a cookie value: how the store knows a session.
pub fn session_hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// The argon2id PHC string of `password` (random salt, default parameters).
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash` (constant-time comparison inside).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified when there is no account so that an unknown
/// address costs the same argon2 work as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&dbcloud_core::keys::random_base62(32)).expect("argon2 hashes"))
}

/// Checks a chosen console password: 12 to 128 characters, no control characters.
pub fn check_password(field: &str, password: &str) -> Result<()> {
    dbcloud_core::secret::check_password(password).map_err(|e| Error::field(field, e))
}

/// Normalises an e-mail address as users store it (trimmed, lower case).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

async fn verify_blocking(password: &str, hash: &str) -> bool {
    let (p, h) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || verify_password(&p, &h)).await.unwrap_or(false)
}

async fn hash_blocking(password: &str) -> Result<String> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&p)).await.map_err(|e| Error::Internal(format!("argon2 task: {e}")))?
}

fn window_start(policy: &Policy, now: OffsetDateTime) -> i64 {
    let w = policy.failure_window.as_millis().max(1) as i64;
    let ms = time_to_ms(now);
    ms - ms.rem_euclid(w)
}

/// Session use cases (see [`App::sessions`]).
pub struct Sessions<'a> {
    pub(crate) app: &'a App,
}

impl Sessions<'_> {
    async fn audit_login(&self, a: &Attempt, org: Option<Uuid>, actor: String, outcome: &str, reason: Option<&str>) {
        let event = AuditEvent {
            id: dbcloud_core::new_id(),
            organization_id: org,
            time: dbcloud_core::now(),
            actor,
            source_ip: a.source_ip.clone(),
            action: "console.login".into(),
            target: format!("email:{}", normalize_email(&a.email)),
            outcome: outcome.into(),
            request_id: a.request_id.clone(),
            details: match reason {
                Some(r) => serde_json::json!({ "reason": r }),
                None => serde_json::json!({}),
            },
        };
        if let Err(e) = self.app.store().append_audit(&event).await {
            tracing::warn!(error = %e, "could not audit a console sign-in");
        }
    }

    /// Signs a person in with e-mail address and password. Every failure is the same
    /// [`Error::Unauthenticated`] (audited with its reason); too many failures for the
    /// address or the account in the window give [`Error::ResourceExhausted`], even with the
    /// right password.
    pub async fn login(&self, policy: &Policy, attempt: &Attempt, password: &str) -> Result<SignedIn> {
        let store = self.app.store();
        let now = dbcloud_core::now();
        let start = window_start(policy, now);
        let email = normalize_email(&attempt.email);
        let (ip_bucket, account_bucket) = (format!("ip:{}", attempt.source_ip), format!("account:{email}"));
        let ip_failures = store.login_failures(&ip_bucket, start).await?;
        let account_failures = store.login_failures(&account_bucket, start).await?;
        if ip_failures >= policy.max_address_failures || account_failures >= policy.max_account_failures {
            self.audit_login(attempt, None, "anonymous".into(), "failed", Some("too many failed sign-ins")).await;
            let retry = (start + policy.failure_window.as_millis() as i64 - time_to_ms(now)).max(1000) / 1000;
            return Err(Error::ResourceExhausted { message: "too many failed sign-ins; try again later".into(), retry_after_secs: retry as u64 });
        }
        let candidates = if email.is_empty() || password.is_empty() { vec![] } else { store.login_candidates(&email).await? };
        let mut found = None;
        for c in &candidates {
            if verify_blocking(password, &c.password_hash).await {
                found = Some(c.clone());
                break;
            }
        }
        if candidates.is_empty() {
            verify_blocking(password, decoy_hash()).await;
        }
        let Some(who) = found else {
            store.add_login_failure(&ip_bucket, start).await?;
            store.add_login_failure(&account_bucket, start).await?;
            let reason = if candidates.is_empty() { "unknown account" } else { "wrong password" };
            self.audit_login(attempt, candidates.first().map(|c| c.organization_id), "anonymous".into(), "failed", Some(reason)).await;
            return Err(Error::Unauthenticated);
        };
        store.clear_login_failures(&account_bucket).await?;
        let cookie = dbcloud_core::keys::random_base62(43);
        let csrf_token = dbcloud_core::keys::random_base62(32);
        let expires_at = now + policy.absolute_timeout;
        let user_agent: String = attempt.user_agent.chars().take(200).collect();
        let new = NewSession {
            id_hash: session_hash(&cookie),
            organization_id: who.organization_id,
            user_id: who.user_id,
            csrf_token: csrf_token.clone(),
            source_ip: attempt.source_ip.clone(),
            user_agent,
            created_at: now,
            expires_at,
        };
        store.create_session(&new).await?;
        // Abandoned sessions are swept at each sign-in (the lookup also drops stale ones).
        if let Err(e) = store.delete_stale_sessions(now, now - policy.idle_timeout).await {
            tracing::warn!(error = %e, "could not sweep stale console sessions");
        }
        self.audit_login(attempt, Some(who.organization_id), format!("user:{}", who.user_id), "success", None).await;
        Ok(SignedIn { cookie, csrf_token, user_id: who.user_id, expires_at })
    }

    /// The session of a cookie value, if it is valid: not ended, not idle for longer than
    /// the policy allows, not past its absolute end, its user still there. A stale session
    /// is removed. Activity is recorded (at most every few seconds).
    pub async fn session(&self, policy: &Policy, cookie: &str, request_id: String, source_ip: String) -> Result<Option<Session>> {
        if cookie.is_empty() || cookie.len() > 128 {
            return Ok(None);
        }
        let store = self.app.store();
        let id_hash = session_hash(cookie);
        let Some(s) = store.find_session(&id_hash).await? else { return Ok(None) };
        let now = dbcloud_core::now();
        if now >= s.expires_at || now - s.last_seen_at >= policy.idle_timeout {
            store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let touch_every = (policy.idle_timeout / 10).min(Duration::from_secs(30));
        if now - s.last_seen_at >= touch_every {
            store.touch_session(&id_hash, now).await?;
        }
        let user = match store.get_user(s.organization_id, s.user_id).await {
            Ok(u) => u,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let principal = Principal { organization_id: s.organization_id, key_id: format!("user:{}", s.user_id), grants: grants_of(&user.roles) };
        let caller = self.app.caller(principal, KeyOwner::User(s.user_id), request_id, source_ip);
        Ok(Some(Session {
            caller,
            user_id: s.user_id,
            email: s.email,
            name: s.name,
            csrf_token: s.csrf_token,
            org_rate_limit: s.org_rate_limit,
            expires_at: s.expires_at,
        }))
    }

    /// Ends the session of `cookie` (on every replica), audited.
    pub async fn logout(&self, session: &Session, cookie: &str) -> Result<()> {
        self.app.store().delete_session(&session_hash(cookie)).await?;
        let c = &session.caller;
        let event = AuditEvent {
            id: dbcloud_core::new_id(),
            organization_id: Some(c.org()),
            time: dbcloud_core::now(),
            actor: c.principal.key_id.clone(),
            source_ip: c.source_ip.clone(),
            action: "console.logout".into(),
            target: format!("user:{}", session.user_id),
            outcome: "success".into(),
            request_id: c.request_id.clone(),
            details: serde_json::json!({}),
        };
        self.app.store().append_audit(&event).await
    }

    /// Sets a user's console password; every session of theirs ends. People change their
    /// own password by giving the current one; changing another's needs `user.manage` and
    /// every permission that user holds.
    pub async fn set_password(&self, caller: &Caller, user_id: Uuid, current: Option<&str>, new_password: &str) -> Result<()> {
        let store = self.app.store();
        let user = store.get_user(caller.org(), user_id).await?;
        if caller.owner == KeyOwner::User(user_id) {
            let email = normalize_email(&user.email);
            let hash = store.login_candidates(&email).await?.into_iter().find(|c| c.user_id == user_id).map(|c| c.password_hash);
            let ok = match (current, hash) {
                (Some(p), Some(h)) => verify_blocking(p, &h).await,
                _ => false,
            };
            if !ok {
                return Err(Error::field("current_password", "does not match your current password"));
            }
        } else {
            caller.require(Permission::UserManage, Target::Organization).await?;
            ensure_grantable(self.app, caller, &grants_of(&user.roles)).await?;
        }
        check_password("new_password", new_password)?;
        let hash = hash_blocking(new_password).await?;
        store.set_user_password(&caller.ctx(None), user_id, Some(&hash)).await?;
        self.app.identity_changed().await;
        Ok(())
    }
}

/// The operator's recovery path (`dbcloud users set-password`): sets the console password
/// of the user with `email`, straight on the store, audited with actor `operator`. Fails
/// when no user, or users of several organizations, have that address.
pub async fn operator_set_password(store: &dyn Store, email: &str, password: &str) -> Result<Uuid> {
    check_password("password", password)?;
    let email = normalize_email(email);
    let found = store.users_by_email(&email).await?;
    let (org, user) = match found.as_slice() {
        [] => return Err(Error::NotFound(format!("no user has the e-mail address {email}"))),
        [one] => *one,
        _ => return Err(Error::FailedPrecondition(format!("users of {} organizations have the e-mail address {email}", found.len()))),
    };
    let hash = hash_blocking(password).await?;
    let ctx = Ctx { organization_id: org, actor: "operator".into(), request_id: String::new(), source_ip: "local".into(), idempotency: None };
    store.set_user_password(&ctx, user, Some(&hash)).await?;
    store.publish_identity_change().await?;
    Ok(user)
}

/// The first owner of an organization (bootstrap): a user `email` holding
/// organizationOwner, with a generated password, which is returned (the only time it
/// exists in clear).
pub async fn create_owner(store: &dyn Store, org: Uuid, email: &str) -> Result<(Uuid, String)> {
    let ctx = Ctx { organization_id: org, actor: "bootstrap".into(), request_id: String::new(), source_ip: "local".into(), idempotency: None };
    let owner = Grant { role: Role::OrganizationOwner, scope: Scope::Organization };
    let user = store.create_user(&ctx, &normalize_email(email), "Owner", &[owner]).await?;
    let password = dbcloud_core::keys::random_base62(20);
    let hash = hash_blocking(&password).await?;
    store.set_user_password(&ctx, user.id, Some(&hash)).await?;
    Ok((user.id, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(!verify_password("anything", decoy_hash()));
    }

    #[test]
    fn session_hash_hides_the_cookie() {
        let h = session_hash("abc");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("abc"));
        assert!(check_password("p", "short").is_err());
        assert!(check_password("p", "long enough password").is_ok());
        assert_eq!(normalize_email("  Ann@Example.COM "), "ann@example.com");
    }
}
