//! Streaming standbys: node i > 1 is a `pg_basebackup -R` of the primary (node 1) over the
//! cluster's Unix socket, with its own physical replication slot `dbcloud_node_<i>` on the
//! primary, so the primary keeps the WAL a standby still needs.

use super::instance::{admin_client, node_dir, remove_tree};
use super::{LocalDriver, Result, err, exists};
use std::path::Path;

/// Replication slot of node `i`.
pub fn slot_name(i: u32) -> String {
    format!("dbcloud_node_{i}")
}

impl LocalDriver {
    /// Drops node `i`'s slot on the primary when it exists and no standby uses it.
    pub(crate) async fn drop_slot(&self, cluster_dir: &Path, primary_port: u16, i: u32) -> Result<()> {
        let c = admin_client(cluster_dir, primary_port, "postgres").await?;
        c.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", &[&slot_name(i)])
            .await
            .map_err(|e| err(format!("cannot drop replication slot of node {i}: {e}")))?;
        Ok(())
    }

    /// Creates standby `i`'s data directory from the running primary. Built as
    /// `node-<i>.tmp` and renamed when complete; a leftover from a crash is redone.
    pub(crate) async fn init_standby(&self, cluster_dir: &Path, i: u32, primary_port: u16, port: u16) -> Result<()> {
        let target = node_dir(cluster_dir, i);
        if exists(&target) {
            return Ok(());
        }
        let tmp = cluster_dir.join(format!("node-{i}.tmp"));
        super::instance::kill_stragglers(&tmp).await;
        remove_tree(&tmp)?;
        self.drop_slot(cluster_dir, primary_port, i).await?;
        let install = self.install_for(&node_dir(cluster_dir, 1))?.clone();
        let out = self
            .run_as
            .command(&install.bin("pg_basebackup"), cluster_dir)
            .arg("-D")
            .arg(&tmp)
            .arg("-h")
            .arg(super::instance::socket_dir(cluster_dir))
            .arg("-p")
            .arg(primary_port.to_string())
            .args(["-U", super::ADMIN_ROLE, "-R", "-C", "-S", &slot_name(i), "-X", "stream", "-c", "fast", "-w"])
            .output()
            .await
            .map_err(|e| err(format!("cannot run pg_basebackup: {e}")))?;
        if !out.status.success() {
            let _ = remove_tree(&tmp);
            return Err(err(format!("pg_basebackup for node {i} failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        // pg_basebackup fsyncs what it wrote.
        self.write_node_conf(cluster_dir, &tmp, port)?;
        std::fs::rename(&tmp, &target).map_err(|e| err(format!("{}: {e}", target.display())))?;
        Ok(())
    }

    /// Stops standby `i` (immediately: its data is discarded), removes its data and log,
    /// drops its slot and frees its port.
    pub(crate) async fn remove_standby(&self, cluster: uuid::Uuid, cluster_dir: &Path, i: u32, primary_port: Option<u16>) -> Result<()> {
        super::instance::stop_data_dir(&node_dir(cluster_dir, i), true).await?;
        remove_tree(&node_dir(cluster_dir, i))?;
        remove_tree(&cluster_dir.join(format!("node-{i}.tmp")))?;
        let _ = std::fs::remove_file(super::instance::log_path(cluster_dir, i));
        if let Some(p) = primary_port {
            self.drop_slot(cluster_dir, p, i).await?;
        }
        self.catalog.release_ports(cluster, Some(i)).await
    }
}
