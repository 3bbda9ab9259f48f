//! Page cost: sequential fetches of one page of clusters (and of the project and cloud lists)
//! at 100 and at 100,000 clusters.

use super::*;

pub(crate) struct PageTimes {
    pub(crate) median: Duration,
    pub(crate) p95: Duration,
}

/// `PAGE_FETCHES` sequential fetches of one native page (after a few warm-up fetches), body
/// read in full; the first fetch is checked to hold `expected` clusters.
pub(crate) async fn page_times(client: &reqwest::Client, url: &str, token: &str, expected: usize) -> Result<PageTimes> {
    fetch_times(client, url, token, "/items", expected, PAGE_FETCHES).await
}

/// `fetches` sequential fetches of `url` (after a few warm-up fetches); the first answer must
/// hold `expected` clusters in the array at JSON pointer `items`.
pub(crate) async fn fetch_times(client: &reqwest::Client, url: &str, token: &str, items: &str, expected: usize, fetches: usize) -> Result<PageTimes> {
    fetch_times_within(client, url, token, items, expected, fetches, PAGE_WARMUP_FETCHES, REQUEST_TIMEOUT).await
}

/// [`fetch_times`] with its own warm-up count and per-request timeout (a whole unpaged list
/// of 100,000 clusters takes seconds).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn fetch_times_within(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    items: &str,
    expected: usize,
    fetches: usize,
    warmup: usize,
    timeout: Duration,
) -> Result<PageTimes> {
    let resp = client.get(url).bearer_auth(token).timeout(timeout).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.text().await.with_context(|| format!("reading GET {url}"))?;
    if !status.is_success() {
        bail!("GET {url}: {status}: {body}");
    }
    let page: Value = serde_json::from_str(&body).with_context(|| format!("GET {url}: body is not JSON"))?;
    let n = page.pointer(items).and_then(Value::as_array).map(Vec::len).ok_or_else(|| anyhow!("GET {url}: no `{items}` array"))?;
    if n != expected {
        bail!("GET {url}: expected {expected} clusters, got {n}");
    }
    let mut samples = Vec::with_capacity(fetches);
    for i in 0..warmup + fetches {
        let t0 = Instant::now();
        let resp = client.get(url).bearer_auth(token).timeout(timeout).send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body = resp.bytes().await.with_context(|| format!("reading GET {url}"))?;
        let took = t0.elapsed();
        if !status.is_success() {
            bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body));
        }
        if i >= warmup {
            samples.push(took);
        }
    }
    samples.sort_unstable();
    Ok(PageTimes { median: quantile(&samples, 0.5), p95: quantile(&samples, 0.95) })
}

/// Follows `next_cursor` (pages of up to `WALK_PAGE`) until `skip` clusters have been
/// passed; returns the cursor of the page that starts right after them.
pub(crate) async fn cursor_after(client: &reqwest::Client, base: &str, token: &str, skip: usize) -> Result<String> {
    let mut passed = 0usize;
    let mut cursor: Option<String> = None;
    // Bounded: each iteration passes at least one cluster, or fails.
    for _ in 0..=skip {
        if passed >= skip {
            break;
        }
        let limit = (skip - passed).min(WALK_PAGE);
        let url = match &cursor {
            Some(c) => format!("{base}/v1/clusters?limit={limit}&cursor={c}"),
            None => format!("{base}/v1/clusters?limit={limit}"),
        };
        let page = get_json(client, &url, token).await?;
        let n = page.get("items").and_then(Value::as_array).map(Vec::len).ok_or_else(|| anyhow!("GET {url}: no `items` array"))?;
        if n == 0 {
            bail!("GET {url}: empty page after {passed} clusters (wanted to pass {skip})");
        }
        passed += n;
        cursor = Some(
            page.get("next_cursor")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("GET {url}: no next_cursor after {passed} clusters (wanted to pass {skip})"))?
                .to_string(),
        );
    }
    match cursor {
        Some(c) if passed == skip => Ok(c),
        _ => bail!("could not walk to cluster {skip} (passed {passed})"),
    }
}

