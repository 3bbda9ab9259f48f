//! `dbcloud serve`: layered settings (flags > `DBCLOUD_*` environment > config file >
//! defaults), store, bootstrap, signals.

use anyhow::Context;
use clap::Args;
use dbcloud_provision::runner::RunnerConfig;
use dbcloud_provision::simulated::SimulatedConfig;
use dbcloud_server::auth::AuthConfig;
use dbcloud_server::http::{HttpConfig, MetricsConfig, MetricsToken};
use dbcloud_server::{ServerConfig, bootstrap};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings of `dbcloud serve`. Each flag is also read from `DBCLOUD_<NAME>` and from the
/// TOML config file (`--config`), in that order of precedence.
#[derive(Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// TOML file with any of these settings (keys as the flag names, e.g. `data-dir`).
    #[arg(long, env = "DBCLOUD_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DBCLOUD_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory for the SQLite database and bootstrap credentials [default: ./dbcloud-data].
    #[arg(long, env = "DBCLOUD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL; absent: SQLite in the data directory. Also read
    /// from the file named by DBCLOUD_DATABASE_URL_FILE.
    #[arg(long, env = "DBCLOUD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Time each simulated provisioning step takes, in milliseconds [default: 2000].
    #[arg(long, env = "DBCLOUD_PROVISION_STEP_MS")]
    provision_step_ms: Option<u64>,
    /// Fraction (0.0–1.0) of cluster creations the simulated provisioner fails [default: 0].
    #[arg(long, env = "DBCLOUD_PROVISION_FAILURE_RATE")]
    provision_failure_rate: Option<f64>,
    /// Seconds an operation lease lasts without renewal [default: 15].
    #[arg(long, env = "DBCLOUD_LEASE_SECONDS")]
    lease_seconds: Option<u64>,
    /// This replica's name in operation leases, unique among live replicas (1-64 of `A-Za-z0-9._-`)
    /// [default: kept in <data-dir>/replica-id].
    #[arg(long, env = "DBCLOUD_REPLICA_ID")]
    replica_id: Option<String>,
    /// How often the runner looks for work, in milliseconds [default: 500].
    #[arg(long, env = "DBCLOUD_POLL_MS")]
    poll_ms: Option<u64>,
    /// Requests per second of a key unless the key or its organization sets another [default: 10].
    #[arg(long, env = "DBCLOUD_RATE_LIMIT")]
    rate_limit: Option<i64>,
    /// Requests per second per source address for unauthenticated and failed traffic [default: 20].
    #[arg(long, env = "DBCLOUD_IP_RATE_LIMIT")]
    ip_rate_limit: Option<i64>,
    /// Allowed clock skew of HMAC-signed requests, in seconds [default: 300].
    #[arg(long, env = "DBCLOUD_SIGNATURE_SKEW_SECONDS")]
    signature_skew_seconds: Option<u64>,
    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed [default: none].
    #[arg(long, env = "DBCLOUD_TRUSTED_PROXIES", value_delimiter = ',')]
    #[serde(default)]
    trusted_proxies: Vec<String>,
    /// Public `host[:port]` clients use, for checking signatures over absolute URLs [default: the Host header].
    #[arg(long, env = "DBCLOUD_PUBLIC_HOST")]
    public_host: Option<String>,
    /// Time a client has to send a request's line and headers, in milliseconds; a new
    /// connection must send its first request within it too [default: 10000].
    #[arg(long, env = "DBCLOUD_HEADER_READ_TIMEOUT_MS")]
    header_read_timeout_ms: Option<u64>,
    /// Time a client has to send a request body once its headers arrived, in milliseconds;
    /// slower clients get a 408 [default: 30000].
    #[arg(long, env = "DBCLOUD_BODY_READ_TIMEOUT_MS")]
    body_read_timeout_ms: Option<u64>,
    /// Time a keep-alive connection may wait for its next request (or not read our answer),
    /// in milliseconds [default: 75000].
    #[arg(long, env = "DBCLOUD_IDLE_TIMEOUT_MS")]
    idle_timeout_ms: Option<u64>,
    /// Connections served at once; more are answered 503 and closed [default: 512].
    #[arg(long, env = "DBCLOUD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Serve `/metrics` only on this address (e.g. `127.0.0.1:9090`) instead of the main
    /// listener [default: on the main listener].
    #[arg(long, env = "DBCLOUD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// File holding a token that `/metrics` then requires as `Authorization: Bearer
    /// <token>` (the token itself may instead be given in DBCLOUD_METRICS_TOKEN) [default: none].
    #[arg(long, env = "DBCLOUD_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Minutes of inactivity after which a console session ends [default: 30].
    #[arg(long, env = "DBCLOUD_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<u64>,
    /// Hours after sign-in at which a console session ends whatever its use [default: 12].
    #[arg(long, env = "DBCLOUD_SESSION_MAX_HOURS")]
    session_max_hours: Option<u64>,
    /// Public URL of the server, e.g. `https://dbcloud.example.com` (printed as the console's
    /// address; `https` makes console cookies `Secure`) [default: the listen address].
    #[arg(long, env = "DBCLOUD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Log format: `json` or `text` [default: text when the log (standard error) is a
    /// terminal, json otherwise].
    #[arg(long, env = "DBCLOUD_LOG_FORMAT")]
    log_format: Option<String>,
    /// Directory of the PostgreSQL server binaries of the `local` provider [default: found
    /// in /usr/lib/postgresql/<major>/bin and on PATH].
    #[arg(long, env = "DBCLOUD_PG_BIN_DIR")]
    pg_bin_dir: Option<PathBuf>,
    /// Ports handed to `local` PostgreSQL instances, `FIRST-LAST` [default: 25432-26431].
    #[arg(long, env = "DBCLOUD_PG_PORT_RANGE")]
    pg_port_range: Option<String>,
    /// Address `local` PostgreSQL instances listen on [default: 127.0.0.1].
    #[arg(long, env = "DBCLOUD_PG_LISTEN_ADDRESS")]
    pg_listen_address: Option<String>,
    /// Host name clients dial to reach `local` instances (endpoints, server certificates)
    /// [default: the listen address].
    #[arg(long, env = "DBCLOUD_PG_ENDPOINT_HOST")]
    pg_endpoint_host: Option<String>,
    /// OS account `local` instances run as when dbcloud runs as root [default: postgres].
    #[arg(long, env = "DBCLOUD_PG_OS_USER")]
    pg_os_user: Option<String>,
    /// Do not write a CLI profile at bootstrap.
    #[arg(long, env = "DBCLOUD_NO_CLIENT_PROFILE")]
    #[serde(default)]
    no_client_profile: bool,
}

