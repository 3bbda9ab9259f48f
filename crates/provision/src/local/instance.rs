//! Instance processes: start (or adopt), health, stop, and the driver's superuser SQL
//! connection over the cluster's Unix socket.
//!
//! Instances are started with `pg_ctl start` in a session of their own, so they outlive
//! dbcloud; after a restart they are adopted through `postmaster.pid` (a live `postgres`
//! process with that pid) and never started twice — PostgreSQL itself also refuses a second
//! postmaster on a data directory.

use super::hba::NodeConf;
use super::install::Installation;
use super::{ADMIN_ROLE, LocalDriver, Result, err, exists};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// Data directory of node `i` in `cluster_dir`.
pub fn node_dir(cluster_dir: &Path, i: u32) -> PathBuf {
    cluster_dir.join(format!("node-{i}"))
}

/// Server log of node `i`.
pub fn log_path(cluster_dir: &Path, i: u32) -> PathBuf {
    cluster_dir.join(format!("node-{i}.log"))
}

/// The cluster's socket directory.
pub fn socket_dir(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("s")
}

/// Whether `pid` is a live (not zombie) process named `postgres`.
pub fn postgres_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // `pid (comm) state ...`: comm may hold spaces and parentheses, the state follows the last `)`.
    let Some((head, tail)) = stat.rsplit_once(')') else { return false };
    let state = tail.trim_start().chars().next().unwrap_or('X');
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
    !matches!(state, 'Z' | 'X' | 'x') && (comm == "postgres" || comm == "postmaster")
}

/// The pid of the postmaster running on `data_dir`, if one runs.
pub fn running_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0 && postgres_alive(pid)).then_some(pid)
}

/// The major version of the data directory (its `PG_VERSION`).
pub fn data_major(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("PG_VERSION")).ok()?.trim().parse().ok()
}

