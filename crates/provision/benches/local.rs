//! Benchmark of the `local` provider's engine with real PostgreSQL instances (issue 11, item 7).
//!
//! Prints, as measured and again in a table at the end:
//!
//! 1. the one-time warm-up (template `initdb` + spare copies) of a fresh data directory;
//! 2. 1-node clusters (`$BENCH_RUNS`, default 5): time from the create operation's first step
//!    to the cluster being `CREATED`, and to the first successful SQL query of a real user
//!    over TCP with verify-full TLS (the database, the user and the allow list reconciled in
//!    between, as the server would do right after creating them); then the delete;
//! 3. the same for 3-node clusters (`$BENCH_RUNS3`, default 3);
//! 4. resident memory of one idle 1-node instance (postmaster and its children: RSS and PSS);
//! 5. capacity: 1-node clusters created one after another (up to `$BENCH_CAPACITY`, default
//!    100) while every cluster still answers a query (a new connection and `SELECT 1`) within
//!    100 ms; checked after every 10 clusters (p50, p99, max over all clusters).
//!
//! Instances use the driver's defaults (`shared_buffers` 16MB, `max_connections` 50). Ports
//! are `$BENCH_PORT_BASE` (default 27000) and up; data lives in a temporary directory under
//! `/tmp`, removed at the end with every instance stopped.
//!
//! ```text
//! cargo bench -p dbcloud-provision --bench local
//! BENCH_CAPACITY=20 cargo bench -p dbcloud-provision --bench local
//! ```

#[path = "../tests/local_common/mod.rs"]
mod local_common;

use dbcloud_provision::Provisioner;
use dbcloud_provision::local::instance::{admin_client, node_dir, running_pid};
use dbcloud_provision::local::*;
use dbcloud_types::*;
use local_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[((v.len() as f64 - 1.0) * p).round() as usize] }
}

fn mem_available_kib() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines().find(|l| l.starts_with("MemAvailable:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// (RSS, PSS) in KiB of `pid` and its children.
fn instance_memory(pid: i32) -> (u64, u64, usize) {
    let field = |text: &str, key: &str| -> u64 {
        text.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let mut pids = vec![pid];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, t)| t.split_whitespace().nth(1)).and_then(|v| v.parse::<i32>().ok());
        if ppid == Some(pid) {
            pids.push(p);
        }
    }
    let (mut rss, mut pss) = (0, 0);
    for p in &pids {
        rss += field(&std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default(), "VmRSS:");
        pss += field(&std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default(), "Pss:");
    }
    (rss, pss, pids.len())
}

struct Bench {
    driver: Arc<LocalDriver>,
    catalog: Arc<MemoryCatalog>,
    figures: Vec<(String, String)>,
}

impl Bench {
    fn record(&mut self, name: &str, value: String) {
        println!("{name}: {value}");
        self.figures.push((name.into(), value));
    }

    /// Creates a cluster; returns it with (time to CREATED, time to the first user query).
    async fn create_and_query(&self, name: &str, nodes: i32) -> (Cluster, Duration, Duration) {
        let mut c = cluster(name, nodes);
        let t0 = Instant::now();
        let op = drive(self.driver.as_ref(), &mut c, OperationKind::Create, serde_json::json!({})).await;
        assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
        let ready = t0.elapsed();
        let desired = DesiredState {
            databases: vec!["app".into()],
            users: vec![user("app", Access::ReadWrite, None, "bench-password-1")],
            allowlist: vec![DesiredCidr { cidr: "127.0.0.1/32".into(), expires_at: None }],
        };
        self.catalog.set_desired(c.id, desired.clone());
        self.driver.reconcile(&c, &desired).await.unwrap();
        let ca = self.driver.ca_certificate(&c).unwrap();
        let client = connect(primary_addr(&c), "127.0.0.1", Rustls::new(&ca, &c.endpoints[0].host), "app", "bench-password-1", "app").await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
        (c, ready, t0.elapsed())
    }

    async fn delete(&self, c: &mut Cluster) -> Duration {
        let t = Instant::now();
        let op = drive(self.driver.as_ref(), c, OperationKind::Delete, serde_json::json!({})).await;
        assert_eq!(op.status, OperationStatus::Succeeded, "{:?}", op.error);
        t.elapsed()
    }

