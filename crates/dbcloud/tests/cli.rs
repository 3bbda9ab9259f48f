//! The command-line client, run as a real process against a real server on loopback.

mod common;

use common::{Proc, credentials};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    data: tempfile::TempDir,
    cfg: tempfile::TempDir,
    server: Option<Proc>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

fn run_of(o: Output) -> Run {
    Run { code: o.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dbcloud")
}

impl Env {
    /// A server whose bootstrap writes profile `local` into a fresh config directory.
    fn start(step_ms: &str) -> Env {
        let data = tempfile::tempdir().unwrap();
        let cfg = tempfile::tempdir().unwrap();
        let cfg_s = cfg.path().to_str().unwrap().to_string();
        let server =
            Proc::spawn(data.path(), None, &[("DBCLOUD_PROVISION_STEP_MS", step_ms), ("DBCLOUD_NO_CLIENT_PROFILE", "false"), ("DBCLOUD_CONFIG_DIR", &cfg_s)]);
        Env { data, cfg, server: Some(server) }
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url.clone()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args).env("DBCLOUD_CONFIG_DIR", self.cfg.path()).env("COLUMNS", "200");
        for v in ["DBCLOUD_URL", "DBCLOUD_PROFILE", "DBCLOUD_ACCESS_KEY", "DBCLOUD_SECRET"] {
            c.env_remove(v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run_of(self.cmd(args).stdin(Stdio::null()).output().unwrap())
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?} failed: {}\n{}", r.stderr, r.stdout);
        r
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        run_of(child.wait_with_output().unwrap())
    }

    fn config_file(&self) -> PathBuf {
        self.cfg.path().join("config.toml")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.kill();
        }
    }
}

/// The id of the project named `name`.
fn created_project(env: &Env, name: &str) -> String {
    let list = env.ok(&["projects", "list", "-o", "json"]).json();
    list.as_array().unwrap().iter().find(|p| p["name"] == name).and_then(|p| p["id"].as_str()).unwrap().to_string()
}

/// The header row and the data rows of a table, as trimmed cells.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines().filter(|l| l.contains('│')).map(|l| l.trim_matches('│').split(['┆', '│']).map(|c| c.trim().to_string()).collect()).collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a Vec<String> {
    rows.iter().find(|r| r.first().map(String::as_str) == Some(first)).unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

