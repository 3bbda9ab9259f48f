//! [`IdentityStore`] queries shared by both backends (compiled twice, like `common.rs`).

use super::common::*;
use super::rows::*;
use super::{Backend, begin_write};
use crate::IdentityStore;
use crate::records::*;
use async_trait::async_trait;
use dbcloud_core::perms::Grant;
use dbcloud_core::{Error, Result, new_id, now, time_to_ms};
use dbcloud_types::*;
use time::OffsetDateTime;
use uuid::Uuid;

const GRANT_SELECT: &str = "SELECT id, principal_kind, principal_id, role, scope_kind, scope_id, created_by, created_at FROM role_grants ";

async fn insert_grant(tx: &mut Tx, ctx: &Ctx, principal: &PrincipalRef, g: &Grant) -> Result<RoleGrant> {
    let (kind, sid) = scope_parts(&g.scope);
    let id = new_id();
    let t = now();
    sqlx::query(
        "INSERT INTO role_grants (id, org_id, principal_kind, principal_id, role, scope_kind, scope_id, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_string())
    .bind(ctx.organization_id.to_string())
    .bind(&principal.kind)
    .bind(&principal.id)
    .bind(g.role.as_str())
    .bind(kind)
    .bind(&sid)
    .bind(&ctx.actor)
    .bind(time_to_ms(t))
    .execute(&mut **tx)
    .await
    .map_err(|e| unique(e, || format!("{} {} already holds {} on that scope", principal.kind, principal.id, g.role.as_str())))?;
    audit(tx, ctx, "grant.create", format!("{}:{}/role:{}@{kind}:{sid}", principal.kind, principal.id, g.role.as_str())).await?;
    Ok(RoleGrant {
        id,
        principal_type: principal.kind.clone(),
        principal_id: principal.id.clone(),
        role: g.role.as_str().into(),
        scope: GrantScope { kind: kind.into(), id: Uuid::try_parse(&sid).ok() },
        created_by: ctx.actor.clone(),
        created_at: t,
    })
}

/// Grants every one of `grants` to `principal`, in order.
async fn insert_grants(tx: &mut Tx, ctx: &Ctx, principal: &PrincipalRef, grants: &[Grant]) -> Result<Vec<RoleGrant>> {
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        out.push(insert_grant(tx, ctx, principal, g).await?);
    }
    Ok(out)
}

async fn grants_of<'e, E: sqlx::Executor<'e, Database = super::Db>>(ex: E, kind: &str, id: &str) -> Result<Vec<RoleGrant>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{GRANT_SELECT}WHERE principal_kind = $1 AND principal_id = $2 ORDER BY id")))
        .bind(kind)
        .bind(id)
        .fetch_all(ex)
        .await
        .map_err(db)?;
    rows.iter().map(grant_row).collect()
}

/// Revokes every active key of an owner (inside the owner's deletion).
async fn revoke_keys_of(tx: &mut Tx, ctx: &Ctx, kind: &str, id: Uuid) -> Result<()> {
    let t = time_to_ms(now());
    let rows = sqlx::query("SELECT access_key FROM api_keys WHERE owner_kind = $1 AND owner_id = $2 AND state = 'active'")
        .bind(kind)
        .bind(id.to_string())
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    for r in &rows {
        let k = get_str(r, "access_key")?;
        sqlx::query("UPDATE api_keys SET state = 'revoked', revoked_at = $1, updated_at = $1 WHERE access_key = $2")
            .bind(t)
            .bind(&k)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        audit(tx, ctx, "apikey.revoke", format!("apikey:{k}")).await?;
    }
    Ok(())
}

/// Deletes a user or service account (`sql` deletes its row by org_id, id), its grants, and
/// revokes its keys, in one transaction.
async fn delete_principal(pool: &sqlx::Pool<super::Db>, ctx: &Ctx, sql: &'static str, kind: &str, id: Uuid) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let res = sqlx::query(sql).bind(ctx.organization_id.to_string()).bind(id.to_string()).execute(&mut *tx).await.map_err(db)?;
    if res.rows_affected() == 0 {
        return Err(Error::NotFound(format!("{} {id}", kind.replace('_', " "))));
    }
    sqlx::query("DELETE FROM role_grants WHERE principal_kind = $1 AND principal_id = $2")
        .bind(kind)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    revoke_keys_of(&mut tx, ctx, kind, id).await?;
    audit(&mut tx, ctx, &format!("{}.delete", kind.replace('_', "")), format!("{kind}:{id}")).await?;
    commit(tx).await
}

