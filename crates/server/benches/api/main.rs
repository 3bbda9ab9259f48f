//! End-to-end API benchmark: a real `dbcloud` server on 127.0.0.1 (port 0), driven over
//! HTTP on loopback by a keep-alive `reqwest` client, once per store backend.
//!
//! For SQLite (a file in a temporary directory) and PostgreSQL (a fresh schema
//! `dbcloud_bench_<random>` at `$DBCLOUD_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end; skipped with a clear
//! message when the database is unreachable) it measures:
//!
//! 1. throughput and p50/p99 latency of unauthenticated `GET /health`;
//! 2. the same for authenticated `GET /v1/clusters/{id}` with each of the four credential
//!    forms the server accepts, and each one's ratio to `/health` (target: at least 0.8x):
//!    `Bearer <access key>_<secret>`, `Basic base64(<access key>:<secret>)`,
//!    `Bearer base64(<access key>:<secret>)`, and the HMAC form
//!    `Bearer <access key>:<signature>` + `Couchbase-Timestamp` (each client task signs once
//!    per second and reuses the signature: GET signatures are not replay-guarded);
//!    plus two diagnostic runs that split the cost: authenticated `GET /v1/regions` (auth,
//!    no store access) and unauthenticated `GET /ready` (one store round trip, no auth);
//!    each run is compared with the `/health` runs just before and after it, and the
//!    verdict is the median of `$BENCH_ROUNDS` such rounds of short slices (default 10;
//!    see `auth.rs`);
//! 3. median and p95 time of fetching one page of 100 clusters
//!    (`GET /v1/clusters?limit=100`), the first page and a deep page of 50 reached through a cursor
//!    from the middle of the list, with 100 clusters in the organization and again with
//!    100,000 (seeded through `dbcloud_store::seed::Seed`), and the ratios 100k/100; the same for
//!    the dialects' lists (Couchbase first and last page of 100, CockroachDB first page and a
//!    deep page reached through page tokens, and CrateDB's whole unpaged list, per cluster),
//!    each surface's cost per cluster at 100k over that at 100 (target ≤ 1.5); and the native
//!    project and cloud lists (`GET /v1/projects?limit=100`, `GET /v1/clouds?limit=100`, whose
//!    items carry their cluster counts) at 100 and 100,000 clusters, median ratio (target ≤ 1.5).
//!
//! Before the backends, a CPU micro-benchmark (no HTTP) times the per-request credential
//! checks: `signing::verify` over every endpoint candidate the server tries, building those
//! candidates, `keys::verify_secret` (SHA-256 compare) and `MasterKey::open` (AES-GCM
//! decrypt of the sealed HMAC secret), in ns per call.
//!
//! The bootstrap key has a per-key limit of its own (`bootstrap::BOOTSTRAP_RATE_LIMIT`), so
//! the benchmark uses it only to create, through `POST /v1/api-keys`, an organization-owner
//! key with a per-key limit far above the load, and sends every other request with that key.
//!
//! Load runs use a fixed number of concurrent in-process tasks, each run bounded both in
//! time (`$BENCH_SECONDS`, default 3) and in request count. Every figure is printed as it is
//! measured, and a table of all figures is printed at the end.
//!
//! `$BENCH_ROUNDS` (1 to 50) sets the rounds of the credential-form comparison.
//! `$BENCH_FORM` keeps only the credential forms whose label contains it (e.g. `HMAC`).
//! `$BENCH_ONLY` (comma-separated) picks parts: backends `sqlite`, `postgres`; sections
//! `micro` (CPU checks), `auth` (throughput of each credential form), `lists` (list
//! throughput per surface), `pages` (page cost at 100 and 100,000 clusters). A group not
//! named runs whole.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p dbcloud-server --bench api
//! BENCH_SECONDS=1 cargo bench -p dbcloud-server --bench api      # quicker
//! BENCH_ONLY=sqlite,auth cargo bench -p dbcloud-server --bench api # some parts only
//! DBCLOUD_TEST_DATABASE_URL=postgres://user@host:5432/db cargo bench -p dbcloud-server --bench api
//! ```
//!
//! The client and the server share one process and one tokio runtime, so on a small
//! machine they compete for the same cores: figures are relative, not capacity numbers.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use dbcloud_core::crypto::MasterKey;
use dbcloud_core::{keys, signing};
use dbcloud_provision::runner::RunnerConfig;
use dbcloud_provision::simulated::SimulatedConfig;
use dbcloud_server::{ServerConfig, bootstrap};
use dbcloud_store::Store;
use dbcloud_store::seed::Seed;
use dbcloud_store::sqlite::SqliteStore;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

