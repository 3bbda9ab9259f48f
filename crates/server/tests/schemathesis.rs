//! schemathesis (PyPI) against the server's own `/openapi.json`, on SQLite and on PostgreSQL:
//! a schema-driven fuzzer that sends what the document allows (and what it forbids) and
//! fails on any 5xx, any status code the document does not list for the operation, any
//! response that breaks its schema, its content type or its documented headers.
//!
//! Scope: the native API and the system routes (`/v1/…`, `/health`, `/ready`, `/metrics`),
//! by an include filter. The vendor-dialect paths of the same document (`/v2`, `/api/v1`,
//! `/api/v2`) are out of scope for now: they get typed schemas in a later issue.
//!
//! schemathesis is installed once per process into `target/schemathesis-venv` (Python ≥ 3.11
//! with `venv`). Bounds: `DBCLOUD_SCHEMATHESIS_EXAMPLES` examples per operation and phase
//! (default 20), one worker (with several, CPython 3.11 can fail inside hypothesis with
//! "AST constructor recursion depth mismatch"; the two backends run side by side instead),
//! a fixed seed (`DBCLOUD_SCHEMATHESIS_SEED`, default 1) so a run is repeatable; every phase
//! (examples, coverage, fuzzing, stateful). Each run prints the share of its requests the
//! server answered 2xx.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The pinned schemathesis and the two libraries that shape what it generates.
const PINS: &[&str] = &["schemathesis==4.32.5", "hypothesis==6.170.17", "jsonschema-rs==0.60.3"];
/// What is fuzzed: the native API and the system routes.
const INCLUDE: &str = r"^/(v1/|health$|ready$|metrics$)";
const CHECKS: &str = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,response_headers_conformance";
/// Stands in for the fuzzer's own key in path parameters: an id that exists nowhere.
const NO_SUCH_KEY: &str = "dbc_0000000000000000000000";

/// The fuzzer must not revoke, rotate or re-limit the key it authenticates with: a path
/// parameter naming that key is replaced, before the call, by a key id that does not exist.
const HOOKS: &str = r#"
import os
import schemathesis

PROTECTED = dict(pair.split("=", 1) for pair in os.environ["DBCLOUD_PROTECTED_IDS"].split(",") if pair)


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if str(value) in PROTECTED:
            params[name] = PROTECTED[str(value)]
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs a command with a timeout; returns exit success, stdout and stderr.
async fn run(cmd: &mut Command, secs: u64) -> (bool, String, String) {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(secs), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s: {cmd:?}"))
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `target/schemathesis-venv/bin/schemathesis`, installed on first use (once per process,
/// and again only when the pins change).
async fn schemathesis_bin() -> PathBuf {
    static INSTALLED: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    INSTALLED.get_or_init(install).await.clone()
}

async fn install() -> PathBuf {
    let venv = workspace().join("target/schemathesis-venv");
    let (bin, marker) = (venv.join("bin/schemathesis"), venv.join("installed.txt"));
    let pins = PINS.join(" ");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(pins.as_str()) || !bin.exists() {
        if !venv.join("bin/pip").exists() {
            let (ok, out, err) = run(Command::new("python3").args(["-m", "venv"]).arg(&venv), 300).await;
            assert!(ok, "python3 -m venv failed (Debian: apt-get install python3-venv):\n{out}\n{err}");
        }
        let (ok, out, err) = run(Command::new(venv.join("bin/pip")).args(["install", "-q", "--disable-pip-version-check"]).args(PINS), 900).await;
        assert!(ok, "pip install {pins} failed (schemathesis needs Python 3.11 or newer):\n{out}\n{err}");
        std::fs::write(&marker, &pins).unwrap();
    }
    assert!(bin.exists(), "schemathesis not installed at {}", bin.display());
    bin
}

/// What the server answered, from schemathesis's NDJSON report.
#[derive(Default, Debug)]
struct Tally {
    requests: usize,
    success: usize,
    positive: usize,
    positive_success: usize,
    by_status: BTreeMap<u16, usize>,
    operations: BTreeSet<String>,
}

impl Tally {
    fn read(ndjson: &str) -> Tally {
        let mut t = Tally::default();
        for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let Some(recorder) = event.pointer("/ScenarioFinished/recorder") else { continue };
            let Some(interactions) = recorder["interactions"].as_object() else { continue };
            for (case_id, interaction) in interactions {
                let Some(status) = interaction.pointer("/response/status_code").and_then(Value::as_u64) else { continue };
                let case = &recorder["cases"][case_id]["value"];
                let ok = (200..300).contains(&status);
                t.requests += 1;
                t.success += usize::from(ok);
                if case.pointer("/meta/generation/mode").and_then(Value::as_str) == Some("positive") {
                    t.positive += 1;
                    t.positive_success += usize::from(ok);
                }
                *t.by_status.entry(status as u16).or_default() += 1;
                if let (Some(m), Some(p)) = (case["method"].as_str(), case["path"].as_str()) {
                    t.operations.insert(format!("{} {p}", m.to_lowercase()));
                }
            }
        }
        t
    }

    fn percent(part: usize, whole: usize) -> f64 {
        if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
    }
}

/// Every operation of the native API and the system routes in the served document.
fn native_operations(doc: &Value) -> BTreeSet<String> {
    let include = regex::Regex::new(INCLUDE).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if include.is_match(path) {
            for method in item.as_object().unwrap().keys() {
                ops.insert(format!("{method} {path}"));
            }
        }
    }
    ops
}