async fn key_in_tx(tx: &mut Tx, org: Uuid, access_key: &str) -> Result<ApiKeyRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{API_KEY_SELECT}WHERE k.org_id = $1 AND k.access_key = $2")))
        .bind(org.to_string())
        .bind(access_key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::NotFound(format!("api key {access_key}")))?;
    let mut k = api_key_row(&row)?;
    resolve_grants(&mut **tx, &mut k).await?;
    Ok(k)
}

#[async_trait]
impl IdentityStore for Backend {
    async fn list_api_keys(&self, org: Uuid, owner: Option<KeyOwner>, page: PageReq) -> Result<Page<ApiKeyRecord>> {
        let sql = format!(
            "{API_KEY_SELECT}WHERE k.org_id = $1 AND ($2 = '' OR (k.owner_kind = $2 AND k.owner_id = $3)) \
             AND k.access_key > $4 ORDER BY k.access_key LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.to_string())
            .bind(owner.map(|o| o.kind()).unwrap_or(""))
            .bind(owner.and_then(|o| o.id()).map(|u| u.to_string()).unwrap_or_default())
            .bind(page.after_key.clone().unwrap_or_default())
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let more = rows.len() > page.limit as usize;
        let mut items = vec![];
        for r in rows.iter().take(page.limit as usize) {
            let mut k = api_key_row(r)?;
            resolve_grants(&self.pool, &mut k).await?;
            items.push(k);
        }
        let next_cursor = if more { items.last().map(|k: &ApiKeyRecord| format!("k1.{}", k.access_key)) } else { None };
        Ok(Page { items, next_cursor })
    }

    async fn get_api_key(&self, org: Uuid, access_key: &str) -> Result<ApiKeyRecord> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let k = key_in_tx(&mut tx, org, access_key).await?;
        tx.rollback().await.map_err(db)?;
        Ok(k)
    }

    async fn update_api_key(
        &self,
        ctx: &Ctx,
        access_key: &str,
        name: Option<&str>,
        description: Option<&str>,
        rate_limit: Option<i64>,
    ) -> Result<ApiKeyRecord> {
        let mut tx = begin_write(&self.pool).await?;
        let res = sqlx::query(
            "UPDATE api_keys SET name = COALESCE($1, name), description = COALESCE($2, description), \
             rate_limit = COALESCE($3, rate_limit), updated_at = $4 WHERE org_id = $5 AND access_key = $6",
        )
        .bind(name)
        .bind(description)
        .bind(rate_limit)
        .bind(time_to_ms(now()))
        .bind(ctx.organization_id.to_string())
        .bind(access_key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Err(Error::NotFound(format!("api key {access_key}")));
        }
        audit(&mut tx, ctx, "apikey.update", format!("apikey:{access_key}")).await?;
        let k = key_in_tx(&mut tx, ctx.organization_id, access_key).await?;
        commit(tx).await?;
        Ok(k)
    }

