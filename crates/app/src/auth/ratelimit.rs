//! Rate limits: fixed one-second windows per bucket (an API key, or a source address for
//! unauthenticated and failed-authentication traffic).
//!
//! With one process (SQLite) requests are counted here, exactly.
//!
//! With replicas sharing PostgreSQL a replica admits a request only out of budget it has
//! *reserved* from the shared counter of the window ([`Store::rate_reserve`]: one atomic
//! conditional upsert that grants `min(want, limit - used)`), so all replicas together never
//! admit more than the limit in a window. Budget is reserved in batches sized from the limit
//! ([`batch`]: one request for small limits, so the count is exact; up to 500 for large
//! ones, so a busy key costs few store round trips per second), one reservation at a time
//! per bucket. When less than half a batch is left, the request that notices reserves the
//! next batch while the others go on spending what is left, so a busy key does not stall
//! on the store round trip (a replica holds at most one and a half batches unused, lost to
//! the others when the window ends). A window found spent is remembered until it ends, so a refusal costs no store
//! call. If the store cannot be reached, the replica counts alone for the rest of the window
//! (at most the limit on each replica).
//!
//! Only the buckets of the current window are kept: the map is pruned whenever a new window
//! starts, in both modes, so memory follows the traffic of one second.

use dbcloud_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long after another replica admits a request this one may still ignore it: zero,
/// since every admission is reserved from the shared counter first.
pub const SYNC_INTERVAL: Duration = Duration::ZERO;
/// Length of a rate-limit window.
pub const WINDOW_MS: i64 = 1000;
/// Largest number of requests reserved at once.
pub const MAX_BATCH: i64 = 500;

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

/// Requests reserved from the shared counter at a time for a limit of `limit` per window:
/// a twentieth of the limit, at least 1 and at most [`MAX_BATCH`]. Budget a replica reserved
/// but did not use is lost to the others for that window, so the batch stays small against
/// the limit.
pub fn batch(limit: i64) -> i64 {
    (limit / 20).clamp(1, MAX_BATCH)
}

/// One bucket's state in one window.
struct Bucket {
    window: i64,
    /// Requests admitted here in the window.
    admitted: i64,
    /// Shared mode: budget reserved and not used yet.
    reserved: i64,
    /// Shared mode: the window's shared count after the last reservation.
    shared_used: i64,
    /// Shared mode: the shared budget of the window is spent.
    spent: bool,
    /// Shared mode: the store failed; count here alone until the window ends.
    alone: bool,
    /// Shared mode: a request is reserving the next batch ahead of need.
    refilling: bool,
    /// One reservation at a time per bucket.
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl Bucket {
    fn new(window: i64) -> Self {
        Bucket { window, admitted: 0, reserved: 0, shared_used: 0, spent: false, alone: false, refilling: false, gate: Arc::default() }
    }

    /// Counts a request against `limit` locally.
    fn count_here(&mut self, limit: i64, now: i64) -> Decision {
        if self.admitted < limit {
            self.admitted += 1;
            Decision { allowed: true, limit, remaining: limit - self.admitted, reset_secs: reset_secs(self.window, now) }
        } else {
            refused(limit, self.window, now)
        }
    }

    /// Shared mode: admits from the reservation, refuses a spent window, or `None` when a
    /// reservation is needed.
    fn take_reserved(&mut self, limit: i64, now: i64) -> Option<Decision> {
        if self.alone {
            return Some(self.count_here(limit, now));
        }
        if self.reserved > 0 {
            self.reserved -= 1;
            self.admitted += 1;
            let remaining = (limit - self.shared_used).max(0) + self.reserved;
            return Some(Decision { allowed: true, limit, remaining, reset_secs: reset_secs(self.window, now) });
        }
        self.spent.then(|| refused(limit, self.window, now))
    }
}

#[derive(Default)]
struct Buckets {
    map: HashMap<String, Bucket>,
    /// The newest window seen; older buckets were dropped when it started.
    window: i64,
}

/// Per-bucket fixed-window limiter, optionally shared through the store.
pub struct RateLimiter {
    buckets: Mutex<Buckets>,
    shared: bool,
}

fn now_ms() -> i64 {
    dbcloud_core::time_to_ms(time::OffsetDateTime::now_utc())
}

fn window_of(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW_MS)
}

fn reset_secs(window: i64, now: i64) -> u64 {
    ((window + WINDOW_MS - now + 999) / 1000).max(1) as u64
}

fn refused(limit: i64, window: i64, now: i64) -> Decision {
    Decision { allowed: false, limit, remaining: 0, reset_secs: reset_secs(window, now) }
}

impl RateLimiter {
    /// A limiter; `shared` when several replicas use one store.
    pub fn new(shared: bool) -> Arc<Self> {
        Arc::new(RateLimiter { buckets: Mutex::new(Buckets::default()), shared })
    }

