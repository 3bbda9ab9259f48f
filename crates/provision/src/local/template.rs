//! Prepared template data directories: one `initdb` per installed major (SCRAM, superuser
//! [`ADMIN_ROLE`], UTF-8, the group roles of `read` and `readwrite` users, `CONNECT` on the
//! maintenance databases revoked from `PUBLIC`), copied for every new primary. Copying is
//! several times faster than `initdb`, which fsyncs every file it writes.

use super::instance::{node_dir, remove_tree};
use super::{ADMIN_ROLE, LocalDriver, READ_GROUP, READWRITE_GROUP, Result, err, exists};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Marks a finished template (written last).
const READY: &str = "dbcloud-template-ready";

/// SQL run once in the template (single-user mode, database `template1`, so the schema grant
/// is inherited by every database created later).
fn setup_sql() -> String {
    [
        format!("CREATE ROLE {READ_GROUP} NOLOGIN"),
        format!("CREATE ROLE {READWRITE_GROUP} NOLOGIN"),
        format!("GRANT pg_read_all_data TO {READ_GROUP}"),
        format!("GRANT pg_read_all_data, pg_write_all_data TO {READWRITE_GROUP}"),
        format!("GRANT USAGE, CREATE ON SCHEMA public TO {READWRITE_GROUP}"),
        "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC".into(),
        "REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC".into(),
    ]
    .iter()
    .map(|s| format!("{s};\n\n"))
    .collect()
}

fn unique_tmp(base: &Path) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    base.with_file_name(name)
}