/// First-page and mid-list-page times with the organization's current clusters (the
/// mid-list page holds `DEEP_PAGE` items, what is left after the middle of 100 clusters).
pub(crate) async fn list_pages(
    backend: &str,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    total: u32,
    report: &mut Report,
) -> Result<(PageTimes, PageTimes)> {
    let label = if total >= 1000 { format!("{}k", total / 1000) } else { total.to_string() };
    let first = page_times(client, &format!("{base}/v1/clusters?limit={PAGE_SIZE}"), token, PAGE_SIZE.min(total as usize)).await.context("first page")?;
    report.add(backend, format!("list first page, {label} clusters, median"), ms(first.median));
    report.add(backend, format!("list first page, {label} clusters, p95"), ms(first.p95));
    let mid = total as usize / 2;
    let cursor = cursor_after(client, base, token, mid).await.context("walking to the middle of the list")?;
    let items = DEEP_PAGE.min(total as usize - mid);
    let deep = page_times(client, &format!("{base}/v1/clusters?limit={DEEP_PAGE}&cursor={cursor}"), token, items).await.context("deep page")?;
    report.add(backend, format!("list deep page (after {mid}; {items} items), {label} clusters, median"), ms(deep.median));
    report.add(backend, format!("list deep page (after {mid}; {items} items), {label} clusters, p95"), ms(deep.p95));
    Ok((first, deep))
}

