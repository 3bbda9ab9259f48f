//! The page shell (sidebar, top bar, notices), dialogs, errors and small shared pieces
//! (CSRF field, Copy button, icons, dates).

use super::session::Signed;
use super::{SCRIPT, STYLE};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use dbcloud_app::{Error, Permission, Target};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;

/// A notice at the top of a page.
pub struct Flash {
    kind: &'static str,
    text: String,
}

impl Flash {
    /// A success or information notice.
    pub fn info(text: &str) -> Self {
        Flash { kind: "info", text: text.into() }
    }
    /// An error notice.
    pub fn error(text: &str) -> Self {
        Flash { kind: "error", text: text.into() }
    }
    /// The notice's HTML (`role="status"`, or `role="alert"` for errors).
    pub fn render(&self) -> Markup {
        let role = if self.kind == "error" { "alert" } else { "status" };
        html! { div class=(format!("flash flash-{}", self.kind)) role=(role) { (self.text) } }
    }
}

/// The notice named by a `?done=` redirect after a change.
fn done_notice(uri: &str) -> Option<Flash> {
    let q = uri.split_once('?')?.1;
    let done = q.split('&').find_map(|kv| kv.strip_prefix("done="))?;
    let text = match done {
        "created" => "Created.",
        "saved" => "Changes saved.",
        "deleted" => "Deleted.",
        "revoked" => "The API key was revoked: calls with it now fail.",
        "renamed" => "Renamed.",
        "added" => "Added.",
        "removed" => "Removed.",
        "scaling" => "Scaling started; progress shows below.",
        "deleting" => "Deletion started.",
        "password" => "Password set. Their sessions have ended.",
        _ => return None,
    };
    Some(Flash::info(text))
}

/// Sidebar entries the person may see: (label, path, icon).
pub fn nav_items(s: &Signed) -> Vec<(&'static str, &'static str, &'static str)> {
    let org = Target::Organization;
    let mut v = vec![];
    if s.can_somewhere(Permission::ClusterRead) {
        v.push(("Clusters", "/clusters", "▦"));
    }
    if s.can_somewhere(Permission::ProjectRead) {
        v.push(("Projects", "/projects", "▤"));
    }
    if s.can_somewhere(Permission::CloudRead) {
        v.push(("Clouds", "/clouds", "☁"));
    }
    if s.can_somewhere(Permission::ApikeyManage) {
        v.push(("API keys", "/api-keys", "◈"));
    }
    if s.can(Permission::ServiceaccountManage, org) {
        v.push(("Service accounts", "/service-accounts", "⚙"));
    }
    if s.can(Permission::OrgRead, org) {
        v.push(("Users", "/users", "☺"));
    }
    if s.can(Permission::AuditRead, org) {
        v.push(("Audit log", "/audit", "☰"));
    }
    if s.can(Permission::OrgRead, org) {
        v.push(("Settings", "/settings", "⚑"));
    }
    v
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · dbcloud" }
            link rel="stylesheet" href=(STYLE.path);
            script src=(SCRIPT.path) defer {}
        }
    }
}

/// A page without the shell (sign-in, errors before sign-in).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let doc = html! { (DOCTYPE) html lang="en" { (head(title)) body { (body) } } };
    (status, Html(doc.into_string())).into_response()
}

/// A full console page: sidebar, top bar with the person and Sign out, notices, content.
pub fn page(s: &Signed, title: &str, content: Markup) -> Response {
    page_with(s, StatusCode::OK, title, None, content)
}

/// [`page`] with a status and an explicit notice (else the `?done=` one).
pub fn page_with(s: &Signed, status: StatusCode, title: &str, flash: Option<Flash>, content: Markup) -> Response {
    let flash = flash.or_else(|| done_notice(&s.uri));
    let path = s.uri.split('?').next().unwrap_or("/");
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                div.shell {
                    nav.sidebar aria-label="Main" {
                        a.brand href="/" { span.logo aria-hidden="true" { "◆" } " dbcloud" }
                        ul {
                            @for (label, href, icon) in nav_items(s) {
                                li {
                                    a href=(href) aria-current=[(path == href || path.starts_with(&format!("{href}/"))).then_some("page")] {
                                        span.icon aria-hidden="true" { (icon) } (label)
                                    }
                                }
                            }
                        }
                    }
                    div.main-col {
                        header.topbar {
                            span.title-crumb { (title) }
                            div.who {
                                a href="/account" title="Your account" { (s.session.email) }
                                form.inline method="post" action="/logout" {
                                    (csrf(s))
                                    button.ghost type="submit" { "Sign out" }
                                }
                            }
                        }
                        main #main {
                            @if let Some(f) = &flash { (f.render()) }
                            (content)
                        }
                    }
                }
            }
        }
    };
    (status, Html(doc.into_string())).into_response()
}

