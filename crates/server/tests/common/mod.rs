//! A real server on loopback port 0 with a fresh store, and a client holding the
//! bootstrap owner token.
#![allow(dead_code)]

pub mod vendor_doc;

use dbcloud_provision::runner::RunnerConfig;
use dbcloud_provision::simulated::SimulatedConfig;
use dbcloud_server::{Server, ServerConfig, bootstrap};
use dbcloud_store::Store;
use dbcloud_store::seed::Seed;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestServer {
    pub server: Server,
    pub url: String,
    pub token: String,
    pub access_key: String,
    pub secret: String,
    pub org: String,
    pub http: reqwest::Client,
    /// The server's store, for bulk synthetic rows (see [`TestServer::seeder`]).
    seeder: Arc<dyn Seed>,
    _dir: tempfile::TempDir,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn config(step_ms: u64, failure_rate: f64) -> ServerConfig {
    let mut auth = dbcloud_server::auth::AuthConfig::ephemeral();
    auth.default_rate_limit = 100_000;
    auth.ip_rate_limit = 100_000;
    ServerConfig {
        provisioner: SimulatedConfig { step_delay: Duration::from_millis(step_ms), failure_rate },
        runner: RunnerConfig { poll_interval: Duration::from_millis(20), ..RunnerConfig::default() },
        auth,
        ..ServerConfig::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(Backend::Sqlite, config(0, 0.0)).await
    }

    pub async fn with(backend: Backend, cfg: ServerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (store, seeder): (Arc<dyn Store>, Arc<dyn Seed>) = match backend {
            Backend::Sqlite => {
                let s = Arc::new(dbcloud_store::sqlite::SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap());
                (s.clone(), s)
            }
            Backend::Postgres => {
                let schema = format!("dbcloud_test_{}", uuid::Uuid::new_v4().simple());
                let s = Arc::new(
                    dbcloud_store::postgres::PgStore::connect(&pg_url(), Some(&schema))
                        .await
                        .unwrap_or_else(|e| panic!("PostgreSQL at {} is required: {e}", pg_url())),
                );
                (s.clone(), s)
            }
        };
        let server = dbcloud_server::start("127.0.0.1:0".parse().unwrap(), store.clone(), cfg).await.unwrap();
        let (_, creds) = bootstrap::ensure(store.as_ref(), dir.path(), &server.state.auth.cfg.master_key).await.unwrap();
        let creds = creds.expect("fresh store");
        TestServer {
            url: server.url(),
            server,
            token: creds.bearer_token,
            access_key: creds.access_key,
            secret: creds.secret,
            org: creds.organization_id,
            http: reqwest::Client::new(),
            seeder,
            _dir: dir,
        }
    }

    /// A second server (replica) on the same store, with the same credentials.
    pub async fn replica(&self) -> TestServer {
        let store = self.store();
        let mut cfg = config(0, 0.0);
        cfg.auth.master_key = self.server.state.auth.cfg.master_key.clone();
        let server = dbcloud_server::start("127.0.0.1:0".parse().unwrap(), store, cfg).await.unwrap();
        TestServer {
            url: server.url(),
            server,
            token: self.token.clone(),
            access_key: self.access_key.clone(),
            secret: self.secret.clone(),
            org: self.org.clone(),
            http: reqwest::Client::new(),
            seeder: self.seeder.clone(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.server.state.store.clone()
    }

    /// The same store as [`TestServer::store`], for inserting many synthetic rows at once
    /// (not part of the production `Store` trait).
    pub fn seeder(&self) -> Arc<dyn Seed> {
        self.seeder.clone()
    }

    /// Sends a request with the owner's bearer token; returns status, headers and JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        decode(rb.send().await.unwrap()).await
    }

    /// A bearer token of a new key holding `role` at organization scope.
    pub async fn role_key(&self, role: dbcloud_core::perms::Role) -> String {
        use dbcloud_core::perms::{Grant, Scope};
        self.grants_key(vec![Grant { role, scope: Scope::Organization }]).await
    }

    /// A bearer token of a new key holding exactly `grants`.
    pub async fn grants_key(&self, grants: Vec<dbcloud_core::perms::Grant>) -> String {
        let k = dbcloud_core::keys::NewKey::generate();
        let ctx = dbcloud_store::Ctx {
            organization_id: self.org.parse().unwrap(),
            actor: "test".into(),
            request_id: "test".into(),
            source_ip: "-".into(),
            idempotency: None,
        };
        let key = dbcloud_store::NewApiKey {
            access_key: k.access_key.clone(),
            name: "scoped".into(),
            description: String::new(),
            secret_hash: k.secret_hash.clone(),
            secret_enc: None,
            grants,
            owner: dbcloud_store::KeyOwner::Key,
            allowed_cidrs: vec![],
            expires_at: None,
            rate_limit: None,
        };
        self.store().create_api_key(&ctx, &key).await.unwrap();
        k.bearer_token()
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, _, b) = self.call(Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = self.call(Method::POST, path, Some(body)).await;
        (s, b)
    }

    /// Polls a cluster until it reaches `state`.
    pub async fn wait_state(&self, id: &str, state: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let c = self.get(&format!("/v1/clusters/{id}")).await;
            if c["state"] == state {
                return c;
            }
            assert!(tokio::time::Instant::now() < deadline, "cluster {id} did not reach {state}: {c}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Status, headers and JSON body (or the text as a JSON string, or null when empty).
pub async fn decode(r: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let json = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, headers, json)
}

/// Asserts a native error body with `code` and returns its message.
pub fn assert_error(body: &Value, code: i64) -> String {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["details"].is_array(), "{body}");
    body["message"].as_str().expect("message").to_string()
}

pub const READS: &[&str] = &["org.read", "project.read", "cloud.read", "cluster.read"];
pub const ALL: &[&str] = &[
    "org.read",
    "org.update",
    "project.create",
    "project.read",
    "project.update",
    "project.delete",
    "cloud.read",
    "cloud.manage",
    "cluster.create",
    "cluster.read",
    "cluster.update",
    "cluster.delete",
    "dbuser.manage",
    "allowlist.manage",
    "apikey.manage",
    "serviceaccount.manage",
    "user.manage",
    "audit.read",
    "billing.read",
    "data.read",
    "data.write",
];

/// The role table: what each role may do at organization scope.
pub fn role_table() -> HashMap<&'static str, BTreeSet<&'static str>> {
    let set = |base: &[&'static str], extra: &[&'static str]| base.iter().chain(extra).copied().collect::<BTreeSet<_>>();
    let cluster_all = ["cluster.create", "cluster.read", "cluster.update", "cluster.delete", "dbuser.manage", "allowlist.manage"];
    HashMap::from([
        ("organizationOwner", set(ALL, &[])),
        ("ORG_ADMIN", set(ALL, &[])),
        ("ADMIN", set(ALL, &[])),
        ("organizationMember", set(&["org.read", "project.read", "cloud.read"], &[])),
        ("ORG_MEMBER", set(&["org.read", "project.read", "cloud.read"], &[])),
        ("projectCreator", set(&["org.read", "project.create", "cloud.read"], &[])),
        ("projectOwner", set(&["project.read", "project.update", "project.delete", "cloud.read", "data.read", "data.write", "apikey.manage"], &cluster_all)),
        ("projectManager", set(&["project.read", "cloud.read", "data.read", "data.write"], &cluster_all)),
        ("projectViewer", set(&["project.read", "cloud.read", "cluster.read"], &[])),
        ("projectDataReaderWriter", set(&["project.read", "cloud.read", "cluster.read", "data.read", "data.write"], &[])),
        ("projectDataReader", set(&["project.read", "cloud.read", "cluster.read", "data.read"], &[])),
        ("BILLING_COORDINATOR", set(&["org.read", "billing.read"], &[])),
        ("BILLING_VIEWER", set(&["org.read", "billing.read"], &[])),
        (
            "CLUSTER_ADMIN",
            set(READS, &["cluster.create", "cluster.update", "cluster.delete", "dbuser.manage", "allowlist.manage", "billing.read", "data.read", "data.write"]),
        ),
        ("CLUSTER_CREATOR", set(READS, &["cluster.create", "cluster.delete"])),
        ("CLUSTER_DEVELOPER", set(READS, &["cluster.update", "dbuser.manage", "allowlist.manage"])),
        ("CLUSTER_OPERATOR_WRITER", set(READS, &["cluster.update", "allowlist.manage"])),
        ("CREATE", set(READS, &["project.create", "cluster.create"])),
        ("DELETE", set(READS, &["project.delete", "cluster.delete"])),
        ("EDIT", set(READS, &["project.update", "cluster.update", "dbuser.manage", "allowlist.manage"])),
        ("READ", set(READS, &[])),
        ("CLUSTER_MONITOR", set(READS, &[])),
        ("METRICS_VIEWER", set(READS, &[])),
        ("FOLDER_ADMIN", set(READS, &[])),
        ("FOLDER_MOVER", set(READS, &[])),
    ])
}

/// Runs seed 000's Python example (`tests/fixtures/seed000_signing.py`) with the owner's
/// keys against `endpoint` (the script's default, `/v2/clouds`, when `None`); returns the
/// HTTP status it printed and the JSON body.
pub async fn seed000(t: &TestServer, endpoint: Option<&str>) -> (u16, Value) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed000_signing.py");
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script).env("cbc_api_url", &t.url).env("cbc_access_key", &t.access_key).env("cbc_secret_key", &t.secret);
    match endpoint {
        Some(e) => cmd.env("cbc_api_endpoint", e),
        None => cmd.env_remove("cbc_api_endpoint"),
    };
    let out = cmd.output().await.expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let (status, body) = stdout.split_once('\n').unwrap_or_else(|| panic!("no status line: {stdout}"));
    (status.trim().parse().unwrap_or_else(|_| panic!("{stdout}")), serde_json::from_str(body.trim()).unwrap_or_else(|_| panic!("{stdout}")))
}