impl ServeArgs {
    /// Fills unset settings from the config file.
    fn merge_file(mut self) -> anyhow::Result<Self> {
        let Some(path) = self.config.clone() else { return Ok(self) };
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let file: ServeArgs = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        self.listen = self.listen.or(file.listen);
        self.data_dir = self.data_dir.or(file.data_dir);
        self.database_url = self.database_url.or(file.database_url);
        self.provision_step_ms = self.provision_step_ms.or(file.provision_step_ms);
        self.provision_failure_rate = self.provision_failure_rate.or(file.provision_failure_rate);
        self.lease_seconds = self.lease_seconds.or(file.lease_seconds);
        self.poll_ms = self.poll_ms.or(file.poll_ms);
        self.replica_id = self.replica_id.or(file.replica_id);
        self.log_format = self.log_format.or(file.log_format);
        self.rate_limit = self.rate_limit.or(file.rate_limit);
        self.ip_rate_limit = self.ip_rate_limit.or(file.ip_rate_limit);
        self.signature_skew_seconds = self.signature_skew_seconds.or(file.signature_skew_seconds);
        if self.trusted_proxies.is_empty() {
            self.trusted_proxies = file.trusted_proxies;
        }
        self.public_host = self.public_host.or(file.public_host);
        self.header_read_timeout_ms = self.header_read_timeout_ms.or(file.header_read_timeout_ms);
        self.body_read_timeout_ms = self.body_read_timeout_ms.or(file.body_read_timeout_ms);
        self.idle_timeout_ms = self.idle_timeout_ms.or(file.idle_timeout_ms);
        self.max_connections = self.max_connections.or(file.max_connections);
        self.metrics_listen = self.metrics_listen.or(file.metrics_listen);
        self.metrics_token_file = self.metrics_token_file.or(file.metrics_token_file);
        self.session_idle_minutes = self.session_idle_minutes.or(file.session_idle_minutes);
        self.session_max_hours = self.session_max_hours.or(file.session_max_hours);
        self.public_url = self.public_url.or(file.public_url);
        self.pg_bin_dir = self.pg_bin_dir.or(file.pg_bin_dir);
        self.pg_port_range = self.pg_port_range.or(file.pg_port_range);
        self.pg_listen_address = self.pg_listen_address.or(file.pg_listen_address);
        self.pg_endpoint_host = self.pg_endpoint_host.or(file.pg_endpoint_host);
        self.pg_os_user = self.pg_os_user.or(file.pg_os_user);
        self.no_client_profile |= file.no_client_profile;
        Ok(self)
    }
}

