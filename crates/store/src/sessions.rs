//! Console sign-in: user passwords, server-side sessions and failed-sign-in counters
//! ([`SessionStore`], a supertrait of [`crate::Store`]; `sessions_impl.rs` is compiled for
//! both backends like `identity_impl.rs`).
//!
//! The store never sees a session's cookie value: sessions are keyed by its SHA-256
//! (`id_hash`), so a copy of the database yields no usable session.

use crate::Ctx;
use async_trait::async_trait;
use dbcloud_core::Result;
use time::OffsetDateTime;
use uuid::Uuid;

/// A person who may sign in with an e-mail address: one per organization holding a user
/// with that address and a password.
#[derive(Clone)]
pub struct LoginCandidate {
    /// The user.
    pub user_id: Uuid,
    /// Their organization.
    pub organization_id: Uuid,
    /// The argon2id PHC string of their password.
    pub password_hash: String,
}

impl std::fmt::Debug for LoginCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginCandidate").field("user_id", &self.user_id).field("organization_id", &self.organization_id).finish_non_exhaustive()
    }
}

/// A session to store.
#[derive(Clone)]
pub struct NewSession {
    /// Hex SHA-256 of the cookie value.
    pub id_hash: String,
    /// The organization the person acts in.
    pub organization_id: Uuid,
    /// The person.
    pub user_id: Uuid,
    /// The session's CSRF token (sent in every state-changing form).
    pub csrf_token: String,
    /// Address the person signed in from.
    pub source_ip: String,
    /// Their browser's `User-Agent` (shortened).
    pub user_agent: String,
    /// When it was created (and last seen).
    pub created_at: OffsetDateTime,
    /// When it ends whatever the activity (the absolute timeout).
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("user_id", &self.user_id).field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// A stored session with its person.
#[derive(Clone)]
pub struct SessionRecord {
    /// Hex SHA-256 of the cookie value.
    pub id_hash: String,
    /// The organization.
    pub organization_id: Uuid,
    /// The person.
    pub user_id: Uuid,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// The CSRF token.
    pub csrf_token: String,
    /// The organization's requests-per-second limit, if it sets one.
    pub org_rate_limit: Option<i64>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last request (updated at most every few seconds).
    pub last_seen_at: OffsetDateTime,
    /// The absolute end.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Passwords, sessions and failed-sign-in counters.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Sets (or, with `None`, removes) a user's password hash and ends every session of
    /// theirs, with the `user.password` audit event, in one transaction.
    async fn set_user_password(&self, ctx: &Ctx, user: Uuid, password_hash: Option<&str>) -> Result<()>;
    /// Every user with `email` (lower case) who has a password, in any organization.
    async fn login_candidates(&self, email: &str) -> Result<Vec<LoginCandidate>>;
    /// The users with `email` (lower case) in any organization, with or without a
    /// password: `(organization, user)` pairs (the operator's recovery path).
    async fn users_by_email(&self, email: &str) -> Result<Vec<(Uuid, Uuid)>>;

    /// Stores a new session.
    async fn create_session(&self, new: &NewSession) -> Result<()>;
    /// The session whose cookie hashes to `id_hash`, with its person; `None` when there is
    /// none (ended, or its user was deleted). Timeouts are the caller's to judge.
    async fn find_session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    /// Records activity on a session.
    async fn touch_session(&self, id_hash: &str, at: OffsetDateTime) -> Result<()>;
    /// Ends a session; `false` when there was none.
    async fn delete_session(&self, id_hash: &str) -> Result<bool>;
    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, user: Uuid) -> Result<u64>;
    /// Drops sessions whose absolute end or last activity is before the given times.
    async fn delete_stale_sessions(&self, expired_before: OffsetDateTime, idle_since: OffsetDateTime) -> Result<u64>;

    /// Adds a failed sign-in to `bucket`'s window starting at `window_start_ms`; returns the
    /// window's new total.
    async fn add_login_failure(&self, bucket: &str, window_start_ms: i64) -> Result<i64>;
    /// Failed sign-ins of `bucket` in the window starting at `window_start_ms`.
    async fn login_failures(&self, bucket: &str, window_start_ms: i64) -> Result<i64>;
    /// Forgets `bucket`'s failures (after a successful sign-in).
    async fn clear_login_failures(&self, bucket: &str) -> Result<()>;
}
