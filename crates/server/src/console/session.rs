//! Who is signed in: the session cookie, the [`Signed`] extractor (a valid session, counted
//! against the person's rate limit), the [`Submitted`] extractor (a form whose CSRF token
//! matches the session's), and the sign-in and sign-out pages.

use super::layout::{self, Flash};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::sessions::{Attempt, Session};
use dbcloud_app::{Error, Permission, Target};
use maud::html;
use serde::Deserialize;
use std::net::SocketAddr;

/// The session cookie.
pub const COOKIE: &str = "dbcloud_session";
/// The sign-in form's double-submit cookie (login CSRF).
pub const LOGIN_COOKIE: &str = "dbcloud_login";
/// Largest accepted form body.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request reached us over TLS: an `https` public URL, or a trusted proxy's
/// `X-Forwarded-Proto: https`.
pub fn over_tls(parts: &Parts, state: &AppState) -> bool {
    if state.console.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) {
        return true;
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let trusted = peer.is_some_and(|p| state.auth.cfg.trusted_proxies.iter().any(|n| n.contains(&p)));
    trusted && parts.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` over TLS; `max_age`
/// 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")).expect("cookie is ASCII")
}

/// The client address and request id of a request (for the audit log).
fn origin_of(parts: &Parts, state: &AppState) -> (String, String) {
    let ip = crate::auth::client_ip(parts, &state.auth.cfg.trusted_proxies).map(|i| i.to_string()).unwrap_or_else(|| "unknown".into());
    (ip, crate::auth::request_id(&parts.headers))
}

/// Counts one console request against the person's requests-per-second budget (the same
/// limiter and default as API keys; the organization's limit when it sets one). `Some`
/// (seconds to wait) when over it.
async fn over_budget(state: &AppState, s: &Session) -> Option<u64> {
    let limit = s.org_rate_limit.unwrap_or(state.auth.cfg.default_rate_limit);
    let d = state.rate_check(&format!("user:{}", s.user_id), limit).await;
    (!d.allowed).then_some(d.reset_secs.max(1))
}

/// A signed-in person: a valid session and its caller.
pub struct Signed {
    /// The session (caller, person, CSRF token).
    pub session: Session,
    /// The cookie value (to end the session).
    cookie: String,
    /// Whether cookies must be `Secure`.
    pub secure: bool,
    /// The path and query asked for.
    pub uri: String,
}

impl Signed {
    /// The caller of the service layer.
    pub fn caller(&self) -> &dbcloud_app::Caller {
        &self.session.caller
    }

    /// Whether the person holds `p` on `t` (controls they may not use are not shown).
    pub fn can(&self, p: Permission, t: Target) -> bool {
        self.session.caller.principal.can(p, t)
    }

    /// Whether the person holds `p` anywhere.
    pub fn can_somewhere(&self, p: Permission) -> bool {
        self.session.caller.principal.can_somewhere(p)
    }
}

fn to_login(parts: &Parts, expired: bool, secure: bool) -> Response {
    let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut q = if expired { "?expired=1".to_string() } else { String::new() };
    if parts.method == axum::http::Method::GET && next != "/" {
        q.push_str(if q.is_empty() { "?next=" } else { "&next=" });
        q.push_str(&urlencode(next));
    }
    let mut res = Redirect::to(&format!("/login{q}")).into_response();
    if expired {
        res.headers_mut().insert(header::SET_COOKIE, set_cookie(COOKIE, "", 0, secure));
    }
    res
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).map(|e| e[2..].to_string()).unwrap_or_default()
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let secure = over_tls(parts, state);
        let Some(value) = cookie(&parts.headers, COOKIE).filter(|v| !v.is_empty()) else { return Err(to_login(parts, false, secure)) };
        let (ip, request_id) = origin_of(parts, state);
        let uri = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        match state.app.sessions().session(&state.console.policy, &value, request_id, ip).await {
            Ok(Some(session)) => {
                if let Some(retry) = over_budget(state, &session).await {
                    let mut res = layout::message_page(StatusCode::TOO_MANY_REQUESTS, "Slow down", "Too many requests; try again in a moment.");
                    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry));
                    return Err(res);
                }
                Ok(Signed { session, cookie: value, secure, uri })
            }
            Ok(None) => Err(to_login(parts, true, secure)),
            Err(e) => Err(layout::error_response(None, e)),
        }
    }
}

/// Compares two strings without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether an `Origin` header, when present, names this server (browsers send it with
/// every form post).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// A submitted form's fields, in order (repeated names allowed: check boxes).
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("")
    }

    /// The value of `name` as given (untrimmed: passwords).
    pub fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.trim().to_string()).collect()
    }

    /// Whether a check box `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

async fn read_fields(body: axum::body::Body) -> Result<Fields, Response> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| layout::message_page(StatusCode::PAYLOAD_TOO_LARGE, "Too large", "The form was too large."))?;
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .map(Fields)
        .map_err(|_| layout::message_page(StatusCode::BAD_REQUEST, "Bad request", "The form could not be read."))
}

