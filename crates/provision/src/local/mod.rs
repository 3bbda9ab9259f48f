//! The `local` provider's engine: real PostgreSQL server instances run on this machine.
//!
//! A cluster of `node_count` N is one primary and N−1 streaming standbys, each a data
//! directory under `<data-dir>/clusters/<cluster-id>/` run by the PostgreSQL binaries found
//! on this machine ([`install`]), as an unprivileged OS account when dbcloud runs as root
//! ([`osuser`]). Everything a step does is decided from the persisted cluster plus what is
//! really on disk and running, so a replica that resumes an operation after `kill -9`
//! converges ([`provisioner`]).
//!
//! # Layout of one cluster
//!
//! ```text
//! <data-dir>/templates/<major>/          initdb'ed, prepared data directory copied per node
//! <data-dir>/clusters/<id>/              owned by the OS account, 0700
//!     node-<i>/                          data directory of node i (node 1 is the primary)
//!     node-<i>.tmp/                      a node being built; removed and redone on resume
//!     node-<i>.log                       server log of node i
//!     pg_hba.conf                        shared by every node, regenerated from the allow list
//!     tls/{ca.crt,server.crt,server.key} the cluster CA and the server certificate
//!     s/                                 Unix socket directory (0700): the driver's only
//!                                        superuser access (`dbcloud_admin`, trust, local only)
//! ```
//!
//! # What the wiring must do (server, store, API, CLI)
//!
//! 1. **Provider and dispatch.** Add `Provider::Local` (`"local"`, one region `local`). Build
//!    one [`LocalDriver`] at start-up from the `dbcloud serve` flags that fill
//!    [`LocalConfig`] (`--pg-bin-dir`, `--pg-port-range`, `--pg-listen-address`,
//!    `--pg-endpoint-host`, `--pg-os-user`; data under `--data-dir`), then spawn
//!    [`LocalDriver::warm_up`] (builds the template and its spare copies so the first create
//!    is fast). [`LocalDriver::new`] never fails because PostgreSQL is missing: the server
//!    still starts, and [`LocalDriver::versions`] is then empty. It fails when running as
//!    root without a usable OS account, or when that account cannot enter the data
//!    directory; keep serving then too, and answer creates on `local` with its message (400). Give the runner a provisioner that sends
//!    operations of clusters whose cloud is `local` to the driver and every other one to the
//!    simulated provisioner (the cluster carries `cloud_id`; resolve it, or record the
//!    provider in the cluster's attributes at creation).
//! 2. **Validation (400s) before an operation is written.** Create and upgrade on `local`:
//!    call [`LocalDriver::check_version`] (the version is a major, e.g. `"15"`; default
//!    [`LocalDriver::default_version`]) and answer its message as a 400; the message says how
//!    to install PostgreSQL when none is. The regions/versions list of `local` is
//!    [`LocalDriver::versions`].
//! 3. **Store ([`LocalCatalog`]).** Implement the trait over the store (one migration, e.g.
//!    `0008`): a port table `(host, port)` unique with `(cluster_id, node)` unique, whose
//!    `assign_port` is idempotent per `(cluster, node)` and never hands a port to two clusters
//!    of the same host (`host` = the machine's name; every replica on one host shares it);
//!    the cluster CA (`save_ca`: seal [`ClusterCa::key_pem`] with `MasterKey::seal` under the
//!    cluster id as context, insert-if-absent so the first CA saved wins; `load_ca` opens it;
//!    delete the row with the cluster); `desired` builds a [`DesiredState`] from the
//!    cluster's buckets (databases), users (name, access, scope, SCRAM verifier) and allow
//!    list; `supervised` returns the clusters whose supervision lease this replica holds
//!    (claiming free or expired ones, renewing held ones), with `busy` set while an operation
//!    of the cluster runs. [`MemoryCatalog`] is the in-memory reference implementation.
//! 4. **Users.** At user creation and password change compute the verifier with
//!    [`scram_verifier`] and store only the verifier (never the plaintext); the existing
//!    `password_hash` column can hold it for `local` clusters.
//! 5. **Reconcile.** After every user, bucket or allow-list change of a `local` cluster
//!    call [`LocalDriver::reconcile`] with the new desired state (and log its
//!    [`ReconcileReport`]); `allowlist_update` operations already reload `pg_hba.conf`
//!    through the provisioner.
//! 6. **Supervisor.** Spawn [`LocalDriver::supervise`] next to the runner with a callback
//!    that maps each [`NodeEvent`] to the cluster's node status (and health), and writes an
//!    audit record. It restarts dead nodes, and rewrites `pg_hba.conf` when a temporary
//!    allow-list entry expires.
//! 7. **API.** The cluster CA is [`crate::Provisioner::ca_certificate`] (already answered
//!    by the routes that expose a CA); connection strings are [`connection_uri`] per
//!    endpoint; `dbcloud clusters connect NAME` runs `psql` with that URI, the CA written to
//!    a temporary file as `sslrootcert`, and the user's password from the prompt.

