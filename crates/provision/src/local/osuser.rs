//! The OS account instances run as. PostgreSQL refuses to run as root, so when dbcloud is
//! root every PostgreSQL program runs as an unprivileged account (`--pg-os-user`, default
//! `postgres`) and the cluster directories belong to it; otherwise the current user runs them.

use super::{Result, err};
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Who runs PostgreSQL programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// The current (unprivileged) user.
    Current,
    /// An account switched to from root.
    Account {
        /// Account name.
        name: String,
        /// Its uid.
        uid: u32,
        /// Its primary gid.
        gid: u32,
    },
}

/// Looks an account up with `id` (so NSS sources beyond /etc/passwd count).
fn lookup(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = std::process::Command::new("id").args([flag, "--", name]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl RunAs {
    /// Decides who runs instances: as root, `os_user` (or `postgres`), which must exist
    /// and not be root; otherwise the current user.
    pub fn resolve(os_user: Option<&str>) -> Result<Self> {
        if !rustix::process::geteuid().is_root() {
            return Ok(RunAs::Current);
        }
        let name = os_user.unwrap_or("postgres");
        let (uid, gid) = lookup(name).ok_or_else(|| {
            err(format!(
                "dbcloud runs as root and PostgreSQL refuses to: the OS account `{name}` it would run instances as does not exist; \
                 create it (`useradd --system --home-dir /var/lib/postgresql postgres`, or install Debian's `postgresql` package) or choose one with --pg-os-user"
            ))
        })?;
        if uid == 0 {
            return Err(err(format!("--pg-os-user `{name}` is root; PostgreSQL must run as an unprivileged account")));
        }
        Ok(RunAs::Account { name: name.into(), uid, gid })
    }

    /// The account's name, when switching to one.
    pub fn name(&self) -> Option<&str> {
        match self {
            RunAs::Current => None,
            RunAs::Account { name, .. } => Some(name),
        }
    }

    /// A command for `program` that runs as this account, with a clean environment and
    /// `dir` as working directory (which the account must be able to enter).
    pub fn command(&self, program: &Path, dir: &Path) -> tokio::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").env("LC_ALL", "C").current_dir(dir).stdin(std::process::Stdio::null());
        if let RunAs::Account { uid, gid, .. } = self {
            // std drops supplementary groups when a root parent sets the uid.
            cmd.uid(*uid).gid(*gid);
        }
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(false);
        cmd
    }

    /// Makes `path` (not recursively) belong to the account and private to it (0700 for
    /// directories, 0600 for files).
    pub fn own(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let mode = if meta.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| err(format!("chmod {}: {e}", path.display())))?;
        if let RunAs::Account { uid, gid, .. } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid)).map_err(|e| err(format!("chown {}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Checks that the account can enter `dir` (every parent directory must let it through).
    pub fn check_access(&self, dir: &Path) -> Result<()> {
        if matches!(self, RunAs::Current) {
            return Ok(());
        }
        let ok = self.command(Path::new("/bin/sh"), dir).args(["-c", "test -w ."]).as_std_mut().status().map(|s| s.success()).unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(err(format!(
                "the OS account `{}` cannot enter or write {}: let it through every parent directory (e.g. chmod o+x on each) or choose another --data-dir",
                self.name().unwrap_or_default(),
                dir.display()
            )))
        }
    }
}