mod auth;
mod load;
mod micro;
mod pages;

/// The allocator of the `dbcloud` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: dbcloud_alloc::MiMalloc = dbcloud_alloc::MiMalloc;

use auth::*;
use load::*;
use micro::*;
use pages::*;

/// Concurrent client tasks of a load run.
const CONCURRENCY: usize = 32;
/// Upper bound on requests one task sends in one load run (the time bound normally hits first).
const MAX_REQUESTS_PER_TASK: usize = 400_000;
/// Warm-up before each load run (connections opened, caches filled).
const WARMUP: Duration = Duration::from_millis(300);
/// Sequential fetches per page-time measurement (after a few warm-up fetches).
const PAGE_FETCHES: usize = 50;
const PAGE_WARMUP_FETCHES: usize = 3;
/// Page size measured.
const PAGE_SIZE: usize = 100;
/// Size of the deep (mid-list) pages: what is left after the middle of 100 clusters, so
/// the deep pages at 100 and at 100,000 clusters hold the same number of items.
const DEEP_PAGE: usize = 50;
/// Clusters in the organization for the small and the large measurement.
const SMALL: u32 = 100;
const LARGE: u32 = 100_000;
/// Clusters inserted per `seed_clusters` call (one transaction each).
const SEED_BATCH: u32 = 10_000;
/// Page size used to walk to the middle of the list.
const WALK_PAGE: usize = 500;
/// Per-request client timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Hard bound on one backend's whole run, a safety net: 4 minutes plus the auth section's
/// load runs (16 of them, cut into slices, each slice with its warm-up).
fn backend_timeout(load_time: Duration) -> Duration {
    let slices = 16 * rounds().unwrap_or(1) as u32;
    Duration::from_secs(240) + (load_time + WARMUP) * 16 + (MIN_SLICE + SLICE_WARMUP) * slices
}
/// Bound on shutting the server down and on dropping the PostgreSQL schema.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Target ratio of authenticated reads to `/health` throughput.
const TARGET_RATIO: f64 = 0.8;

fn main() -> ExitCode {
    dbcloud_alloc::tune();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let res = rt.block_on(run());
    // Never wait on stray tasks (e.g. after a timeout): the program must end by itself.
    rt.shutdown_timeout(Duration::from_secs(5));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Collected figures, printed as they come and as a table at the end.
#[derive(Default)]
struct Report {
    rows: Vec<(String, String, String)>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, backend: &str, measurement: impl Into<String>, value: impl Into<String>) {
        let (m, v) = (measurement.into(), value.into());
        println!("[{backend}] {m}: {v}");
        self.rows.push((backend.to_string(), m, v));
    }

    fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        println!("NOTE: {note}");
        self.notes.push(note);
    }

    fn print_table(&self) {
        let headers = ("backend", "measurement", "value");
        let w0 = self.rows.iter().map(|r| r.0.len()).chain([headers.0.len()]).max().unwrap_or(0);
        let w1 = self.rows.iter().map(|r| r.1.len()).chain([headers.1.len()]).max().unwrap_or(0);
        let w2 = self.rows.iter().map(|r| r.2.len()).chain([headers.2.len()]).max().unwrap_or(0);
        println!();
        println!("==== dbcloud API benchmark results ====");
        println!("{:<w0$}  {:<w1$}  {:>w2$}", headers.0, headers.1, headers.2);
        println!("{}  {}  {}", "-".repeat(w0), "-".repeat(w1), "-".repeat(w2));
        let mut last = "";
        for (b, m, v) in &self.rows {
            if !last.is_empty() && last != b {
                println!();
            }
            last = b;
            println!("{b:<w0$}  {m:<w1$}  {v:>w2$}");
        }
        for n in &self.notes {
            println!("note: {n}");
        }
    }
}