pub mod catalog;
pub mod hba;
pub mod install;
pub mod instance;
pub mod osuser;
pub mod provisioner;
pub mod reconcile;
pub mod replication;
pub mod scram;
pub mod supervisor;
pub mod template;
pub mod tls;

pub use catalog::{ClusterCa, DesiredCidr, DesiredState, DesiredUser, LocalCatalog, MemoryCatalog, Supervised};
pub use install::Installation;
pub use reconcile::ReconcileReport;
pub use scram::scram_verifier;
pub use supervisor::NodeEvent;

use dbcloud_types::{Cluster, Endpoint};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// The superuser every instance is initialised with; reachable only over the cluster's
/// Unix socket directory (trust), never over TCP.
pub const ADMIN_ROLE: &str = "dbcloud_admin";
/// Group role of `read` users (member of `pg_read_all_data`).
pub const READ_GROUP: &str = "dbcloud_read";
/// Group role of `readwrite` users (read, write, and create tables in every database).
pub const READWRITE_GROUP: &str = "dbcloud_readwrite";
/// The lowest PostgreSQL major the driver offers (`pg_read_all_data` appeared in 14).
pub const MIN_MAJOR: u32 = 14;

/// An error of the local driver, with a message meant for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalError(pub String);

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LocalError {}

/// Shorthand for results of the local driver.
pub type Result<T, E = LocalError> = std::result::Result<T, E>;

/// Builds a [`LocalError`] from anything printable.
pub(crate) fn err(msg: impl Into<String>) -> LocalError {
    LocalError(msg.into())
}

/// Settings of the local driver.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// dbcloud's data directory; clusters live under `<data_dir>/clusters`.
    pub data_dir: PathBuf,
    /// Where to look for PostgreSQL binaries first (`--pg-bin-dir`); otherwise Debian's
    /// `/usr/lib/postgresql/<major>/bin` and `PATH`.
    pub pg_bin_dir: Option<PathBuf>,
    /// Ports handed to instances (`--pg-port-range`).
    pub port_range: RangeInclusive<u16>,
    /// Address instances listen on (`--pg-listen-address`, default `127.0.0.1`).
    pub listen_address: String,
    /// Host name clients should dial, put in endpoints and the server certificate
    /// (`--pg-endpoint-host`, default the listen address).
    pub endpoint_host: String,
    /// OS account instances run as when dbcloud runs as root (`--pg-os-user`); `None` means
    /// `postgres` when that account exists. Ignored when not root (the current user runs them).
    pub os_user: Option<String>,
    /// How long to wait for an instance to accept connections (or a standby to stream).
    pub start_timeout: Duration,
    /// Extra `postgresql.conf` settings of every instance (name, value as written in the file).
    pub settings: Vec<(String, String)>,
    /// Where prepared templates live (default `<data_dir>/templates`; must be on the same
    /// file system as the data directory, and reachable by the OS account).
    pub templates_dir: Option<PathBuf>,
    /// Ready copies of the template kept per major, so a create only renames one into place.
    pub spares: usize,
}

impl LocalConfig {
    /// Defaults for a data directory: ports 25432–26431 on 127.0.0.1, and modest memory
    /// settings so that many small clusters fit on one machine.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LocalConfig {
            data_dir: data_dir.into(),
            pg_bin_dir: None,
            port_range: 25432..=26431,
            listen_address: "127.0.0.1".into(),
            endpoint_host: "127.0.0.1".into(),
            os_user: None,
            start_timeout: Duration::from_secs(30),
            settings: vec![
                ("shared_buffers".into(), "'16MB'".into()),
                ("max_connections".into(), "50".into()),
                ("max_wal_size".into(), "'256MB'".into()),
                ("min_wal_size".into(), "'32MB'".into()),
            ],
            templates_dir: None,
            spares: 2,
        }
    }
}