    async fn rotate_api_key(
        &self,
        ctx: &Ctx,
        access_key: &str,
        secret_hash: &str,
        secret_enc: Option<&str>,
        prev_valid_until: Option<OffsetDateTime>,
    ) -> Result<ApiKeyRecord> {
        let mut tx = begin_write(&self.pool).await?;
        let k = key_in_tx(&mut tx, ctx.organization_id, access_key).await?;
        if k.state != "active" {
            return Err(Error::FailedPrecondition(format!("api key {access_key} is revoked")));
        }
        // The grace period never outlives the key itself.
        let until = match (prev_valid_until, k.expires_at) {
            (Some(u), Some(e)) => Some(u.min(e)),
            (u, _) => u,
        };
        sqlx::query(
            "UPDATE api_keys SET prev_secret_hash = CASE WHEN $1 IS NULL THEN NULL ELSE secret_hash END, \
             prev_secret_enc = CASE WHEN $1 IS NULL THEN NULL ELSE secret_enc END, prev_valid_until = $1, \
             secret_hash = $2, secret_enc = $3, updated_at = $4 WHERE access_key = $5",
        )
        .bind(until.map(time_to_ms))
        .bind(secret_hash)
        .bind(secret_enc)
        .bind(time_to_ms(now()))
        .bind(access_key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        audit(&mut tx, ctx, "apikey.rotate", format!("apikey:{access_key}")).await?;
        let k = key_in_tx(&mut tx, ctx.organization_id, access_key).await?;
        commit(tx).await?;
        Ok(k)
    }

    async fn revoke_api_key(&self, ctx: &Ctx, access_key: &str) -> Result<ApiKeyRecord> {
        let mut tx = begin_write(&self.pool).await?;
        let t = time_to_ms(now());
        let res = sqlx::query(
            "UPDATE api_keys SET state = 'revoked', revoked_at = $1, updated_at = $1, prev_secret_hash = NULL, prev_secret_enc = NULL \
             WHERE org_id = $2 AND access_key = $3 AND state = 'active'",
        )
        .bind(t)
        .bind(ctx.organization_id.to_string())
        .bind(access_key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let k = key_in_tx(&mut tx, ctx.organization_id, access_key).await?;
        if res.rows_affected() == 0 {
            return Err(Error::FailedPrecondition(format!("api key {access_key} is already revoked")));
        }
        audit(&mut tx, ctx, "apikey.revoke", format!("apikey:{access_key}")).await?;
        commit(tx).await?;
        Ok(k)
    }

    async fn touch_api_key(&self, access_key: &str, at: OffsetDateTime, ip: &str) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE access_key = $3")
            .bind(time_to_ms(at))
            .bind(ip)
            .bind(access_key)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_org_rate_limit(&self, ctx: &Ctx, limit: Option<i64>) -> Result<Organization> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query("UPDATE organizations SET rate_limit = $1 WHERE id = $2")
            .bind(limit)
            .bind(ctx.organization_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        audit(&mut tx, ctx, "organization.update", format!("organization:{}", ctx.organization_id)).await?;
        let o = organization_in_tx(&mut tx, ctx.organization_id).await?;
        commit(tx).await?;
        Ok(o)
    }

    async fn update_organization(
        &self,
        ctx: &Ctx,
        name: Option<&str>,
        attributes: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Organization> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id.to_string();
        let current = organization_in_tx(&mut tx, ctx.organization_id).await?;
        let merged = attributes.map(|a| json(&merge_attributes(&current.attributes, a)));
        sqlx::query("UPDATE organizations SET name = COALESCE($1, name), attributes = COALESCE($2, attributes) WHERE id = $3")
            .bind(name)
            .bind(merged)
            .bind(&org)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("an organization named {:?} already exists", name.unwrap_or_default())))?;
        audit(&mut tx, ctx, "organization.update", format!("organization:{org}")).await?;
        let o = organization_in_tx(&mut tx, ctx.organization_id).await?;
        commit(tx).await?;
        Ok(o)
    }

