//! Shared parts of the local driver's tests: a driver over a temporary data directory and an
//! in-memory catalog (a Drop guard stops every instance it started), a loop that drives an
//! operation through `Provisioner::next_step` like the runner does, and a TLS client
//! (tokio-postgres over rustls, optionally bound to another source address).
#![allow(dead_code)]

use dbcloud_provision::Provisioner;
use dbcloud_provision::local::*;
use dbcloud_types::*;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Client;
use tokio_postgres::tls::{ChannelBinding, TlsConnect};
use uuid::Uuid;

/// A driver on a fresh data directory, with ports `base..base+40`.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub catalog: Arc<MemoryCatalog>,
    pub driver: Arc<LocalDriver>,
    pub base: u16,
}

/// The configuration the tests use (fast failure, small instances).
pub fn config(data: &Path, base: u16) -> LocalConfig {
    let mut cfg = LocalConfig::new(data);
    cfg.port_range = base..=base + 39;
    cfg.start_timeout = Duration::from_secs(20);
    // Templates (and their spare copies) are shared by every test run of this worktree.
    cfg.templates_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("local-pg-templates"));
    cfg
}

impl Harness {
    /// A harness whose ports start at `base` (each test uses its own range).
    pub fn new(base: u16) -> Harness {
        let dir = tempfile::Builder::new().prefix("dbc").tempdir().unwrap();
        // The unprivileged account instances run as must be able to enter it.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let catalog = Arc::new(MemoryCatalog::new());
        let driver = Arc::new(LocalDriver::new(config(dir.path(), base), catalog.clone()).expect("driver"));
        assert!(!driver.versions().is_empty(), "no PostgreSQL server is installed (Debian: apt-get install postgresql); .ci/run installs it");
        Harness { dir, catalog, driver, base }
    }

    /// A second driver over the same data directory and catalog (a restarted `dbcloud serve`).
    pub fn restarted(&self) -> Arc<LocalDriver> {
        Arc::new(LocalDriver::new(config(self.dir.path(), self.base), self.catalog.clone()).expect("driver"))
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        stop_all_under(&self.dir.path().join("clusters"));
    }
}