/// Logs are text for a person when they go to a terminal, JSON for a collector otherwise;
/// `--log-format json|text` decides instead when given.
fn init_logging(format: Option<&str>) {
    use std::io::IsTerminal;
    let format = format.unwrap_or(if std::io::stderr().is_terminal() { "text" } else { "json" });
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("DBCLOUD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().with_current_span(true).init();
    }
}

fn database_url(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(u) = &args.database_url {
        return Ok(u.clone());
    }
    if let Some(f) = std::env::var_os("DBCLOUD_DATABASE_URL_FILE") {
        let s = std::fs::read_to_string(&f).with_context(|| format!("reading {}", PathBuf::from(&f).display()))?;
        return Ok(s.trim().to_string());
    }
    Ok(format!("sqlite://{}", data_dir.join("dbcloud.db").display()))
}

/// Connection settings from the flags (each timeout at least 1 ms, at least 1 connection).
fn http_config(args: &ServeArgs) -> anyhow::Result<HttpConfig> {
    let d = HttpConfig::default();
    let ms = |v: Option<u64>, name: &str, default: Duration| -> anyhow::Result<Duration> {
        match v {
            None => Ok(default),
            Some(0) => anyhow::bail!("{name} must be at least 1 ms"),
            Some(ms) => Ok(Duration::from_millis(ms)),
        }
    };
    let max_connections = args.max_connections.unwrap_or(d.max_connections);
    anyhow::ensure!(max_connections >= 1, "max-connections must be at least 1");
    Ok(HttpConfig {
        header_read_timeout: ms(args.header_read_timeout_ms, "header-read-timeout-ms", d.header_read_timeout)?,
        body_read_timeout: ms(args.body_read_timeout_ms, "body-read-timeout-ms", d.body_read_timeout)?,
        idle_timeout: ms(args.idle_timeout_ms, "idle-timeout-ms", d.idle_timeout)?,
        max_connections,
    })
}

/// `/metrics` settings: its own address, and a token from DBCLOUD_METRICS_TOKEN or the
/// token file (never a flag, which `ps` would show).
fn metrics_config(args: &ServeArgs) -> anyhow::Result<MetricsConfig> {
    let token = match (std::env::var("DBCLOUD_METRICS_TOKEN").ok(), &args.metrics_token_file) {
        (Some(t), _) => Some(t),
        (None, Some(f)) => Some(std::fs::read_to_string(f).with_context(|| format!("reading the metrics token {}", f.display()))?),
        (None, None) => None,
    };
    let token = token.map(|t| t.trim().to_string());
    if let Some(t) = &token {
        anyhow::ensure!(t.len() >= 16, "the metrics token must be at least 16 characters");
    }
    Ok(MetricsConfig { listen: args.metrics_listen, token: token.map(MetricsToken) })
}

