//! `dbcloud serve`: layered settings (flags > `DBCLOUD_*` environment > config file >
//! defaults), store, bootstrap, signals.

use anyhow::Context;
use clap::Args;
use dbcloud_provision::runner::RunnerConfig;
use dbcloud_provision::simulated::SimulatedConfig;
use dbcloud_server::auth::AuthConfig;
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
    /// Log format: `json` or `text` [default: json].
    #[arg(long, env = "DBCLOUD_LOG_FORMAT")]
    log_format: Option<String>,
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
        self.log_format = self.log_format.or(file.log_format);
        self.rate_limit = self.rate_limit.or(file.rate_limit);
        self.ip_rate_limit = self.ip_rate_limit.or(file.ip_rate_limit);
        self.signature_skew_seconds = self.signature_skew_seconds.or(file.signature_skew_seconds);
        if self.trusted_proxies.is_empty() {
            self.trusted_proxies = file.trusted_proxies;
        }
        self.public_host = self.public_host.or(file.public_host);
        self.session_idle_minutes = self.session_idle_minutes.or(file.session_idle_minutes);
        self.session_max_hours = self.session_max_hours.or(file.session_max_hours);
        self.public_url = self.public_url.or(file.public_url);
        self.no_client_profile |= file.no_client_profile;
        Ok(self)
    }
}

fn init_logging(format: &str) {
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
    init_logging(args.log_format.as_deref().unwrap_or("json"));
    let listen = args.listen.unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid"));
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("dbcloud-data"));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let failure_rate = args.provision_failure_rate.unwrap_or(0.0);
    anyhow::ensure!((0.0..=1.0).contains(&failure_rate), "provision-failure-rate must be between 0 and 1");
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
            lease: Duration::from_secs(args.lease_seconds.unwrap_or(15).max(1)),
            poll_interval: Duration::from_millis(args.poll_ms.unwrap_or(500).max(10)),
            ..RunnerConfig::default()
        },
    };
    let server = dbcloud_server::start(listen, store.clone(), cfg).await.with_context(|| format!("listening on {listen}"))?;
    let url = server.url();
    match bootstrap::ensure(store.as_ref(), &data_dir, &master_key).await? {
        (bootstrap::Outcome::Created(path), Some(creds)) => {
            eprintln!("dbcloud: first start: owner credentials written to {} (mode 0600)", path.display());
            tracing::info!(path = %path.display(), access_key = %creds.access_key, "bootstrap credentials written");
            if !args.no_client_profile {
                match bootstrap::client_config_dir().map(|d| bootstrap::write_client_profile(&d, "local", &url, &creds)) {
                    Some(Ok(p)) => eprintln!("dbcloud: CLI profile `local` written to {}", p.display()),
                    Some(Err(e)) => tracing::warn!(error = %e, "could not write the CLI profile"),
                    None => tracing::warn!("no config directory for the CLI profile"),
                }
            }
        }
        _ => tracing::info!("store already bootstrapped"),
    }
    eprintln!("dbcloud: listening on {url} (API docs at {url}/docs)");
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