/// Stops (SIGQUIT, then SIGKILL) every postmaster whose data directory is under `root`, and waits.
pub fn stop_all_under(root: &Path) {
    let Ok(clusters) = std::fs::read_dir(root) else { return };
    for c in clusters.flatten() {
        for n in std::fs::read_dir(c.path()).into_iter().flatten().flatten() {
            if let Some(pid) = dbcloud_provision::local::instance::running_pid(&n.path()) {
                let _ = std::process::Command::new("kill").args(["-QUIT", &pid.to_string()]).status();
                for _ in 0..200 {
                    if !dbcloud_provision::local::instance::postgres_alive(pid) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                if dbcloud_provision::local::instance::postgres_alive(pid) {
                    let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                }
            }
        }
    }
}

/// A cluster record as the store would hand it to the provisioner.
pub fn cluster(name: &str, nodes: i32) -> Cluster {
    let now = time::OffsetDateTime::now_utc();
    Cluster {
        id: Uuid::now_v7(),
        organization_id: Uuid::now_v7(),
        project_id: Uuid::now_v7(),
        cloud_id: Uuid::now_v7(),
        name: name.into(),
        plan: Plan::Dedicated,
        version: "15".into(),
        node_count: nodes,
        node_size: "local".into(),
        spend_limit: None,
        state: ClusterState::Creating,
        failure_reason: None,
        nodes: vec![],
        endpoints: vec![],
        connection_strings: vec![],
        bucket_count: 0,
        attributes: Default::default(),
        created_by: "test".into(),
        created_at: now,
        updated_at: now,
    }
}

/// Drives an operation of `kind` with `params` to its end through `next_step`, applying each
/// step's cluster change to `c` like the runner and store do. Returns the final operation.
pub async fn drive(p: &dyn Provisioner, c: &mut Cluster, kind: OperationKind, params: serde_json::Value) -> Operation {
    let now = time::OffsetDateTime::now_utc();
    let mut op = Operation {
        id: Uuid::now_v7(),
        organization_id: c.organization_id,
        cluster_id: c.id,
        kind,
        status: OperationStatus::Sent,
        step: String::new(),
        progress: 0,
        error: None,
        params,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    for _ in 0..200 {
        let step = p.next_step(&op, c).await;
        apply(c, &step.cluster);
        op.status = step.operation.status;
        op.step = step.operation.step;
        op.progress = step.operation.progress;
        op.error = step.operation.error;
        if !op.status.is_active() {
            return op;
        }
    }
    panic!("operation {kind} did not end in 200 steps");
}

/// Applies a step's cluster change.
pub fn apply(c: &mut Cluster, p: &dbcloud_store::ClusterPatch) {
    if let Some(s) = p.state {
        c.state = s;
    }
    if let Some(n) = &p.nodes {
        c.nodes = n.clone();
    }
    if let Some(e) = &p.endpoints {
        c.endpoints = e.clone();
    }
    if let Some(n) = p.node_count {
        c.node_count = n;
    }
    if let Some(r) = &p.failure_reason {
        c.failure_reason = Some(r.clone());
    }
    if let Some(v) = &p.version {
        c.version = v.clone();
    }
    if let Some(a) = &p.attributes {
        for (k, v) in a {
            c.attributes.insert(k.clone(), v.clone());
        }
    }
}

/// Creates a cluster of `nodes` nodes and asserts it ends `CREATED` with every node LIVE.
pub async fn create(h: &Harness, name: &str, nodes: i32) -> Cluster {
    let mut c = cluster(name, nodes);
    let op = drive(h.driver.as_ref(), &mut c, OperationKind::Create, serde_json::json!({})).await;
    assert_eq!(op.status, OperationStatus::Succeeded, "create failed: {:?}", op.error);
    assert_eq!(c.state, ClusterState::Created);
    assert_eq!(c.nodes.len(), nodes as usize);
    assert!(c.nodes.iter().all(|n| n.status == NodeStatus::Live));
    c
}

/// A user with a SCRAM verifier of `password`.
pub fn user(name: &str, access: Access, scope: Option<&str>, password: &str) -> DesiredUser {
    DesiredUser { name: name.into(), access, scope: scope.map(Into::into), verifier: scram_verifier(password).unwrap() }
}

/// The primary's endpoint address.
pub fn primary_addr(c: &Cluster) -> SocketAddr {
    let e = c.endpoints.iter().find(|e| e.kind == "sql").expect("sql endpoint");
    SocketAddr::new(e.host.parse().unwrap(), e.port)
}

// ---- TLS client -------------------------------------------------------------------------

/// A rustls connector for tokio-postgres that verifies the server against one CA.
#[derive(Clone)]
pub struct Rustls {
    cfg: Arc<rustls::ClientConfig>,
    name: rustls_pki_types::ServerName<'static>,
}

impl Rustls {
    /// Trusts only `ca_pem`; the server certificate must be valid for `host` (verify-full).
    pub fn new(ca_pem: &str, host: &str) -> Rustls {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Rustls { cfg: Arc::new(cfg), name: rustls_pki_types::ServerName::try_from(host.to_string()).unwrap() }
    }
}

pub struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for Rustls {
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;
    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move { Ok(TlsStream(tokio_rustls::TlsConnector::from(self.cfg).connect(self.name, stream).await?)) })
    }
}

/// Connects over TCP to `addr` from `source` (e.g. 127.0.0.2), with TLS verified by `tls`,
/// as `user`/`password` to `db`. The error text on refusal.
pub async fn connect(addr: SocketAddr, source: &str, tls: Rustls, user: &str, password: &str, db: &str) -> Result<Client, String> {
    let sock = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    sock.bind(format!("{source}:0").parse().unwrap()).map_err(|e| e.to_string())?;
    let stream = sock.connect(addr).await.map_err(|e| e.to_string())?;
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(user).password(password).dbname(db).ssl_mode(tokio_postgres::config::SslMode::Require);
    let (client, conn) = cfg.connect_raw(stream, tls).await.map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The refusal text of a connection attempt that must fail.
pub fn refused(r: Result<Client, String>, what: &str) -> String {
    match r {
        Ok(_) => panic!("{what}: the connection was accepted"),
        Err(e) => e,
    }
}

/// An error with its whole chain of causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text.push_str(&format!(": {s}"));
        src = s.source();
    }
    text
}

/// Connects over TCP without TLS (must be refused by every cluster).
pub async fn connect_plain(addr: SocketAddr, user: &str, password: &str, db: &str) -> Result<Client, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(user).password(password).dbname(db).ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, conn) = cfg.connect_raw(stream, tokio_postgres::NoTls).await.map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Pids of every live process whose command line mentions `needle` (e.g. a cluster id).
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) && dbcloud_provision::local::instance::postgres_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(300)).is_ok()
}