async fn fuzz(backend: Backend, label: &str) {
    let bin = schemathesis_bin().await;
    let t = TestServer::with(backend, config(0, 0.0)).await;
    // The bootstrap key's own limit (100/s) would turn much of the run into 429s.
    let (s, _, b) = t.call(Method::PATCH, &format!("/v1/api-keys/{}", t.access_key), Some(json!({"rate_limit": 1_000_000}))).await;
    assert_eq!(s, 200, "{b}");
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let expected = native_operations(&doc);
    assert!(expected.len() >= 45, "{expected:?}");

    let dir = tempfile::tempdir().unwrap();
    let (hooks, config_file, report) = (dir.path().join("hooks.py"), dir.path().join("schemathesis.toml"), dir.path().join("report.ndjson"));
    std::fs::write(&hooks, HOOKS).unwrap();
    let config = format!("hooks = {:?}\n\n[headers]\nAuthorization = \"Bearer ${{DBCLOUD_FUZZ_TOKEN}}\"\n", hooks.display().to_string());
    std::fs::write(&config_file, config).unwrap();
    let (examples, seed) = (env_or("DBCLOUD_SCHEMATHESIS_EXAMPLES", 20), env_or("DBCLOUD_SCHEMATHESIS_SEED", 1));
    let started = Instant::now();
    let (ok, out, err) = run(
        Command::new(&bin)
            .arg("--config-file")
            .arg(&config_file)
            .args(["--no-color", "run", &format!("{}/openapi.json", t.url), "--include-path-regex", INCLUDE, "--checks", CHECKS])
            .args(["--max-examples", &examples.to_string(), "--workers", "1", "--seed", &seed.to_string()])
            .args(["--report", "ndjson", "--report-ndjson-path"])
            .arg(&report)
            .current_dir(dir.path())
            .env("DBCLOUD_FUZZ_TOKEN", &t.token)
            .env("DBCLOUD_PROTECTED_IDS", format!("{}={NO_SUCH_KEY}", t.access_key))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        900,
    )
    .await;
    let elapsed = started.elapsed();
    assert!(ok, "schemathesis found failures on {label} (seed {seed}):\n{out}\n{err}");

    let tally = Tally::read(&std::fs::read_to_string(&report).unwrap());
    // Written past the test harness's capture, so `scripts/test` shows the figures.
    let figures = format!(
        "schemathesis on {label}: {} requests in {:.0} s, {} answered 2xx ({:.1}%); positive-mode requests {} of which {} 2xx ({:.1}%); by status {:?}\n",
        tally.requests,
        elapsed.as_secs_f64(),
        tally.success,
        Tally::percent(tally.success, tally.requests),
        tally.positive,
        tally.positive_success,
        Tally::percent(tally.positive_success, tally.positive),
        tally.by_status,
    );
    std::io::Write::write_all(&mut std::io::stderr(), figures.as_bytes()).unwrap();
    let untested: Vec<_> = expected.iter().filter(|op| !tally.operations.contains(*op)).collect();
    assert!(untested.is_empty(), "schemathesis sent nothing to {untested:?}");
    assert!(tally.by_status.keys().all(|s| *s < 500), "{:?}", tally.by_status);
    // The document lets a fuzzer through: most requests it calls valid are valid (before the
    // document told the truth, 2–3% of all requests passed validation).
    assert!(Tally::percent(tally.positive_success, tally.positive) >= 30.0, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_api_conforms_to_its_openapi_document_on_sqlite() {
    fuzz(Backend::Sqlite, "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_api_conforms_to_its_openapi_document_on_postgres() {
    fuzz(Backend::Postgres, "PostgreSQL").await;
}
