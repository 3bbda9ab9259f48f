//! Conformance of the console's [`SessionStore`] on both backends: passwords, sessions keyed
//! by the hash of their cookie, their end on logout, password change and user deletion, and
//! the failed-sign-in counters. PostgreSQL (`DBCLOUD_TEST_DATABASE_URL`) is required, never
//! skipped.

use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_store::*;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Harness {
    store: Arc<dyn Store>,
    org: Uuid,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Harness {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(sqlite::SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        Self::finish(store, Some(dir), None).await
    }

    async fn postgres() -> Self {
        let schema = format!("dbcloud_test_{}", Uuid::new_v4().simple());
        let store = postgres::PgStore::connect(&pg_url(), Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required (set DBCLOUD_TEST_DATABASE_URL): {e}", pg_url()));
        Self::finish(Arc::new(store), None, Some(schema)).await
    }

    async fn finish(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>, schema: Option<String>) -> Self {
        let k = NewKey::generate();
        let key = NewApiKey {
            access_key: k.access_key,
            name: "owner".into(),
            description: String::new(),
            secret_hash: k.secret_hash,
            grants: vec![Grant { role: Role::OrganizationOwner, scope: Scope::Organization }],
            allowed_cidrs: vec![],
            expires_at: None,
            secret_enc: None,
            owner: KeyOwner::Key,
            rate_limit: None,
        };
        let org = store.bootstrap("test", &key).await.unwrap().expect("fresh store bootstraps");
        Harness { store, org, _dir: dir, schema }
    }

    fn ctx(&self) -> Ctx {
        Ctx { organization_id: self.org, actor: "dbc_test".into(), request_id: "req-1".into(), source_ip: "127.0.0.1".into(), idempotency: None }
    }

    async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&pool).await.unwrap();
        }
    }

    async fn user(&self, email: &str) -> Uuid {
        let g = Grant { role: Role::ProjectCreator, scope: Scope::Organization };
        self.store.create_user(&self.ctx(), email, email, &[g]).await.unwrap().id
    }

    fn session(&self, user: Uuid, id_hash: &str, now: OffsetDateTime) -> NewSession {
        NewSession {
            id_hash: id_hash.into(),
            organization_id: self.org,
            user_id: user,
            csrf_token: format!("csrf-{id_hash}"),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            created_at: now,
            expires_at: now + Duration::hours(12),
        }
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[tokio::test] async fn $name() { let h = super::Harness::sqlite().await; super::$name(&h).await; h.cleanup().await; } )*
        }
        mod postgres_backend {
            $( #[tokio::test] async fn $name() { let h = super::Harness::postgres().await; super::$name(&h).await; h.cleanup().await; } )*
        }
    };
}

both!(passwords_make_login_candidates, sessions_live_until_ended, login_failures_count_per_window);

async fn passwords_make_login_candidates(h: &Harness) {
    let ann = h.user("ann@example.com").await;
    assert!(h.store.login_candidates("ann@example.com").await.unwrap().is_empty(), "no password, no sign-in");
    assert_eq!(h.store.users_by_email("ann@example.com").await.unwrap(), vec![(h.org, ann)]);
    h.store.set_user_password(&h.ctx(), ann, Some("$argon2id$fake")).await.unwrap();
    let c = h.store.login_candidates("ann@example.com").await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].user_id, c[0].organization_id, c[0].password_hash.as_str()), (ann, h.org, "$argon2id$fake"));
    assert!(!format!("{:?}", c[0]).contains("argon2"), "Debug hides the hash");
    assert!(h.store.login_candidates("bob@example.com").await.unwrap().is_empty());
    // Audited, and unknown users are NotFound.
    let events = h.store.list_audit(h.org, PageReq::first(100)).await.unwrap().items;
    assert!(events.iter().any(|e| e.action == "user.password" && e.target == format!("user:{ann}")));
    let err = h.store.set_user_password(&h.ctx(), Uuid::new_v4(), Some("x")).await.unwrap_err();
    assert!(matches!(err, dbcloud_core::Error::NotFound(_)), "{err:?}");
    h.store.set_user_password(&h.ctx(), ann, None).await.unwrap();
    assert!(h.store.login_candidates("ann@example.com").await.unwrap().is_empty(), "password removed");
}

