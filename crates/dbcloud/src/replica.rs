//! The replica identity of `dbcloud serve`: the name its operation leases carry.
//!
//! The operator gives it (`--replica-id`), or it is kept in `<data-dir>/replica-id`, so a
//! restarted process — after `kill -9` too — recognizes the leases of its earlier run and
//! takes those operations back at once instead of waiting for the leases to expire. While
//! the process runs it holds an exclusive lock on that file: a second process started on
//! the same data directory cannot take the same identity, so it runs under a fresh one
//! (not kept) and says so in its log.

use anyhow::Context;
use dbcloud_provision::runner::RunnerConfig;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// File in the data directory that keeps the replica identity.
pub const REPLICA_ID_FILE: &str = "replica-id";

/// A replica identity and, when it came from the data directory, the lock that keeps it
/// this process's own until the process ends.
pub struct ReplicaId {
    /// The identity (the lease owner name).
    pub id: String,
    /// Where it came from, for the log.
    pub source: &'static str,
    _lock: Option<File>,
}

/// Checks a replica identity: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn check(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    anyhow::ensure!(ok, "replica-id must be 1 to 64 letters, digits, '.', '_' or '-'");
    Ok(())
}

fn fresh() -> String {
    RunnerConfig::default().owner
}

/// The identity given by the operator, else the one kept in `data_dir` (created on the first
/// start), else — when another live process holds that one — a fresh one.
pub fn resolve(given: Option<&str>, data_dir: &Path) -> anyhow::Result<ReplicaId> {
    if let Some(id) = given {
        check(id)?;
        return Ok(ReplicaId { id: id.to_string(), source: "given", _lock: None });
    }
    let path = data_dir.join(REPLICA_ID_FILE);
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let id = fresh();
            tracing::warn!(path = %path.display(), replica = %id, "another live process holds this data directory's replica identity; running under a fresh one");
            return Ok(ReplicaId { id, source: "fresh: another live process holds the data directory's", _lock: None });
        }
        Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
    }
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(|| format!("reading {}", path.display()))?;
    let kept = text.trim();
    if check(kept).is_ok() {
        return Ok(ReplicaId { id: kept.to_string(), source: "kept in the data directory", _lock: Some(file) });
    }
    let id = fresh();
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(format!("{id}\n").as_bytes())?;
        f.sync_all()
    };
    write(&mut file).with_context(|| format!("writing {}", path.display()))?;
    Ok(ReplicaId { id, source: "new, kept in the data directory", _lock: Some(file) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_across_restarts_and_never_shared_by_two_live_processes() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(None, dir.path()).unwrap();
        assert!(first.id.starts_with("replica-"), "{}", first.id);
        // While it runs, another process on the same directory gets a fresh identity.
        let second = resolve(None, dir.path()).unwrap();
        assert_ne!(second.id, first.id);
        let id = first.id.clone();
        drop((first, second));
        // After the first ends (however it ends: the lock goes with the process), the next takes it back.
        let again = resolve(None, dir.path()).unwrap();
        assert_eq!(again.id, id);
        assert_eq!(std::fs::read_to_string(dir.path().join(REPLICA_ID_FILE)).unwrap().trim(), id);
    }

    #[test]
    fn a_given_identity_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve(Some("eu-1.a_b"), dir.path()).unwrap().id, "eu-1.a_b");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            assert!(resolve(Some(bad), dir.path()).is_err(), "{bad:?}");
        }
        // A damaged file is replaced by a new identity.
        std::fs::write(dir.path().join(REPLICA_ID_FILE), "not valid!\n").unwrap();
        let r = resolve(None, dir.path()).unwrap();
        assert!(r.id.starts_with("replica-"));
    }
}