    async fn timed_creates(&mut self, nodes: i32, runs: usize) {
        let (mut ready, mut first, mut del) = (vec![], vec![], vec![]);
        for i in 0..runs {
            let (mut c, r, f) = self.create_and_query(&format!("b{nodes}-{i}"), nodes).await;
            println!("  {nodes}-node run {}: CREATED after {:.0} ms, first user query after {:.0} ms", i + 1, ms(r), ms(f));
            ready.push(ms(r));
            first.push(ms(f));
            del.push(ms(self.delete(&mut c).await));
            // Let the spare copies refill between runs, as between real creates.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let summary = |v: &mut Vec<f64>| format!("median {:.0} ms, min {:.0} ms, max {:.0} ms ({} runs)", median(v), pct(v, 0.0), pct(v, 1.0), v.len());
        self.record(&format!("{nodes}-node create -> CREATED"), summary(&mut ready));
        self.record(&format!("{nodes}-node create -> first user query (TLS)"), summary(&mut first));
        self.record(&format!("{nodes}-node delete"), summary(&mut del));
    }
}

async fn probe_all(b: &Bench, clusters: &[Cluster]) -> Vec<f64> {
    let mut lat = vec![];
    for c in clusters {
        let port = b.catalog.ports_of(c.id)[0];
        let t = Instant::now();
        let client = admin_client(&b.driver.cluster_dir(c.id), port, "postgres").await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
        lat.push(ms(t.elapsed()));
    }
    lat
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::Builder::new().prefix("dbcb").tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let base = env_num("BENCH_PORT_BASE", 27000) as u16;
    let mut cfg = config(dir.path(), base);
    cfg.port_range = base..=base.saturating_add(999);
    cfg.templates_dir = None;
    let catalog = Arc::new(MemoryCatalog::new());
    let driver = match LocalDriver::new(cfg, catalog.clone()) {
        Ok(d) if !d.versions().is_empty() => Arc::new(d),
        Ok(_) => {
            println!("local bench skipped: no PostgreSQL server installed (Debian: apt-get install postgresql)");
            return;
        }
        Err(e) => {
            println!("local bench skipped: {e}");
            return;
        }
    };
    let mut b = Bench { driver: driver.clone(), catalog: catalog.clone(), figures: vec![] };
    println!("local provider bench: PostgreSQL {:?}, OS account {:?}, data in {}", driver.versions(), driver.os_user(), dir.path().display());

    let t = Instant::now();
    driver.warm_up().await.unwrap();
    b.record("warm-up (template initdb + 2 spare copies, once per data directory)", format!("{:.0} ms", ms(t.elapsed())));

    b.timed_creates(1, env_num("BENCH_RUNS", 5)).await;
    b.timed_creates(3, env_num("BENCH_RUNS3", 3)).await;

    // Memory of one idle instance.
    let (mut one, _, _) = b.create_and_query("idle", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = running_pid(&node_dir(&driver.cluster_dir(one.id), 1)).unwrap();
    let (rss, pss, procs) = instance_memory(pid);
    b.record("idle 1-node instance memory", format!("RSS {:.1} MiB, PSS {:.1} MiB ({procs} processes)", rss as f64 / 1024.0, pss as f64 / 1024.0));
    b.delete(&mut one).await;

    // Capacity.
    let max = env_num("BENCH_CAPACITY", 100);
    let avail0 = mem_available_kib();
    let t = Instant::now();
    let mut clusters: Vec<Cluster> = vec![];
    let mut held = 0;
    let mut last = (0.0, 0.0, 0.0);
    let mut create_times = vec![];
    while clusters.len() < max {
        let mut c = cluster(&format!("cap-{}", clusters.len()), 1);
        let t1 = Instant::now();
        let op = drive(driver.as_ref(), &mut c, OperationKind::Create, serde_json::json!({})).await;
        if op.status != OperationStatus::Succeeded {
            println!("  create {} failed: {:?}", clusters.len() + 1, op.error);
            clusters.push(c);
            break;
        }
        create_times.push(ms(t1.elapsed()));
        clusters.push(c);
        if clusters.len().is_multiple_of(10) || clusters.len() == max {
            let mut lat = probe_all(&b, &clusters).await;
            let (p50, p99, worst) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
            println!(
                "  {} clusters: query p50 {p50:.1} ms, p99 {p99:.1} ms, max {worst:.1} ms; memory used {:.0} MiB",
                clusters.len(),
                avail0.saturating_sub(mem_available_kib()) as f64 / 1024.0
            );
            if p99 > 100.0 {
                break;
            }
            held = clusters.len();
            last = (p50, p99, worst);
        }
    }
    let used = avail0.saturating_sub(mem_available_kib()) as f64 / 1024.0;
    b.record(
        "capacity: 1-node clusters each answering within 100 ms (p99)",
        format!("{held} of {max} tried (query p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms); {:.0} MiB of memory used in all", last.0, last.1, last.2, used),
    );
    b.record(
        "capacity: create time per cluster while filling",
        format!("median {:.0} ms, p99 {:.0} ms, total {:.1} s", median(&mut create_times.clone()), pct(&mut create_times, 0.99), t.elapsed().as_secs_f64()),
    );
    let du = std::process::Command::new("du")
        .args(["-sm"])
        .arg(driver.clusters_dir())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or("?").to_string());
    b.record("capacity: disk used by the clusters", format!("{} MiB", du.unwrap_or_default()));
    let t = Instant::now();
    for c in clusters.iter_mut() {
        b.delete(c).await;
    }
    b.record("capacity: deleting them all", format!("{:.1} s", t.elapsed().as_secs_f64()));
    stop_all_under(&driver.clusters_dir());

    println!("\n| figure | value |\n|---|---|");
    for (k, v) in &b.figures {
        println!("| {k} | {v} |");
    }
}