async fn run() -> Result<()> {
    let secs: f64 = match std::env::var("BENCH_SECONDS") {
        Ok(s) => s.trim().parse().with_context(|| format!("BENCH_SECONDS={s:?} is not a number of seconds"))?,
        Err(_) => 3.0,
    };
    if !(secs > 0.0 && secs <= 120.0) {
        bail!("BENCH_SECONDS must be in (0, 120], got {secs}");
    }
    let load_time = Duration::from_secs_f64(secs);
    let rounds = rounds()?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "dbcloud API benchmark: {CONCURRENCY} concurrent tasks, {secs} s per load run, {rounds} round(s) of the credential forms, {PAGE_FETCHES} sequential page fetches, {cores} core(s); client and server share the process"
    );
    let mut report = Report::default();
    let mut failures: Vec<String> = Vec::new();

    // Credential checks on the CPU alone (nothing else runs on the runtime yet).
    if wanted("micro") {
        println!("\n--- credential checks, CPU only ---");
    }
    if wanted("micro")
        && let Err(e) = micro(&mut report)
    {
        eprintln!("CPU micro-benchmark failed: {e:#}");
        failures.push(format!("micro: {e:#}"));
    }

    // SQLite, in a temporary directory.
    if wanted("sqlite") {
        println!("\n--- SQLite ---");
        if let Err(e) = run_sqlite(load_time, &mut report).await {
            eprintln!("SQLite benchmark failed: {e:#}");
            failures.push(format!("sqlite: {e:#}"));
        }
    }

    // PostgreSQL, in a fresh schema.
    if wanted("postgres") {
        println!("\n--- PostgreSQL ---");
        if let Err(e) = run_postgres(load_time, &mut report).await {
            eprintln!("PostgreSQL benchmark failed: {e:#}");
            failures.push(format!("postgres: {e:#}"));
        }
    }

    report.print_table();
    if failures.is_empty() { Ok(()) } else { Err(anyhow!("{}", failures.join("; "))) }
}

/// Whether `part` runs under `$BENCH_ONLY`: unset, or `part` is named, or no other part of
/// its group (backends, or sections) is named.
fn wanted(part: &str) -> bool {
    const BACKENDS: [&str; 2] = ["sqlite", "postgres"];
    const SECTIONS: [&str; 4] = ["micro", "auth", "lists", "pages"];
    let Ok(only) = std::env::var("BENCH_ONLY") else { return true };
    let named: Vec<&str> = only.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let group: &[&str] = if BACKENDS.contains(&part) { &BACKENDS } else { &SECTIONS };
    named.contains(&part) || !named.iter().any(|n| group.contains(n))
}

fn now_ms() -> i64 {
    dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc())
}

async fn run_sqlite(load_time: Duration, report: &mut Report) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db = dir.path().join("bench.db");
    let store = SqliteStore::open(&db).await.with_context(|| format!("opening SQLite store {}", db.display()))?;
    let limit = backend_timeout(load_time);
    match tokio::time::timeout(limit, bench_backend("sqlite", Arc::new(store), dir.path(), load_time, report)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!("SQLite run exceeded {limit:?}")),
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run_postgres(load_time: Duration, report: &mut Report) -> Result<()> {
    use sqlx::postgres::PgPoolOptions;
    let url = std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
    let shown = redact(&url);
    let admin = match PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(5)).connect(&url).await {
        Ok(p) => p,
        Err(e) => {
            report.note(format!("PostgreSQL part SKIPPED: cannot connect to {shown}: {e} (is PostgreSQL running there? set DBCLOUD_TEST_DATABASE_URL)"));
            return Ok(());
        }
    };
    let schema = format!("dbcloud_bench_{}", &Uuid::new_v4().simple().to_string()[..12]);
    println!("PostgreSQL at {shown}, schema {schema}");
    let dir = tempfile::tempdir().context("creating a temporary directory")?;

    let bench = async {
        let store = dbcloud_store::postgres::PgStore::connect(&url, Some(&schema))
            .await
            .with_context(|| format!("connecting the store to {shown} in schema {schema}"))?;
        bench_backend("postgres", Arc::new(store), dir.path(), load_time, report).await
    };
    let limit = backend_timeout(load_time);
    let res = match tokio::time::timeout(limit, bench).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!("PostgreSQL run exceeded {limit:?}")),
    };

    // Always drop the schema, whatever happened above. The name is generated (hex only).
    let ddl = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    let dropped = match tokio::time::timeout(CLEANUP_TIMEOUT, sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&admin)).await {
        Ok(Ok(_)) => {
            println!("dropped schema {schema}");
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow!("dropping schema {schema}: {e}")),
        Err(_) => Err(anyhow!("dropping schema {schema} took longer than {CLEANUP_TIMEOUT:?}")),
    };
    admin.close().await;
    res.and(dropped)
}

