//! Organization Settings (name, the Organization ID with a Copy button, API Access) and the
//! person's own account (change password).

use super::accounts::{key_warning, may_manage_accounts, quick_key, quick_key_form};
use super::keys::secret_panel;
use super::layout::{self, Flash, csrf, dialog};
use super::session::{Signed, Submitted, set_cookie};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::{Error, Permission, Target};
use maud::{Markup, html};

async fn content(state: &AppState, s: &Signed) -> Result<Markup, Error> {
    let org = state.app.org().get(s.caller()).await?;
    let may_rename = s.can(Permission::OrgUpdate, Target::Organization);
    let accounts = if may_manage_accounts(s) { state.app.service_accounts().list_all(s.caller()).await? } else { vec![] };
    Ok(html! {
        (layout::header("Organization settings", "", html! {}))
        section.card {
            h2 { "General" }
            dl.kv {
                dt { "Organization ID" } dd { (layout::copyable("organization_id", &org.id.to_string())) }
                dt { "Created" } dd { (layout::when(org.created_at)) }
            }
            @if may_rename {
                form.row-form method="post" action="/settings" {
                    (csrf(s))
                    label for="org-name" { "Organization name" }
                    input #org-name name="name" required maxlength="100" value=(org.name);
                    button.primary type="submit" { "Save" }
                }
            } @else {
                dl.kv { dt { "Organization name" } dd { (org.name) } }
            }
        }
        @if may_manage_accounts(s) {
            section.card #api-access {
                div.page-head {
                    div { h2 { "API Access" } p.lead { "API keys of service accounts authenticate applications with the account's roles." } }
                    div.actions { a.button.primary href="/settings/api-access" { "Create API Key" } }
                }
                @if accounts.is_empty() { p.empty { "No service accounts yet." } } @else {
                    ul.plain { @for a in &accounts { li { a href=(format!("/service-accounts/{}", a.id)) { (a.name) } } } }
                }
            }
        }
    })
}

/// `GET /settings`.
pub async fn page(State(state): State<AppState>, s: Signed) -> Response {
    match content(&state, &s).await {
        Ok(m) => layout::page(&s, "Settings", m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `POST /settings`: renames the organization.
pub async fn rename(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.org().update(s.caller(), Some(form.fields.get("name")), None).await {
        Ok(_) => Redirect::to("/settings?done=saved").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `GET /settings/api-access`: Create API Key (pick or create a service account).
pub async fn api_access_dialog(State(state): State<AppState>, s: Signed) -> Response {
    let bg = content(&state, &s).await.unwrap_or_default();
    let accounts = state.app.service_accounts().list_all(s.caller()).await.unwrap_or_default();
    layout::page(&s, "Create API key", html! { (bg) (dialog("Create API Key", "/settings", quick_key_form(&s, &accounts, None))) })
}

/// `POST /settings/api-access`: creates the account if asked, then the key; the secret is
/// shown once.
pub async fn api_access(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let result = quick_key(&state, s, &form.fields).await;
    let bg = content(&state, s).await.unwrap_or_default();
    match result {
        Ok(k) => {
            layout::page(s, "API key created", html! { (bg) (dialog("Create API Key", "/settings", secret_panel(&k, "/settings", key_warning(), "Done"))) })
        }
        Err(e) => {
            let accounts = state.app.service_accounts().list_all(s.caller()).await.unwrap_or_default();
            let api = crate::error::ApiError::from(e);
            let body = html! { (Flash::error(&api.body.message).render()) (quick_key_form(s, &accounts, Some(&form.fields))) };
            layout::page_with(s, api.status, "Create API key", None, html! { (bg) (dialog("Create API Key", "/settings", body)) })
        }
    }
}

fn account_content(s: &Signed) -> Markup {
    html! {
        (layout::header("Your account", "", html! {}))
        section.card {
            dl.kv {
                dt { "E-mail address" } dd { (s.session.email) }
                dt { "Name" } dd { (s.session.name) }
                dt { "Session ends" } dd { "at the latest " (layout::when(s.session.expires_at)) ", sooner when idle" }
            }
        }
        section.card {
            h2 { "Change password" }
            form.stack method="post" action="/account" {
                (csrf(s))
                input type="text" name="username" value=(s.session.email) autocomplete="username" hidden;
                label for="current_password" { "Current password" }
                input #current_password type="password" name="current_password" autocomplete="current-password" required;
                label for="new_password" { "New password " span.opt { "(12 to 128 characters)" } }
                input #new_password type="password" name="new_password" autocomplete="new-password" minlength="12" maxlength="128" required;
                div { button.primary type="submit" { "Change password" } }
            }
        }
    }
}

/// `GET /account`.
pub async fn account(s: Signed) -> Response {
    layout::page(&s, "Your account", account_content(&s))
}

/// `POST /account`: changes the person's password; every session of theirs ends.
pub async fn change_password(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let f = &form.fields;
    match state.app.sessions().set_password(s.caller(), s.session.user_id, Some(f.raw("current_password")), f.raw("new_password")).await {
        Ok(()) => {
            let mut res = Redirect::to("/login?done=password").into_response();
            res.headers_mut().insert(header::SET_COOKIE, set_cookie(super::session::COOKIE, "", 0, s.secure));
            res
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            layout::page_with(s, api.status, "Your account", Some(Flash::error(&api.body.message)), account_content(s))
        }
    }
}
