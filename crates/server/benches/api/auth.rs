//! Section `auth`: each credential form's throughput against `/health`, in rounds.
//!
//! Each run's `$BENCH_SECONDS` is cut into `$BENCH_ROUNDS` slices (default 10). One round
//! runs `/health`, then each form followed by `/health` again, and takes each form's ratio
//! to the mean of the two `/health` slices around it (in throughput, and in process CPU
//! per request, inverted). The verdict is the median over the rounds: on a shared machine
//! whose speed drifts by a quarter within seconds, a slice is compared with neighbours
//! taken under the same conditions, and a slow moment weighs on one round, not on the
//! figure.

use super::*;

/// Per-key limit of the benchmark's own key (the API's maximum; far above the load).
const BENCH_KEY_RATE_LIMIT: i64 = 1_000_000;
/// Rounds of the comparison when `$BENCH_ROUNDS` is unset.
const DEFAULT_ROUNDS: usize = 10;
const MAX_ROUNDS: usize = 50;
/// Shortest slice of a load run, and the warm-up before each slice.
pub(crate) const MIN_SLICE: Duration = Duration::from_millis(100);
pub(crate) const SLICE_WARMUP: Duration = Duration::from_millis(50);

/// The benchmark's own key.
pub(crate) struct Key {
    pub(crate) access_key: String,
    pub(crate) secret: String,
    pub(crate) bearer_token: String,
}

/// `$BENCH_ROUNDS`, checked.
pub(crate) fn rounds() -> Result<usize> {
    match std::env::var("BENCH_ROUNDS") {
        Err(_) => Ok(DEFAULT_ROUNDS),
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_ROUNDS).contains(&n) => Ok(n),
            _ => bail!("BENCH_ROUNDS must be a whole number from 1 to {MAX_ROUNDS}, got {s:?}"),
        },
    }
}

/// Creates, with the bootstrap key, an organization-owner key whose per-key limit is
/// `BENCH_KEY_RATE_LIMIT` (the bootstrap key's own limit is too low for load runs).
pub(crate) async fn create_bench_key(client: &reqwest::Client, base: &str, bootstrap_token: &str) -> Result<Key> {
    let url = format!("{base}/v1/api-keys");
    let resp = client
        .post(&url)
        .bearer_auth(bootstrap_token)
        .json(&serde_json::json!({
            "name": "bench",
            "description": "API benchmark load key",
            "organization_roles": ["organizationOwner"],
            "rate_limit": BENCH_KEY_RATE_LIMIT,
        }))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body = resp.text().await.with_context(|| format!("reading POST {url}"))?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {body}");
    }
    let v: Value = serde_json::from_str(&body).with_context(|| format!("POST {url}: body is not JSON"))?;
    let field = |name: &str| -> Result<String> {
        v.get(name).and_then(Value::as_str).map(str::to_string).ok_or_else(|| anyhow!("POST {url}: no `{name}` in the answer"))
    };
    Ok(Key { access_key: field("id")?, secret: field("secret")?, bearer_token: field("bearer_token")? })
}

/// `secret` with its last character changed.
fn wrong_secret(secret: &str) -> String {
    let mut w = secret.to_string();
    let last = if w.pop() == Some('a') { 'b' } else { 'a' };
    w.push(last);
    w
}

/// One GET with `cred` that must be refused with 401 (the credential is really checked).
async fn expect_unauthenticated(client: &reqwest::Client, url: &str, cred: &Cred) -> Result<()> {
    let resp = Signer::new(cred).apply(client.get(url))?.send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.text().await.with_context(|| format!("reading GET {url}"))?;
    if status != reqwest::StatusCode::UNAUTHORIZED {
        bail!("GET {url} with a wrong secret: expected 401, got {status}: {body}");
    }
    Ok(())
}