/// Bootstraps `store`, starts a server on it, measures, and shuts the server down.
async fn bench_backend<S: Store + Seed>(backend: &str, store: Arc<S>, data_dir: &Path, load_time: Duration, report: &mut Report) -> Result<()> {
    // The per-address limit and the default per-key limit are raised far above load (the
    // benchmark's own key, created in `measure`, also sets its per-key limit explicitly).
    let mut auth = dbcloud_server::auth::AuthConfig::ephemeral();
    auth.default_rate_limit = 10_000_000;
    auth.ip_rate_limit = 10_000_000;
    let (_, creds) = bootstrap::ensure(store.as_ref(), data_dir, &auth.master_key).await.context("bootstrap")?;
    let creds = creds.ok_or_else(|| anyhow!("bootstrap: the store was already bootstrapped (expected an empty store)"))?;
    let org: Uuid = creds.organization_id.parse().context("bootstrap returned a malformed organization id")?;
    let cfg = ServerConfig {
        provisioner: SimulatedConfig { step_delay: Duration::ZERO, failure_rate: 0.0 },
        runner: RunnerConfig::default(),
        auth,
        ..ServerConfig::default()
    };
    let listen = "127.0.0.1:0".parse().context("listen address")?;
    let server = dbcloud_server::start(listen, store.clone(), cfg).await.context("starting the server")?;
    println!("[{backend}] server at {}", server.url());
    let res = measure(backend, &server.url(), &creds.bearer_token, store.as_ref(), org, load_time, report).await;
    if tokio::time::timeout(CLEANUP_TIMEOUT, server.shutdown()).await.is_err() {
        eprintln!("[{backend}] server shutdown took longer than {CLEANUP_TIMEOUT:?}; continuing");
    }
    res
}