/// The CockroachDB page token of the page that starts after `skip` clusters, walking
/// `pagination.next_page` with pages of `WALK_PAGE`.
async fn crdb_token_after(client: &reqwest::Client, base: &str, token: &str, skip: usize) -> Result<String> {
    let mut passed = 0usize;
    let mut next: Option<String> = None;
    while passed < skip {
        let take = WALK_PAGE.min(skip - passed);
        let mut url = format!("{base}/api/v1/clusters?pagination.limit={take}");
        if let Some(t) = &next {
            url.push_str(&format!("&pagination.page={t}"));
        }
        let page = get_json(client, &url, token).await?;
        passed += page.pointer("/clusters").and_then(Value::as_array).map_or(0, Vec::len);
        next = page.pointer("/pagination/next_page").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    match next {
        Some(t) if passed == skip => Ok(t),
        _ => bail!("CockroachDB: could not walk to cluster {skip} (passed {passed})"),
    }
}

/// One surface's page cost with `total` clusters: `(label, times, clusters per fetch)`.
pub(crate) type SurfaceTimes = Vec<(String, PageTimes, usize)>;

/// First and deep pages of 100 on the Couchbase and CockroachDB lists, and the whole
/// CrateDB list (the vendor's list has no paging), with the organization's `total` clusters.
pub(crate) async fn surface_pages(backend: &str, client: &reqwest::Client, base: &str, token: &str, total: u32, report: &mut Report) -> Result<SurfaceTimes> {
    let label = if total >= 1000 { format!("{}k", total / 1000) } else { total.to_string() };
    let total = total as usize;
    let mut out: SurfaceTimes = Vec::new();
    let last_page = total / PAGE_SIZE;
    let mid = total / 2;
    let crdb_deep = format!("{base}/api/v1/clusters?pagination.limit={DEEP_PAGE}&pagination.page={}", crdb_token_after(client, base, token, mid).await?);
    let pages = [
        ("Couchbase /v2/clusters first page", format!("{base}/v2/clusters?perPage={PAGE_SIZE}&page=1"), "/data", PAGE_SIZE),
        ("Couchbase /v2/clusters last page", format!("{base}/v2/clusters?perPage={PAGE_SIZE}&page={last_page}"), "/data", PAGE_SIZE),
        ("CockroachDB /api/v1/clusters first page", format!("{base}/api/v1/clusters?pagination.limit={PAGE_SIZE}"), "/clusters", PAGE_SIZE),
        ("CockroachDB /api/v1/clusters deep page", crdb_deep, "/clusters", DEEP_PAGE.min(total - mid)),
    ];
    for (what, url, items, n) in pages {
        let t = fetch_times(client, &url, token, items, n, PAGE_FETCHES).await.with_context(|| what.to_string())?;
        report.add(backend, format!("{what}, {label} clusters, median"), ms(t.median));
        out.push((what.to_string(), t, n));
    }
    // The whole CrateDB list (the vendor's has no paging): one timed fetch when it is long.
    let (fetches, warmup) = if total > 1000 { (1, 0) } else { (PAGE_FETCHES, PAGE_WARMUP_FETCHES) };
    let what = "CrateDB /api/v2/clusters/ (whole list)";
    let url = format!("{base}/api/v2/clusters/");
    let t = fetch_times_within(client, &url, token, "", total, fetches, warmup, Duration::from_secs(300)).await.context(what)?;
    report.add(backend, format!("{what}, {label} clusters, median"), ms(t.median));
    report.add(backend, format!("{what}, {label} clusters, per cluster"), format!("{:.1} µs", t.median.as_secs_f64() * 1e6 / total as f64));
    out.push((what.to_string(), t, total));
    Ok(out)
}

/// Each surface's ratio, cost per cluster listed at 100,000 / at 100 (target ≤ 1.5).
pub(crate) fn surface_ratios(backend: &str, small: &SurfaceTimes, large: &SurfaceTimes, report: &mut Report) {
    for ((what, s, sn), (_, l, ln)) in small.iter().zip(large) {
        let per = |t: &PageTimes, n: &usize| t.median.as_secs_f64() / (*n).max(1) as f64;
        let r = per(l, ln) / per(s, sn).max(1e-12);
        // Couchbase pages by number (the vendor's paging): a deep page is an OFFSET, shown
        // for what it costs; the first page is the one clients read.
        let verdict = if what.contains("last page") {
            "informational: page-number paging skips rows".to_string()
        } else {
            format!("target <= 1.5x: {}", if r <= 1.5 { "met" } else { "NOT met" })
        };
        report.add(backend, format!("{what} per cluster, 100k/100"), format!("{r:.2}x ({verdict})"));
    }
}

/// The native project and cloud lists (one page of up to 100) with the organization's `total`
/// clusters: each item carries its live cluster count, which must come from the maintained
/// counters, not from counting clusters. The first answer is checked to count them all.
pub(crate) async fn catalogue_pages(backend: &str, client: &reqwest::Client, base: &str, token: &str, total: u32, report: &mut Report) -> Result<SurfaceTimes> {
    let label = if total >= 1000 { format!("{}k", total / 1000) } else { total.to_string() };
    let mut out: SurfaceTimes = Vec::new();
    for (what, path) in [("native GET /v1/projects?limit=100", "/v1/projects"), ("native GET /v1/clouds?limit=100", "/v1/clouds")] {
        let url = format!("{base}{path}?limit={PAGE_SIZE}");
        let page = get_json(client, &url, token).await.with_context(|| format!("{what}: first call"))?;
        let items = page.get("items").and_then(Value::as_array).ok_or_else(|| anyhow!("GET {url}: no `items` array"))?;
        let counted: i64 = items.iter().filter_map(|x| x.get("cluster_count").and_then(Value::as_i64)).sum();
        if counted != i64::from(total) {
            bail!("GET {url}: the items count {counted} clusters, expected {total}");
        }
        let t = fetch_times(client, &url, token, "/items", items.len(), PAGE_FETCHES).await.with_context(|| what.to_string())?;
        report.add(backend, format!("{what}, {label} clusters, median"), ms(t.median));
        report.add(backend, format!("{what}, {label} clusters, p95"), ms(t.p95));
        out.push((what.to_string(), t, items.len()));
    }
    Ok(out)
}

/// Each catalogue list's median at 100,000 clusters over that at 100 (target ≤ 1.5).
pub(crate) fn catalogue_ratios(backend: &str, small: &SurfaceTimes, large: &SurfaceTimes, report: &mut Report) {
    for ((what, s, _), (_, l, _)) in small.iter().zip(large) {
        let r = l.median.as_secs_f64() / s.median.as_secs_f64().max(1e-12);
        report.add(backend, format!("{what} median, 100k/100"), format!("{r:.2}x (target <= 1.5x: {})", if r <= 1.5 { "met" } else { "NOT met" }));
    }
}