#[test]
fn seed_000_tasks_through_the_cli() {
    let env = Env::start("0");
    assert!(env.config_file().exists(), "bootstrap wrote the profile");
    env.ok(&["clouds", "create", "--name", "aws-east", "--provider", "aws", "--region", "us-east-1", "--cidr", "10.10.0.0/16"]);
    env.ok(&["projects", "create", "--name", "shop", "--description", "web shop"]);

    // 1. clouds list: Name, ID, Provider, Region.
    let t = table(&env.ok(&["clouds", "list"]).stdout);
    assert_eq!(t[0], ["Name", "ID", "Provider", "Region"]);
    let cloud = row(&t, "aws-east").clone();
    assert_eq!((cloud[2].as_str(), cloud[3].as_str()), ("aws", "us-east-1"));
    let cloud_id = cloud[1].clone();

    // 2. cloud get: every field.
    let t = table(&env.ok(&["clouds", "get", &cloud_id]).stdout);
    for f in ["id", "name", "provider", "region", "virtual_network_cidr", "cluster_count", "created_at", "updated_at", "organization_id"] {
        row(&t, f);
    }
    assert_eq!(row(&t, "virtual_network_cidr")[1], "10.10.0.0/16");

    // 6. cluster create --wait (names resolve to ids).
    let created = env
        .ok(&["clusters", "create", "--name", "orders", "--project", "shop", "--cloud", "aws-east", "--nodes", "3", "--wait", "--timeout", "60", "-o", "json"])
        .json();
    assert_eq!(created["state"], "CREATED", "{created}");
    let cluster_id = created["id"].as_str().unwrap().to_string();
    env.ok(&["clusters", "buckets", "add", "orders", "travel-sample", "--memory-quota-mb", "256"]);
    env.ok(&["clusters", "buckets", "add", &cluster_id, "beer-sample"]);

    // 3. clusters list: Name, ID, State, Project, Cloud, Nodes, Buckets — project and cloud by name.
    let t = table(&env.ok(&["clusters", "list"]).stdout);
    assert_eq!(t[0], ["Name", "ID", "State", "Project", "Cloud", "Nodes", "Buckets"]);
    assert_eq!(row(&t, "orders")[1..], [cluster_id.clone(), "CREATED".into(), "shop".into(), "aws-east".into(), "3".into(), "2".into()]);

    // 4. cluster get: every field; name, id and state first; project and cloud by name and id.
    let t = table(&env.ok(&["clusters", "get", "orders"]).stdout);
    let fields: Vec<&str> = t[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(fields[..5], ["name", "id", "state", "project", "cloud"], "{t:?}");
    for f in ["node_count", "nodes", "endpoints", "bucket_count", "plan", "version"] {
        row(&t, f);
    }
    assert_eq!(row(&t, "state")[1], "CREATED");
    let project_id = created_project(&env, "shop");
    assert_eq!(row(&t, "project")[1], format!("shop ({project_id})"));
    assert!(row(&t, "cloud")[1].starts_with("aws-east ("), "{t:?}");

    // 5. projects list: Name, ID.
    let t = table(&env.ok(&["projects", "list"]).stdout);
    assert_eq!(t[0], ["Name", "ID"]);
    row(&t, "shop");
    row(&t, "default");

    // 7. users add --access readwrite: the password is returned once.
    let user = env.ok(&["clusters", "users", "add", "orders", "--name", "app", "--access", "readwrite", "-o", "json"]).json();
    assert_eq!(user["access"], "readwrite");
    assert!(user["password"].as_str().unwrap().len() >= 12);
    let t = table(&env.ok(&["clusters", "users", "list", "orders"]).stdout);
    assert_eq!(row(&t, "app")[2], "readwrite");

    // 8. allowlist add.
    let entry = env.ok(&["clusters", "allowlist", "add", "orders", "203.0.113.0/24", "--comment", "office", "-o", "json"]).json();
    assert_eq!(entry["cidr"], "203.0.113.0/24");
    assert_eq!(entry["comment"], "office");
    let t = table(&env.ok(&["clusters", "allowlist", "list", "orders"]).stdout);
    assert_eq!(row(&t, "203.0.113.0/24")[2], "office");

    let ops = env.ok(&["clusters", "operations", "orders", "-o", "json"]).json();
    assert_eq!(ops[0]["kind"], "create");

    // 9. cluster delete --yes --wait.
    let r = env.ok(&["clusters", "delete", "orders", "--yes", "--wait", "--timeout", "60"]);
    assert!(r.stdout.contains("deleted"), "{}", r.stdout);
    assert_eq!(env.ok(&["clusters", "get", &cluster_id, "-o", "json"]).json()["state"], "DELETED");
    assert!(!env.ok(&["clusters", "list"]).stdout.contains("orders"), "a deleted cluster leaves the default list");
}

#[test]
fn json_and_yaml_output_are_the_api_objects() {
    let env = Env::start("0");
    env.ok(&["clusters", "create", "--name", "json-one", "--provider", "aws", "--region", "us-east-1", "--wait"]);
    let list = env.ok(&["clusters", "list", "--output", "json"]).json();
    let items = list.as_array().expect("an array of clusters");
    assert_eq!(items.len(), 1);
    for k in ["id", "name", "project_id", "cloud_id", "bucket_count", "state", "nodes"] {
        assert!(items[0].get(k).is_some(), "{k} in {}", items[0]);
    }
    let clouds = env.ok(&["clouds", "list", "-o", "json"]).json();
    assert_eq!(clouds.as_array().unwrap().len(), 1, "an implicit cloud for aws/us-east-1");
    let one = env.ok(&["projects", "get", "default", "-o", "json"]).json();
    assert_eq!(one["name"], "default");
    let yaml = env.ok(&["projects", "list", "-o", "yaml"]).stdout;
    assert!(yaml.contains("name: default"), "{yaml}");
    let regions = env.ok(&["regions", "list", "--provider", "gcp", "-o", "json"]).json();
    assert!(regions.as_array().unwrap().iter().all(|r| r["provider"] == "gcp"));
    let org = env.ok(&["api", "GET", "/v1/organization"]).json();
    assert!(org["id"].is_string());
    let p = env.run_stdin(&["api", "POST", "/v1/projects", "-"], r#"{"name":"via-api"}"#);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(p.json()["name"], "via-api");
}

#[test]
fn errors_map_to_exit_codes_with_one_line_and_the_request_id() {
    let env = Env::start("0");
    // 404 → 4
    let r = env.run(&["clusters", "get", "00000000-0000-0000-0000-000000000000"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: ") && r.stderr.contains("(request id "), "{}", r.stderr);
    assert_eq!(env.run(&["clusters", "get", "no-such-cluster"]).code, 4);
    // bad key → 3
    let r = env.run(&["--access-key", "dbc_AAAAAAAAAAAAAAAAAAAAAA", "clouds", "list"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("request id"), "{}", r.stderr);
    let r = run_of(env.cmd(&["clouds", "list"]).env("DBCLOUD_SECRET", "wrong").output().unwrap());
    assert_eq!(r.code, 3, "{}", r.stderr);
    // validation → 2
    let r = env.run(&["clouds", "create", "--name", "x", "--provider", "aws", "--region", "us-east-1", "--cidr", "10.0.0.1/24"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cidr"), "{}", r.stderr);
    // usage: unknown profile, no configuration → 1
    assert_eq!(env.run(&["--profile", "nope", "clouds", "list"]).code, 1);
    let r = run_of(
        Command::new(bin()).args(["clouds", "list"]).env("DBCLOUD_CONFIG_DIR", env.data.path().join("empty")).env_remove("DBCLOUD_URL").output().unwrap(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    // network error → 6
    let r = env.run(&["--url", "http://127.0.0.1:1", "clouds", "list"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
}

#[test]
fn wait_times_out_with_exit_code_5() {
    let env = Env::start("3000");
    let r = env.run(&["clusters", "create", "--name", "slow", "--provider", "aws", "--region", "us-east-1", "--wait", "--timeout", "1"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
}

#[test]
fn delete_asks_for_the_name() {
    let env = Env::start("0");
    let created = env.ok(&["clusters", "create", "--name", "keep-me", "--provider", "aws", "--region", "us-east-1", "--wait", "-o", "json"]).json();
    let id = created["id"].as_str().unwrap().to_string();
    // stdin piped (not a terminal) and no --yes: refused, nothing deleted.
    let r = env.run_stdin(&["clusters", "delete", "keep-me"], "keep-me\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(env.ok(&["clusters", "get", "keep-me", "-o", "json"]).json()["state"], "CREATED");

    // A real pseudo-terminal through util-linux `script`, when installed.
    if !Path::new("/usr/bin/script").exists() {
        return;
    }
    let pty = |answer: &str| {
        let line = format!("{} clusters delete keep-me", bin());
        let mut c = Command::new("/usr/bin/script");
        c.args(["-qec", &line, "/dev/null"]).env("DBCLOUD_CONFIG_DIR", env.cfg.path());
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        run_of(out)
    };
    let r = pty("wrong-name");
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("did not match"), "{}", r.stdout);
    assert_eq!(env.ok(&["clusters", "get", "keep-me", "-o", "json"]).json()["state"], "CREATED");
    let r = pty("keep-me");
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("Type the cluster's name"), "{}", r.stdout);
    let state = env.ok(&["clusters", "get", &id, "-o", "json"]);
    assert!(matches!(state.json()["state"].as_str(), Some("DELETING" | "DELETED")));
}

#[test]
fn profiles_auth_forms_and_help() {
    let env = Env::start("0");
    let creds = credentials(env.data.path());
    let (ak, secret) = (creds["access_key"].as_str().unwrap(), creds["secret"].as_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(env.config_file()).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // --secret as a flag warns; the profile is written 0600 and never shown with its secret.
    let r = env.ok(&["profile", "add", "signed", "--url", &env.url(), "--access-key", ak, "--secret", secret, "--auth", "hmac"]);
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(env.config_file()).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let r = run_of(
        env.cmd(&["profile", "add", "basic", "--url", &env.url(), "--access-key", ak, "--auth", "basic"]).env("DBCLOUD_SECRET", secret).output().unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "no warning for the environment variable");
    for args in [&["profile", "list"][..], &["profile", "show", "signed"], &["profile", "show"], &["profile", "show", "basic", "-o", "json"]] {
        let r = env.ok(args);
        assert!(!r.stdout.contains(secret), "{args:?} printed the secret");
    }
    assert!(env.ok(&["profile", "list"]).stdout.contains("signed"));
    // HMAC and Basic profiles work; flags win over the profile.
    env.ok(&["--profile", "signed", "projects", "list"]);
    env.ok(&["--profile", "basic", "projects", "list"]);
    env.ok(&["profile", "use", "signed"]);
    assert_eq!(env.ok(&["profile", "show", "-o", "json"]).json()["name"], "signed");
    env.ok(&["clouds", "list"]);
    let r = run_of(env.cmd(&["--auth", "bearer", "clouds", "list"]).env("DBCLOUD_PROFILE", "basic").output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.run(&["--url", "http://127.0.0.1:1", "clouds", "list"]).code, 6, "--url wins over the profile");
    assert_eq!(env.run(&["profile", "use", "missing"]).code, 1);
    // Non-interactive add without a secret is refused.
    assert_eq!(env.run(&["profile", "add", "x", "--url", "http://h", "--access-key", ak]).code, 1);

    // Completions and examples in the help of every command.
    for shell in ["bash", "zsh", "fish"] {
        let r = env.ok(&["completions", shell]);
        assert!(r.stdout.contains("clusters"), "{shell}");
    }
    for cmd in [
        &["clusters", "--help"][..],
        &["clusters", "create", "--help"],
        &["clusters", "users", "add", "--help"],
        &["clouds", "list", "--help"],
        &["api-keys", "rotate", "--help"],
        &["api", "--help"],
    ] {
        assert!(env.ok(cmd).stdout.contains("Example"), "{cmd:?}");
    }
}

#[test]
fn identity_commands() {
    let env = Env::start("0");
    let key = env.ok(&["api-keys", "create", "--name", "ci", "--org-role", "organizationMember", "-o", "json"]).json();
    let id = key["id"].as_str().unwrap().to_string();
    assert!(key["secret"].is_string());
    let t = table(&env.ok(&["api-keys", "list"]).stdout);
    row(&t, "ci");
    env.ok(&["api-keys", "rename", &id, "--name", "ci-2"]);
    assert_eq!(env.ok(&["api-keys", "get", &id, "-o", "json"]).json()["name"], "ci-2");
    let rotated = env.ok(&["api-keys", "rotate", &id, "-o", "json"]).json();
    assert_ne!(rotated["secret"], key["secret"]);
    env.ok(&["api-keys", "revoke", &id]);
    assert_eq!(env.ok(&["api-keys", "get", &id, "-o", "json"]).json()["state"], "REVOKED");

    let sa = env.ok(&["service-accounts", "create", "--name", "deployer", "--role", "READ", "-o", "json"]).json();
    let sa_id = sa["id"].as_str().unwrap().to_string();
    row(&table(&env.ok(&["service-accounts", "list"]).stdout), "deployer");
    let grant = env.ok(&["roles", "grant", "--principal-type", "service_account", "--principal-id", &sa_id, "--role", "EDIT", "-o", "json"]).json();
    let grants = env.ok(&["roles", "list", "--principal-type", "service_account", "--principal-id", &sa_id, "-o", "json"]).json();
    assert!(grants.as_array().unwrap().iter().any(|g| g["id"] == grant["id"]));
    env.ok(&["roles", "revoke", grant["id"].as_str().unwrap()]);
    env.ok(&["service-accounts", "delete", "deployer"]);
    let audit = env.ok(&["audit", "list", "--limit", "5", "-o", "json"]).json();
    assert!(!audit.as_array().unwrap().is_empty());
    assert!(audit.as_array().unwrap().len() <= 5);
}

#[test]
fn get_requests_answered_429_are_retried_after_retry_after() {
    let env = Env::start("0");
    let key = env.ok(&["api-keys", "create", "--name", "slow", "--org-role", "organizationOwner", "--rate-limit", "1", "-o", "json"]).json();
    let (ak, secret) = (key["id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    let started = std::time::Instant::now();
    // `clusters list` sends three GETs at once: a key limited to 1 request/s gets 429s and waits.
    for _ in 0..2 {
        let r = run_of(env.cmd(&["--access-key", ak, "clusters", "list"]).env("DBCLOUD_SECRET", secret).output().unwrap());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("Buckets"));
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "the retries waited for Retry-After");
}