    /// Number of buckets held in memory (those of the current window).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().expect("rate limiter lock").map.len()
    }

    /// Runs `f` on the bucket's state for the window of `now`, creating it if needed. A new
    /// window drops every bucket of older ones.
    fn with_bucket<R>(&self, key: &str, now: i64, f: impl FnOnce(&mut Bucket) -> R) -> R {
        let window = window_of(now);
        let mut all = self.buckets.lock().expect("rate limiter lock");
        if window > all.window {
            all.map.retain(|_, b| b.window >= window);
            all.window = window;
        }
        if let Some(b) = all.map.get_mut(key) {
            if b.window != window {
                *b = Bucket::new(window);
            }
            return f(b);
        }
        f(all.map.entry(key.to_string()).or_insert_with(|| Bucket::new(window)))
    }

    /// Counts one request against `bucket` if it is within `limit` per window. With a
    /// shared store the request is admitted only from budget reserved there.
    pub async fn check(&self, store: &dyn Store, bucket: &str, limit: i64) -> Decision {
        if !self.shared {
            let now = now_ms();
            return self.with_bucket(bucket, now, |b| b.count_here(limit, now));
        }
        loop {
            let now = now_ms();
            let step = self.with_bucket(bucket, now, |b| match b.take_reserved(limit, now) {
                Some(d) => {
                    // Running low: this request reserves the next batch (others go on).
                    let refill = d.allowed && !b.alone && !b.spent && !b.refilling && b.reserved < batch(limit) / 2;
                    b.refilling |= refill;
                    Ok((d, refill.then(|| (b.gate.clone(), b.window))))
                }
                None => Err(b.gate.clone()),
            });
            let gate = match step {
                Ok((d, None)) => return d,
                Ok((d, Some((gate, window)))) => {
                    let _one_at_a_time = gate.lock().await;
                    self.reserve(store, bucket, limit, window).await;
                    self.with_bucket(bucket, now_ms(), |b| b.refilling = false);
                    return d;
                }
                Err(gate) => gate,
            };
            let _one_at_a_time = gate.lock().await;
            let now = now_ms();
            // Another request may have reserved (or found the window spent) meanwhile.
            if self.with_bucket(bucket, now, |b| b.reserved > 0 || b.spent || b.alone) {
                continue;
            }
            self.reserve(store, bucket, limit, window_of(now)).await;
        }
    }

    /// Reserves a batch of `bucket`'s budget for `window` from the shared counter (the
    /// caller holds the bucket's gate).
    async fn reserve(&self, store: &dyn Store, bucket: &str, limit: i64, window: i64) {
        let want = batch(limit);
        match store.rate_reserve(bucket, window, want, limit).await {
            Ok((granted, used)) => self.with_bucket(bucket, now_ms(), |b| {
                if b.window == window {
                    b.reserved += granted;
                    b.shared_used = used;
                    b.spent = granted < want;
                }
            }),
            Err(e) => {
                tracing::warn!(error = %e, "rate limit: shared counter unavailable; counting on this replica alone");
                self.with_bucket(bucket, now_ms(), |b| b.alone |= b.window == window);
            }
        }
    }

    /// Whether `bucket` is already known to be over `limit` in this window, without
    /// counting a request or calling the store (an unknown bucket is not exhausted).
    pub fn exhausted(&self, bucket: &str, limit: i64) -> Option<Decision> {
        let now = now_ms();
        let window = window_of(now);
        let all = self.buckets.lock().expect("rate limiter lock");
        let b = all.map.get(bucket).filter(|b| b.window == window)?;
        let over = if self.shared && !b.alone { b.spent && b.reserved == 0 } else { b.admitted >= limit };
        over.then(|| refused(limit, window, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits for the start of the next window if the current one is about to end.
    fn early_in_a_window() {
        let ms = now_ms().rem_euclid(WINDOW_MS);
        if ms > 700 {
            std::thread::sleep(Duration::from_millis((WINDOW_MS - ms + 5) as u64));
        }
    }

    async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = dbcloud_store::sqlite::SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap();
        (Arc::new(store), dir)
    }

    #[tokio::test]
    async fn limits_within_a_window() {
        let (store, _dir) = sqlite().await;
        let l = RateLimiter::new(false);
        early_in_a_window();
        for i in 0..10 {
            let d = l.check(store.as_ref(), "k", 10).await;
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
        }
        let d = l.check(store.as_ref(), "k", 10).await;
        assert!(!d.allowed);
        assert!(d.reset_secs >= 1);
        assert!(l.exhausted("k", 10).is_some());
        assert!(l.check(store.as_ref(), "other", 10).await.allowed, "buckets are separate");
        assert!(l.exhausted("other", 10).is_none());
        assert!(l.exhausted("never-seen", 10).is_none());
    }

    #[test]
    fn only_the_current_window_is_kept() {
        let l = RateLimiter::new(false);
        let t0 = 1_700_000_000_000;
        for i in 0..10_000 {
            l.with_bucket(&format!("ip:10.0.{}.{}", i / 256, i % 256), t0 + 10, |b| b.count_here(5, t0 + 10));
        }
        assert_eq!(l.tracked(), 10_000);
        let d = l.with_bucket("ip:10.0.0.0", t0 + 1_010, |b| b.count_here(5, t0 + 1_010));
        assert_eq!((d.allowed, d.remaining), (true, 4), "a new window, a new budget");
        assert_eq!(l.tracked(), 1, "older windows are dropped");
    }

    #[test]
    fn batches_grow_with_the_limit() {
        assert_eq!([1, 10, 39, 40, 100, 1_000, 100_000].map(batch), [1, 1, 1, 2, 5, 50, MAX_BATCH]);
    }

    #[tokio::test]
    async fn replicas_sharing_a_store_never_admit_more_than_the_limit() {
        let (store, _dir) = sqlite().await;
        for (limit, requests) in [(10, 40), (1_000, 3_000)] {
            early_in_a_window();
            let (a, b) = (RateLimiter::new(true), RateLimiter::new(true));
            let bucket = format!("key:{limit}");
            let mut admitted = 0;
            for i in 0..requests {
                let l = if i % 2 == 0 { &a } else { &b };
                admitted += l.check(store.as_ref(), &bucket, limit).await.allowed as i64;
            }
            assert!(admitted <= limit, "{admitted} admitted for a limit of {limit}");
            assert!(admitted > limit - 3 * batch(limit), "{admitted}: at most one and a half unused batches per replica are lost");
            assert!(a.exhausted(&bucket, limit).is_some() && b.exhausted(&bucket, limit).is_some(), "both know the window is spent");
        }
    }
}
