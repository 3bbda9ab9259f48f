//! The web console: security headers, cookies, sign-in limits and the service-layer rule over
//! plain HTTP, and every seed flow in a real Chromium (Debian's `/usr/bin/chromium`, driven
//! by `tests/browser/flows.mjs` through playwright-core). The browser test fails — never
//! skips — when Chromium or node is missing. Screenshots go to
//! `target/console-screenshots/`.

mod common;

use common::config;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_server::bootstrap;
use dbcloud_store::{Ctx, PageReq, Store};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A console server on port 0 with its data directory and first owner's sign-in.
struct Console {
    server: dbcloud_server::Server,
    url: String,
    org: String,
    email: String,
    password: String,
    _dir: tempfile::TempDir,
}

async fn start(cfg: dbcloud_server::ServerConfig) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(dbcloud_store::sqlite::SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap());
    let server = dbcloud_server::start("127.0.0.1:0".parse().unwrap(), store.clone(), cfg).await.unwrap();
    bootstrap::ensure(store.as_ref(), dir.path(), &server.state.auth.cfg.master_key).await.unwrap();
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join(bootstrap::CREDENTIALS_FILE)).unwrap()).unwrap();
    for k in ["organization_id", "access_key", "secret", "bearer_token", "console_email", "console_password"] {
        assert!(file[k].is_string(), "bootstrap-credentials.json keeps {k}: {file}");
    }
    Console {
        url: server.url(),
        server,
        org: file["organization_id"].as_str().unwrap().into(),
        email: file["console_email"].as_str().unwrap().into(),
        password: file["console_password"].as_str().unwrap().into(),
        _dir: dir,
    }
}

impl Console {
    fn store(&self) -> Arc<dyn Store> {
        self.server.state.store.clone()
    }

    /// A person with `role` at organization scope and a console password.
    async fn person(&self, email: &str, role: Role) -> (String, String) {
        let ctx = Ctx { organization_id: self.org.parse().unwrap(), actor: "test".into(), request_id: "t".into(), source_ip: "-".into(), idempotency: None };
        let u = self.store().create_user(&ctx, email, email, &[Grant { role, scope: Scope::Organization }]).await.unwrap();
        let password = "a long test password".to_string();
        dbcloud_app::sessions::operator_set_password(self.store().as_ref(), email, &password).await.unwrap();
        (u.id.to_string(), password)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A url-encoded form body.
fn form(rb: reqwest::RequestBuilder, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    rb.header("content-type", "application/x-www-form-urlencoded").body(serde_urlencoded::to_string(pairs).unwrap())
}

fn cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}="))).map(str::to_string)
}