async fn sessions_live_until_ended(h: &Harness) {
    let ann = h.user("ann@example.com").await;
    let bob = h.user("bob@example.com").await;
    let now = dbcloud_core::now();
    h.store.create_session(&h.session(ann, "a1", now)).await.unwrap();
    h.store.create_session(&h.session(ann, "a2", now)).await.unwrap();
    h.store.create_session(&h.session(bob, "b1", now)).await.unwrap();
    let s = h.store.find_session("a1").await.unwrap().expect("stored");
    assert_eq!((s.user_id, s.organization_id, s.email.as_str(), s.csrf_token.as_str()), (ann, h.org, "ann@example.com", "csrf-a1"));
    assert_eq!(s.org_rate_limit, None);
    assert!(h.store.find_session("nope").await.unwrap().is_none());

    // Activity moves last_seen forward, never back.
    let later = now + Duration::seconds(30);
    h.store.touch_session("a1", later).await.unwrap();
    h.store.touch_session("a1", now).await.unwrap();
    let seen = h.store.find_session("a1").await.unwrap().unwrap().last_seen_at;
    assert_eq!(dbcloud_core::time_to_ms(seen), dbcloud_core::time_to_ms(later));

    // Logout ends one session; a password change ends all of that user's.
    assert!(h.store.delete_session("a1").await.unwrap());
    assert!(!h.store.delete_session("a1").await.unwrap());
    assert!(h.store.find_session("a1").await.unwrap().is_none());
    h.store.set_user_password(&h.ctx(), ann, Some("h")).await.unwrap();
    assert!(h.store.find_session("a2").await.unwrap().is_none(), "a password change ends every session");
    assert!(h.store.find_session("b1").await.unwrap().is_some(), "other people's sessions stay");

    // Deleting a user ends their sessions.
    h.store.create_session(&h.session(ann, "a3", now)).await.unwrap();
    h.store.delete_user(&h.ctx(), ann).await.unwrap();
    assert!(h.store.find_session("a3").await.unwrap().is_none(), "a deleted user's session ends");

    // Stale sessions are swept: expired, or idle since before the cut-off.
    h.store.create_session(&h.session(bob, "b2", now - Duration::hours(2))).await.unwrap();
    assert_eq!(h.store.delete_stale_sessions(now - Duration::days(1), now - Duration::hours(1)).await.unwrap(), 1);
    assert!(h.store.find_session("b1").await.unwrap().is_some());
    assert_eq!(h.store.delete_user_sessions(bob).await.unwrap(), 1);
    assert!(h.store.find_session("b1").await.unwrap().is_none());
}

async fn login_failures_count_per_window(h: &Harness) {
    assert_eq!(h.store.login_failures("ip:1.2.3.4", 1000).await.unwrap(), 0);
    assert_eq!(h.store.add_login_failure("ip:1.2.3.4", 1000).await.unwrap(), 1);
    assert_eq!(h.store.add_login_failure("ip:1.2.3.4", 1000).await.unwrap(), 2);
    assert_eq!(h.store.add_login_failure("account:ann@example.com", 1000).await.unwrap(), 1);
    assert_eq!(h.store.login_failures("ip:1.2.3.4", 1000).await.unwrap(), 2);
    assert_eq!(h.store.login_failures("ip:1.2.3.4", 2000).await.unwrap(), 0, "a new window starts at zero");
    h.store.clear_login_failures("ip:1.2.3.4").await.unwrap();
    assert_eq!(h.store.login_failures("ip:1.2.3.4", 1000).await.unwrap(), 0);
    assert_eq!(h.store.login_failures("account:ann@example.com", 1000).await.unwrap(), 1);
}