/// `FIRST-LAST` (e.g. `25432-26431`).
fn port_range(s: &str) -> anyhow::Result<std::ops::RangeInclusive<u16>> {
    let (a, b) = s.split_once('-').with_context(|| format!("pg-port-range `{s}` must look like 25432-26431"))?;
    let (a, b): (u16, u16) = (a.trim().parse().context("pg-port-range: first port")?, b.trim().parse().context("pg-port-range: last port")?);
    anyhow::ensure!(a >= 1024 && a <= b, "pg-port-range `{s}`: the first port must be at least 1024 and not above the last");
    Ok(a..=b)
}

/// The local provider's settings: data under `<data-dir>/clusters`.
fn local_config(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<dbcloud_provision::local::LocalConfig> {
    let data_dir = std::path::absolute(data_dir).with_context(|| format!("resolving {}", data_dir.display()))?;
    let mut cfg = dbcloud_provision::local::LocalConfig::new(data_dir);
    cfg.pg_bin_dir = args.pg_bin_dir.clone();
    if let Some(r) = &args.pg_port_range {
        cfg.port_range = port_range(r)?;
    }
    if let Some(a) = &args.pg_listen_address {
        a.parse::<std::net::IpAddr>().with_context(|| format!("pg-listen-address `{a}` is not an IP address"))?;
        cfg.listen_address = a.clone();
        cfg.endpoint_host = a.clone();
    }
    if let Some(h) = &args.pg_endpoint_host {
        anyhow::ensure!(!h.is_empty() && !h.contains(['/', ' ', '@']), "pg-endpoint-host `{h}` is not a host name");
        cfg.endpoint_host = h.clone();
    }
    cfg.os_user = args.pg_os_user.clone();
    Ok(cfg)
}

/// As root, the OS account of `local` instances must pass through the data directory to
/// its clusters: let others traverse it (0711), never list or read it.
fn traversable_by_pg(dir: &Path, os_user: Option<&str>) -> anyhow::Result<()> {
    use dbcloud_provision::local::osuser::RunAs;
    use std::os::unix::fs::PermissionsExt;
    if let Ok(RunAs::Account { .. }) = RunAs::resolve(os_user) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).with_context(|| format!("chmod 0711 {}", dir.display()))?;
    }
    Ok(())
}

/// Makes the data directory readable by this user only (0700), created that way if new.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700)).with_context(|| format!("making {} private", dir.display()))?;
            tracing::warn!(dir = %dir.display(), old_mode = format!("{mode:o}"), "data directory was readable by others; now 0700");
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}