/// A ratio with its verdict against `TARGET_RATIO`.
fn verdict(r: f64) -> String {
    format!("{r:.2}x (target >= {TARGET_RATIO}x: {})", if r >= TARGET_RATIO { "met" } else { "NOT met" })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The runs compared with `/health`: `GET /v1/clusters/{id}` with each credential form
/// (after checking a wrong secret in that form is refused), then two diagnostics that split
/// the cost — authentication without a store read, a store round trip without
/// authentication.
async fn runs(client: &reqwest::Client, base: &str, key: &Key, cluster_id: &str) -> Result<Vec<(String, String, Cred)>> {
    let cluster_path = format!("/v1/clusters/{cluster_id}");
    let cluster_url = format!("{base}{cluster_path}");
    let wrong = wrong_secret(&key.secret);
    let mut runs = Vec::new();
    for form in Form::ALL {
        // `$BENCH_FORM`: only the credential forms whose label contains it.
        if std::env::var("BENCH_FORM").is_ok_and(|f| !form.label().contains(&f)) {
            continue;
        }
        let label = format!("GET /v1/clusters/{{id}} [{}]", form.label());
        expect_unauthenticated(client, &cluster_url, &form.cred(&key.access_key, &wrong, &cluster_path)?)
            .await
            .with_context(|| format!("{label}: checking a wrong secret is refused"))?;
        runs.push((label, cluster_url.clone(), form.cred(&key.access_key, &key.secret, &cluster_path)?));
    }
    let regions = "/v1/regions?provider=azure";
    runs.push((
        "diag GET /v1/regions?provider=azure [Bearer ak_secret] (auth, no store read)".into(),
        format!("{base}{regions}"),
        Form::BearerToken.cred(&key.access_key, &key.secret, regions)?,
    ));
    runs.push(("diag GET /ready (one store ping, no auth)".into(), format!("{base}/ready"), Cred::None));
    Ok(runs)
}

/// A run's results added to `acc` (latencies sorted again by `finish`).
fn add(acc: &mut Option<LoadResult>, r: LoadResult) {
    match acc {
        None => *acc = Some(r),
        Some(a) => {
            a.requests += r.requests;
            a.elapsed += r.elapsed;
            a.latencies.extend(r.latencies);
            a.cpu = a.cpu.zip(r.cpu).map(|(x, y)| x + y);
        }
    }
}

/// Throughput, p50/p99 and CPU per request of all of a label's slices together.
fn record(backend: &str, label: &str, acc: Option<LoadResult>, report: &mut Report) {
    let Some(mut r) = acc else { return };
    r.latencies.sort_unstable();
    add_load(backend, label, &r, report);
}

/// One short load run after a short warm-up (the client's connections are already open).
async fn slice(client: &reqwest::Client, label: &str, url: &str, cred: &Cred, dur: Duration) -> Result<LoadResult> {
    load(client, url, cred, SLICE_WARMUP).await.with_context(|| format!("warm-up of {label}"))?;
    load(client, url, cred, dur).await.with_context(|| format!("load run of {label}"))
}

/// The section. Each run's `$BENCH_SECONDS` is cut into `$BENCH_ROUNDS` slices; a round
/// runs `/health`, then each run followed by `/health` again, so every slice is compared
/// with the two `/health` slices around it, a second or less apart. Then each run's
/// figures over all its slices, its per-round ratios and their median (the verdict).
pub(crate) async fn compare(
    backend: &str,
    client: &reqwest::Client,
    base: &str,
    key: &Key,
    cluster_id: &str,
    load_time: Duration,
    report: &mut Report,
) -> Result<()> {
    let rounds = rounds()?;
    let dur = (load_time / rounds as u32).max(MIN_SLICE);
    let runs = runs(client, base, key, cluster_id).await?;
    let health_url = format!("{base}/health");
    println!("[{backend}] credential forms: {rounds} rounds of {} ms slices", dur.as_millis());
    let mut health_all = None;
    let mut all: Vec<Option<LoadResult>> = (0..runs.len()).map(|_| None).collect();
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        let mut before = slice(client, "GET /health", &health_url, &Cred::None, dur).await?;
        for (i, (label, url, cred)) in runs.iter().enumerate() {
            let r = slice(client, label, url, cred, dur).await?;
            let after = slice(client, "GET /health", &health_url, &Cred::None, dur).await?;
            rps[i].push(r.rps() / ((before.rps() + after.rps()) / 2.0));
            // CPU per request (client and server): /health's over this one's.
            if let (Some(c), Some(b), Some(a)) = (r.cpu_per_request(), before.cpu_per_request(), after.cpu_per_request()) {
                cpu[i].push((b.as_secs_f64() + a.as_secs_f64()) / 2.0 / c.as_secs_f64().max(1e-12));
            }
            add(&mut all[i], r);
            add(&mut health_all, std::mem::replace(&mut before, after));
        }
        add(&mut health_all, before);
    }
    record(backend, "GET /health", health_all, report);
    let list = |v: &[f64]| v.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(" ");
    for (i, ((label, _, _), acc)) in runs.iter().zip(all).enumerate() {
        record(backend, label, acc, report);
        report.add(backend, format!("{label} / GET /health throughput, median of {rounds} rounds [{}]", list(&rps[i])), verdict(median(rps[i].clone())));
        if cpu[i].len() == rounds {
            report.add(backend, format!("{label} / GET /health, CPU per request (inverse), median [{}]", list(&cpu[i])), verdict(median(cpu[i].clone())));
        }
    }
    Ok(())
}
