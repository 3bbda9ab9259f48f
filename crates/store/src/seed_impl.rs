//! The [`Seed`](crate::seed::Seed) implementation (feature `seed`): compiled once per
//! backend, like `common.rs` (see there).

use super::common::{commit, unique};
use super::{Backend, Db, begin_write};
use async_trait::async_trait;
use dbcloud_core::{Result, new_id, now, time_to_ms};
use sqlx::QueryBuilder;
use uuid::Uuid;

#[async_trait]
impl crate::seed::Seed for Backend {
    async fn seed_clusters(&self, org: Uuid, project: Uuid, cloud: Uuid, prefix: &str, count: u32) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let t = time_to_ms(now());
        let mut done = 0u32;
        while done < count {
            let n = (count - done).min(500);
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO clusters (id, org_id, project_id, cloud_id, name, plan, version, node_count, node_size, \
                 spend_limit, state, nodes, endpoints, created_by, created_at, updated_at) ",
            );
            qb.push_values(done..done + n, |mut b, i| {
                b.push_bind(new_id().to_string())
                    .push_bind(org.to_string())
                    .push_bind(project.to_string())
                    .push_bind(cloud.to_string())
                    .push_bind(format!("{prefix}-{i}"))
                    .push_bind("dedicated")
                    .push_bind(dbcloud_core::cluster::DEFAULT_VERSION)
                    .push_bind(3i64)
                    .push_bind("m5.xlarge")
                    .push_bind(None::<i64>)
                    .push_bind("CREATED")
                    .push_bind("[]")
                    .push_bind("[]")
                    .push_bind("seed")
                    .push_bind(t)
                    .push_bind(t);
            });
            qb.build().execute(&mut *tx).await.map_err(|e| unique(e, || format!("clusters named {prefix}-* exist")))?;
            done += n;
        }
        commit(tx).await?;
        for statement in super::AFTER_BULK_LOAD {
            sqlx::query(*statement).execute(&self.pool).await.map_err(super::common::db)?;
        }
        Ok(())
    }
}