async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let args = args.merge_file()?;
    init_logging(args.log_format.as_deref());
    let listen = args.listen.unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid"));
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("dbcloud-data"));
    private_dir(&data_dir)?;
    let failure_rate = args.provision_failure_rate.unwrap_or(0.0);
    anyhow::ensure!((0.0..=1.0).contains(&failure_rate), "provision-failure-rate must be between 0 and 1");
    let replica = crate::replica::resolve(args.replica_id.as_deref(), &data_dir)?;
    tracing::info!(replica = %replica.id, source = replica.source, "replica identity");
    let url = database_url(&args, &data_dir)?;
    let store = dbcloud_store::open(&url).await.map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    tracing::info!(backend = store.backend(), "store ready");

    let master_key = bootstrap::load_master_key(&data_dir)?;
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<ipnet::IpNet>().with_context(|| format!("trusted-proxies: `{s}` is not a CIDR")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rate_limit = args.rate_limit.unwrap_or(10);
    let ip_rate_limit = args.ip_rate_limit.unwrap_or(20);
    anyhow::ensure!(rate_limit >= 1 && ip_rate_limit >= 1, "rate limits must be at least 1 request per second");
    let auth = AuthConfig {
        master_key: master_key.clone(),
        skew: Duration::from_secs(args.signature_skew_seconds.unwrap_or(300)),
        trusted_proxies,
        public_host: args.public_host.clone(),
        default_rate_limit: rate_limit,
        ip_rate_limit,
        cache_ttl: Duration::from_secs(1),
    };
    let idle = args.session_idle_minutes.unwrap_or(30);
    let max_hours = args.session_max_hours.unwrap_or(12);
    anyhow::ensure!(idle >= 1 && max_hours >= 1, "session timeouts must be at least 1 minute and 1 hour");
    let public_url = args.public_url.as_deref().map(|u| u.trim_end_matches('/').to_string());
    if let Some(u) = &public_url {
        anyhow::ensure!(u.starts_with("http://") || u.starts_with("https://"), "public-url must start with http:// or https://");
    }
    let console = dbcloud_server::console::ConsoleConfig {
        policy: dbcloud_app::sessions::Policy {
            idle_timeout: Duration::from_secs(idle * 60),
            absolute_timeout: Duration::from_secs(max_hours * 3600),
            ..Default::default()
        },
        public_url: public_url.clone(),
    };
    let cfg = ServerConfig {
        console,
        auth,
        provisioner: SimulatedConfig { step_delay: Duration::from_millis(args.provision_step_ms.unwrap_or(2000)), failure_rate },
        runner: RunnerConfig {
            owner: replica.id.clone(),
            lease: Duration::from_secs(args.lease_seconds.unwrap_or(15).max(1)),
            poll_interval: Duration::from_millis(args.poll_ms.unwrap_or(500).max(10)),
            ..RunnerConfig::default()
        },
        http: http_config(&args)?,
        metrics: metrics_config(&args)?,
        local: Some(local_config(&args, &data_dir)?),
    };
    traversable_by_pg(&data_dir, args.pg_os_user.as_deref())?;
    let server = dbcloud_server::start(listen, store.clone(), cfg).await.with_context(|| format!("listening on {listen}"))?;
    let url = server.url();
    match bootstrap::ensure(store.as_ref(), &data_dir, &master_key).await? {
        (bootstrap::Outcome::Created(path), Some(creds)) => {
            eprintln!("dbcloud: first start: owner credentials written to {} (mode 0600)", path.display());
            tracing::info!(path = %path.display(), access_key = %creds.access_key, "bootstrap credentials written");
            if !args.no_client_profile {
                match bootstrap::client_config_dir().map(|d| bootstrap::write_client_profile(&d, "local", &url, &creds)) {
                    Some(Ok(w)) => match &w.kept {
                        None => eprintln!("dbcloud: CLI profile `{}` written to {}", w.name, w.path.display()),
                        Some(other) => eprintln!(
                            "dbcloud: CLI profile `local` already points to {other} (another server); kept it and wrote this server's profile as `{}` in {}: use `dbcloud --profile {}` or `dbcloud profile use {}`",
                            w.name,
                            w.path.display(),
                            w.name,
                            w.name
                        ),
                    },
                    Some(Err(e)) => tracing::warn!(error = %e, "could not write the CLI profile"),
                    None => tracing::warn!("no config directory for the CLI profile"),
                }
            }
        }
        _ => tracing::info!("store already bootstrapped"),
    }
    eprintln!("dbcloud: listening on {url} (API docs at {url}/docs)");
    if let Some(m) = server.metrics_addr {
        eprintln!("dbcloud: metrics on http://{m}/metrics");
    }
    eprintln!("dbcloud: console at {}/ (sign in as {}; see {})", public_url.as_deref().unwrap_or(&url), bootstrap::OWNER_EMAIL, bootstrap::CREDENTIALS_FILE);
    tracing::info!(%url, "listening");
    let trigger = server.shutdown_trigger();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down");
        let _ = trigger.send(true);
    });
    server.wait().await;
    tracing::info!("stopped");
    Ok(())
}
