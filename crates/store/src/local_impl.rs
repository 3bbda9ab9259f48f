//! [`LocalStore`] queries shared by both backends (compiled twice, like `common.rs`).

use super::common::*;
use super::rows::*;
use super::{Backend, begin_write};
use crate::local::*;
use async_trait::async_trait;
use dbcloud_core::{Result, now, time_to_ms};
use dbcloud_types::{Access, Cluster};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

#[async_trait]
impl LocalStore for Backend {
    async fn local_assign_port(&self, host: &str, cluster: Uuid, node: u32, first: u16, last: u16, avoid: &[u16]) -> Result<Option<u16>> {
        // Another replica may take the port found free between the read and the insert: the
        // primary key refuses the second insert, and the next round picks another port.
        for _ in 0..16 {
            let mut tx = begin_write(&self.pool).await?;
            let held = sqlx::query("SELECT port FROM local_ports WHERE cluster_id = $1 AND node = $2")
                .bind(cluster.to_string())
                .bind(node as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if let Some(r) = held {
                return Ok(Some(get_i64(&r, "port")? as u16));
            }
            let used: BTreeSet<u16> = sqlx::query("SELECT port FROM local_ports WHERE host = $1 AND port >= $2 AND port <= $3")
                .bind(host)
                .bind(first as i64)
                .bind(last as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?
                .iter()
                .map(|r| get_i64(r, "port").map(|p| p as u16))
                .collect::<Result<_>>()?;
            let Some(port) = (first..=last).find(|p| !used.contains(p) && !avoid.contains(p)) else { return Ok(None) };
            let res = sqlx::query("INSERT INTO local_ports (host, port, cluster_id, node, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(host)
                .bind(port as i64)
                .bind(cluster.to_string())
                .bind(node as i64)
                .bind(time_to_ms(now()))
                .execute(&mut *tx)
                .await;
            match res {
                Ok(_) => {
                    commit(tx).await?;
                    return Ok(Some(port));
                }
                Err(e) if is_unique(&e) => continue,
                Err(e) => return Err(db(e)),
            }
        }
        Err(dbcloud_core::Error::Unavailable("could not reserve a port: too many concurrent reservations".into()))
    }

    async fn local_ports(&self, cluster: Uuid) -> Result<BTreeMap<u32, u16>> {
        let rows = sqlx::query("SELECT node, port FROM local_ports WHERE cluster_id = $1").bind(cluster.to_string()).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|r| Ok((get_i64(r, "node")? as u32, get_i64(r, "port")? as u16))).collect()
    }

    async fn local_release_ports(&self, cluster: Uuid, node: Option<u32>) -> Result<()> {
        let q = match node {
            Some(n) => sqlx::query("DELETE FROM local_ports WHERE cluster_id = $1 AND node = $2").bind(cluster.to_string()).bind(n as i64),
            None => sqlx::query("DELETE FROM local_ports WHERE cluster_id = $1").bind(cluster.to_string()),
        };
        q.execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn local_save_ca(&self, cluster: Uuid, cert_pem: &str, sealed_key: &str) -> Result<()> {
        sqlx::query("INSERT INTO local_cluster_cas (cluster_id, cert_pem, sealed_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (cluster_id) DO NOTHING")
            .bind(cluster.to_string())
            .bind(cert_pem)
            .bind(sealed_key)
            .bind(time_to_ms(now()))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn local_load_ca(&self, cluster: Uuid) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT cert_pem, sealed_key FROM local_cluster_cas WHERE cluster_id = $1")
            .bind(cluster.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| Ok((get_str(&r, "cert_pem")?, get_str(&r, "sealed_key")?))).transpose()
    }

    async fn local_forget(&self, cluster: Uuid) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        for sql in ["DELETE FROM local_cluster_cas WHERE cluster_id = $1", "DELETE FROM local_supervision WHERE cluster_id = $1"] {
            sqlx::query(sql).bind(cluster.to_string()).execute(&mut *tx).await.map_err(db)?;
        }
        commit(tx).await
    }

    async fn local_desired(&self, cluster: Uuid) -> Result<LocalDesired> {
        let id = cluster.to_string();
        let databases = sqlx::query("SELECT name FROM buckets WHERE cluster_id = $1 ORDER BY name")
            .bind(&id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| get_str(r, "name"))
            .collect::<Result<_>>()?;
        let users = sqlx::query("SELECT name, access, scope, password_hash FROM db_users WHERE cluster_id = $1 ORDER BY name")
            .bind(&id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok(LocalUser {
                    name: get_str(r, "name")?,
                    access: get_enum(r, "access", Access::parse)?,
                    scope: get_opt_str(r, "scope")?,
                    verifier: get_str(r, "password_hash")?,
                })
            })
            .collect::<Result<_>>()?;
        let allowlist = sqlx::query("SELECT cidr, expires_at FROM allowlist_entries WHERE cluster_id = $1 ORDER BY cidr")
            .bind(&id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get_str(r, "cidr")?, get_opt_time(r, "expires_at")?)))
            .collect::<Result<_>>()?;
        Ok(LocalDesired { databases, users, allowlist })
    }

    async fn local_supervised(&self, owner: &str, now_ms: i64, lease_ms: i64) -> Result<Vec<(Cluster, bool)>> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO local_supervision (cluster_id, owner, lease_until) \
             SELECT c.id, $1, $2 FROM clusters c JOIN clouds k ON k.id = c.cloud_id WHERE k.provider = 'local' AND c.state <> 'DELETED' \
             ON CONFLICT (cluster_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
             WHERE local_supervision.owner = excluded.owner OR local_supervision.lease_until < $3",
        )
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx).await?;
        let rows = sqlx::query(
            "SELECT c.id, c.org_id, c.project_id, c.cloud_id, c.name, c.plan, c.version, c.node_count, c.node_size, \
             c.spend_limit, c.state, c.failure_reason, c.nodes, c.endpoints, c.attributes, c.created_by, c.created_at, c.updated_at, \
             (SELECT COUNT(*) FROM buckets b WHERE b.cluster_id = c.id) AS bucket_count, \
             (SELECT COUNT(*) FROM operations o WHERE o.cluster_id = c.id AND o.status IN ('SENT', 'IN_PROGRESS')) AS running \
             FROM clusters c JOIN local_supervision s ON s.cluster_id = c.id WHERE s.owner = $1 AND c.state <> 'DELETED' ORDER BY c.id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|r| Ok((cluster_row(r)?, get_i64(r, "running")? > 0))).collect()
    }
}

