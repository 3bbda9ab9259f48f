//! Makes a running cluster match its [`DesiredState`]: databases (one per bucket), login
//! roles with SCRAM verifiers in the `read`/`readwrite` groups, `CONNECT` privileges (a
//! scoped user reaches its database only) and `pg_hba.conf` from the allow list.
//! Idempotent: a second call with the same state changes nothing.
//!
//! Managed roles are exactly the members of [`READ_GROUP`] and [`READWRITE_GROUP`]; managed
//! databases are every database but `postgres` and the templates. Neither the superuser,
//! the groups nor `pg_*` roles are ever touched.

use super::instance::{admin_client, node_dir, running_pid};
use super::scram::is_verifier;
use super::{ADMIN_ROLE, DesiredCidr, DesiredState, LocalDriver, READ_GROUP, READWRITE_GROUP, Result, err, exists};
use dbcloud_types::{Access, Cluster};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use time::OffsetDateTime;
use tokio_postgres::Client;

/// What a reconcile changed, and what it could not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Roles created.
    pub created_roles: Vec<String>,
    /// Roles whose password, access or database access changed.
    pub altered_roles: Vec<String>,
    /// Roles dropped.
    pub dropped_roles: Vec<String>,
    /// Databases created.
    pub created_databases: Vec<String>,
    /// Databases dropped.
    pub dropped_databases: Vec<String>,
    /// Whether `pg_hba.conf` was rewritten (and the nodes reloaded).
    pub hba_changed: bool,
    /// Items that could not be applied (invalid names, a stopped cluster, …).
    pub errors: Vec<String>,
}

impl ReconcileReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.hba_changed
            || !(self.created_roles.is_empty()
                && self.altered_roles.is_empty()
                && self.dropped_roles.is_empty()
                && self.created_databases.is_empty()
                && self.dropped_databases.is_empty())
    }
}

/// A quoted SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A quoted SQL string literal (standard_conforming_strings is on).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Why `name` cannot be a managed role or database name, if it cannot.
fn bad_name(name: &str, kind: &str) -> Option<String> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Some(format!("{kind} `{name}`: names are 1 to 63 bytes without NUL"));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("pg_") || lower.starts_with("dbcloud_") || ["postgres", "template0", "template1", "public"].contains(&lower.as_str()) {
        return Some(format!("{kind} `{name}` is reserved"));
    }
    None
}

fn group_of(a: Access) -> &'static str {
    match a {
        Access::Read => READ_GROUP,
        Access::ReadWrite => READWRITE_GROUP,
    }
}

async fn exec(c: &Client, sql: &str) -> Result<()> {
    c.batch_execute(sql).await.map_err(|e| err(format!("{e}: {}", e.as_db_error().map(|d| d.message()).unwrap_or_default())))
}

async fn strings(c: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let rows = c.query(sql, &[]).await.map_err(|e| err(e.to_string()))?;
    Ok(rows.iter().map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i)).collect()).collect())
}

impl LocalDriver {
    /// Writes the cluster's `pg_hba.conf` for `allowlist` (expired entries left out) and
    /// reloads every running node when it changed. Returns whether it changed.
    pub(crate) async fn apply_hba(&self, cluster: &Cluster, allowlist: &[DesiredCidr], errors: &mut Vec<String>) -> Result<bool> {
        let dir = self.cluster_dir(cluster.id);
        let (text, invalid) = super::hba::pg_hba(allowlist, OffsetDateTime::now_utc());
        errors.extend(invalid.into_iter().map(|c| format!("allow-list entry `{c}` is not a CIDR; left out")));
        self.applied.lock().expect("lock").insert(cluster.id, allowlist.to_vec());
        let path = dir.join("pg_hba.conf");
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        let tmp = dir.join("pg_hba.conf.tmp");
        std::fs::write(&tmp, &text).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
        self.run_as.own(&tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let ports = self.catalog.ports(cluster.id).await?;
        reload_all(&dir, &ports).await;
        Ok(true)
    }

    /// Makes the cluster's roles, databases and allow list match `desired` (see the module
    /// documentation). The allow list is applied even when the cluster is stopped; roles and
    /// databases need a running primary, otherwise the report carries an error and the next
    /// call applies them.
    pub async fn reconcile(&self, cluster: &Cluster, desired: &DesiredState) -> Result<ReconcileReport> {
        let lock = self.lock_of(cluster.id);
        let _guard = lock.lock().await;
        self.reconcile_locked(cluster, desired).await
    }

    pub(crate) async fn reconcile_locked(&self, cluster: &Cluster, desired: &DesiredState) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let dir = self.cluster_dir(cluster.id);
        if !exists(&dir) {
            return Err(err(format!("cluster {} has no instances on this machine", cluster.id)));
        }
        report.hba_changed = self.apply_hba(cluster, &desired.allowlist, &mut report.errors).await?;
        let port = self.catalog.ports(cluster.id).await?.get(&1).copied();
        let (Some(port), true) = (port, running_pid(&node_dir(&dir, 1)).is_some()) else {
            report.errors.push("the cluster is not running; roles and databases are applied when it runs".into());
            return Ok(report);
        };
        let c = admin_client(&dir, port, "postgres").await?;
        self.reconcile_databases(&c, desired, &mut report).await?;
        self.reconcile_roles(&dir, port, &c, desired, &mut report).await?;
        Ok(report)
    }