impl LocalDriver {
    /// The template data directory of `major`, built when missing.
    pub(crate) async fn template(&self, major: u32) -> Result<PathBuf> {
        let dir = self.templates_dir().join(major.to_string());
        if exists(&dir.join(READY)) {
            return Ok(dir);
        }
        let _guard = self.template_lock.lock().await;
        if exists(&dir.join(READY)) {
            return Ok(dir);
        }
        let install = super::install::check(&self.installs, &major.to_string())?.clone();
        let tmp = unique_tmp(&dir);
        std::fs::create_dir_all(&tmp).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
        self.run_as.own(&tmp)?;
        let out = self
            .run_as
            .command(&install.bin("initdb"), &self.templates_dir())
            .arg("-D")
            .arg(&tmp)
            .args(["-U", ADMIN_ROLE, "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C", "--no-instructions"])
            .output()
            .await
            .map_err(|e| err(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            let _ = remove_tree(&tmp);
            return Err(err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let conf = tmp.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| err(format!("{}: {e}", conf.display())))?;
        text.push_str("\n# Node settings (port, addresses, TLS) written by dbcloud.\ninclude_if_exists = 'dbcloud.conf'\n");
        std::fs::write(&conf, text).map_err(|e| err(format!("{}: {e}", conf.display())))?;
        let mut child = self
            .run_as
            .command(&install.bin("postgres"), &self.templates_dir())
            .arg("--single")
            .arg("-j")
            .arg("-D")
            .arg(&tmp)
            .arg("template1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot run postgres --single: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(setup_sql().as_bytes()).await.map_err(|e| err(e.to_string()))?;
        }
        let out = child.wait_with_output().await.map_err(|e| err(e.to_string()))?;
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() || all.contains("ERROR") {
            let _ = remove_tree(&tmp);
            return Err(err(format!("preparing the template failed: {}", all.trim())));
        }
        std::fs::write(tmp.join(READY), "").map_err(|e| err(e.to_string()))?;
        self.run_as.own(&tmp.join(READY))?;
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another replica on this host finished first.
            let _ = remove_tree(&tmp);
            if !exists(&dir.join(READY)) {
                return Err(err(format!("cannot install the template at {}", dir.display())));
            }
        }
        Ok(dir)
    }

    /// Builds the template of the default version and fills its spare copies, so that the
    /// first create is as fast as the later ones. The wiring spawns it at start-up.
    pub async fn warm_up(&self) -> Result<()> {
        let Some(major) = self.installs.first().map(|i| i.major) else { return Ok(()) };
        let template = self.template(major).await?;
        refill(template, self.spares_dir(major), self.cfg.spares, self.refilling.clone()).await;
        Ok(())
    }

    fn spares_dir(&self, major: u32) -> PathBuf {
        self.templates_dir().join(format!("{major}.spares"))
    }

    /// Moves a spare copy of the template of `major` to `target`; `false` when none is left.
    fn take_spare(&self, major: u32, target: &Path) -> bool {
        let Ok(entries) = std::fs::read_dir(self.spares_dir(major)) else { return false };
        for e in entries.flatten() {
            let ready = e.file_name().to_str().is_some_and(|n| !n.contains(".tmp"));
            // Renames are atomic: of several replicas on this host, one gets each spare.
            if ready && std::fs::rename(e.path(), target).is_ok() {
                return true;
            }
        }
        false
    }

    /// Creates the primary's data directory (node 1) from the template of `major`: a spare
    /// copy renamed into place, or a fresh copy. Built as `node-1.tmp` and renamed when
    /// complete, so a crash leaves nothing half-made in place.
    pub(crate) async fn init_primary(&self, cluster_dir: &Path, major: u32, port: u16) -> Result<()> {
        let target = node_dir(cluster_dir, 1);
        if exists(&target) {
            return Ok(());
        }
        let template = self.template(major).await?;
        let tmp = cluster_dir.join("node-1.tmp");
        super::instance::kill_stragglers(&tmp).await;
        remove_tree(&tmp)?;
        if !self.take_spare(major, &tmp) {
            copy_template(&template, &tmp).await?;
        }
        tokio::spawn(refill(template, self.spares_dir(major), self.cfg.spares, self.refilling.clone()));
        self.write_node_conf(cluster_dir, &tmp, port)?;
        std::fs::rename(&tmp, &target).map_err(|e| err(format!("{}: {e}", target.display())))?;
        Ok(())
    }
}

/// Copies the template to `to` (a durable copy: the file system is synced afterwards).
async fn copy_template(template: &Path, to: &Path) -> Result<()> {
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(template)
        .arg(to)
        .output()
        .await
        .map_err(|e| err(format!("cannot run cp: {e}")))?;
    if !out.status.success() {
        return Err(err(format!("copying the template failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let _ = std::fs::remove_file(to.join(READY));
    let dir = to.to_path_buf();
    tokio::task::spawn_blocking(move || fsync_tree(&dir)).await.map_err(|e| err(e.to_string()))?.map_err(|e| err(format!("fsync of {}: {e}", to.display())))
}

/// Flushes every file and directory under `path` to disk (only these files, unlike a
/// `syncfs`, which would also wait for everything else being written on the file system).
fn fsync_tree(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        for e in std::fs::read_dir(path)? {
            fsync_tree(&e?.path())?;
        }
    }
    std::fs::File::open(path)?.sync_all()
}

/// Brings the spare copies in `spares` up to `count` (one refill at a time per driver).
async fn refill(template: PathBuf, spares: PathBuf, count: usize, busy: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    if busy.swap(true, Ordering::AcqRel) {
        return;
    }
    let _ = std::fs::create_dir_all(&spares);
    loop {
        let entries: Vec<_> = std::fs::read_dir(&spares).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        // Leftovers of an interrupted copy (older than ten minutes: another replica on this
        // host may be copying right now) are removed.
        let stale = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|d| d.as_secs() > 600));
        for p in entries.iter().filter(|p| p.to_string_lossy().ends_with(".tmp") && stale(p)) {
            let _ = remove_tree(p);
        }
        if entries.iter().filter(|p| !p.to_string_lossy().ends_with(".tmp")).count() >= count {
            break;
        }
        let name = uuid::Uuid::new_v4().simple().to_string();
        let tmp = spares.join(format!("{name}.tmp"));
        if let Err(e) = copy_template(&template, &tmp).await {
            tracing::warn!(error = %e, "local driver: cannot prepare a spare data directory");
            let _ = remove_tree(&tmp);
            break;
        }
        if std::fs::rename(&tmp, spares.join(&name)).is_err() {
            let _ = remove_tree(&tmp);
            break;
        }
    }
    busy.store(false, Ordering::Release);
}
