//! The web console, mounted at `/`: server-rendered pages (maud) with a little JavaScript
//! for Copy, Download and live operation progress.
//!
//! Every page and form goes through the service layer (`state.app`) with the signed-in
//! person as caller ([`session::Signed`]), so the console has exactly the API's permissions,
//! rules, audit events and rate limits. It never reaches the store or another surface.
//!
//! Security: session cookies are `HttpOnly; SameSite=Strict` (and `Secure` over TLS); every
//! state-changing form carries the session's CSRF token, checked before anything happens;
//! the Content-Security-Policy allows no inline script or style and no framing; console
//! pages are `Cache-Control: no-store`; secrets are never in a URL.

pub mod accounts;
pub mod audit;
pub mod clouds;
pub mod clusters;
pub mod keys;
pub mod layout;
pub mod projects;
pub mod session;
pub mod settings;
pub mod users;

use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::LazyLock;

pub use crate::state::ConsoleConfig;

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// A static asset with a content-hashed name (served with a one-year cache lifetime).
pub struct Asset {
    /// `/assets/console-<hash>.<ext>`.
    pub path: String,
    body: &'static str,
    content_type: &'static str,
}

fn asset(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(body.as_bytes())[..6]);
    Asset { path: format!("/assets/{stem}-{hash}.{ext}"), body, content_type }
}

/// The console's style sheet.
pub static STYLE: LazyLock<Asset> = LazyLock::new(|| asset("console", "css", CSS, "text/css; charset=utf-8"));
/// The console's script.
pub static SCRIPT: LazyLock<Asset> = LazyLock::new(|| asset("console", "js", JS, "text/javascript; charset=utf-8"));

async fn serve_asset(Path(file): Path<String>) -> Response {
    for a in [&*STYLE, &*SCRIPT] {
        if a.path.strip_prefix("/assets/") == Some(file.as_str()) {
            let headers = [(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")];
            return (headers, a.body).into_response();
        }
    }
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "not found").into_response()
}

/// Security headers on every console response; HTML pages are never cached.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// `/`: the first area the person may see (sign-in first when needed).
async fn home(s: session::Signed) -> Redirect {
    Redirect::to(layout::nav_items(&s).first().map(|n| n.1).unwrap_or("/account"))
}

/// The console's routes (merged into the server's router at `/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/assets/{file}", get(serve_asset))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/account", get(settings::account).post(settings::change_password))
        .route("/settings", get(settings::page).post(settings::rename))
        .route("/settings/api-access", get(settings::api_access_dialog).post(settings::api_access))
        .route("/api-keys", get(keys::list).post(keys::create))
        .route("/api-keys/new", get(keys::new))
        .route("/api-keys/{key}/revoke", get(keys::revoke_dialog).post(keys::revoke))
        .route("/api-keys/{key}/rename", get(keys::rename_dialog).post(keys::rename))
        .route("/api-keys/{key}/rotate", post(keys::rotate))
        .route("/service-accounts", get(accounts::list).post(accounts::create))
        .route("/service-accounts/new", get(accounts::new))
        .route("/service-accounts/{id}", get(accounts::detail).post(accounts::save))
        .route("/service-accounts/{id}/edit", get(accounts::edit))
        .route("/service-accounts/{id}/delete", get(accounts::delete_dialog).post(accounts::delete))
        .route("/service-accounts/{id}/keys", post(accounts::create_key))
        .route("/service-accounts/{id}/keys/new", get(accounts::new_key))
        .route("/service-accounts/{id}/keys/{key}/edit", get(accounts::edit_key).post(accounts::rename_key))
        .route("/service-accounts/{id}/keys/{key}/delete", get(accounts::delete_key_dialog).post(accounts::delete_key))
        .route("/clusters", get(clusters::list).post(clusters::create))
        .route("/clusters/new", get(clusters::new))
        .route("/clusters/{id}", get(clusters::detail))
        .route("/clusters/{id}/status.json", get(clusters::status))
        .route("/clusters/{id}/ca.pem", get(clusters::ca))
        .route("/clusters/{id}/scale", post(clusters::scale))
        .route("/clusters/{id}/delete", get(clusters::delete_dialog).post(clusters::delete))
        .route("/clusters/{id}/buckets", post(clusters::add_bucket))
        .route("/clusters/{id}/buckets/{bucket}/delete", post(clusters::delete_bucket))
        .route("/clusters/{id}/users", post(clusters::add_db_user))
        .route("/clusters/{id}/users/{user}/delete", post(clusters::delete_db_user))
        .route("/clusters/{id}/allowlist", post(clusters::add_allowlist))
        .route("/clusters/{id}/allowlist/{entry}/delete", post(clusters::delete_allowlist))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{id}", post(projects::rename))
        .route("/projects/{id}/delete", post(projects::delete))
        .route("/clouds", get(clouds::list).post(clouds::create))
        .route("/clouds/{id}/delete", post(clouds::delete))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::detail))
        .route("/users/{id}/grants", post(users::add_grant))
        .route("/users/{id}/grants/{grant}/delete", post(users::remove_grant))
        .route("/users/{id}/password", post(users::set_password))
        .route("/users/{id}/delete", post(users::delete))
        .route("/audit", get(audit::list))
        .layer(axum::middleware::from_fn(headers))
}
