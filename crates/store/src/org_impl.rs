//! The organization, projects and clouds, and the first key and idempotency records.
//! Compiled once per backend, like `common.rs` (see there).

use super::common::*;
use super::rows::*;
use super::{BYTE_ORDER, Backend, Db, begin_write};
use crate::records::*;
use dbcloud_core::{Error, Result, new_id, now, time_to_ms};
use dbcloud_types::*;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

/// ` WHERE <alias>.org_id = org`, and ` AND <alias>.id IN (only)` when given.
fn push_org_and_ids(qb: &mut QueryBuilder<Db>, alias: &str, org: Uuid, only: Option<&[Uuid]>) {
    qb.push(format!(" WHERE {alias}.org_id = ")).push_bind(org.to_string());
    match only {
        None => {}
        Some([]) => {
            qb.push(" AND 1 = 0");
        }
        Some(ids) => {
            qb.push(format!(" AND {alias}.id IN ("));
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id.to_string());
            }
            qb.push(")");
        }
    }
}

impl Backend {
    pub(super) async fn bootstrap(&self, org_name: &str, key: &NewApiKey) -> Result<Option<Uuid>> {
        let mut tx = begin_write(&self.pool).await?;
        let existing = sqlx::query("SELECT id FROM organizations LIMIT 1").fetch_optional(&mut *tx).await.map_err(db)?;
        if existing.is_some() {
            return Ok(None);
        }
        let org = new_id();
        let t = time_to_ms(now());
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.to_string())
            .bind(org_name)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO projects (id, org_id, name, description, is_default, created_at, updated_at) \
             VALUES ($1, $2, 'default', 'Default project', 1, $3, $3)",
        )
        .bind(new_id().to_string())
        .bind(org.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_api_key(&mut tx, org, key, None).await?;
        let ctx = Ctx { organization_id: org, actor: "system".into(), request_id: "bootstrap".into(), source_ip: "local".into(), idempotency: None };
        audit(&mut tx, &ctx, "organization.bootstrap", format!("organization:{org}")).await?;
        audit(&mut tx, &ctx, "apikey.create", format!("apikey:{}", key.access_key)).await?;
        commit(tx).await?;
        Ok(Some(org))
    }

    pub(super) async fn get_organization(&self, id: Uuid) -> Result<Organization> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let o = organization_in_tx(&mut tx, id).await?;
        tx.rollback().await.map_err(db)?;
        Ok(o)
    }

    pub(super) async fn create_api_key(&self, ctx: &Ctx, key: &NewApiKey) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        insert_api_key(&mut tx, ctx.organization_id, key, Some(&ctx.actor)).await?;
        audit(&mut tx, ctx, "apikey.create", format!("apikey:{}", key.access_key)).await?;
        commit(tx).await
    }

    pub(super) async fn find_api_key(&self, access_key: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(concat_key_select_by_id()).bind(access_key).fetch_optional(&self.pool).await.map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let mut k = api_key_row(&row)?;
        resolve_grants(&self.pool, &mut k).await?;
        Ok(Some(k))
    }

    pub(super) async fn idempotent_response(&self, org: Uuid, principal: &str, key: &str) -> Result<Option<StoredResponse>> {
        let r = sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE org_id = $1 AND principal = $2 AND idem_key = $3")
            .bind(org.to_string())
            .bind(principal)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        r.map(|r| Ok(StoredResponse { request_hash: get_str(&r, "request_hash")?, status: get_i64(&r, "status")? as u16, body: get_json(&r, "body")? }))
            .transpose()
    }

    pub(super) async fn create_project(&self, ctx: &Ctx, name: &str, description: &str) -> Result<Project> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = now();
        sqlx::query("INSERT INTO projects (id, org_id, name, description, is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, $5)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(name)
            .bind(description)
            .bind(time_to_ms(t))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a project named {name:?} already exists")))?;
        let p = Project {
            id,
            organization_id: ctx.organization_id,
            name: name.into(),
            description: description.into(),
            cluster_count: 0,
            created_at: t,
            updated_at: t,
        };
        finish_create(&mut tx, ctx, "project.create", format!("project:{id}"), &p).await?;
        commit(tx).await?;
        Ok(p)
    }

    pub(super) async fn list_projects(&self, org: Uuid, page: PageReq) -> Result<Page<Project>> {
        let rows = sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3"))
            .bind(org.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, project_row, |p| p.id)
    }

    /// One numbered page of `from` (`table alias`, whose rows `select` reads and `row` maps)
    /// and the count of all: `LIMIT`/`OFFSET` in the page's order, then by id.
    pub(super) async fn numbered<T>(
        &self,
        select: &str,
        from: &str,
        alias: &str,
        org: Uuid,
        page: &NumberedPage,
        row: fn(&DbRow) -> Result<T>,
    ) -> Result<(u64, Vec<T>)> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT COUNT(*) AS n FROM {from}"));
        push_org_and_ids(&mut qb, alias, org, page.only.as_deref());
        let total = qb.build().fetch_one(&self.pool).await.map_err(db)?.try_get::<i64, _>("n").map_err(db)?.max(0) as u64;
        let mut qb = QueryBuilder::<Db>::new(select);
        push_org_and_ids(&mut qb, alias, org, page.only.as_deref());
        let dir = if page.descending { " DESC" } else { "" };
        let first = match page.order {
            ListOrder::Name => format!("{alias}.name{BYTE_ORDER}{dir}, "),
            ListOrder::CreatedAt => format!("{alias}.created_at{dir}, "),
            ListOrder::Id => String::new(),
        };
        qb.push(format!(" ORDER BY {first}{alias}.id{BYTE_ORDER}{dir} LIMIT ")).push_bind(i64::from(page.limit));
        qb.push(" OFFSET ").push_bind(i64::try_from(page.skip).unwrap_or(i64::MAX));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        Ok((total, rows.iter().map(row).collect::<Result<_>>()?))
    }

    pub(super) async fn get_project(&self, org: Uuid, id: Uuid) -> Result<Project> {
        sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| project_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("project {id}")))
    }

    pub(super) async fn update_project(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<Project> {
        let mut tx = begin_write(&self.pool).await?;
        const SQL: &str = "UPDATE projects SET name = COALESCE($1, name), description = COALESCE($2, description), updated_at = $3 \
                           WHERE org_id = $4 AND id = $5";
        update_name_description(&mut tx, ctx, SQL, "project", id, name, description).await?;
        audit(&mut tx, ctx, "project.update", format!("project:{id}")).await?;
        let p = sqlx::query(concat!(project_select!(), "WHERE p.id = $1")).bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let p = project_row(&p)?;
        commit(tx).await?;
        Ok(p)
    }

    pub(super) async fn delete_project(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("project {id}")))?;
        let p = project_row(&r)?;
        let is_default = sqlx::query("SELECT is_default FROM projects WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)
            .and_then(|r| get_i64(&r, "is_default"))?;
        if is_default != 0 {
            return Err(Error::FailedPrecondition("the default project cannot be deleted".into()));
        }
        if p.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("project {id} still has {} cluster(s); delete them first", p.cluster_count)));
        }
        sqlx::query(
            "DELETE FROM projects WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM clusters c WHERE c.project_id = $1 AND c.state <> 'DELETED')",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        audit(&mut tx, ctx, "project.delete", format!("project:{id}")).await?;
        commit(tx).await
    }

    pub(super) async fn default_project(&self, org: Uuid) -> Result<Project> {
        sqlx::query(concat!(project_select!(), "WHERE p.org_id = $1 AND p.is_default = 1"))
            .bind(org.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| project_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound("default project".into()))
    }

    pub(super) async fn create_cloud(&self, ctx: &Ctx, new: &NewCloud) -> Result<Cloud> {
        let mut tx = begin_create(&self.pool, ctx).await?;
        let id = new_id();
        let t = now();
        sqlx::query("INSERT INTO clouds (id, org_id, name, provider, region, vpc_cidr, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
            .bind(id.to_string())
            .bind(ctx.organization_id.to_string())
            .bind(&new.name)
            .bind(new.provider.as_str())
            .bind(&new.region)
            .bind(&new.vpc_cidr)
            .bind(time_to_ms(t))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a cloud named {:?} already exists", new.name)))?;
        let c = Cloud {
            id,
            organization_id: ctx.organization_id,
            name: new.name.clone(),
            provider: new.provider,
            region: new.region.clone(),
            virtual_network_cidr: new.vpc_cidr.clone(),
            cluster_count: 0,
            created_at: t,
            updated_at: t,
        };
        finish_create(&mut tx, ctx, "cloud.create", format!("cloud:{id}"), &c).await?;
        commit(tx).await?;
        Ok(c)
    }

    pub(super) async fn list_clouds(&self, org: Uuid, provider: Option<Provider>, page: PageReq) -> Result<Page<Cloud>> {
        let rows = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND ($2 = '' OR k.provider = $2) AND k.id > $3 ORDER BY k.id LIMIT $4"))
            .bind(org.to_string())
            .bind(provider.map(|p| p.as_str()).unwrap_or(""))
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, cloud_row, |c| c.id)
    }

    pub(super) async fn get_cloud(&self, org: Uuid, id: Uuid) -> Result<Cloud> {
        sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| cloud_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))
    }

    pub(super) async fn update_cloud(&self, ctx: &Ctx, id: Uuid, name: Option<&str>, vpc_cidr: Option<&str>) -> Result<Cloud> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))?;
        let mut c = cloud_row(&r)?;
        if vpc_cidr.is_some_and(|v| v != c.virtual_network_cidr) && c.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("cloud {id} has {} cluster(s); its network cannot change", c.cluster_count)));
        }
        c.updated_at = now();
        sqlx::query("UPDATE clouds SET name = COALESCE($1, name), vpc_cidr = COALESCE($2, vpc_cidr), updated_at = $3 WHERE id = $4")
            .bind(name)
            .bind(vpc_cidr)
            .bind(time_to_ms(c.updated_at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| unique(e, || format!("a cloud named {:?} already exists", name.unwrap_or_default())))?;
        if let Some(n) = name {
            c.name = n.into();
        }
        if let Some(v) = vpc_cidr {
            c.virtual_network_cidr = v.into();
        }
        audit(&mut tx, ctx, "cloud.update", format!("cloud:{id}")).await?;
        commit(tx).await?;
        Ok(c)
    }

    pub(super) async fn delete_cloud(&self, ctx: &Ctx, id: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let r = sqlx::query(concat!(cloud_select!(), "WHERE k.org_id = $1 AND k.id = $2"))
            .bind(ctx.organization_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound(format!("cloud {id}")))?;
        let c = cloud_row(&r)?;
        if c.cluster_count > 0 {
            return Err(Error::FailedPrecondition(format!("cloud {id} still has {} cluster(s); delete them first", c.cluster_count)));
        }
        sqlx::query(
            "DELETE FROM clouds WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM clusters c WHERE c.cloud_id = $1 AND c.state <> 'DELETED')",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        audit(&mut tx, ctx, "cloud.delete", format!("cloud:{id}")).await?;
        commit(tx).await
    }
}