/// The superuser connection to node on `port` of the cluster in `cluster_dir`, database `db`.
pub async fn admin_client(cluster_dir: &Path, port: u16, db: &str) -> Result<Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(socket_dir(cluster_dir)).port(port).user(ADMIN_ROLE).dbname(db).application_name("dbcloud").connect_timeout(Duration::from_secs(3));
    let (client, conn) = cfg.connect(NoTls).await.map_err(|e| err(format!("cannot connect to the instance on port {port}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// `Ok` when the node accepts connections and, for a standby, streams from its primary.
pub async fn health(cluster_dir: &Path, port: u16, standby: bool) -> Result<()> {
    let c = admin_client(cluster_dir, port, "postgres").await?;
    if standby {
        let row = c.query_opt("SELECT status FROM pg_stat_wal_receiver", &[]).await.map_err(|e| err(e.to_string()))?;
        let status: Option<String> = row.map(|r| r.get(0));
        if status.as_deref() != Some("streaming") {
            return Err(err(format!("standby on port {port} does not stream (receiver: {})", status.as_deref().unwrap_or("none"))));
        }
    } else {
        c.simple_query("SELECT 1").await.map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// The last lines of a node's log, for error messages.
pub fn log_tail(cluster_dir: &Path, i: u32) -> String {
    let text = std::fs::read_to_string(log_path(cluster_dir, i)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

impl LocalDriver {
    /// The installation that runs a data directory (by its `PG_VERSION`).
    pub(crate) fn install_for(&self, data_dir: &Path) -> Result<&Installation> {
        let major = data_major(data_dir).ok_or_else(|| err(format!("{} is not a PostgreSQL data directory", data_dir.display())))?;
        super::install::check(&self.installs, &major.to_string())
    }

    /// Writes the node's `dbcloud.conf` for `port`.
    pub(crate) fn write_node_conf(&self, cluster_dir: &Path, data_dir: &Path, port: u16) -> Result<()> {
        let conf = NodeConf { port, listen: &self.cfg.listen_address, cluster_dir, settings: &self.cfg.settings }.render();
        let path = data_dir.join("dbcloud.conf");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(conf.as_str()) {
            std::fs::write(&path, conf).map_err(|e| err(format!("{}: {e}", path.display())))?;
            self.run_as.own(&path)?;
        }
        Ok(())
    }

    /// Starts node `i` (or adopts it when it already runs) and waits until it is healthy.
    pub(crate) async fn start_node(&self, cluster_dir: &Path, i: u32, port: u16) -> Result<()> {
        let data = node_dir(cluster_dir, i);
        let standby = i > 1;
        let deadline = Instant::now() + self.cfg.start_timeout;
        if running_pid(&data).is_none() {
            // A pid file left by a postmaster that was killed (dead, or a zombie nobody
            // reaped) would make PostgreSQL refuse to start; orphaned children still
            // attached to its shared memory are detected by PostgreSQL itself.
            let _ = std::fs::remove_file(data.join("postmaster.pid"));
            let install = self.install_for(&data)?.clone();
            self.write_node_conf(cluster_dir, &data, port)?;
            loop {
                self.spawn_postmaster(&install, cluster_dir, i).await?;
                // The postmaster writes its pid file at once; if it is gone (or never came),
                // it refused to start (e.g. old shared memory of a killed one still in use).
                let spawned = Instant::now();
                let mut again = false;
                while !again {
                    if health(cluster_dir, port, false).await.is_ok() {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(err(format!("node {i} did not start in {:?}: {}", self.cfg.start_timeout, log_tail(cluster_dir, i))));
                    }
                    again = spawned.elapsed() > Duration::from_millis(1000) && running_pid(&data).is_none();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if !again {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        loop {
            match health(cluster_dir, port, standby).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(err(format!("node {i}: {e}; log: {}", log_tail(cluster_dir, i)))),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    async fn spawn_postmaster(&self, install: &Installation, cluster_dir: &Path, i: u32) -> Result<()> {
        let data = node_dir(cluster_dir, i);
        let log = log_path(cluster_dir, i);
        let out = self
            .run_as
            .command(&install.bin("pg_ctl"), cluster_dir)
            .arg("start")
            .arg("-W")
            .arg("-s")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .output()
            .await
            .map_err(|e| err(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            return Err(err(format!("pg_ctl start failed for node {i}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }
}

/// Stops the postmaster of `data_dir` and waits until it is gone: a fast shutdown (a final
/// checkpoint), or with `discard` an immediate one, for data about to be removed.
pub async fn stop_data_dir(data_dir: &Path, discard: bool) -> Result<()> {
    use rustix::process::{Pid, Signal, kill_process};
    let Some(pid) = running_pid(data_dir) else { return Ok(()) };
    let Some(p) = Pid::from_raw(pid) else { return Ok(()) };
    let steps: &[(Signal, u64)] =
        if discard { &[(Signal::QUIT, 5_000), (Signal::KILL, 5_000)] } else { &[(Signal::INT, 20_000), (Signal::QUIT, 5_000), (Signal::KILL, 5_000)] };
    for &(sig, wait) in steps {
        let _ = kill_process(p, sig);
        let until = Instant::now() + Duration::from_millis(wait);
        while Instant::now() < until {
            if !postgres_alive(pid) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Err(err(format!("the postmaster {pid} of {} does not stop", data_dir.display())))
}

/// Kills (SIGKILL) every process that has `path` as one of its arguments — e.g. a
/// `pg_basebackup -D <path>` or `cp … <path>` left running by a dbcloud process that was
/// killed — and waits until they are gone, so that `path` can be removed and redone.
pub async fn kill_stragglers(path: &Path) {
    let needle = path.as_os_str().as_encoded_bytes();
    let mut victims = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|arg| arg == needle)
            && let Some(p) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            victims.push(pid);
        }
    }
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && victims.iter().any(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Removes a directory tree if it exists.
pub fn remove_tree(path: &Path) -> Result<()> {
    if exists(path) {
        std::fs::remove_dir_all(path).map_err(|e| err(format!("cannot remove {}: {e}", path.display())))?;
    }
    Ok(())
}
