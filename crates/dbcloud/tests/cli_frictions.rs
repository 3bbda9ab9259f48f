//! What a new user of the command-line client runs into: exit codes of usage errors, a
//! server that is not there, waiting for an update, a second server's profile, log format.

mod common;

use common::Proc;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn dbcloud(cfg: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dbcloud"));
    c.args(args).env("DBCLOUD_CONFIG_DIR", cfg).env("COLUMNS", "200").stdin(Stdio::null());
    for v in ["DBCLOUD_URL", "DBCLOUD_PROFILE", "DBCLOUD_ACCESS_KEY", "DBCLOUD_SECRET"] {
        c.env_remove(v);
    }
    let o = c.output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

fn server(data: &Path, cfg: &Path, step_ms: &str) -> Proc {
    let cfg = cfg.to_str().unwrap();
    Proc::spawn(data, None, &[("DBCLOUD_PROVISION_STEP_MS", step_ms), ("DBCLOUD_NO_CLIENT_PROFILE", "false"), ("DBCLOUD_CONFIG_DIR", cfg)])
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let cfg = tempfile::tempdir().unwrap();
    let (code, _, err) = dbcloud(cfg.path(), &["clusters", "create", "--provider", "aws"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Usage"), "{err}");
    let (code, _, err) = dbcloud(cfg.path(), &["clusters", "frobnicate"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = dbcloud(cfg.path(), &["clusters", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
    assert_eq!(dbcloud(cfg.path(), &["--version"]).0, 0);
}

#[test]
fn an_unreachable_server_is_one_line_naming_the_url_and_the_profile() {
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("config.toml"),
        "default_profile = \"dev\"\n[profiles.dev]\nurl = \"http://127.0.0.1:1\"\naccess_key = \"dbc_AAAAAAAAAAAAAAAAAAAAAA\"\nsecret = \"s\"\nauth = \"bearer\"\n",
    )
    .unwrap();
    let (code, _, err) = dbcloud(cfg.path(), &["clusters", "list"]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("http://127.0.0.1:1") && err.contains("profile `dev`") && err.contains("no server is running there"), "{err}");
    let (_, _, err) = dbcloud(cfg.path(), &["--url", "http://127.0.0.1:1", "clouds", "list"]);
    assert!(err.contains("(from --url)"), "{err}");
}

#[test]
fn update_waits_for_the_scale_and_a_second_server_keeps_the_first_profile() {
    let (data, cfg) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = server(data.path(), cfg.path(), "150");
    let (code, _, err) =
        dbcloud(cfg.path(), &["clusters", "create", "--name", "orders", "--provider", "aws", "--region", "us-east-1", "--nodes", "3", "--wait"]);
    assert_eq!(code, 0, "{err}");
    // --wait: the command returns once the scale has finished.
    let (code, out, err) = dbcloud(cfg.path(), &["clusters", "update", "orders", "--nodes", "5", "--wait", "--timeout", "60", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let cluster: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cluster["node_count"], 5, "{cluster}");
    assert_eq!(cluster["nodes"].as_array().unwrap().len(), 5, "{cluster}");
    let (_, ops, _) = dbcloud(cfg.path(), &["clusters", "operations", "orders", "-o", "json"]);
    let ops: Value = serde_json::from_str(&ops).unwrap();
    assert!(ops.as_array().unwrap().iter().all(|o| o["status"] == "SUCCEEDED"), "{ops}");
    // A rename has no operation: --wait returns at once.
    let (code, out, err) = dbcloud(cfg.path(), &["clusters", "update", "orders", "--name", "orders-2", "--wait", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["cluster"]["name"], "orders-2", "{out}");

    // A second server with another data directory: profile `local` still points at the first.
    let data2 = tempfile::tempdir().unwrap();
    let second = server(data2.path(), cfg.path(), "0");
    std::thread::sleep(Duration::from_millis(300));
    let config = std::fs::read_to_string(cfg.path().join("config.toml")).unwrap();
    let config: toml::Value = toml::from_str(&config).unwrap();
    assert_eq!(config["profiles"]["local"]["url"].as_str(), Some(first.url.as_str()), "{config}");
    assert_eq!(config["profiles"]["local-2"]["url"].as_str(), Some(second.url.as_str()), "{config}");
    assert_eq!(config["default_profile"].as_str(), Some("local"));
    let said = second.log.lock().unwrap().join("\n");
    assert!(said.contains("already points to") && said.contains("`local-2`"), "{said}");
    let (code, out, err) = dbcloud(cfg.path(), &["--profile", "local-2", "clusters", "list", "-o", "json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    second.kill();
    first.kill();
}

#[test]
fn logs_are_json_when_not_written_to_a_terminal() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbcloud"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("DBCLOUD_NO_CLIENT_PROFILE", "true")
        .env_remove("DBCLOUD_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok);
    let log = lines.take_while(|l| !l.contains("listening on")).find(|l| l.starts_with('{'));
    let _ = child.kill();
    let _ = child.wait();
    let line = log.expect("a JSON log line before the listening message");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(v["level"].is_string() && v["fields"].is_object(), "{v}");
}
