//! The real `croud` CLI against dbcloud.

use super::common::*;
use super::run;
use reqwest::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

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

pub(super) fn names(v: &Value, key: &str) -> Vec<String> {
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
