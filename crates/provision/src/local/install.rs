//! Discovery of PostgreSQL installations: `--pg-bin-dir`, Debian's
//! `/usr/lib/postgresql/<major>/bin`, then `PATH`. Each major version found once (the first
//! place wins) becomes a selectable cluster version.

use super::{LocalError, MIN_MAJOR, Result, err};
use std::path::{Path, PathBuf};

/// One installed PostgreSQL server version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// Major version, e.g. 15.
    pub major: u32,
    /// Full version as printed by `postgres --version`, e.g. `15.14`.
    pub version: String,
    /// Directory holding `postgres`, `initdb`, `pg_ctl`, `pg_basebackup`.
    pub bin_dir: PathBuf,
}

impl Installation {
    /// Path of one of the installation's programs.
    pub fn bin(&self, program: &str) -> PathBuf {
        self.bin_dir.join(program)
    }
}

/// The programs the driver runs; a directory lacking one is not an installation.
const PROGRAMS: &[&str] = &["postgres", "initdb", "pg_ctl", "pg_basebackup"];

/// Parses `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` into (15, "15.14").
pub fn parse_version(out: &str) -> Option<(u32, String)> {
    let rest = out.split("(PostgreSQL)").nth(1)?.trim();
    let version = rest.split_whitespace().next()?.to_string();
    let major = version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((major, version))
}

fn probe(bin_dir: &Path) -> Option<Installation> {
    if !PROGRAMS.iter().all(|p| bin_dir.join(p).is_file()) {
        return None;
    }
    let out = std::process::Command::new(bin_dir.join("postgres")).arg("--version").env_clear().output().ok()?;
    let (major, version) = parse_version(&String::from_utf8_lossy(&out.stdout))?;
    Some(Installation { major, version, bin_dir: bin_dir.to_path_buf() })
}

/// Every usable installation (major ≥ [`MIN_MAJOR`]), newest major first, one per major.
pub fn discover(explicit: Option<&Path>) -> Vec<Installation> {
    let mut dirs: Vec<PathBuf> = explicit.map(Path::to_path_buf).into_iter().collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut debian: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        debian.sort();
        dirs.extend(debian);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut found: Vec<Installation> = vec![];
    for dir in dirs {
        if let Some(i) = probe(&dir).filter(|i| i.major >= MIN_MAJOR)
            && !found.iter().any(|f| f.major == i.major)
        {
            found.push(i);
        }
    }
    found.sort_by_key(|i| std::cmp::Reverse(i.major));
    found
}

/// How to get a server, for messages when none is installed.
pub const INSTALL_HINT: &str = "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`), \
     or point `--pg-bin-dir` at a directory holding `postgres`, `initdb`, `pg_ctl` and `pg_basebackup`";

/// The installation serving `version` (a major like `15`, or `15.4` whose major is used).
pub fn check<'a>(installs: &'a [Installation], version: &str) -> Result<&'a Installation> {
    if installs.is_empty() {
        return Err(err(format!("the local provider has no PostgreSQL server installed on this machine: {INSTALL_HINT}")));
    }
    let listed = installs.iter().map(|i| i.major.to_string()).collect::<Vec<_>>().join(", ");
    let major: u32 = version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| LocalError(format!("version `{version}` is not a PostgreSQL major version; installed: {listed}")))?;
    installs.iter().find(|i| i.major == major).ok_or_else(|| {
        err(format!("PostgreSQL {major} is not installed on this machine (installed: {listed}); install it (Debian: `apt-get install postgresql-{major}`) or choose an installed version"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_check() {
        assert_eq!(parse_version("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n"), Some((15, "15.14".into())));
        assert_eq!(parse_version("postgres (PostgreSQL) 17beta1\n"), Some((17, "17beta1".into())));
        assert_eq!(parse_version("something else"), None);
        let none = check(&[], "15").unwrap_err().0;
        assert!(none.contains("apt-get install postgresql"), "{none}");
        let one = [Installation { major: 15, version: "15.1".into(), bin_dir: "/x".into() }];
        assert!(check(&one, "15").is_ok() && check(&one, "15.3").is_ok());
        let missing = check(&one, "16").unwrap_err().0;
        assert!(missing.contains("16 is not installed") && missing.contains("installed: 15"), "{missing}");
        assert!(check(&one, "latest").unwrap_err().0.contains("not a PostgreSQL major"));
    }
}