/// The local driver: owns the instances of `local` clusters on this machine.
pub struct LocalDriver {
    pub(crate) cfg: LocalConfig,
    pub(crate) installs: Vec<Installation>,
    pub(crate) run_as: osuser::RunAs,
    pub(crate) catalog: Arc<dyn LocalCatalog>,
    /// Builds of templates are serialised within this process.
    pub(crate) template_lock: tokio::sync::Mutex<()>,
    /// The allow list last applied per cluster, to drop expired entries on time.
    pub(crate) applied: Mutex<BTreeMap<Uuid, Vec<DesiredCidr>>>,
    /// Per-cluster locks: reconcile, supervisor and operations never act on one cluster at once.
    pub(crate) locks: Mutex<BTreeMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// The node status the supervisor last saw, per (cluster, node index).
    pub(crate) seen: Mutex<BTreeMap<(Uuid, u32), dbcloud_types::NodeStatus>>,
    /// Set while a background task refills the spare copies of a template.
    pub(crate) refilling: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for LocalDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDriver").field("cfg", &self.cfg).field("installs", &self.installs).field("run_as", &self.run_as).finish()
    }
}

impl LocalDriver {
    /// A driver with `cfg`, keeping its ports, CA and desired state in `catalog`.
    ///
    /// Finds the installed PostgreSQL versions (none is not an error: creates then fail
    /// with [`LocalDriver::check_version`]'s message) and the OS account; fails only when
    /// running as root without a usable unprivileged account, or when the data directory
    /// cannot be prepared.
    pub fn new(cfg: LocalConfig, catalog: Arc<dyn LocalCatalog>) -> Result<Self> {
        let installs = install::discover(cfg.pg_bin_dir.as_deref());
        let run_as = osuser::RunAs::resolve(cfg.os_user.as_deref())?;
        let driver = LocalDriver {
            cfg,
            installs,
            run_as,
            catalog,
            template_lock: tokio::sync::Mutex::new(()),
            applied: Mutex::new(BTreeMap::new()),
            locks: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(BTreeMap::new()),
            refilling: Arc::default(),
        };
        for dir in [driver.clusters_dir(), driver.templates_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            driver.run_as.own(&dir)?;
        }
        driver.run_as.check_access(&driver.clusters_dir())?;
        Ok(driver)
    }

    /// The installed PostgreSQL majors, newest first (e.g. `["17", "15"]`).
    pub fn versions(&self) -> Vec<String> {
        self.installs.iter().map(|i| i.major.to_string()).collect()
    }

    /// The version a create without one gets: the newest installed major.
    pub fn default_version(&self) -> Option<String> {
        self.installs.first().map(|i| i.major.to_string())
    }

    /// `Ok` when `version` (a major such as `"15"`, or `"15.4"`) is installed; otherwise a
    /// message for a 400 answer that lists what is installed or says how to install it.
    pub fn check_version(&self, version: &str) -> Result<()> {
        install::check(&self.installs, version).map(|_| ())
    }

    /// The OS account instances run as (`None`: the current user).
    pub fn os_user(&self) -> Option<&str> {
        self.run_as.name()
    }

    /// The directory of every cluster.
    pub fn clusters_dir(&self) -> PathBuf {
        self.cfg.data_dir.join("clusters")
    }

    pub(crate) fn templates_dir(&self) -> PathBuf {
        self.cfg.templates_dir.clone().unwrap_or_else(|| self.cfg.data_dir.join("templates"))
    }

    /// The directory of one cluster.
    pub fn cluster_dir(&self, id: Uuid) -> PathBuf {
        self.clusters_dir().join(id.to_string())
    }

    pub(crate) fn lock_of(&self, id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().expect("lock").entry(id).or_default().clone()
    }

    /// The endpoints of a cluster with the given node ports (node 1 first): `sql` for the
    /// primary, `sql-standby` for each standby.
    pub fn endpoints(&self, ports: &BTreeMap<u32, u16>) -> Vec<Endpoint> {
        ports
            .iter()
            .map(|(node, port)| Endpoint { kind: if *node == 1 { "sql" } else { "sql-standby" }.into(), host: self.cfg.endpoint_host.clone(), port: *port })
            .collect()
    }
}

/// Name of node `i` (1-based) of a cluster, e.g. `orders-node-2`.
pub fn node_name(c: &Cluster, i: u32) -> String {
    format!("{}-node-{i}", c.name)
}

/// The `postgresql://` URI of an endpoint, without a password: `verify-full` TLS, the user
/// and database when given (clients add `sslrootcert=<file with the cluster CA>`).
pub fn connection_uri(endpoint: &Endpoint, user: Option<&str>, database: Option<&str>) -> String {
    let enc = |s: &str| {
        s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>()
    };
    let host = if endpoint.host.contains(':') { format!("[{}]", endpoint.host) } else { endpoint.host.clone() };
    let user = user.map(|u| format!("{}@", enc(u))).unwrap_or_default();
    format!("postgresql://{user}{host}:{}/{}?sslmode=verify-full", endpoint.port, enc(database.unwrap_or("postgres")))
}

/// `true` when `path` exists (a broken symlink counts as existing).
pub(crate) fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