/// A form posted by a signed-in person, with the session's CSRF token. A form without it
/// (or with another's), or from another origin, is refused with 403 and audited; nothing
/// happens.
pub struct Submitted {
    /// Who posted it.
    pub signed: Signed,
    /// Its fields.
    pub fields: Fields,
}

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let fields = read_fields(body).await?;
        if !same(fields.get("csrf"), &signed.session.csrf_token) || !same_origin(&parts.headers) {
            let c = signed.caller();
            let e = c.denied("console.csrf", &format!("{} {}", parts.method, parts.uri.path())).await;
            let mut res = layout::error_response(Some(&signed), e);
            *res.status_mut() = StatusCode::FORBIDDEN;
            return Err(res);
        }
        Ok(Submitted { signed, fields })
    }
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    done: Option<String>,
}

/// Only same-site paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.starts_with("/login") => n,
        _ => "/",
    }
}

fn login_form(status: StatusCode, q: &LoginQuery, email: &str, flash: Option<Flash>, secure: bool) -> Response {
    let token = dbcloud_core::keys::random_base62(32);
    let flash = flash.or_else(|| {
        if q.expired.is_some() {
            Some(Flash::info("Your session has ended. Sign in again."))
        } else if q.done.as_deref() == Some("logout") {
            Some(Flash::info("You have signed out."))
        } else if q.done.as_deref() == Some("password") {
            Some(Flash::info("Your password was changed. Sign in with the new one."))
        } else {
            None
        }
    });
    let body = html! {
        main.login {
            div.login-card {
                div.brand.brand-large { span.logo aria-hidden="true" { "◆" } " dbcloud" }
                h1 { "Sign in to the console" }
                @if let Some(f) = &flash { (f.render()) }
                form method="post" action="/login" {
                    input type="hidden" name="login_token" value=(token);
                    input type="hidden" name="next" value=(safe_next(q.next.as_deref()));
                    label for="email" { "E-mail address" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button.primary.wide type="submit" { "Sign in" }
                }
                p.hint { "The first owner's one-time password is in " code { "bootstrap-credentials.json" } " in the data directory." }
            }
        }
    };
    let mut res = layout::bare(status, "Sign in", body);
    res.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, 3600, secure));
    res
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, Query(q): Query<LoginQuery>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    login_form(StatusCode::OK, &q, "", None, over_tls(&parts, &state))
}

/// `POST /login`: e-mail address and password; on success the session cookie and a
/// redirect to where the person was going.
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let secure = over_tls(&parts, &state);
    let fields = match read_fields(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let q = LoginQuery { next: Some(fields.get("next").to_string()), ..Default::default() };
    let token = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default();
    if token.is_empty() || !same(&token, fields.get("login_token")) || !same_origin(&parts.headers) {
        return login_form(StatusCode::FORBIDDEN, &q, fields.get("email"), Some(Flash::error("The sign-in form expired. Try again.")), secure);
    }
    let (source_ip, request_id) = origin_of(&parts, &state);
    let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let attempt = Attempt { email: fields.get("email").to_string(), source_ip, user_agent, request_id };
    match state.app.sessions().login(&state.console.policy, &attempt, fields.raw("password")).await {
        Ok(signed_in) => {
            let max_age = state.console.policy.absolute_timeout.as_secs() as i64;
            let mut res = Redirect::to(safe_next(q.next.as_deref())).into_response();
            let h = res.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(COOKIE, &signed_in.cookie, max_age, secure));
            h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure));
            res
        }
        Err(Error::ResourceExhausted { message, retry_after_secs }) => {
            let mut res = login_form(StatusCode::TOO_MANY_REQUESTS, &q, fields.get("email"), Some(Flash::error(&capitalise(&message))), secure);
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            res
        }
        Err(Error::Unauthenticated) => {
            login_form(StatusCode::UNAUTHORIZED, &q, fields.get("email"), Some(Flash::error("Incorrect e-mail address or password.")), secure)
        }
        Err(e) => layout::error_response(None, e),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// `POST /logout`: ends the session on every replica.
pub async fn logout(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    if let Err(e) = state.app.sessions().logout(&s.session, &s.cookie).await {
        return layout::error_response(Some(s), e);
    }
    let mut res = Redirect::to("/login?done=logout").into_response();
    res.headers_mut().insert(header::SET_COOKIE, set_cookie(COOKIE, "", 0, s.secure));
    res
}