#[async_trait]
impl LocalNodeStatus for Backend {
    async fn local_set_node_status(&self, cluster: Uuid, index: u32, status: dbcloud_types::NodeStatus) -> Result<Option<Uuid>> {
        let mut tx = begin_write(&self.pool).await?;
        let Some(row) =
            sqlx::query("SELECT org_id, nodes, updated_at FROM clusters WHERE id = $1").bind(cluster.to_string()).fetch_optional(&mut *tx).await.map_err(db)?
        else {
            return Ok(None);
        };
        let mut nodes: Vec<dbcloud_types::Node> = get_json(&row, "nodes")?;
        let Some(node) = nodes.get_mut(index as usize - 1).filter(|n| n.status != status) else { return Ok(None) };
        node.status = status;
        let res = sqlx::query(
            "UPDATE clusters SET nodes = $1, updated_at = $2 WHERE id = $3 AND updated_at = $4 \
             AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.cluster_id = $3 AND o.status IN ('SENT', 'IN_PROGRESS'))",
        )
        .bind(json(&nodes))
        .bind(time_to_ms(now()).max(get_i64(&row, "updated_at")? + 1))
        .bind(cluster.to_string())
        .bind(get_i64(&row, "updated_at")?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        commit(tx).await?;
        Ok(Some(get_uuid(&row, "org_id")?))
    }
}