/// Signs in over plain HTTP; returns the session cookie header line.
async fn sign_in(http: &reqwest::Client, url: &str, email: &str, password: &str) -> reqwest::Response {
    let page = http.get(format!("{url}/login")).send().await.unwrap();
    let login = cookie_value(&page, "dbcloud_login").expect("login cookie");
    let token = login.split(';').next().unwrap().trim_start_matches("dbcloud_login=").to_string();
    form(
        http.post(format!("{url}/login")).header("cookie", format!("dbcloud_login={token}")),
        &[("login_token", token.as_str()), ("email", email), ("password", password), ("next", "/settings")],
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn console_pages_carry_security_headers_and_strict_cookies() {
    let mut cfg = config(0, 0.0);
    cfg.auth.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let c = start(cfg).await;
    let http = client();
    // Anonymous: `/` and every page lead to sign-in; the API is untouched.
    let r = http.get(format!("{}/", c.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    let r = http.get(format!("{}/api-keys", c.url)).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/login?next=%2Fapi-keys");
    assert_eq!(http.get(format!("{}/v1/projects", c.url)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(http.get(format!("{}/health", c.url)).send().await.unwrap().status(), StatusCode::OK);

    let page = http.get(format!("{}/login", c.url)).send().await.unwrap();
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");

    // Assets: hashed names, a long cache lifetime.
    let css = html.split("href=\"").find_map(|s| s.strip_prefix("/assets/").map(|r| r.split('"').next().unwrap().to_string())).expect("stylesheet link");
    let r = http.get(format!("{}/assets/{css}", c.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CACHE_CONTROL].to_str().unwrap().contains("max-age=31536000"));
    assert_eq!(http.get(format!("{}/assets/console-000000.css", c.url)).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Sign-in: a wrong password and an unknown account fail alike.
    let wrong = sign_in(&http, &c.url, &c.email, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = sign_in(&http, &c.url, "nobody@example.com", "not the password at all").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.text().await.unwrap().contains("Incorrect e-mail address or password"),
        unknown.text().await.unwrap().contains("Incorrect e-mail address or password")
    );

    let ok = sign_in(&http, &c.url, &c.email, &c.password).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[LOCATION], "/settings");
    let set = cookie_value(&ok, "dbcloud_session").expect("session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "{set}");
    let session = set.split(';').next().unwrap().to_string();
    let page = http.get(format!("{}/settings", c.url)).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    assert!(page.text().await.unwrap().contains(&c.org), "the Organization ID is on the Settings page");

    // Behind a trusted TLS proxy the cookie is Secure.
    let page = http.get(format!("{}/login", c.url)).header("x-forwarded-proto", "https").send().await.unwrap();
    assert!(cookie_value(&page, "dbcloud_login").unwrap().contains("Secure"));

    // The store keeps only the hash of the cookie.
    let value = session.trim_start_matches("dbcloud_session=");
    assert!(c.store().find_session(value).await.unwrap().is_none());
    assert!(c.store().find_session(&dbcloud_app::sessions::session_hash(value)).await.unwrap().is_some());

    // A cross-origin post is refused even with the right token.
    let token = http.get(format!("{}/settings", c.url)).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    let csrf = token.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let rb = http.post(format!("{}/settings", c.url)).header("cookie", &session).header("origin", "https://evil.example");
    let r = form(rb, &[("csrf", csrf.as_str()), ("name", "pwned")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = form(http.post(format!("{}/settings", c.url)).header("cookie", &session), &[("csrf", csrf.as_str()), ("name", "renamed")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the same post from the console goes through");
    c.server.shutdown().await;
}

#[tokio::test]
async fn sign_in_is_limited_per_account_and_deleted_users_lose_their_sessions() {
    let c = start(config(0, 0.0)).await;
    let http = client();
    let (id, password) = c.person("ann@example.com", Role::OrganizationMember).await;
    let ok = sign_in(&http, &c.url, "ann@example.com", &password).await;
    let session = cookie_value(&ok, "dbcloud_session").unwrap().split(';').next().unwrap().to_string();
    assert_eq!(http.get(format!("{}/settings", c.url)).header("cookie", &session).send().await.unwrap().status(), StatusCode::OK);

    // Ten failures for one account lock it for the window, even with the right password.
    for _ in 0..10 {
        assert_eq!(sign_in(&http, &c.url, "ann@example.com", "wrong wrong wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in(&http, &c.url, "ann@example.com", &password).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));

    // Deleting the user ends their session at once.
    let ctx = Ctx { organization_id: c.org.parse().unwrap(), actor: "test".into(), request_id: "t".into(), source_ip: "-".into(), idempotency: None };
    c.store().delete_user(&ctx, id.parse().unwrap()).await.unwrap();
    let r = http.get(format!("{}/settings", c.url)).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION].to_str().unwrap().starts_with("/login?expired=1"));

    // Failed sign-ins are audited, without the password.
    let events = c.store().list_audit(c.org.parse().unwrap(), PageReq::first(500)).await.unwrap().items;
    let failed: Vec<_> = events.iter().filter(|e| e.action == "console.login" && e.outcome == "failed").collect();
    assert!(failed.len() >= 10, "{failed:?}");
    assert!(events.iter().all(|e| !e.details.to_string().contains("wrong wrong")));
    c.server.shutdown().await;
}

#[tokio::test]
async fn console_requests_count_against_the_persons_rate_limit() {
    let mut cfg = config(0, 0.0);
    cfg.auth.default_rate_limit = 3;
    let c = start(cfg).await;
    let http = client();
    let ok = sign_in(&http, &c.url, &c.email, &c.password).await;
    let session = cookie_value(&ok, "dbcloud_session").unwrap().split(';').next().unwrap().to_string();
    let mut statuses = vec![];
    for _ in 0..8 {
        statuses.push(http.get(format!("{}/account", c.url)).header("cookie", &session).send().await.unwrap().status());
    }
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "over 3 requests per second: {statuses:?}");
    c.server.shutdown().await;
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_console_calls_only_the_service_layer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let files = rust_files(&dir);
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for banned in ["dbcloud_store", "state.store", ".store()", "crate::routes", "crate::dialects", "state.runner", "state.clusters"] {
            assert!(!text.contains(banned), "{} uses {banned}: the console must only call dbcloud_app", f.display());
        }
    }
}

fn chromium() -> &'static str {
    "/usr/bin/chromium"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flows_in_chromium() {
    assert!(Path::new(chromium()).exists(), "Chromium is required for the console tests: apt-get install chromium (see .ci/run)");
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "node is required for the console tests: apt-get install nodejs npm");
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let out = std::process::Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&browser_dir).output().expect("npm runs");
        assert!(out.status.success(), "npm ci in {} failed: {}", browser_dir.display(), String::from_utf8_lossy(&out.stderr));
    }

    let main = start(config(100, 0.0)).await;
    let (reader_id, reader_password) = main.person("reader@example.com", Role::Read).await;
    let mut short_cfg = config(0, 0.0);
    short_cfg.console.policy.idle_timeout = Duration::from_secs(2);
    let short = start(short_cfg).await;

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let shots = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(target).join("console-screenshots");
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir.join("flows.mjs"))
        .current_dir(&browser_dir)
        .env("CONSOLE_URL", &main.url)
        .env("OWNER_EMAIL", &main.email)
        .env("OWNER_PASSWORD", &main.password)
        .env("ORG_ID", &main.org)
        .env("READER_EMAIL", "reader@example.com")
        .env("READER_PASSWORD", &reader_password)
        .env("SHORT_URL", &short.url)
        .env("SHORT_EMAIL", &short.email)
        .env("SHORT_PASSWORD", &short.password)
        .env("SCREENSHOTS", &shots)
        .env("USER_DATA_DIR", profile.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output()).await.expect("the browser flows finish within 4 minutes").expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "browser flows failed (screenshots in {}):\n{stdout}\n{stderr}", shots.display());
    assert!(stdout.contains("console flows: all checks passed"));

    // The forged and refused posts were audited with the person as actor.
    let events = main.store().list_audit(main.org.parse().unwrap(), PageReq::first(1000)).await.unwrap().items;
    let by_reader = |action: &str| events.iter().any(|e| e.actor == format!("user:{reader_id}") && e.action == action && e.outcome == "denied");
    assert!(by_reader("denied:console.csrf"), "the CSRF refusal is audited");
    assert!(by_reader("denied:project.create"), "the permission refusal is audited like the API's");
    assert!(events.iter().any(|e| e.action == "apikey.revoke" && e.actor.starts_with("user:")), "the revoke is audited with the person as actor");
    assert!(events.iter().any(|e| e.action == "console.logout"));
    for name in ["02-api-key-created", "10-cluster-detail", "11-clusters", "12-clusters-phone", "18-session-expired"] {
        assert!(shots.join(format!("{name}.png")).exists(), "screenshot {name}");
    }
    main.server.shutdown().await;
    short.server.shutdown().await;
}
