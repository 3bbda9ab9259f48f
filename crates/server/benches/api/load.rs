//! Load runs: credential forms, concurrent GETs bounded in time and count, latency quantiles.

use super::*;

pub(crate) fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY * 2)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// One GET, checked for a 2xx status, returning the body as JSON.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<Value> {
    let resp = client.get(url).bearer_auth(token).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.text().await.with_context(|| format!("reading GET {url}"))?;
    if !status.is_success() {
        bail!("GET {url}: {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("GET {url}: body is not JSON: {body}"))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 { format!("{:.2}x", a / b) } else { "n/a".into() }
}

/// The `q` quantile (nearest rank) of sorted samples.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

/// The credential forms the server accepts.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    /// `Authorization: Bearer <access key>_<secret>`.
    BearerToken,
    /// `Authorization: Basic base64(<access key>:<secret>)`.
    Basic,
    /// `Authorization: Bearer base64(<access key>:<secret>)`.
    BearerBase64,
    /// `Authorization: Bearer <access key>:<signature>` + `Couchbase-Timestamp`.
    Hmac,
}

impl Form {
    pub(crate) const ALL: [Form; 4] = [Form::BearerToken, Form::Basic, Form::BearerBase64, Form::Hmac];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Form::BearerToken => "Bearer ak_secret",
            Form::Basic => "Basic b64(ak:secret)",
            Form::BearerBase64 => "Bearer b64(ak:secret)",
            Form::Hmac => "HMAC Bearer ak:sig",
        }
    }

    /// The credential of this form for `access_key` / `secret`, for GET requests to `path`.
    pub(crate) fn cred(self, access_key: &str, secret: &str, path: &str) -> Result<Cred> {
        let b64 = || base64::engine::general_purpose::STANDARD.encode(format!("{access_key}:{secret}"));
        let value = match self {
            Form::BearerToken => format!("Bearer {}", keys::bearer_token(access_key, secret)),
            Form::Basic => format!("Basic {}", b64()),
            Form::BearerBase64 => format!("Bearer {}", b64()),
            Form::Hmac => {
                return Ok(Cred::Hmac { access_key: access_key.into(), secret: secret.into(), path: path.into() });
            }
        };
        Ok(Cred::Header(HeaderValue::from_str(&value).context("credential header")?))
    }
}

/// What a load run sends as credentials.
#[derive(Clone)]
pub(crate) enum Cred {
    None,
    /// A fixed `Authorization` value.
    Header(HeaderValue),
    /// HMAC-signed GETs of `path` (the timestamp is included in the signature).
    Hmac {
        access_key: String,
        secret: String,
        path: String,
    },
}

/// Per-task state of a credential: the HMAC form re-signs once per second.
pub(crate) struct Signer<'a> {
    pub(crate) cred: &'a Cred,
    /// (second signed in, `Authorization`, `Couchbase-Timestamp`).
    pub(crate) current: Option<(i64, HeaderValue, HeaderValue)>,
}

impl<'a> Signer<'a> {
    pub(crate) fn new(cred: &'a Cred) -> Self {
        Signer { cred, current: None }
    }

    pub(crate) fn apply(&mut self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        match self.cred {
            Cred::None => Ok(req),
            Cred::Header(v) => Ok(req.header(AUTHORIZATION, v.clone())),
            Cred::Hmac { access_key, secret, path } => {
                let now = now_ms();
                let sec = now.div_euclid(1000);
                if self.current.as_ref().is_none_or(|(s, _, _)| *s != sec) {
                    let ts = now.to_string();
                    let sig = signing::sign(secret, "GET", path, &ts);
                    let auth = HeaderValue::from_str(&format!("Bearer {access_key}:{sig}")).context("signed credential header")?;
                    let ts = HeaderValue::from_str(&ts).context("timestamp header")?;
                    self.current = Some((sec, auth, ts));
                }
                let (_, auth, ts) = self.current.as_ref().expect("signed above");
                Ok(req.header(AUTHORIZATION, auth.clone()).header("Couchbase-Timestamp", ts.clone()))
            }
        }
    }
}

pub(crate) struct LoadResult {
    pub(crate) requests: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    /// CPU time the whole process (client and server) spent, if it could be read.
    pub(crate) cpu: Option<Duration>,
}

impl LoadResult {
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Process CPU time per request (client and server together): unlike throughput, it
    /// hardly moves when other programs compete for the cores.
    pub(crate) fn cpu_per_request(&self) -> Option<Duration> {
        self.cpu.map(|c| c / self.requests.max(1) as u32)
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere). Resolution: one clock tick (10 ms).
pub(crate) fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// `CONCURRENCY` tasks sending GET `url` back to back for `dur` (and at most
/// `MAX_REQUESTS_PER_TASK` each). Any non-2xx answer or transport error fails the run.
pub(crate) async fn load(client: &reqwest::Client, url: &str, cred: &Cred, dur: Duration) -> Result<LoadResult> {
    let cpu0 = process_cpu();
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let url = url.to_string();
        let cred = cred.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(16 * 1024);
            let mut signer = Signer::new(&cred);
            while lat.len() < MAX_REQUESTS_PER_TASK && Instant::now() < deadline {
                let t0 = Instant::now();
                let req = signer.apply(client.get(&url))?;
                let resp = req.send().await.with_context(|| format!("GET {url}"))?;
                let status = resp.status();
                let body = resp.bytes().await.with_context(|| format!("reading GET {url}"))?;
                if !status.is_success() {
                    bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body));
                }
                lat.push(t0.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        });
    }
    let mut latencies = Vec::new();
    let mut first_err = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(lat)) => latencies.extend(lat),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(anyhow!("load task failed: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    if let Some(e) = first_err {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(LoadResult { requests: latencies.len(), elapsed, latencies, cpu })
}

/// Warm-up, then a measured load run; prints and records throughput and p50/p99.
pub(crate) async fn throughput(
    backend: &str,
    label: &str,
    client: &reqwest::Client,
    url: &str,
    cred: &Cred,
    dur: Duration,
    report: &mut Report,
) -> Result<LoadResult> {
    load(client, url, cred, WARMUP).await.with_context(|| format!("warm-up of {label}"))?;
    let r = load(client, url, cred, dur).await.with_context(|| format!("load run of {label}"))?;
    add_load(backend, label, &r, report);
    Ok(r)
}

/// Records a run's throughput, p50/p99 latency (of sorted latencies) and CPU per request.
pub(crate) fn add_load(backend: &str, label: &str, r: &LoadResult, report: &mut Report) {
    report.add(backend, format!("{label} throughput"), format!("{:.0} req/s ({} req in {:.2} s)", r.rps(), r.requests, r.elapsed.as_secs_f64()));
    report.add(backend, format!("{label} latency p50"), ms(quantile(&r.latencies, 0.50)));
    report.add(backend, format!("{label} latency p99"), ms(quantile(&r.latencies, 0.99)));
    if let Some(c) = r.cpu_per_request() {
        report.add(backend, format!("{label} CPU per request (client + server)"), format!("{:.1} us", c.as_secs_f64() * 1e6));
    }
}
