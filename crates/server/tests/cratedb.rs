//! CrateDB Cloud API v2 dialect (`/api/v2/`): seed 002's curl and the real `croud` CLI.

mod common;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// Runs a command with a timeout; returns exit success, stdout and stderr.
async fn run(cmd: &mut Command, secs: u64) -> (bool, String, String) {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(secs), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s: {cmd:?}"))
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Seed 002: `curl -s -u KEY:SECRET $URL/api/v2/users/me` answers the user, and sets no cookie.
#[tokio::test]
async fn seed_002_curl_users_me() {
    let t = TestServer::start().await;
    let (ok, out, err) =
        run(Command::new("curl").args(["-s", "-i", "-u", &format!("{}:{}", t.access_key, t.secret), &format!("{}/api/v2/users/me", t.url)]), 30).await;
    assert!(ok, "curl failed: {err}");
    let (head, body) = out.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    for k in ["uid", "email", "username", "name", "is_superuser", "status", "organization_id", "organization_roles", "project_roles"] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["organization_id"], t.org.as_str());
    assert_eq!(v["organization_roles"][0]["role_fqn"], "org_admin");

    // Wrong secret: 401 in the vendor shape; unknown paths: 404 JSON.
    let r = t.http.get(format!("{}/api/v2/users/me/", t.url)).basic_auth(&t.access_key, Some("wrong")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"message": "Authentication required.", "success": false}));
    let r = t.http.get(format!("{}/api/v2/nothing/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `target/croud-venv/bin/croud`, installed on first use (once, whichever test asks first;
/// the others wait for it).
async fn croud_bin() -> PathBuf {
    static INSTALLED: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    INSTALLED.get_or_init(install_croud).await.clone()
}

async fn install_croud() -> PathBuf {
    let venv = workspace().join("target/croud-venv");
    let bin = venv.join("bin/croud");
    if !bin.exists() {
        let (ok, out, err) = run(Command::new("python3").args(["-m", "venv"]).arg(&venv), 300).await;
        assert!(ok, "python3 -m venv failed:\n{out}\n{err}");
        let (ok, out, err) = run(Command::new(venv.join("bin/pip")).args(["install", "-q", "croud==1.15.0"]), 600).await;
        assert!(ok, "pip install croud==1.15.0 failed:\n{out}\n{err}");
    }
    assert!(bin.exists(), "croud not installed at {}", bin.display());
    bin
}

struct Croud {
    bin: PathBuf,
    config_home: tempfile::TempDir,
}

impl Croud {
    /// Runs croud; asserts exit 0 and no error text; returns the JSON on stdout.
    async fn json(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("XDG_CONFIG_HOME", self.config_home.path()).env_remove("CRATEDB_CLOUD_API_KEY").env_remove("CRATEDB_CLOUD_API_SECRET");
        let (ok, out, err) = run(&mut cmd, 60).await;
        assert!(ok, "croud {args:?} exited non-zero\nstdout: {out}\nstderr: {err}");
        for bad in ["Error", "Unauthorized", "Traceback", "Failed"] {
            assert!(!err.contains(bad) && !out.contains(bad), "croud {args:?}: {bad}\nstdout: {out}\nstderr: {err}");
        }
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("croud {args:?}: {e}\nstdout: {out}\nstderr: {err}"))
    }

    /// Runs croud; asserts exit 0 and no error text; returns every JSON document on stdout
    /// (changes print the answer to the PUT, then the cluster re-read after polling) and stderr.
    async fn jsons(&self, args: &[&str]) -> (Vec<Value>, String) {
        let (out, err) = self.text(args).await;
        for bad in ["Unauthorized", "Failed", "Status: FAILED"] {
            assert!(!err.contains(bad), "croud {args:?}: {bad}\nstdout: {out}\nstderr: {err}");
        }
        let docs: Vec<Value> = serde_json::Deserializer::from_str(&out)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("croud {args:?}: {e}\nstdout: {out}\nstderr: {err}"));
        (docs, err)
    }

    /// Runs croud; asserts only exit 0 (API errors are printed, croud still exits 0).
    async fn text_any(&self, args: &[&str]) -> (String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("XDG_CONFIG_HOME", self.config_home.path());
        let (ok, out, err) = run(&mut cmd, 60).await;
        assert!(ok, "croud {args:?} exited non-zero\nstdout: {out}\nstderr: {err}");
        assert!(!err.contains("Traceback"), "croud {args:?}\nstdout: {out}\nstderr: {err}");
        (out, err)
    }

    /// Runs croud; asserts exit 0 and no error text; returns stdout and stderr.
    async fn text(&self, args: &[&str]) -> (String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("XDG_CONFIG_HOME", self.config_home.path());
        let (ok, out, err) = run(&mut cmd, 60).await;
        assert!(ok, "croud {args:?} exited non-zero\nstdout: {out}\nstderr: {err}");
        assert!(!err.contains("Error") && !err.contains("Traceback"), "croud {args:?}\nstdout: {out}\nstderr: {err}");
        (out, err)
    }
}

/// croud with a profile pointing at `t`, keyed with its owner key.
async fn croud_for(t: &TestServer) -> Croud {
    let bin = croud_bin().await;
    let config_home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config_home.path().join("Crate")).unwrap();
    let yaml = format!(
        "default-format: table\ncurrent-profile: dbcloud\nprofiles:\n  dbcloud:\n    endpoint: {}\n    key: {}\n    secret: {}\n    organization-id: {}\n    format: json\n",
        t.url, t.access_key, t.secret, t.org
    );
    std::fs::write(config_home.path().join("Crate/croud.yaml"), yaml).unwrap();
    Croud { bin, config_home }
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x[key].as_str().unwrap_or_default().to_string()).collect()
}