async fn measure<S: Store + Seed>(
    backend: &str,
    base: &str,
    bootstrap_token: &str,
    store: &S,
    org: Uuid,
    load_time: Duration,
    report: &mut Report,
) -> Result<()> {
    let client = client()?;
    let key = create_bench_key(&client, base, bootstrap_token).await.context("creating the benchmark's key")?;
    let token = key.bearer_token.as_str();

    // Fixtures: a cloud (through the API), then SMALL clusters in the default project.
    let health = get_json(&client, &format!("{base}/health"), token).await.context("health check")?;
    if health.get("status").and_then(Value::as_str) != Some("ok") {
        bail!("GET /health answered {health}");
    }
    let resp = client
        .post(format!("{base}/v1/clouds"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "bench", "provider": "aws", "region": "us-east-1"}))
        .send()
        .await
        .context("POST /v1/clouds")?;
    let status = resp.status();
    let body = resp.text().await.context("reading POST /v1/clouds")?;
    if !status.is_success() {
        bail!("POST /v1/clouds: {status}: {body}");
    }
    let cloud: Value = serde_json::from_str(&body).with_context(|| format!("POST /v1/clouds: body is not JSON: {body}"))?;
    let cloud: Uuid =
        cloud.get("id").and_then(Value::as_str).ok_or_else(|| anyhow!("POST /v1/clouds: no id in {body}"))?.parse().context("POST /v1/clouds: malformed id")?;
    let project = store.default_project(org).await.context("default project")?.id;
    store.seed_clusters(org, project, cloud, "bench-initial", SMALL).await.context("seeding the first clusters")?;
    let one = get_json(&client, &format!("{base}/v1/clusters?limit=1"), token).await.context("finding a cluster")?;
    let cluster_id = one.pointer("/items/0/id").and_then(Value::as_str).ok_or_else(|| anyhow!("GET /v1/clusters?limit=1: no cluster in {one}"))?.to_string();

    // 1 and 2: throughput and latency, unauthenticated and with each credential form.
    if wanted("auth") {
        compare(backend, &client, base, &key, &cluster_id, load_time, report).await?;
    }

    if wanted("lists") {
        // Cluster lists of 100 through each dialect against the native list, same key and
        // credential form, so the ratio is the adapter's cost (rendering, paging envelope).
        let bearer = Form::BearerToken.cred(&key.access_key, &key.secret, "/")?;
        let lists = [
            ("native GET /v1/clusters?limit=100", format!("{base}/v1/clusters?limit=100"), "/items"),
            ("CockroachDB GET /api/v1/clusters?pagination.limit=100", format!("{base}/api/v1/clusters?pagination.limit=100"), "/clusters"),
            ("Couchbase GET /v2/clusters?perPage=100", format!("{base}/v2/clusters?perPage=100"), "/data"),
            ("CrateDB GET /api/v2/clusters/", format!("{base}/api/v2/clusters/"), ""),
        ];
        // The native list runs first and again last; ratios use the mean of both, so a slow
        // moment of the machine does not decide every ratio.
        let mut measured: Vec<(&str, f64)> = Vec::new();
        for (label, url, items) in lists.iter().chain(lists.first()) {
            let page = get_json(&client, url, token).await.with_context(|| format!("{label}: first call"))?;
            let n = page.pointer(items).and_then(Value::as_array).map_or(0, Vec::len);
            if n != SMALL as usize {
                bail!("{label}: expected {SMALL} clusters, got {n}");
            }
            let r = throughput(backend, label, &client, url, &bearer, load_time, report).await?;
            measured.push((label, r.rps()));
        }
        let native = (measured[0].1 + measured[measured.len() - 1].1) / 2.0;
        report.add(backend, "native list throughput, mean of first and last run", format!("{native:.0} req/s"));
        for (label, rps) in &measured[1..measured.len() - 1] {
            report.add(backend, format!("{label} / native list throughput"), ratio(*rps, native));
        }
    }

    if !wanted("pages") {
        return Ok(());
    }
    // 3: page times at SMALL clusters, then at LARGE.
    let (small_first, small_deep) = list_pages(backend, &client, base, token, SMALL, report).await?;
    let small_surfaces = surface_pages(backend, &client, base, token, SMALL, report).await?;
    let small_catalogues = catalogue_pages(backend, &client, base, token, SMALL, report).await?;

    let mut seeded = SMALL;
    let seed_start = Instant::now();
    let mut batch = 0u32;
    while seeded < LARGE {
        let n = (LARGE - seeded).min(SEED_BATCH);
        store
            .seed_clusters(org, project, cloud, &format!("bench-seed{batch}"), n)
            .await
            .with_context(|| format!("seeding batch {batch} ({n} clusters, {seeded} already there)"))?;
        seeded += n;
        batch += 1;
        println!("[{backend}] seeded {seeded}/{LARGE} clusters ({:.1} s)", seed_start.elapsed().as_secs_f64());
    }
    let seed_time = seed_start.elapsed();
    report.add(
        backend,
        format!("seed {} clusters ({batch} calls)", LARGE - SMALL),
        format!("{:.2} s ({:.0} rows/s)", seed_time.as_secs_f64(), (LARGE - SMALL) as f64 / seed_time.as_secs_f64().max(1e-9)),
    );

    let (large_first, large_deep) = list_pages(backend, &client, base, token, LARGE, report).await?;
    let large_surfaces = surface_pages(backend, &client, base, token, LARGE, report).await?;
    surface_ratios(backend, &small_surfaces, &large_surfaces, report);
    let large_catalogues = catalogue_pages(backend, &client, base, token, LARGE, report).await?;
    catalogue_ratios(backend, &small_catalogues, &large_catalogues, report);
    let secs = |d: Duration| d.as_secs_f64();
    report.add(backend, "list first page median, 100k/100", ratio(secs(large_first.median), secs(small_first.median)));
    report.add(backend, "list first page p95, 100k/100", ratio(secs(large_first.p95), secs(small_first.p95)));
    // The deep page also against the full first page at 100.
    report.add(backend, "list deep page median, 100k/100 (50 items each)", ratio(secs(large_deep.median), secs(small_deep.median)));
    report.add(backend, "list deep page p95, 100k/100 (50 items each)", ratio(secs(large_deep.p95), secs(small_deep.p95)));
    report.add(backend, "list deep page @100k / first page @100, median", ratio(secs(large_deep.median), secs(small_first.median)));
    report.add(backend, "list deep page @100k / first page @100, p95", ratio(secs(large_deep.p95), secs(small_first.p95)));
    Ok(())
}
