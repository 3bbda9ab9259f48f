//! Resident memory of `dbcloud serve` under a long mixed load with nobody scraping
//! `/metrics` (issue 9: memory must stay bounded whoever scrapes).
//!
//! `cargo bench -p dbcloud --bench memory` builds the optimized binary, starts it on a
//! fresh SQLite data directory on loopback, creates a key and a cluster, then sends
//! `DBCLOUD_BENCH_REQUESTS` (default 1,000,000) requests over `DBCLOUD_BENCH_CONNECTIONS`
//! (default 16) keep-alive connections: `/health`, authenticated cluster reads and lists
//! (native and Couchbase), unknown paths (404), wrong credentials (401, each audited) and a
//! few creates. It prints the server's VmRSS and VmHWM (from `/proc`) at start, every 200k
//! requests and at the end, and stops early (printing what it reached) after
//! `DBCLOUD_BENCH_MAX_SECS` (default 900). Goal: flat, and under 48 MiB at the end (the
//! mimalloc allocator holds about 12 MiB more than glibc's malloc, for a third less CPU per
//! request; see `dbcloud_alloc`).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resident memory the server must stay under at the end of the run.
const GOAL_MIB: f64 = 48.0;
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// VmRSS and VmHWM of `pid`, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib =
        |key: &str| status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

fn report(label: &str, pid: u32, done: u64, start: Instant) {
    let (rss, hwm) = memory(pid);
    let secs = start.elapsed().as_secs_f64();
    println!("{label:>10}: {done:>9} requests  {secs:>7.1} s  VmRSS {rss:>6.1} MiB  VmHWM {hwm:>6.1} MiB");
}

/// One request of the mix.
enum Req {
    /// Sent as is.
    Fixed(Vec<u8>),
    /// A project create with a unique name.
    Create,
}

/// An HTTP/1.1 request.
fn request(method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
    if let Some(a) = auth {
        r.push_str(&format!("Authorization: Bearer {a}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

/// The request mix, one entry per request of a 1000-request cycle.
fn mix(cluster: &str, token: &str) -> Vec<Req> {
    let req = |method: &str, path: &str, auth: Option<&str>, body: Option<&str>| Req::Fixed(request(method, path, auth, body));
    let wrong = "dbc_AAAAAAAAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    let mut out = vec![];
    for i in 0..1000 {
        out.push(match i % 100 {
            0..=39 => req("GET", "/health", None, None),
            40..=69 => req("GET", &format!("/v1/clusters/{cluster}"), Some(token), None),
            70..=79 => req("GET", "/v1/clusters?limit=10", Some(token), None),
            80..=84 => req("GET", "/v2/clusters", Some(token), None),
            85..=94 => req("GET", &format!("/v1/no-such-thing/{i}"), None, None),
            95..=96 => req("GET", "/v1/projects", Some(wrong), None),
            // A few creates: one project per cycle (unique names come from the cycle count).
            97 if i == 97 => Req::Create,
            _ => req("GET", "/ready", None, None),
        });
    }
    out
}

/// One keep-alive connection sending its share of the mix; returns how many it sent.
async fn client(addr: String, mix: Arc<Vec<Req>>, token: Arc<String>, next: Arc<AtomicU64>, total: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    s.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            break;
        }
        let owned;
        let request: &[u8] = match &mix[(n % mix.len() as u64) as usize] {
            Req::Fixed(r) => r,
            Req::Create => {
                owned = request("POST", "/v1/projects", Some(&token), Some(&format!("{{\"name\":\"bench-{n}\"}}")));
                &owned
            }
        };
        s.write_all(request).await.expect("write");
        // Read one response: head, then content-length bytes.
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..end]).expect("ASCII head").to_ascii_lowercase();
                let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let status = &head[9..12];
                    assert!(matches!(status, "200" | "201" | "401" | "404"), "unexpected answer: {}", String::from_utf8_lossy(&buf[..end + 4 + len]));
                    buf.drain(..end + 4 + len);
                    break;
                }
            }
            let got = s.read(&mut chunk).await.expect("read");
            assert!(got > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..got]);
        }
        sent += 1;
    }
    sent
}

fn spawn_server(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbcloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-client-profile", "--log-format", "text"])
        .args(["--rate-limit", "1000000000", "--ip-rate-limit", "1000000000", "--provision-step-ms", "0"])
        .arg("--data-dir")
        .arg(data)
        .env("DBCLOUD_LOG", "warn")
        .env_remove("DBCLOUD_DATABASE_URL")
        .env_remove("DBCLOUD_MASTER_KEY")
        .env_remove("DBCLOUD_MASTER_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dbcloud");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(60)).expect("server did not start");
    (child, url)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total: u64 = env_or("DBCLOUD_BENCH_REQUESTS", 1_000_000);
    let connections: usize = env_or("DBCLOUD_BENCH_CONNECTIONS", 16);
    let max_secs: u64 = env_or("DBCLOUD_BENCH_MAX_SECS", 900);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_server(&dir.path().join("data"));
    let pid = child.id();
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/bootstrap-credentials.json")).unwrap()).unwrap();
    let owner = creds["bearer_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    // A key without a per-key limit, so the server's --rate-limit applies.
    let key: Value = http
        .post(format!("{url}/v1/api-keys"))
        .bearer_auth(owner)
        .json(&json!({"name": "bench", "organizationRoles": ["organizationOwner"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = key["bearer_token"].as_str().expect("a bench key").to_string();
    let change: Value = http
        .post(format!("{url}/v1/clusters"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "provider": "aws", "region": "us-east-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cluster = change["cluster"]["id"].as_str().expect("a cluster").to_string();

    println!("dbcloud memory benchmark: {total} mixed requests over {connections} keep-alive connections, nobody scraping /metrics (server pid {pid})");
    let start = Instant::now();
    report("start", pid, 0, start);
    let mix = Arc::new(mix(&cluster, &token));
    let token = Arc::new(token);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = url.trim_start_matches("http://").to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        tasks.spawn(client(addr.clone(), mix.clone(), token.clone(), next.clone(), total, stop.clone()));
    }
    let step = 200_000;
    let mut mark = step;
    let deadline = start + Duration::from_secs(max_secs);
    while !tasks.is_empty() {
        tokio::select! {
            r = tasks.join_next() => { r.unwrap().expect("client"); }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let done = next.load(Ordering::Relaxed).min(total);
        while done >= mark && mark < total {
            report(&format!("{}k", mark / 1000), pid, mark, start);
            mark += step;
        }
        if Instant::now() > deadline && !stop.load(Ordering::Relaxed) {
            println!("time limit of {max_secs} s reached; stopping early");
            stop.store(true, Ordering::Relaxed);
        }
    }
    let done = next.load(Ordering::Relaxed).min(total);
    report("end", pid, done, start);
    println!("throughput: {:.0} requests/s", done as f64 / start.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(6)).await;
    report("end + 6 s", pid, done, start);
    let (rss, _) = memory(pid);
    println!("goal: VmRSS under {GOAL_MIB} MiB at the end: {}", if rss < GOAL_MIB { "met" } else { "NOT met" });
    let _ = child.kill();
    let _ = child.wait();
}
