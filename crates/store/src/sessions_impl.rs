//! [`SessionStore`] queries shared by both backends (compiled twice, like `common.rs`).

use super::common::*;
use super::{Backend, begin_write};
use crate::records::Ctx;
use crate::sessions::*;
use async_trait::async_trait;
use dbcloud_core::{Error, Result, now, time_to_ms};
use time::OffsetDateTime;
use uuid::Uuid;

fn session_row(r: &DbRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id_hash: get_str(r, "id_hash")?,
        organization_id: get_uuid(r, "org_id")?,
        user_id: get_uuid(r, "user_id")?,
        email: get_str(r, "email")?,
        name: get_str(r, "name")?,
        csrf_token: get_str(r, "csrf_token")?,
        org_rate_limit: get_opt_i64(r, "rate_limit")?,
        created_at: get_time(r, "created_at")?,
        last_seen_at: get_time(r, "last_seen_at")?,
        expires_at: get_time(r, "expires_at")?,
    })
}

#[async_trait]
impl SessionStore for Backend {
    async fn set_user_password(&self, ctx: &Ctx, user: Uuid, password_hash: Option<&str>) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let res = sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE org_id = $3 AND id = $4")
            .bind(password_hash)
            .bind(time_to_ms(now()))
            .bind(ctx.organization_id.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::NotFound(format!("user {user}")));
        }
        sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.to_string()).execute(&mut *tx).await.map_err(db)?;
        let action = if password_hash.is_some() { "user.password" } else { "user.password_remove" };
        audit(&mut tx, ctx, action, format!("user:{user}")).await?;
        commit(tx).await
    }

    async fn login_candidates(&self, email: &str) -> Result<Vec<LoginCandidate>> {
        let rows = sqlx::query("SELECT id, org_id, password_hash FROM users WHERE email = $1 AND password_hash IS NOT NULL ORDER BY id")
            .bind(email)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| Ok(LoginCandidate { user_id: get_uuid(r, "id")?, organization_id: get_uuid(r, "org_id")?, password_hash: get_str(r, "password_hash")? }))
            .collect()
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<(Uuid, Uuid)>> {
        let rows = sqlx::query("SELECT id, org_id FROM users WHERE email = $1 ORDER BY id").bind(email).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|r| Ok((get_uuid(r, "org_id")?, get_uuid(r, "id")?))).collect()
    }

    async fn create_session(&self, new: &NewSession) -> Result<()> {
        let t = time_to_ms(new.created_at);
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, org_id, user_id, csrf_token, source_ip, user_agent, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(&new.id_hash)
        .bind(new.organization_id.to_string())
        .bind(new.user_id.to_string())
        .bind(&new.csrf_token)
        .bind(&new.source_ip)
        .bind(&new.user_agent)
        .bind(t)
        .bind(time_to_ms(new.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        sqlx::query(
            "SELECT s.id_hash, s.org_id, s.user_id, u.email, u.name, s.csrf_token, o.rate_limit, s.created_at, s.last_seen_at, s.expires_at \
             FROM console_sessions s JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id JOIN organizations o ON o.id = s.org_id \
             WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| session_row(&r))
        .transpose()
    }

    async fn touch_session(&self, id_hash: &str, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1")
            .bind(time_to_ms(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool> {
        let res = sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await.map_err(db)?;
        Ok(res.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, user: Uuid) -> Result<u64> {
        let res = sqlx::query("DELETE FROM console_sessions WHERE user_id = $1").bind(user.to_string()).execute(&self.pool).await.map_err(db)?;
        Ok(res.rows_affected())
    }

    async fn delete_stale_sessions(&self, expired_before: OffsetDateTime, idle_since: OffsetDateTime) -> Result<u64> {
        let res = sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1 OR last_seen_at < $2")
            .bind(time_to_ms(expired_before))
            .bind(time_to_ms(idle_since))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(res.rows_affected())
    }

    async fn add_login_failure(&self, bucket: &str, window_start_ms: i64) -> Result<i64> {
        let mut tx = begin_write(&self.pool).await?;
        // Windows older than a day are of no further use.
        sqlx::query("DELETE FROM login_failures WHERE window_start < $1").bind(window_start_ms - 86_400_000).execute(&mut *tx).await.map_err(db)?;
        let row = sqlx::query(
            "INSERT INTO login_failures (bucket, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET failures = login_failures.failures + 1 RETURNING failures",
        )
        .bind(bucket)
        .bind(window_start_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let n = get_i64(&row, "failures")?;
        commit(tx).await?;
        Ok(n)
    }

    async fn login_failures(&self, bucket: &str, window_start_ms: i64) -> Result<i64> {
        let row = sqlx::query("SELECT failures FROM login_failures WHERE bucket = $1 AND window_start = $2")
            .bind(bucket)
            .bind(window_start_ms)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| get_i64(&r, "failures")).transpose().map(|n| n.unwrap_or(0))
    }

    async fn clear_login_failures(&self, bucket: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE bucket = $1").bind(bucket).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }
}