    async fn reconcile_databases(&self, c: &Client, desired: &DesiredState, report: &mut ReconcileReport) -> Result<()> {
        let existing: BTreeSet<String> = strings(c, "SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
            .await?
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect();
        let mut wanted = BTreeSet::new();
        for db in &desired.databases {
            if let Some(why) = bad_name(db, "database") {
                report.errors.push(why);
                continue;
            }
            wanted.insert(db.clone());
            if !existing.contains(db) {
                exec(c, &format!("CREATE DATABASE {}", ident(db))).await?;
                exec(c, &format!("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC", ident(db))).await?;
                report.created_databases.push(db.clone());
            }
        }
        for db in existing.difference(&wanted) {
            exec(c, &format!("DROP DATABASE {} WITH (FORCE)", ident(db))).await?;
            report.dropped_databases.push(db.clone());
        }
        Ok(())
    }

    async fn reconcile_roles(&self, dir: &Path, port: u16, c: &Client, desired: &DesiredState, report: &mut ReconcileReport) -> Result<()> {
        let managed_sql = format!(
            "SELECT a.rolname::text, g.rolname::text, a.rolpassword FROM pg_authid a JOIN pg_auth_members m ON m.member = a.oid \
             JOIN pg_authid g ON g.oid = m.roleid WHERE g.rolname IN ({}, {})",
            literal(READ_GROUP),
            literal(READWRITE_GROUP)
        );
        // name -> (groups, verifier)
        let mut managed: BTreeMap<String, (BTreeSet<String>, Option<String>)> = BTreeMap::new();
        for r in strings(c, &managed_sql).await? {
            let e = managed.entry(r[0].clone().unwrap_or_default()).or_default();
            e.0.insert(r[1].clone().unwrap_or_default());
            e.1 = r[2].clone();
        }
        let all_roles: BTreeSet<String> = strings(c, "SELECT rolname::text FROM pg_roles").await?.into_iter().filter_map(|r| r[0].clone()).collect();
        let databases: BTreeSet<String> = strings(c, "SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
            .await?
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect();
        // (database, role) pairs holding CONNECT now.
        let connect: BTreeSet<(String, String)> = strings(
            c,
            "SELECT d.datname::text, r.rolname::text FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a \
             JOIN pg_roles r ON r.oid = a.grantee WHERE a.privilege_type = 'CONNECT'",
        )
        .await?
        .into_iter()
        .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
        .collect();

        let mut wanted = BTreeSet::new();
        for u in &desired.users {
            if let Some(why) = bad_name(&u.name, "user") {
                report.errors.push(why);
                continue;
            }
            if !is_verifier(&u.verifier) {
                report.errors.push(format!("user `{}`: the password is not a SCRAM-SHA-256 verifier; left unchanged", u.name));
                continue;
            }
            wanted.insert(u.name.clone());
            let group = group_of(u.access);
            let mut altered = false;
            match managed.get(&u.name) {
                None if all_roles.contains(&u.name) => {
                    report.errors.push(format!("user `{}`: a role of that name exists and is not managed by dbcloud", u.name));
                    continue;
                }
                None => {
                    exec(c, &format!("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {group}", ident(&u.name), literal(&u.verifier))).await?;
                    report.created_roles.push(u.name.clone());
                }
                Some((groups, verifier)) => {
                    if verifier.as_deref() != Some(u.verifier.as_str()) {
                        exec(c, &format!("ALTER ROLE {} PASSWORD {}", ident(&u.name), literal(&u.verifier))).await?;
                        altered = true;
                    }
                    if !groups.contains(group) {
                        exec(c, &format!("GRANT {group} TO {}", ident(&u.name))).await?;
                        altered = true;
                    }
                    for other in groups.iter().filter(|g| g.as_str() != group) {
                        exec(c, &format!("REVOKE {other} FROM {}", ident(&u.name))).await?;
                        altered = true;
                    }
                }
            }
            if let Some(scope) = &u.scope
                && !databases.contains(scope)
            {
                report.errors.push(format!("user `{}`: its database `{scope}` does not exist", u.name));
            }
            for db in &databases {
                let allowed = u.scope.as_ref().is_none_or(|s| s == db);
                let has = connect.contains(&(db.clone(), u.name.clone()));
                if allowed && !has {
                    exec(c, &format!("GRANT CONNECT ON DATABASE {} TO {}", ident(db), ident(&u.name))).await?;
                    altered |= !report.created_roles.contains(&u.name);
                } else if !allowed && has {
                    exec(c, &format!("REVOKE CONNECT ON DATABASE {} FROM {}", ident(db), ident(&u.name))).await?;
                    altered = true;
                }
            }
            if altered {
                report.altered_roles.push(u.name.clone());
            }
        }
        for gone in managed.keys().filter(|n| !wanted.contains(*n)) {
            let role = ident(gone);
            exec(c, &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}", literal(gone))).await?;
            for db in &databases {
                let dc = admin_client(dir, port, db).await?;
                exec(&dc, &format!("REASSIGN OWNED BY {role} TO {ADMIN_ROLE}; DROP OWNED BY {role}")).await?;
            }
            exec(c, &format!("REASSIGN OWNED BY {role} TO {ADMIN_ROLE}; DROP OWNED BY {role}; DROP ROLE {role}")).await?;
            report.dropped_roles.push(gone.clone());
        }
        Ok(())
    }
}

/// Makes every running node reload its configuration (SIGHUP) and waits, up to 5 s per
/// node, until new connections see the reload (`pg_conf_load_time()` moved), so that an
/// allow-list change is in force when this returns.
pub(crate) async fn reload_all(cluster_dir: &Path, ports: &BTreeMap<u32, u16>) {
    for (i, port) in ports {
        let Some(pid) = running_pid(&node_dir(cluster_dir, *i)) else { continue };
        let load_time = async || -> Option<String> {
            let c = admin_client(cluster_dir, *port, "postgres").await.ok()?;
            c.query_one("SELECT pg_conf_load_time()::text", &[]).await.ok().map(|r| r.get(0))
        };
        let before = load_time().await;
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::HUP);
        }
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while before.is_some() && std::time::Instant::now() < until && load_time().await == before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
