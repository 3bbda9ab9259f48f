//! Operations (claimed, advanced and released by the runner) and the audit log.
//! Compiled once per backend, like `common.rs` (see there).

use super::clusters_impl::*;
use super::common::*;
use super::rows::*;
use super::{Backend, begin_write};
use crate::records::*;
use dbcloud_core::{Error, Result, now, time_to_ms};
use dbcloud_types::*;
use uuid::Uuid;

impl Backend {
    pub(super) async fn latest_operations(&self, org: Uuid, clusters: &[Uuid]) -> Result<Vec<Operation>> {
        let head = concat!(operation_select!(), "WHERE id IN (SELECT MAX(id) FROM operations WHERE org_id = ");
        by_cluster_chunks(&self.pool, head, org, clusters, ") GROUP BY cluster_id)", operation_row).await
    }

    pub(super) async fn list_operations(&self, org: Uuid, cluster: Uuid, page: PageReq) -> Result<Page<Operation>> {
        self.get_cluster(org, cluster).await?;
        let rows = sqlx::query(concat!(operation_select!(), "WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(cluster.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        paginate(rows, page.limit, operation_row, |o| o.id)
    }

    pub(super) async fn get_operation(&self, org: Uuid, id: Uuid) -> Result<Operation> {
        sqlx::query(concat!(operation_select!(), "WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|r| operation_row(&r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("operation {id}")))
    }

    pub(super) async fn claimable_operations(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM operations WHERE status IN ('SENT', 'IN_PROGRESS') \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| get_uuid(r, "id")).collect()
    }

    pub(super) async fn claim_operation(&self, id: Uuid, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Option<(Operation, Cluster)>> {
        let mut tx = begin_write(&self.pool).await?;
        let res = sqlx::query(
            "UPDATE operations SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             status = CASE WHEN status = 'SENT' THEN 'IN_PROGRESS' ELSE status END, updated_at = $3 \
             WHERE id = $4 AND status IN ('SENT', 'IN_PROGRESS') AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        let op = operation_in_tx(&mut tx, id).await?;
        let c = cluster_in_tx(&mut tx, op.organization_id, op.cluster_id).await?;
        commit(tx).await?;
        Ok(Some((op, c)))
    }

    pub(super) async fn advance_operation(&self, id: Uuid, owner: &str, lease_ms: i64, step: &OperationStep, patch: &ClusterPatch) -> Result<bool> {
        let mut tx = begin_write(&self.pool).await?;
        let t = time_to_ms(now());
        let finished = (!step.status.is_active()).then_some(t);
        let res = sqlx::query(
            "UPDATE operations SET status = $1, step = $2, progress = $3, error = $4, finished_at = $5, updated_at = $6, \
             lease_until = CASE WHEN $5 IS NULL THEN $7 ELSE NULL END \
             WHERE id = $8 AND lease_owner = $9 AND status IN ('SENT', 'IN_PROGRESS')",
        )
        .bind(step.status.as_str())
        .bind(&step.step)
        .bind(step.progress as i64)
        .bind(step.error.clone())
        .bind(finished)
        .bind(t)
        .bind(t + lease_ms)
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        let r = sqlx::query("SELECT org_id, cluster_id FROM operations WHERE id = $1").bind(id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let cluster = get_str(&r, "cluster_id")?;
        let attributes = match &patch.attributes {
            Some(a) => {
                let c = cluster_in_tx(&mut tx, get_uuid(&r, "org_id")?, get_uuid(&r, "cluster_id")?).await?;
                Some(json(&merge_attributes(&c.attributes, a)))
            }
            None => None,
        };
        sqlx::query(
            "UPDATE clusters SET state = COALESCE($1, state), nodes = COALESCE($2, nodes), endpoints = COALESCE($3, endpoints), \
             node_count = COALESCE($4, node_count), failure_reason = COALESCE($5, failure_reason), updated_at = $6, \
             version = COALESCE($8, version), attributes = COALESCE($9, attributes) WHERE id = $7",
        )
        .bind(patch.state.map(|s| s.as_str()))
        .bind(patch.nodes.as_ref().map(json))
        .bind(patch.endpoints.as_ref().map(json))
        .bind(patch.node_count.map(|n| n as i64))
        .bind(patch.failure_reason.clone())
        .bind(t)
        .bind(&cluster)
        .bind(patch.version.clone())
        .bind(attributes)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx).await?;
        Ok(true)
    }

    pub(super) async fn release_leases(&self, owner: &str) -> Result<u64> {
        let res = sqlx::query("UPDATE operations SET lease_until = NULL WHERE lease_owner = $1 AND status IN ('SENT', 'IN_PROGRESS')")
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(res.rows_affected())
    }

    pub(super) async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        insert_audit(&mut tx, event).await?;
        commit(tx).await
    }

    pub(super) async fn list_audit(&self, org: Uuid, page: PageReq) -> Result<Page<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, org_id, at, actor, source_ip, action, target, outcome, request_id, details FROM audit_events \
             WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(org.to_string())
        .bind(after(&page))
        .bind(page.limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        paginate(rows, page.limit, audit_row, |e| e.id)
    }
}