    async fn create_service_account(&self, ctx: &Ctx, name: &str, description: &str, grants: &[Grant]) -> Result<ServiceAccount> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = time_to_ms(now());
        sqlx::query("INSERT INTO service_accounts (id, org_id, name, description, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(name)
            .bind(description)
            .bind(&ctx.actor)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a service account named {name:?} already exists")))?;
        let principal = PrincipalRef { kind: "service_account".into(), id: id.to_string() };
        let roles = insert_grants(&mut tx, ctx, &principal, grants).await?;
        let row = sqlx::query("SELECT * FROM service_accounts WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let sa = sa_row(&row, roles)?;
        finish_create(&mut tx, ctx, "serviceaccount.create", format!("service_account:{id}"), &sa).await?;
        commit(tx).await?;
        Ok(sa)
    }

    async fn list_service_accounts(&self, org: Uuid, page: PageReq) -> Result<Page<ServiceAccount>> {
        let rows = sqlx::query("SELECT * FROM service_accounts WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(org.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut with_roles = vec![];
        for r in rows.iter().take(page.limit as usize) {
            let roles = grants_of(&self.pool, "service_account", &get_str(r, "id")?).await?;
            with_roles.push(sa_row(r, roles)?);
        }
        let more = rows.len() > page.limit as usize;
        let next_cursor = if more { with_roles.last().map(|s| dbcloud_core::cursor::encode(s.id)) } else { None };
        Ok(Page { items: with_roles, next_cursor })
    }

    async fn get_service_account(&self, org: Uuid, id: Uuid) -> Result<ServiceAccount> {
        let row = sqlx::query("SELECT * FROM service_accounts WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("service account {id}")))?;
        sa_row(&row, grants_of(&self.pool, "service_account", &id.to_string()).await?)
    }

    async fn update_service_account(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<ServiceAccount> {
        let mut tx = begin_write(&self.pool).await?;
        const SQL: &str = "UPDATE service_accounts SET name = COALESCE($1, name), description = COALESCE($2, description), \
                           updated_at = $3 WHERE org_id = $4 AND id = $5";
        update_name_description(&mut tx, ctx, SQL, "service_account", id, name, description).await?;
        let row = sqlx::query("SELECT * FROM service_accounts WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let roles = grants_of(&mut *tx, "service_account", &id.to_string()).await?;
        let sa = sa_row(&row, roles)?;
        commit(tx).await?;
        Ok(sa)
    }

    async fn delete_service_account(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        const SQL: &str = "DELETE FROM service_accounts WHERE org_id = $1 AND id = $2";
        delete_principal(&self.pool, ctx, SQL, "service_account", id).await
    }

    async fn create_user(&self, ctx: &Ctx, email: &str, name: &str, grants: &[Grant]) -> Result<User> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = time_to_ms(now());
        sqlx::query("INSERT INTO users (id, org_id, email, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(email)
            .bind(name)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a user with e-mail {email:?} already exists")))?;
        let principal = PrincipalRef { kind: "user".into(), id: id.to_string() };
        let roles = insert_grants(&mut tx, ctx, &principal, grants).await?;
        let row = sqlx::query("SELECT * FROM users WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let u = user_row(&row, roles)?;
        finish_create(&mut tx, ctx, "user.create", format!("user:{id}"), &u).await?;
        commit(tx).await?;
        Ok(u)
    }

    async fn list_users(&self, org: Uuid, page: PageReq) -> Result<Page<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(org.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut users = vec![];
        for r in rows.iter().take(page.limit as usize) {
            users.push(user_row(r, grants_of(&self.pool, "user", &get_str(r, "id")?).await?)?);
        }
        let more = rows.len() > page.limit as usize;
        let next_cursor = if more { users.last().map(|u| dbcloud_core::cursor::encode(u.id)) } else { None };
        Ok(Page { items: users, next_cursor })
    }

    async fn get_user(&self, org: Uuid, id: Uuid) -> Result<User> {
        let row = sqlx::query("SELECT * FROM users WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        user_row(&row, grants_of(&self.pool, "user", &id.to_string()).await?)
    }

    async fn delete_user(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        delete_principal(&self.pool, ctx, "DELETE FROM users WHERE org_id = $1 AND id = $2", "user", id).await
    }

    async fn create_grant(&self, ctx: &Ctx, principal: &PrincipalRef, grant: &Grant) -> Result<RoleGrant> {
        let mut tx = begin_write(&self.pool).await?;
        let org = ctx.organization_id.to_string();
        let exists = match principal.kind.as_str() {
            "user" => sqlx::query("SELECT 1 FROM users WHERE org_id = $1 AND id = $2"),
            "service_account" => sqlx::query("SELECT 1 FROM service_accounts WHERE org_id = $1 AND id = $2"),
            "api_key" => sqlx::query("SELECT 1 FROM api_keys WHERE org_id = $1 AND access_key = $2 AND state = 'active'"),
            other => return Err(Error::field("principal_type", format!("unknown principal type {other:?}"))),
        }
        .bind(org)
        .bind(&principal.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if exists.is_none() {
            return Err(Error::NotFound(format!("{} {}", principal.kind, principal.id)));
        }
        let g = insert_grant(&mut tx, ctx, principal, grant).await?;
        commit(tx).await?;
        Ok(g)
    }

    async fn delete_grant(&self, ctx: &Ctx, id: Uuid) -> Result<RoleGrant> {
        let mut tx = begin_write(&self.pool).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{GRANT_SELECT}WHERE org_id = $1 AND id = $2")))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("grant {id}")))?;
        let g = grant_row(&row)?;
        sqlx::query("DELETE FROM role_grants WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(db)?;
        audit(&mut tx, ctx, "grant.delete", format!("{}:{}/role:{}", g.principal_type, g.principal_id, g.role)).await?;
        commit(tx).await?;
        Ok(g)
    }

    async fn get_grant(&self, org: Uuid, id: Uuid) -> Result<RoleGrant> {
        sqlx::query(sqlx::AssertSqlSafe(format!("{GRANT_SELECT}WHERE org_id = $1 AND id = $2")))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| grant_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("grant {id}")))
    }

    async fn list_grants(&self, org: Uuid, principal: Option<&PrincipalRef>, page: PageReq) -> Result<Page<RoleGrant>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT}WHERE org_id = $1 AND ($2 = '' OR (principal_kind = $2 AND principal_id = $3)) AND id > $4 ORDER BY id LIMIT $5"
        )))
        .bind(org.to_string())
        .bind(principal.map(|p| p.kind.clone()).unwrap_or_default())
        .bind(principal.map(|p| p.id.clone()).unwrap_or_default())
        .bind(after(&page))
        .bind(page.limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        paginate(rows, page.limit, grant_row, |g| g.id)
    }

    async fn use_signature(&self, access_key: &str, signature: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> Result<bool> {
        let mut tx = begin_write(&self.pool).await?;
        // Expired entries go first, a few at a time, so the table stays small.
        sqlx::query("DELETE FROM signature_uses WHERE expires_at < $1").bind(time_to_ms(now)).execute(&mut *tx).await.map_err(db)?;
        let res = sqlx::query("INSERT INTO signature_uses (access_key, signature, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(access_key)
            .bind(signature)
            .bind(time_to_ms(expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn rate_reserve(&self, bucket: &str, window_start_ms: i64, want: i64, limit: i64) -> Result<(i64, i64)> {
        let want = want.clamp(0, limit.max(0));
        if want == 0 {
            let row = sqlx::query("SELECT count FROM rate_counters WHERE bucket = $1 AND window_start = $2")
                .bind(bucket)
                .bind(window_start_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            return Ok((0, row.map(|r| get_i64(&r, "count")).transpose()?.unwrap_or(0)));
        }
        // The grant is min(want, limit - count), at least 0, computed on the locked row.
        let row = sqlx::query(
            "INSERT INTO rate_counters (bucket, window_start, count, granted) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET \
             granted = CASE WHEN rate_counters.count >= $4 THEN 0 WHEN rate_counters.count + excluded.count > $4 \
                 THEN $4 - rate_counters.count ELSE excluded.count END, \
             count = rate_counters.count + CASE WHEN rate_counters.count >= $4 THEN 0 WHEN rate_counters.count + excluded.count > $4 \
                 THEN $4 - rate_counters.count ELSE excluded.count END \
             RETURNING count, granted",
        )
        .bind(bucket)
        .bind(window_start_ms)
        .bind(want)
        .bind(limit)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let (count, granted) = (get_i64(&row, "count")?, get_i64(&row, "granted")?);
        // The first reservation of a window every ten seconds sweeps windows older than that.
        if count == granted && window_start_ms % 10_000 == 0 {
            sqlx::query("DELETE FROM rate_counters WHERE window_start < $1").bind(window_start_ms - 10_000).execute(&self.pool).await.map_err(db)?;
        }
        Ok((granted, count))
    }

    async fn list_audit_filtered(&self, org: Uuid, filter: &AuditFilter, page: PageReq) -> Result<Page<AuditEvent>> {
        let mut qb = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT id, org_id, at, actor, source_ip, action, target, outcome, request_id, details FROM audit_events WHERE org_id = ",
        );
        qb.push_bind(org.to_string());
        if let Some(s) = filter.since {
            qb.push(" AND at >= ").push_bind(time_to_ms(s));
        }
        if let Some(u) = filter.until {
            qb.push(" AND at < ").push_bind(time_to_ms(u));
        }
        if let Some(a) = &filter.actor {
            qb.push(" AND actor = ").push_bind(a.clone());
        }
        match &filter.action {
            Some(a) if a.ends_with('.') => {
                qb.push(" AND action LIKE ").push_bind(format!("{}%", a.replace('%', "").replace('_', "\\_")));
                qb.push(" ESCAPE '\\'");
            }
            Some(a) => {
                qb.push(" AND action = ").push_bind(a.clone());
            }
            None => {}
        }
        if let Some(id) = filter.id {
            qb.push(" AND id = ").push_bind(id.to_string());
        }
        if let Some(t) = &filter.target_prefix {
            qb.push(" AND target LIKE ").push_bind(format!("{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
            qb.push(" ESCAPE '\\'");
        }
        if let Some(b) = filter.before {
            qb.push(" AND id < ").push_bind(b.to_string());
        }
        if filter.newest_first {
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(page.limit as i64 + 1);
        } else {
            if let Some(a) = page.after {
                qb.push(" AND id > ").push_bind(a.to_string());
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(page.limit as i64 + 1);
        }
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        paginate(rows, page.limit, audit_row, |e| e.id)
    }
}