/// The real croud 1.15.0 against dbcloud: me, organizations, projects, clusters (deploy with
/// operation polling, get, delete), regions, products, users, subscriptions, API keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn croud_cli_end_to_end() {
    let t = TestServer::start().await;
    let c = croud_for(&t).await;

    let me = c.json(&["me"]).await;
    assert!(me["email"].as_str().is_some_and(|e| e.contains('@')), "{me}");
    assert_eq!(me["organization_id"], t.org.as_str());

    let orgs = c.json(&["organizations", "list"]).await;
    assert_eq!(orgs.as_array().unwrap().len(), 1, "{orgs}");
    assert_eq!(orgs[0]["id"], t.org.as_str());
    assert!(orgs[0]["plan_type"].is_number());

    let projects = c.json(&["projects", "list"]).await;
    let before = projects.as_array().unwrap().len();
    assert!(before >= 1, "the default project: {projects}");

    let p2 = c.json(&["projects", "create", "--name", "p2"]).await;
    let p2_id = p2["id"].as_str().unwrap_or_else(|| panic!("{p2}")).to_string();
    let projects = c.json(&["projects", "list"]).await;
    assert!(names(&projects, "name").contains(&"p2".to_string()), "{projects}");
    let got = c.json(&["projects", "get", &p2_id]).await;
    assert_eq!(got["organization_id"], t.org.as_str(), "{got}");
    let native = t.get(&format!("/v1/projects/{p2_id}")).await;
    assert_eq!(native["name"], "p2");

    let regions = c.json(&["regions", "list"]).await;
    assert!(names(&regions, "name").contains(&"aws.us-east-1".to_string()), "{regions}");
    let products = c.json(&["products", "list"]).await;
    assert_eq!(products[0]["name"], "cr4", "{products}");
    assert_eq!(products[0]["tier"], "default");

    let clusters = c.json(&["clusters", "list"]).await;
    assert_eq!(clusters, serde_json::json!([]));

    let deployed = c
        .json(&[
            "clusters",
            "deploy",
            "--product-name",
            "cr4",
            "--tier",
            "default",
            "--unit",
            "2",
            "--cluster-name",
            "crate1",
            "--version",
            "5.9.2",
            "--username",
            "admin",
            "--password",
            "a-very-long-password-0123456789",
            "--subscription-id",
            "free_tier",
            "--project-id",
            &p2_id,
        ])
        .await;
    let cl_id = deployed["id"].as_str().unwrap_or_else(|| panic!("{deployed}")).to_string();
    assert_eq!(deployed["name"], "crate1");
    assert!(deployed["fqdn"].as_str().is_some_and(|f| f.ends_with('.')), "{deployed}");
    assert!(deployed["url"].as_str().is_some_and(|u| u.starts_with("https://")), "{deployed}");

    let got = c.json(&["clusters", "get", &cl_id]).await;
    assert_eq!(got["num_nodes"], 3, "{got}");
    assert_eq!(got["project_id"], p2_id.as_str());
    assert_eq!(got["crate_version"], "5.9.2");
    assert_eq!(got["health"]["status"], "GREEN", "{got}");
    let native = t.get(&format!("/v1/clusters/{cl_id}")).await;
    assert_eq!(native["state"], "CREATED", "{native}");
    assert_eq!(native["node_count"], 3);

    let listed = c.json(&["clusters", "list"]).await;
    assert_eq!(names(&listed, "id"), vec![cl_id.clone()]);
    let listed = c.json(&["clusters", "list", "--project-id", &p2_id]).await;
    assert_eq!(names(&listed, "id"), vec![cl_id.clone()]);

    let (st, _) = t.post("/v1/users", serde_json::json!({"email": "ada@example.com", "name": "Ada", "roles": ["organizationMember"]})).await;
    assert_eq!(st, 201);
    let users = c.json(&["users", "list"]).await;
    let ada = users.as_array().unwrap().iter().find(|u| u["email"] == "ada@example.com").unwrap_or_else(|| panic!("{users}"));
    assert_eq!(ada["organization_roles"][0]["role_fqn"], "org_member", "{users}");
    assert_eq!(ada["organization_roles"][0]["organization_id"], t.org.as_str());
    let members = c.json(&["organizations", "users", "list"]).await;
    assert!(names(&members, "email").contains(&"ada@example.com".to_string()), "{members}");
    let roles = c.json(&["users", "roles", "list"]).await;
    assert!(names(&roles, "id").contains(&"org_admin".to_string()), "{roles}");
    let org = c.json(&["organizations", "get", &t.org]).await;
    assert_eq!(org["id"], t.org.as_str());
    let sub = c.json(&["subscriptions", "get", "free_tier"]).await;
    assert_eq!(sub["state"], "active", "{sub}");
    let subs = c.json(&["subscriptions", "list"]).await;
    assert_eq!(subs[0]["organization_id"], t.org.as_str(), "{subs}");
    assert_eq!(subs[0]["state"], "active");
    let keys = c.json(&["api-keys", "list"]).await;
    assert!(names(&keys, "key").contains(&t.access_key), "{keys}");

    // Deploy into a new project named after the cluster, in a given region.
    let second = c
        .json(&[
            "clusters",
            "deploy",
            "--product-name",
            "cr4",
            "--tier",
            "default",
            "--cluster-name",
            "crate2",
            "--version",
            "5.9.2",
            "--username",
            "admin",
            "--password",
            "a-very-long-password-0123456789",
            "--subscription-id",
            &t.org,
            "--org-id",
            &t.org,
            "--region",
            "gcp.europe-west1",
        ])
        .await;
    assert_eq!(second["num_nodes"], 1, "{second}");
    let projects = c.json(&["projects", "list"]).await;
    assert!(names(&projects, "name").contains(&"crate2".to_string()), "{projects}");
    let native = t.get(&format!("/v1/clusters/{}", second["id"].as_str().unwrap())).await;
    assert_eq!(native["state"], "CREATED", "{native}");
    let cloud = t.get(&format!("/v1/clouds/{}", native["cloud_id"].as_str().unwrap())).await;
    assert_eq!(cloud["region"], "europe-west1", "{cloud}");

    // Bad deploys answer 400 with per-field errors (croud prints them and exits 0).
    let r = t
        .http
        .post(format!("{}/api/v2/organizations/{}/clusters/", t.url, t.org))
        .basic_auth(&t.access_key, Some(&t.secret))
        .json(&serde_json::json!({"cluster": {"name": "x", "product_name": "nope", "product_tier": "default", "username": "a", "password": "short"},
            "subscription_id": "free_tier", "project_id": p2_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], false);
    for f in ["cluster.password", "cluster.product_name", "cluster.name"] {
        assert!(v["errors"][f].is_array(), "{f}: {v}");
    }

    // Changes: each answers the cluster, croud polls the operation to SUCCEEDED and re-reads.
    let (docs, err) = c.jsons(&["clusters", "scale", "--cluster-id", &cl_id, "--unit", "3"]).await;
    assert!(err.contains("Operation completed."), "{err}");
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[1]["num_nodes"], 4, "{docs:?}");
    let native = t.get(&format!("/v1/clusters/{cl_id}")).await;
    assert_eq!((native["node_count"].clone(), native["state"].clone()), (serde_json::json!(4), serde_json::json!("CREATED")), "{native}");

    let (docs, err) = c.jsons(&["clusters", "upgrade", "--cluster-id", &cl_id, "--version", "5.10.1"]).await;
    assert!(err.contains("Operation completed."), "{err}");
    assert_eq!(docs.last().unwrap()["crate_version"], "5.10.1", "{docs:?}");
    assert_eq!(t.get(&format!("/v1/clusters/{cl_id}")).await["version"], "5.10.1");

    let (docs, err) = c.jsons(&["clusters", "set-ip-whitelist", "--cluster-id", &cl_id, "--net", "10.1.0.0/16,192.0.2.7", "--yes"]).await;
    assert!(err.contains("Operation completed."), "{err}");
    let mut shown: Vec<String> = docs.last().unwrap()["ip_whitelist"].as_array().unwrap().iter().map(|e| e["cidr"].as_str().unwrap().to_string()).collect();
    shown.sort();
    assert_eq!(shown, ["10.1.0.0/16", "192.0.2.7/32"], "{docs:?}");
    let mut native: Vec<String> = names(&t.get(&format!("/v1/clusters/{cl_id}/allowlist")).await["items"], "cidr");
    native.sort();
    assert_eq!(native, shown);
    let (docs, _) = c.jsons(&["clusters", "set-ip-whitelist", "--cluster-id", &cl_id, "--net", "172.16.0.0/12", "--yes"]).await;
    assert_eq!(docs.last().unwrap()["ip_whitelist"], serde_json::json!([{"cidr": "172.16.0.0/12", "description": ""}]), "{docs:?}");
    assert_eq!(names(&t.get(&format!("/v1/clusters/{cl_id}/allowlist")).await["items"], "cidr"), ["172.16.0.0/12"]);

    let (docs, err) = c.jsons(&["clusters", "set-suspended-state", "--cluster-id", &cl_id, "--value", "true"]).await;
    assert!(err.contains("Operation completed."), "{err}");
    assert_eq!(docs.last().unwrap()["suspended"], true, "{docs:?}");
    let got = c.json(&["clusters", "get", &cl_id]).await;
    assert_eq!(got["health"]["status"], "SUSPENDED", "{got}");
    assert_eq!(t.get(&format!("/v1/clusters/{cl_id}")).await["attributes"]["suspended"], true);
    // A suspended cluster cannot be scaled: croud prints the 409 and exits 0; nothing changes.
    let (out, err) = c.text_any(&["clusters", "scale", "--cluster-id", &cl_id, "--unit", "1"]).await;
    assert!(err.contains("==> Error:") && err.contains("suspended"), "{out}\n{err}");
    assert_eq!(t.get(&format!("/v1/clusters/{cl_id}")).await["node_count"], 4);
    let (docs, _) = c.jsons(&["clusters", "set-suspended-state", "--cluster-id", &cl_id, "--value", "false"]).await;
    assert_eq!(docs.last().unwrap()["suspended"], false, "{docs:?}");
    assert_eq!(t.get(&format!("/v1/clusters/{cl_id}")).await["attributes"]["suspended"], false);
    let ops = c.json(&["clusters", "get", &cl_id]).await;
    assert_eq!(ops["last_async_operation"]["type"], "SUSPEND", "{ops}");
    assert!(ops["health"].get("running_operation").is_none(), "idle: no running operation: {ops}");

    // Projects and organization edits.
    let edited = c.json(&["projects", "edit", "--project-id", &p2_id, "--name", "p2-renamed"]).await;
    assert_eq!(edited["name"], "p2-renamed", "{edited}");
    assert_eq!(t.get(&format!("/v1/projects/{p2_id}")).await["name"], "p2-renamed");
    let p3 = c.json(&["projects", "create", "--name", "p3"]).await;
    let p3_id = p3["id"].as_str().unwrap().to_string();
    let (_, err) = c.text(&["projects", "delete", "--project-id", &p3_id, "--yes"]).await;
    assert!(err.contains("Project deleted."), "{err}");
    let (status, _, _) = t.call(Method::GET, &format!("/v1/projects/{p3_id}"), None).await;
    assert_eq!(status, 404);
    let (_, err) = c.text_any(&["projects", "delete", "--project-id", &p2_id, "--yes"]).await;
    assert!(err.contains("==> Error:"), "a project with clusters stays: {err}");
    assert_eq!(t.get(&format!("/v1/projects/{p2_id}")).await["name"], "p2-renamed");
    let org = c.json(&["organizations", "edit", "--name", "crate-org", "--plan-type", "5"]).await;
    assert_eq!((org["name"].clone(), org["plan_type"].clone()), (serde_json::json!("crate-org"), serde_json::json!(5)), "{org}");
    let native = t.get("/v1/organization").await;
    assert_eq!(native["name"], "crate-org", "{native}");
    assert_eq!(native["attributes"]["plan_type"], 5, "{native}");

    // API keys: the secret is shown once, the key works, delete revokes it at once.
    let made = c.json(&["api-keys", "create"]).await;
    let (key, secret) = (made["key"].as_str().unwrap().to_string(), made["secret"].as_str().unwrap().to_string());
    assert_eq!(made["active"], true, "{made}");
    let r = t.http.get(format!("{}/api/v2/clusters/", t.url)).basic_auth(&key, Some(&secret)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let keys = c.json(&["api-keys", "list"]).await;
    assert!(names(&keys, "key").contains(&key), "{keys}");
    assert!(keys.as_array().unwrap().iter().all(|k| k.get("secret").is_none()), "{keys}");
    let (_, err) = c.text(&["api-keys", "delete", "--api-key", &key]).await;
    assert!(err.contains("API key deleted."), "{err}");
    let r = t.http.get(format!("{}/api/v2/clusters/", t.url)).basic_auth(&key, Some(&secret)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.get(&format!("/v1/api-keys/{key}")).await["state"], "REVOKED");

    // The audit log: croud pages with `last` until an empty page, so this returns at all.
    let logs = c.json(&["organizations", "auditlogs", "list"]).await;
    let actions = names(&logs, "action");
    for a in ["cluster.upgrade", "cluster.suspend", "cluster.resume", "allowlist.replace", "apikey.revoke", "organization.update"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    assert!(logs.as_array().unwrap().iter().all(|e| e["actor"].get("id").is_some()), "{logs}");
    let ids: Vec<String> = names(&logs, "id");
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ids, sorted, "newest first");
    let only = c.json(&["organizations", "auditlogs", "list", "--action", "cluster.upgrade"]).await;
    assert_eq!(names(&only, "action"), ["cluster.upgrade"], "{only}");

    let (_, err) = c.text(&["clusters", "delete", "--cluster-id", &cl_id, "--yes"]).await;
    assert!(err.contains("Cluster deleted."), "{err}");
    t.wait_state(&cl_id, "DELETED", Duration::from_secs(20)).await;
    let r = t.http.get(format!("{}/api/v2/clusters/{cl_id}/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let (status, _, _) = t.call(Method::GET, "/v1/clusters", None).await;
    assert_eq!(status, 200);
}

/// A request with the bootstrap key as HTTP Basic (croud's form); status and JSON body.
async fn basic(t: &TestServer, method: Method, path: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
    let mut rb = t.http.request(method, format!("{}{path}", t.url)).basic_auth(&t.access_key, Some(&t.secret));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (s, _, v) = decode(rb.send().await.unwrap()).await;
    (s, v)
}

/// A CREATED cluster made through the native API; its id.
async fn native_cluster(t: &TestServer, name: &str) -> String {
    let (s, k) = t.post("/v1/clusters", json!({"name": name, "provider": "aws", "region": "us-east-1", "node_count": 2})).await;
    assert_eq!(s, 202, "{k}");
    let id = k["cluster"]["id"].as_str().unwrap().to_string();
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    id
}

/// §6 and the input rules of the change routes: one operation per cluster (409 with the
/// vendor text, nothing half-written), 400 with per-field `errors`, 404 for unknown clusters,
/// the audit cursor, API keys without a body, delete protection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_busy_invalid_and_audit_cursor() {
    // Slow steps, so an operation is still running when the next change arrives.
    let t = TestServer::with(Backend::Sqlite, config(150, 0.0)).await;
    let id = native_cluster(&t, "busy-one").await;
    let busy = json!({"message": "Another cluster operation is currently in progress.", "success": false});

    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(json!({"product_unit": 3}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["health"]["running_operation"], "SCALE", "{v}");
    for (path, body) in [
        ("upgrade/", json!({"crate_version": "9.0.0"})),
        ("suspend/", json!({"suspended": true})),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.0/8"}]})),
        ("scale/", json!({"product_unit": 0})),
    ] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/{path}"), Some(body)).await;
        assert_eq!((s, v), (reqwest::StatusCode::CONFLICT, busy.clone()), "{path}");
    }
    assert_eq!(t.get(&format!("/v1/clusters/{id}/allowlist")).await["items"], json!([]), "a refused replacement writes nothing");
    let native = t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    assert_eq!(native["node_count"], 4);
    assert_eq!(native["version"], "7.6.2");

    // Bad input: 400 with errors per field; the cluster is unchanged.
    for (path, body, field) in [
        ("scale/", json!({"product_unit": 99}), "product_unit"),
        ("scale/", json!({"product_unit": 3}), "product_unit"),
        ("upgrade/", json!({"crate_version": "5.0.0"}), "crate_version"),
        ("upgrade/", json!({"crate_version": "latest"}), "crate_version"),
        ("upgrade/", json!({}), "crate_version"),
        ("suspend/", json!({}), "suspended"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.1/8"}]}), "ip_whitelist"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "10.0.0.0/8"}, {"cidr": "10.0.0.0/8"}]}), "ip_whitelist"),
        ("ip-restrictions/", json!({"ip_whitelist": [{"cidr": "300.1.1.1"}]}), "ip_whitelist"),
    ] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/{path}"), Some(body.clone())).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        assert_eq!(v["success"], false);
        assert!(v["errors"][field].is_array(), "{path} {body}: {v}");
    }
    for body in [json!({"product_unit": "two"}), json!([1])] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(body)).await;
        assert_eq!((s, v["success"].clone()), (reqwest::StatusCode::BAD_REQUEST, json!(false)), "{v}");
    }
    let r = t
        .http
        .put(format!("{}/api/v2/clusters/{id}/scale/", t.url))
        .basic_auth(&t.access_key, Some(&t.secret))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let native = t.get(&format!("/v1/clusters/{id}")).await;
    assert_eq!((native["node_count"].clone(), native["version"].clone()), (json!(4), json!("7.6.2")));
    let not_found = json!({"message": "Resource not found.", "success": false});
    for cl in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{cl}/upgrade/"), Some(json!({"crate_version": "9.0.0"}))).await;
        assert_eq!((s, v), (reqwest::StatusCode::NOT_FOUND, not_found.clone()));
    }
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", t.org), Some(json!({"plan_type": 9, "email": "nope"}))).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["errors"]["plan_type"].is_array() && v["errors"]["email"].is_array(), "{v}");
    let (s, v) =
        basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", t.org), Some(json!({"email": "ops@example.com", "notifications_enabled": true}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["email"].clone(), v["notifications_enabled"].clone(), v["plan_type"].clone()), (json!("ops@example.com"), json!(true), json!(3)));
    let (s, _) = basic(&t, Method::PUT, &format!("/api/v2/organizations/{}/", uuid::Uuid::new_v4()), Some(json!({"name": "x"}))).await;
    assert_eq!(s, 404);

    // Upgrade runs an UPGRADE operation that sets the version when it succeeds.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/upgrade/"), Some(json!({"crate_version": "7.7.0"}))).await;
    assert_eq!(s, 200, "{v}");
    t.wait_state(&id, "CREATED", Duration::from_secs(30)).await;
    let (_, ops) = basic(&t, Method::GET, &format!("/api/v2/clusters/{id}/operations/?type=UPGRADE&limit=1"), None).await;
    assert_eq!(ops["operations"][0]["status"], "SUCCEEDED", "{ops}");
    assert_eq!(ops["operations"][0]["non_sensitive_data"]["target_version"], "7.7.0", "{ops}");
    assert_eq!(t.get(&format!("/v1/clusters/{id}")).await["version"], "7.7.0");

    // API key create: no body, no content type; flat, secret once; delete revokes at once.
    let r = t.http.post(format!("{}/api/v2/users/me/api-keys/", t.url)).basic_auth(&t.access_key, Some(&t.secret)).send().await.unwrap();
    let (s, _, made) = decode(r).await;
    assert_eq!(s, 200, "{made}");
    for k in ["key", "user_id", "active", "secret", "dc", "success"] {
        assert!(made.get(k).is_some(), "{k}: {made}");
    }
    assert!(made.get("last_used").is_none(), "not used yet: {made}");
    let key = made["key"].as_str().unwrap().to_string();
    let (s, got) = basic(&t, Method::GET, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!(s, 200);
    assert!(got.get("secret").is_none(), "{got}");
    let (s, v) = basic(&t, Method::DELETE, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!((s, v), (reqwest::StatusCode::NO_CONTENT, Value::Null));
    let r = t.http.get(format!("{}/api/v2/users/me/", t.url)).basic_auth(&key, made["secret"].as_str()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = basic(&t, Method::DELETE, &format!("/api/v2/users/me/api-keys/{key}/"), None).await;
    assert_eq!(s, 404, "a deleted key is gone");

    // Audit cursor: pages newest first, strictly older than `last`, ending with [].
    for i in 0..3 {
        let (s, _) = basic(&t, Method::POST, "/api/v2/projects/", Some(json!({"name": format!("audit-{i}")}))).await;
        assert_eq!(s, 201);
    }
    let base = format!("/api/v2/organizations/{}/auditlogs/", t.org);
    let (s, first) = basic(&t, Method::GET, &base, None).await;
    assert_eq!(s, 200, "{first}");
    let first = first.as_array().unwrap().clone();
    assert!(first.len() >= 8, "{first:?}");
    assert_eq!(first[0]["action"], "project.create");
    let mut seen = vec![];
    let mut last: Option<String> = None;
    for _ in 0..50 {
        let path = match &last {
            Some(l) => format!("{base}?last={l}"),
            None => base.clone(),
        };
        let (s, page) = basic(&t, Method::GET, &path, None).await;
        assert_eq!(s, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        for e in &page {
            let eid = e["id"].as_str().unwrap().to_string();
            assert!(last.as_ref().is_none_or(|l| eid < *l), "strictly older than last");
            seen.push(eid);
        }
        last = seen.last().cloned();
    }
    assert_eq!(seen.len(), first.len(), "one page of {} then []", first.len());
    let (_, empty) = basic(&t, Method::GET, &format!("{base}?last={}", seen.last().unwrap()), None).await;
    assert_eq!(empty, json!([]));
    let (_, mine) = basic(&t, Method::GET, &format!("{base}?cluster_id={id}"), None).await;
    let actions = names(&mine, "action");
    assert!(actions.contains(&"cluster.upgrade".to_string()) && actions.iter().all(|a| a.starts_with("cluster.")), "{actions:?}");
    let (_, upgrades) = basic(&t, Method::GET, &format!("{base}?action=cluster.upgrade&from=2000-01-01&to=2999-12-31T00:00:00Z"), None).await;
    assert_eq!(names(&upgrades, "action"), ["cluster.upgrade"]);
    let (_, none) = basic(&t, Method::GET, &format!("{base}?to=2000-01-01"), None).await;
    assert_eq!(none, json!([]));
    for (q, field) in [
        ("last=nope", "last"),
        (&*format!("last={}", uuid::Uuid::new_v4()), "last"),
        ("from=yesterday", "from"),
        ("to=2024-13-01", "to"),
        ("cluster_id=x", "cluster_id"),
    ] {
        let (s, v) = basic(&t, Method::GET, &format!("{base}?{q}"), None).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v["errors"][field].is_array(), "{q}: {v}");
    }

    // Delete protection is honoured by the core's delete.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/deletion-protection/"), Some(json!({"deletion_protected": true}))).await;
    assert_eq!((s, v["deletion_protected"].clone()), (reqwest::StatusCode::OK, json!(true)), "{v}");
    let (s, v) = basic(&t, Method::DELETE, &format!("/api/v2/clusters/{id}/"), None).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/deletion-protection/"), Some(json!({"deletion_protected": false}))).await;
    assert_eq!(s, 200);
    // A delete while a scale runs is accepted: the scale ends CANCELLED, the cluster DELETED.
    let (s, v) = basic(&t, Method::PUT, &format!("/api/v2/clusters/{id}/scale/"), Some(json!({"product_unit": 1}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["health"]["running_operation"], "SCALE", "{v}");
    let (s, _) = basic(&t, Method::DELETE, &format!("/api/v2/clusters/{id}/"), None).await;
    assert_eq!(s, 204);
    t.wait_state(&id, "DELETED", Duration::from_secs(30)).await;
    let ops = t.get(&format!("/v1/clusters/{id}/operations")).await;
    let kinds: Vec<(String, String)> =
        ops["items"].as_array().unwrap().iter().map(|o| (o["kind"].as_str().unwrap().to_string(), o["status"].as_str().unwrap().to_string())).collect();
    assert!(kinds.contains(&("scale".to_string(), "CANCELLED".to_string())), "{ops}");
    assert!(kinds.contains(&("delete".to_string(), "SUCCEEDED".to_string())), "{ops}");
}

/// Every role (at organization scope) × every `/api/v2/` route: allowed or 403 as the shared
/// role table says, with the CrateDB 403 body; and every route the dialect documents is in
/// the matrix, so none lacks an authorization check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_api_v2_route() {
    use dbcloud_core::perms::Role;
    let table = role_table();
    assert_eq!(table.len(), Role::ALL.len());

    let t = TestServer::start().await;
    let org = t.org.clone();
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();
    let c = native_cluster(&t, "target").await;
    let victim = native_cluster(&t, "victim").await;
    let project_name = t.get(&format!("/v1/projects/{project}")).await["name"].as_str().unwrap().to_string();
    let absent_key = "dbc_doesnotexist0000000000";
    t.post("/v1/users", json!({"email": "member@example.com"})).await;

    type R = (Method, &'static str, String, Option<Value>, &'static [&'static str]);
    let deploy = json!({"cluster": {"name": "mx-deploy", "crate_version": "5.9.2", "product_name": "cr4", "product_tier": "default",
        "username": "admin", "password": "a-very-long-password-0123456789"}, "subscription_id": "free_tier", "project_id": project});
    let routes: Vec<R> = vec![
        (Method::GET, "/api/v2/users/me/", "/api/v2/users/me/".into(), None, &[]),
        (Method::GET, "/api/v2/organizations/", "/api/v2/organizations/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/", format!("/api/v2/organizations/{org}/"), None, &["org.read"]),
        (
            Method::PUT,
            "/api/v2/organizations/{org_id}/",
            format!("/api/v2/organizations/{org}/"),
            Some(json!({"notifications_enabled": true})),
            &["org.update"],
        ),
        (Method::GET, "/api/v2/organizations/{org_id}/projects/", format!("/api/v2/organizations/{org}/projects/"), None, &["project.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/regions/", format!("/api/v2/organizations/{org}/regions/"), None, &[]),
        (Method::GET, "/api/v2/organizations/{org_id}/users/", format!("/api/v2/organizations/{org}/users/"), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/subscriptions/", format!("/api/v2/organizations/{org}/subscriptions/"), None, &["org.read"]),
        (Method::GET, "/api/v2/organizations/{org_id}/clusters/", format!("/api/v2/organizations/{org}/clusters/"), None, &["cluster.read"]),
        (Method::POST, "/api/v2/organizations/{org_id}/clusters/", format!("/api/v2/organizations/{org}/clusters/"), Some(deploy), &["cluster.create"]),
        (Method::GET, "/api/v2/organizations/{org_id}/auditlogs/", format!("/api/v2/organizations/{org}/auditlogs/"), None, &["audit.read"]),
        (Method::GET, "/api/v2/roles/", "/api/v2/roles/".into(), None, &[]),
        (Method::GET, "/api/v2/regions/", "/api/v2/regions/".into(), None, &[]),
        (Method::GET, "/api/v2/products/", "/api/v2/products/".into(), None, &[]),
        (Method::GET, "/api/v2/subscriptions/", "/api/v2/subscriptions/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/subscriptions/{subscription_id}/", "/api/v2/subscriptions/free_tier/".into(), None, &["org.read"]),
        (Method::GET, "/api/v2/users/", "/api/v2/users/".into(), None, &["user.manage"]),
        (Method::GET, "/api/v2/projects/", "/api/v2/projects/".into(), None, &["project.read"]),
        (Method::POST, "/api/v2/projects/", "/api/v2/projects/".into(), Some(json!({"name": "mx-project"})), &["project.create"]),
        (Method::GET, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), None, &["project.read"]),
        (Method::PATCH, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), Some(json!({"name": project_name})), &["project.update"]),
        // The project holds clusters: allowed callers get 409, not a deletion.
        (Method::DELETE, "/api/v2/projects/{project_id}/", format!("/api/v2/projects/{project}/"), None, &["project.delete"]),
        (Method::GET, "/api/v2/clusters/", "/api/v2/clusters/".into(), None, &["cluster.read"]),
        (Method::GET, "/api/v2/clusters/{cluster_id}/", format!("/api/v2/clusters/{c}/"), None, &["cluster.read"]),
        (Method::GET, "/api/v2/clusters/{cluster_id}/operations/", format!("/api/v2/clusters/{c}/operations/"), None, &["cluster.read"]),
        // Change routes with bodies the core refuses after authorization (400/409), so the
        // cluster stays idle for every role.
        (Method::PUT, "/api/v2/clusters/{cluster_id}/scale/", format!("/api/v2/clusters/{c}/scale/"), Some(json!({"product_unit": 1})), &["cluster.update"]),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/upgrade/",
            format!("/api/v2/clusters/{c}/upgrade/"),
            Some(json!({"crate_version": "1.0.0"})),
            &["cluster.update"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/suspend/",
            format!("/api/v2/clusters/{c}/suspend/"),
            Some(json!({"suspended": false})),
            &["cluster.update"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/ip-restrictions/",
            format!("/api/v2/clusters/{c}/ip-restrictions/"),
            Some(json!({"ip_whitelist": [{"cidr": "10.0.0.1/8"}]})),
            &["allowlist.manage"],
        ),
        (
            Method::PUT,
            "/api/v2/clusters/{cluster_id}/deletion-protection/",
            format!("/api/v2/clusters/{c}/deletion-protection/"),
            Some(json!({"deletion_protected": false})),
            &["cluster.update"],
        ),
        (Method::GET, "/api/v2/users/me/api-keys/", "/api/v2/users/me/api-keys/".into(), None, &[]),
        (Method::POST, "/api/v2/users/me/api-keys/", "/api/v2/users/me/api-keys/".into(), None, &["apikey.manage"]),
        (Method::GET, "/api/v2/users/me/api-keys/{key}/", format!("/api/v2/users/me/api-keys/{absent_key}/"), None, &[]),
        (Method::DELETE, "/api/v2/users/me/api-keys/{key}/", format!("/api/v2/users/me/api-keys/{absent_key}/"), None, &["apikey.manage"]),
        (Method::GET, "/api/v2/projects/{project_id}/users/", format!("/api/v2/projects/{project}/users/"), None, &["project.read"]),
        (
            Method::POST,
            "/api/v2/projects/{project_id}/users/",
            format!("/api/v2/projects/{project}/users/"),
            Some(json!({"user": "member@example.com", "role_fqn": "project_member"})),
            &["user.manage"],
        ),
        (
            Method::DELETE,
            "/api/v2/projects/{project_id}/users/{user}/",
            format!("/api/v2/projects/{project}/users/nobody@example.com/"),
            None,
            &["user.manage"],
        ),
        (
            Method::POST,
            "/api/v2/organizations/{org_id}/users/",
            format!("/api/v2/organizations/{org}/users/"),
            Some(json!({"user": "member@example.com", "role_fqn": "org_member"})),
            &["user.manage"],
        ),
        (
            Method::DELETE,
            "/api/v2/organizations/{org_id}/users/{user}/",
            format!("/api/v2/organizations/{org}/users/nobody@example.com/"),
            None,
            &["user.manage"],
        ),
        (Method::DELETE, "/api/v2/clusters/{cluster_id}/", format!("/api/v2/clusters/{victim}/"), None, &["cluster.delete"]),
    ];

    // Completeness: every documented /api/v2/ route is in the matrix.
    let doc: Value = t.http.get(format!("{}/openapi.json", t.url)).send().await.unwrap().json().await.unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/api/v2/") {
            for method in item.as_object().unwrap().keys() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let covered: std::collections::BTreeSet<String> = routes.iter().map(|r| format!("{} {}", r.0, r.1)).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "/api/v2/ routes without a matrix entry: {missing:?}");
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(stale.is_empty(), "matrix entries for undocumented routes: {stale:?}");

    let denied = json!({"message": "Permission denied for user.", "success": false});
    let mut checked = 0;
    for role in Role::ALL {
        let allowed = &table[role.as_str()];
        let token = t.role_key(*role).await;
        for (method, template, path, body, needs) in &routes {
            let expect_allowed = needs.iter().all(|p| allowed.contains(p));
            let (status, _, b) = t.call_as(&token, method.clone(), path, body.clone()).await;
            assert!(!status.is_server_error() && status != 401, "{role:?} {method} {path}: {status} {b}");
            if expect_allowed {
                assert_ne!(status, 403, "{} should be allowed {method} {template}: {b}", role.as_str());
            } else {
                assert_eq!(status, 403, "{} should be refused {method} {template}: {b}", role.as_str());
                assert_eq!(b, denied, "{} {method} {template}", role.as_str());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * Role::ALL.len());
    // Nothing a refused role sent changed the target cluster.
    let native = t.get(&format!("/v1/clusters/{c}")).await;
    assert_eq!((native["node_count"].clone(), native["version"].clone()), (json!(2), json!("7.6.2")), "{native}");
}

/// Project and organization members through the real croud: add (201 "added"), change the
/// role (200), list, remove; unknown users and roles are refused; the grants are the core's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn croud_manages_project_and_organization_members() {
    let t = TestServer::start().await;
    let c = croud_for(&t).await;
    let (_, alice) = t.post("/v1/users", serde_json::json!({"email": "alice@example.com", "name": "Alice"})).await;
    let alice_id = alice["id"].as_str().unwrap().to_string();
    let project = t.get("/v1/projects").await["items"][0]["id"].as_str().unwrap().to_string();

    let (docs, err) = c.jsons(&["projects", "users", "add", "--project-id", &project, "--user", "alice@example.com", "--role", "project_member"]).await;
    assert!(err.contains("User added to project."), "{err}");
    assert_eq!(docs[0]["role_fqn"], "project_member", "{docs:?}");
    let listed = c.json(&["projects", "users", "list", "--project-id", &project]).await;
    assert_eq!(names(&listed, "email"), ["alice@example.com"]);
    assert_eq!(listed[0]["project_roles"][0]["role_fqn"], "project_member");
    let (_, err) = c.jsons(&["projects", "users", "add", "--project-id", &project, "--user", &alice_id, "--role", "project_admin"]).await;
    assert!(err.contains("Role altered for user."), "{err}");
    let grants = t.get(&format!("/v1/role-grants?principal_type=user&principal_id={alice_id}")).await;
    let roles: Vec<&str> = grants["items"].as_array().unwrap().iter().map(|g| g["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["projectOwner"], "one role in the project, the new one: {grants}");
    let (out, err) = c.text_any(&["projects", "users", "add", "--project-id", &project, "--user", "nobody@example.com", "--role", "project_member"]).await;
    assert!(err.contains("Error") || out.contains("Error"), "an unknown user is refused: {out} {err}");
    let (out, err) = c.text_any(&["projects", "users", "add", "--project-id", &project, "--user", "alice@example.com", "--role", "project_king"]).await;
    assert!(err.contains("Error") || out.contains("Error"), "an unknown role is refused: {out} {err}");
    let (_, err) = c.text(&["projects", "users", "remove", "--project-id", &project, "--user", "alice@example.com"]).await;
    assert!(err.contains("User removed from project."), "{err}");
    assert!(c.json(&["projects", "users", "list", "--project-id", &project]).await.as_array().unwrap().is_empty());

    let (_, err) = c.jsons(&["organizations", "users", "add", "--user", "alice@example.com", "--role", "org_admin"]).await;
    assert!(err.contains("added") || err.contains("User added"), "{err}");
    let users = c.json(&["organizations", "users", "list"]).await;
    let alice_row = users.as_array().unwrap().iter().find(|u| u["email"] == "alice@example.com").cloned().unwrap();
    assert_eq!(alice_row["organization_roles"][0]["role_fqn"], "org_admin", "{users}");
    let (_, err) = c.text(&["organizations", "users", "remove", "--user", "alice@example.com"]).await;
    assert!(err.contains("removed"), "{err}");
    assert!(t.get(&format!("/v1/role-grants?principal_type=user&principal_id={alice_id}")).await["items"].as_array().unwrap().is_empty());

    // A key without user management may not add members (403 in the dialect's shape).
    let viewer = t.role_key(dbcloud_core::perms::Role::ClusterAdmin).await;
    let r = t
        .http
        .post(format!("{}/api/v2/projects/{project}/users/", t.url))
        .bearer_auth(&viewer)
        .json(&serde_json::json!({"user": "alice@example.com", "role_fqn": "project_admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
