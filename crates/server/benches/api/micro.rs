//! CPU micro-benchmarks of the per-request credential checks (no HTTP).

use super::*;

/// Calls per CPU micro-benchmark (each also bounded by `MICRO_MAX_TIME`).
const MICRO_ITERS: u32 = 200_000;
const MICRO_WARMUP_ITERS: u32 = 2_000;
const MICRO_MAX_TIME: Duration = Duration::from_secs(10);
/// Host the micro-benchmark's signature candidates are built for.
const MICRO_HOST: &str = "127.0.0.1:8080";

/// Calls `f` (which must answer `true`) `MICRO_WARMUP_ITERS` times, then up to
/// `MICRO_ITERS` times within `MICRO_MAX_TIME`; returns ns per measured call and the count.
pub(crate) fn ns_per_call(what: &str, mut f: impl FnMut() -> bool) -> Result<(f64, u32)> {
    for _ in 0..MICRO_WARMUP_ITERS {
        if !black_box(f()) {
            bail!("{what}: check failed during warm-up");
        }
    }
    let start = Instant::now();
    let mut n = 0u32;
    while n < MICRO_ITERS {
        if !black_box(f()) {
            bail!("{what}: check failed at call {n}");
        }
        n += 1;
        if n.is_multiple_of(1024) && start.elapsed() > MICRO_MAX_TIME {
            break;
        }
    }
    Ok((start.elapsed().as_nanos() as f64 / f64::from(n.max(1)), n))
}

/// The per-request cost of each credential check, without HTTP.
pub(crate) fn micro(report: &mut Report) -> Result<()> {
    const B: &str = "cpu";
    let key = keys::NewKey::generate();
    let (ak, secret, hash) = (key.access_key.clone(), key.secret.clone(), key.secret_hash.clone());
    let path = format!("/v1/clusters/{}", Uuid::new_v4());
    let ts = now_ms().to_string();
    let sig = signing::sign(&secret, "GET", &path, &ts);
    let sig_bytes = signing::decode_signature(&sig).ok_or_else(|| anyhow!("signing::sign produced an undecodable signature {sig:?}"))?;
    let candidates = signing::candidates(&path, Some(MICRO_HOST));
    if signing::verify("not-the-secret", "GET", &candidates, &ts, &sig_bytes) {
        bail!("signing::verify accepted a wrong secret");
    }

    let (verify_ns, n) = ns_per_call("signing::verify", || {
        signing::verify(black_box(&secret), black_box("GET"), black_box(&candidates), black_box(&ts), black_box(&sig_bytes))
    })?;
    report.add(
        B,
        format!("signing::verify, all {} candidates of GET /v1/clusters/{{id}} @ {MICRO_HOST}", candidates.len()),
        format!("{verify_ns:.0} ns/call ({n} calls)"),
    );
    report.add(B, "signing::verify, per candidate (one HMAC-SHA256)", format!("{:.0} ns", verify_ns / candidates.len().max(1) as f64));

    let (cand_ns, n) = ns_per_call("signing::candidates", || !signing::candidates(black_box(&path), black_box(Some(MICRO_HOST))).is_empty())?;
    report.add(B, "signing::candidates (built when the path as sent does not match)", format!("{cand_ns:.0} ns/call ({n} calls)"));

    let (secret_ns, n) = ns_per_call("keys::verify_secret", || keys::verify_secret(black_box(&secret), black_box(&hash)))?;
    report.add(B, "keys::verify_secret (SHA-256 + compare)", format!("{secret_ns:.0} ns/call ({n} calls)"));

    let (mk, _) = MasterKey::generate();
    let sealed = mk.seal(&ak, &secret);
    let (open_ns, n) = ns_per_call("MasterKey::open", || mk.open(black_box(&ak), black_box(&sealed)).is_some_and(|s| s.len() == secret.len()))?;
    report.add(B, "MasterKey::open (AES-GCM decrypt of the sealed secret)", format!("{open_ns:.0} ns/call ({n} calls)"));

    let key = signing::SigningKey::new(&secret);
    let (keyed_ns, n) = ns_per_call("SigningKey::verify_request", || {
        key.verify_request(black_box("GET"), black_box(&path), Some(MICRO_HOST), black_box(&ts), black_box(&sig_bytes))
    })?;
    report.add(B, "SigningKey::verify_request, path form (what the server runs: key cached, path first)", format!("{keyed_ns:.0} ns/call ({n} calls)"));

    report.add(B, "HMAC form check per request without the key cache (candidates + open + verify)", format!("{:.1} us", (cand_ns + open_ns + verify_ns) / 1e3));
    report.add(B, "secret forms check per request (verify_secret)", format!("{:.1} us", secret_ns / 1e3));
    Ok(())
}
