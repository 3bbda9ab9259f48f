//! Rate limits that hold across replicas: two and three servers on one PostgreSQL, a key
//! limited to 10 requests/second hammered flat out on all of them for 5 seconds, and the
//! per-address budget of failed authentication the same way. Fixed one-second windows let a
//! 5-second interval touch 6 windows, so the bound is 1.2 × limit × 5 = 60 accepted; each
//! run starts in the middle of a window (the worst case) and prints what was accepted.

mod common;

use common::*;
use dbcloud_server::Server;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const LIMIT: u64 = 10;
const RUN: Duration = Duration::from_secs(5);
/// Concurrent clients per replica.
const CLIENTS: usize = 4;

fn now_ms() -> i64 {
    dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc())
}

/// `n` more servers on `t`'s store (same master key), with `ip_limit` per address.
async fn more_replicas(t: &TestServer, n: usize, ip_limit: i64) -> Vec<Server> {
    let mut out = vec![];
    for _ in 0..n {
        let mut cfg = config(0, 0.0);
        cfg.auth.master_key = t.server.state.auth.cfg.master_key.clone();
        cfg.auth.ip_rate_limit = ip_limit;
        out.push(dbcloud_server::start("127.0.0.1:0".parse().unwrap(), t.store(), cfg).await.unwrap());
    }
    out
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    unauthorized: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
    /// Successful answers (200 or 401) by the one-second window they arrived in.
    by_window: std::sync::Mutex<std::collections::BTreeMap<i64, u64>>,
}

impl Tally {
    fn windows(&self) -> Vec<u64> {
        self.by_window.lock().unwrap().values().copied().collect()
    }
}

/// Sends `GET /v1/regions` with `authorization` flat out to every URL for [`RUN`],
/// starting half-way through a one-second window; counts the answers.
async fn hammer(urls: &[String], authorization: &str) -> Arc<Tally> {
    // Clients are built first: building one takes a while (TLS roots), and no window may be lost to it.
    let clients: Vec<(String, reqwest::Client)> = urls.iter().flat_map(|u| (0..CLIENTS).map(move |_| (u.clone(), reqwest::Client::new()))).collect();
    while (now_ms().rem_euclid(1000) - 500).abs() > 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end = tokio::time::Instant::now() + RUN;
    let tally = Arc::new(Tally::default());
    let mut tasks = vec![];
    for (url, http) in clients {
        let (auth, tally) = (authorization.to_string(), tally.clone());
        tasks.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < end {
                let r = http.get(format!("{url}/v1/regions?provider=aws")).header("authorization", &auth).send().await.unwrap();
                if matches!(r.status(), StatusCode::OK | StatusCode::UNAUTHORIZED) {
                    *tally.by_window.lock().unwrap().entry(now_ms() / 1000).or_default() += 1;
                }
                let counter = match r.status() {
                    StatusCode::OK => &tally.ok,
                    StatusCode::UNAUTHORIZED => &tally.unauthorized,
                    StatusCode::TOO_MANY_REQUESTS => &tally.limited,
                    _ => &tally.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    tally
}

async fn key_budget_across(replicas: usize) {
    let a = TestServer::with(Backend::Postgres, config(0, 0.0)).await;
    let others = more_replicas(&a, replicas - 1, 100_000).await;
    let (s, key) = a.post("/v1/api-keys", json!({"name": "limited", "organizationRoles": ["organizationOwner"], "rateLimit": LIMIT, "allowedCIDRs": []})).await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let token = key["bearer_token"].as_str().unwrap();
    let urls: Vec<String> = std::iter::once(a.url.clone()).chain(others.iter().map(|s| s.url())).collect();
    let tally = hammer(&urls, &format!("Bearer {token}")).await;
    let (ok, limited) = (tally.ok.load(Ordering::Relaxed), tally.limited.load(Ordering::Relaxed));
    eprintln!(
        "{replicas} replicas, key limited to {LIMIT}/s, flat out for {RUN:?}: {ok} accepted, {limited} refused with 429 (bound {}); accepted per second: {:?}",
        LIMIT * 6,
        tally.windows()
    );
    assert_eq!(tally.other.load(Ordering::Relaxed) + tally.unauthorized.load(Ordering::Relaxed), 0, "only 200 and 429");
    assert!(ok <= LIMIT * 6, "{ok} accepted in 5 s over {replicas} replicas: more than 1.2 × the limit");
    assert!(ok >= LIMIT * 5, "{ok} accepted: the budget is usable across replicas");
    assert!(limited > ok, "the load was flat out");
    for s in others {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_budget_holds_across_two_replicas() {
    key_budget_across(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_budget_holds_across_three_replicas() {
    key_budget_across(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_budget_of_failed_authentication_holds_across_replicas() {
    let a = TestServer::with(Backend::Postgres, config(0, 0.0)).await;
    let replicas = more_replicas(&a, 2, LIMIT as i64).await;
    let urls: Vec<String> = replicas.iter().map(|s| s.url()).collect();
    let tally = hammer(&urls, "Bearer dbc_0000000000000000000000_wrong").await;
    let (failed, limited) = (tally.unauthorized.load(Ordering::Relaxed), tally.limited.load(Ordering::Relaxed));
    eprintln!(
        "2 replicas, {LIMIT} failures/s per address, flat out for {RUN:?}: {failed} answered 401, {limited} refused with 429; per second: {:?}",
        tally.windows()
    );
    assert_eq!(tally.other.load(Ordering::Relaxed) + tally.ok.load(Ordering::Relaxed), 0, "only 401 and 429");
    assert!(failed <= LIMIT * 6, "{failed} failed attempts answered in 5 s over 2 replicas: more than 1.2 × the limit");
    assert!(failed >= LIMIT * 5, "{failed}: the budget is usable");
    for s in replicas {
        s.shutdown().await;
    }
}
