//! Rate limits: fixed one-second windows per bucket (an API key, or a source address for
//! unauthenticated and failed-authentication traffic).
//!
//! Each replica decides locally from `global + unsynced`, where `global` is the shared
//! count it last read from the store and `unsynced` what it admitted since. With a shared
//! PostgreSQL a background task pushes local counts and pulls the total every
//! [`SYNC_INTERVAL`], so all replicas draw on one budget; between two syncs each replica
//! can overshoot by what it admits in that interval (see docs/security.md). With SQLite
//! there is one process and the count is exact.

use dbcloud_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often counts are exchanged with the store (shared backends only).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(50);
const WINDOW_MS: i64 = 1000;

/// The outcome of a check, also the content of the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: i64,
    /// Requests left in this window.
    pub remaining: i64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    global: i64,
    unsynced: i64,
}

/// Per-bucket fixed-window limiter, optionally shared through the store.
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
    shared: bool,
}

fn now_ms() -> i64 {
    dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc())
}

impl RateLimiter {
    /// A limiter; `shared` when several replicas use one store.
    pub fn new(shared: bool) -> Arc<Self> {
        Arc::new(RateLimiter { windows: Mutex::new(HashMap::new()), shared })
    }

    /// Counts one request against `bucket` if it is within `limit` per second.
    pub fn check(&self, bucket: &str, limit: i64) -> Decision {
        self.decide(bucket, limit, true)
    }

    /// Whether `bucket` is already over `limit`, without counting a request.
    pub fn exhausted(&self, bucket: &str, limit: i64) -> Option<Decision> {
        let d = self.decide(bucket, limit, false);
        (!d.allowed).then_some(d)
    }

    /// With a shared store, reads the shared count of a bucket this replica has not seen in
    /// the current window (what other replicas already admitted), so the first request here
    /// is judged against the whole budget. A store error leaves the local view (fail open).
    pub async fn prime(&self, store: &dyn Store, bucket: &str) {
        if !self.shared {
            return;
        }
        let now = now_ms();
        let start = now - now.rem_euclid(WINDOW_MS);
        let known = self.windows.lock().expect("rate limiter lock").get(bucket).is_some_and(|w| w.start == start);
        if known {
            return;
        }
        match store.rate_add(bucket, start, 0).await {
            Ok(total) => {
                let mut windows = self.windows.lock().expect("rate limiter lock");
                let w = windows.entry(bucket.to_string()).or_default();
                if w.start != start {
                    *w = Window { start, global: total, unsynced: 0 };
                } else {
                    w.global = w.global.max(total);
                }
            }
            Err(e) => tracing::warn!(error = %e, "rate limit: shared count unavailable"),
        }
    }

    fn decide(&self, bucket: &str, limit: i64, count: bool) -> Decision {
        let now = now_ms();
        let start = now - now.rem_euclid(WINDOW_MS);
        let reset_secs = (((start + WINDOW_MS - now) + 999) / 1000).max(1) as u64;
        let mut windows = self.windows.lock().expect("rate limiter lock");
        let w = windows.entry(bucket.to_string()).or_default();
        if w.start != start {
            *w = Window { start, global: 0, unsynced: 0 };
        }
        let used = w.global + w.unsynced;
        let allowed = used < limit;
        if allowed && count {
            w.unsynced += 1;
        }
        let used_now = if allowed && count { used + 1 } else { used };
        Decision { allowed: allowed || !count && used < limit, limit, remaining: (limit - used_now).max(0), reset_secs }
    }

    /// Exchanges counts with the store until the process ends (shared backends only).
    pub async fn sync_forever(self: Arc<Self>, store: Arc<dyn Store>) {
        if !self.shared {
            return;
        }
        loop {
            tokio::time::sleep(SYNC_INTERVAL).await;
            let now = now_ms();
            let current = now - now.rem_euclid(WINDOW_MS);
            let pending: Vec<(String, i64, i64)> = {
                let mut windows = self.windows.lock().expect("rate limiter lock");
                windows.retain(|_, w| w.start >= current);
                windows.iter().map(|(k, w)| (k.clone(), w.start, w.unsynced)).collect()
            };
            for (bucket, start, n) in pending {
                match store.rate_add(&bucket, start, n).await {
                    Ok(total) => {
                        let mut windows = self.windows.lock().expect("rate limiter lock");
                        if let Some(w) = windows.get_mut(&bucket).filter(|w| w.start == start) {
                            w.unsynced -= n;
                            w.global = total;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "rate limit sync failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window() {
        let l = RateLimiter::new(false);
        // Stay inside one window: wait for the start of the next second if close to its end.
        let ms = now_ms().rem_euclid(WINDOW_MS);
        if ms > 800 {
            std::thread::sleep(Duration::from_millis((WINDOW_MS - ms + 5) as u64));
        }
        for i in 0..10 {
            let d = l.check("k", 10);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
        }
        let d = l.check("k", 10);
        assert!(!d.allowed);
        assert!(d.reset_secs >= 1);
        assert!(l.exhausted("k", 10).is_some());
        assert!(l.check("other", 10).allowed, "buckets are separate");
        assert!(l.exhausted("other", 10).is_none());
    }
}