/// The hidden CSRF field of every state-changing form.
pub fn csrf(s: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.session.csrf_token); }
}

/// A modal dialog over the page; `close` is where Close/Cancel leads.
pub fn dialog(title: &str, close: &str, body: Markup) -> Markup {
    html! {
        div.overlay {
            section.dialog role="dialog" aria-modal="true" aria-labelledby="dialog-title" {
                header {
                    h2 #dialog-title { (title) }
                    a.close href=(close) aria-label="Close dialog" { "×" }
                }
                (body)
            }
        }
    }
}

/// A page header with a title, a description and actions on the right.
pub fn header(title: &str, lead: &str, actions: Markup) -> Markup {
    html! {
        div.page-head {
            div { h1 { (title) } @if !lead.is_empty() { p.lead { (lead) } } }
            div.actions { (actions) }
        }
    }
}

/// A read-only value with a Copy button (`id` names the element copied).
pub fn copyable(id: &str, value: &str) -> Markup {
    html! {
        div.copy-row {
            code.secret #(id) { (value) }
            button.secondary type="button" data-copy=(id) aria-label=(format!("Copy {id}")) { "Copy" }
            span.copied role="status" aria-live="polite" {}
        }
    }
}

/// The trash icon (inline SVG; no style attribute, allowed by the CSP).
pub fn trash_icon() -> Markup {
    html! {
        svg.ico width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false" {
            path fill="currentColor" d="M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9zm4 2v8h2v-8h-2zm4 0v8h2v-8h-2z" {}
        }
    }
}

/// A date as `2025-01-31 14:05 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC).format(&f).unwrap_or_default()
}

/// An optional date, or "never".
pub fn when_opt(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map(when).unwrap_or_else(|| none.to_string())
}

/// A coloured badge for a state name.
pub fn badge(state: &str) -> Markup {
    let kind = match state {
        "CREATED" | "LIVE" | "SUCCEEDED" | "active" | "success" => "ok",
        "CREATING" | "SCALING" | "UPGRADING" | "RUNNING" | "SENT" | "DELETING" | "SUSPENDING" | "RESUMING" | "NOT_READY" => "busy",
        "CREATION_FAILED" | "FAILED" | "revoked" | "denied" | "failed" | "expired" => "bad",
        _ => "muted",
    };
    html! { span class=(format!("badge badge-{kind}")) { (state) } }
}

/// A page with only a message (errors).
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    bare(status, title, html! { main.login { div.login-card { h1 { (title) } p { (text) } p { a href="/" { "Back to the console" } } } } })
}

/// The answer to a failed call: its status (the API's) and message, in the shell when the
/// person is signed in. Internal details are logged, never shown.
pub fn error_response(s: Option<&Signed>, e: Error) -> Response {
    let denied = matches!(e, Error::PermissionDenied);
    let api = crate::error::ApiError::from(e);
    let text = if denied { "You do not have permission to do this.".to_string() } else { capital(&api.body.message) };
    let title = match api.status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Cannot do that now",
        StatusCode::TOO_MANY_REQUESTS => "Slow down",
        s if s.is_server_error() => "Something went wrong",
        _ => "Please check the form",
    };
    match s {
        Some(s) => {
            let back = html! { p { a.button.secondary href="/" data-back="1" { "Go back" } } };
            page_with(s, api.status, title, Some(Flash::error(&text)), html! { h1 { (title) } (back) })
        }
        None => message_page(api.status, title, &text),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// A typed-name confirmation: the submit button stays disabled (with JavaScript) until the
/// expected text is typed; the server checks it either way.
pub fn confirm_field(label: &str, expected: &str) -> Markup {
    html! {
        label for="confirm" { (label) }
        input #confirm type="text" name="confirm" autocomplete="off" required data-confirm=(expected);
    }
}

/// Non-breaking raw HTML (used for the few entities maud would escape).
pub fn raw(s: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(s)
}
