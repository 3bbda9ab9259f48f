//! API keys (seeds 000, 002, 003): the list shows access keys only; Generate Key shows the
//! secret and bearer token once, with Copy and Download, gone after Close or a reload;
//! rename; rotate; revoke after typing the key's name.

use super::layout::{self, Flash, csrf, dialog, when_opt};
use super::session::{Fields, Signed, Submitted};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::identity::keys::{KeyState, KeyWithSecret, NewKey, own_roles};
use dbcloud_app::model::{ApiKeyRecord, KeyOwner};
use dbcloud_app::{Error, Permission, Role, Target};
use dbcloud_types::Project;
use maud::{Markup, html};
use uuid::Uuid;

/// Organization roles a key may hold (seed 003's vocabulary).
pub const ORG_ROLES: &[Role] = &[Role::OrganizationOwner, Role::OrganizationMember, Role::ProjectCreator];
/// Project roles a key may hold in a project.
pub const PROJECT_ROLES: &[Role] = &[Role::ProjectOwner, Role::ProjectManager, Role::ProjectViewer, Role::ProjectDataReaderWriter, Role::ProjectDataReader];

fn owner_label(k: &ApiKeyRecord) -> Markup {
    match k.owner {
        KeyOwner::Key => html! { "—" },
        KeyOwner::ServiceAccount(id) => html! { a href=(format!("/service-accounts/{id}")) { "service account" } },
        KeyOwner::User(id) => html! { a href=(format!("/users/{id}")) { "user" } },
    }
}

fn roles_label(k: &ApiKeyRecord, projects: &[Project]) -> String {
    if k.owner != KeyOwner::Key {
        return "inherited".into();
    }
    let (org, per_project) = own_roles(k);
    let mut parts = org;
    for (p, roles) in per_project {
        let name = projects.iter().find(|x| x.id == p).map(|x| x.name.clone()).unwrap_or_else(|| p.to_string());
        parts.extend(roles.iter().map(|r| format!("{r} ({name})")));
    }
    parts.join(", ")
}

/// The keys table (access keys, never secrets).
fn table(s: &Signed, keys: &[ApiKeyRecord], projects: &[Project], base: &str) -> Markup {
    let now = dbcloud_core::now();
    html! {
        @if keys.is_empty() {
            p.empty { "No API keys yet." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Name" } th { "Access key" } th { "Roles" } th { "Owner" } th { "Expires" } th { "Last used" } th { "State" } th { span.sr-only { "Actions" } } } }
                    tbody {
                        @for k in keys {
                            @let state = KeyState::of(k, now);
                            tr data-key=(k.access_key) {
                                td { strong { (k.name) } @if !k.description.is_empty() { div.sub { (k.description) } } }
                                td { code { (k.access_key) } }
                                td { (roles_label(k, projects)) }
                                td { (owner_label(k)) }
                                td { (when_opt(k.expires_at, "never")) }
                                td { (when_opt(k.last_used_at, "never")) }
                                td { (layout::badge(match state { KeyState::Active => "active", KeyState::Revoked => "revoked", KeyState::Expired => "expired" })) }
                                td.row-actions {
                                    @if state == KeyState::Active && s.can(Permission::ApikeyManage, Target::Organization) {
                                        a.button.ghost href=(format!("{base}/{}/rename", k.access_key)) { "Rename" }
                                        form.inline method="post" action=(format!("/api-keys/{}/rotate", k.access_key)) {
                                            (csrf(s))
                                            button.ghost type="submit" { "Rotate" }
                                        }
                                        a.icon-button href=(format!("{base}/{}/revoke", k.access_key)) aria-label=(format!("Revoke {}", k.name)) title="Revoke" { (layout::trash_icon()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn list_content(state: &AppState, s: &Signed) -> Result<Markup, Error> {
    let c = s.caller();
    let projects = state.app.projects().list_all(c).await.unwrap_or_default();
    let may_list = s.can(Permission::ApikeyManage, Target::Organization);
    let keys = if may_list { state.app.api_keys().list_all(c, None).await? } else { vec![] };
    let actions = html! {
        @if s.can_somewhere(Permission::ApikeyManage) {
            a.button.primary href="/api-keys/new" { "Generate Key" }
        }
    };
    Ok(html! {
        (layout::header("API keys", "Keys authenticate calls to the API. Only the access key is shown here: a secret is shown once, when the key is generated.", actions))
        @if may_list { (table(s, &keys, &projects, "/api-keys")) } @else { p.empty { "You may generate keys that act as you; listing the organization's keys needs the apikey.manage permission." } }
    })
}

/// `GET /api-keys`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    match list_content(&state, &s).await {
        Ok(m) => layout::page(&s, "API keys", m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

fn key_form(s: &Signed, projects: &[Project], f: Option<&Fields>) -> Markup {
    let v = |n: &str| f.map(|f| f.get(n).to_string()).unwrap_or_default();
    let expiry = f.map(|f| f.get("expiry").to_string()).unwrap_or_else(|| "180".into());
    let access = f.map(|f| f.get("access").to_string()).unwrap_or_else(|| "roles".into());
    let c = &s.session.caller.principal;
    html! {
        form.stack method="post" action="/api-keys" {
            (csrf(s))
            label for="name" { "Key name" }
            input #name name="name" required maxlength="100" value=(v("name")) autofocus;
            label for="description" { "Description " span.opt { "(optional)" } }
            input #description name="description" maxlength="1024" value=(v("description"));
            label for="expiry" { "Expiry in days " span.opt { "(0: never expires)" } }
            input #expiry name="expiry" type="number" min="0" max="3650" step="1" value=(expiry) required;
            fieldset {
                legend { "Access" }
                label.check { input type="radio" name="access" value="roles" checked[access != "me"]; " Roles of its own (below)" }
                label.check { input type="radio" name="access" value="me" checked[access == "me"]; " My permissions (the key acts as me)" }
            }
            fieldset {
                legend { "Organization roles" }
                @for r in ORG_ROLES {
                    @if c.holds_role(*r, Target::Organization) {
                        label.check { input type="checkbox" name="org_role" value=(r.as_str()); " " (r.as_str()) }
                    }
                }
            }
            @if !projects.is_empty() {
                fieldset {
                    legend { "Project roles" }
                    @for p in projects {
                        label for=(format!("pr-{}", p.id)) { (p.name) }
                        select id=(format!("pr-{}", p.id)) name=(format!("project_role:{}", p.id)) {
                            option value="" { "No access" }
                            @for r in PROJECT_ROLES {
                                @if c.holds_role(*r, Target::Project(p.id)) { option value=(r.as_str()) { (r.as_str()) } }
                            }
                        }
                    }
                }
            }
            label for="cidrs" { "Allowed CIDRs " span.opt { "(one per line; empty: any address)" } }
            textarea #cidrs name="cidrs" rows="2" placeholder="203.0.113.0/24" { (v("cidrs")) }
            div.dialog-actions {
                a.button.secondary href="/api-keys" { "Cancel" }
                button.primary type="submit" { "Submit" }
            }
        }
    }
}

/// `GET /api-keys/new`: the Generate Key dialog.
pub async fn new(State(state): State<AppState>, s: Signed) -> Response {
    let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
    let bg = list_content(&state, &s).await.unwrap_or_default();
    layout::page(&s, "Generate API key", html! { (bg) (dialog("Generate Key", "/api-keys", key_form(&s, &projects, None))) })
}

/// The key to create from the Generate Key form.
fn new_key(s: &Signed, f: &Fields) -> Result<NewKey, Error> {
    let expiry = f.get("expiry");
    let expiry_days = if expiry.is_empty() { None } else { Some(expiry.parse::<f64>().map_err(|_| Error::field("expiry", "must be a number of days"))?) };
    let mut req = NewKey {
        name: f.get("name").to_string(),
        description: f.get("description").to_string(),
        expiry_days,
        allowed_cidrs: f.get("cidrs").lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect(),
        ..Default::default()
    };
    if f.get("access") == "me" {
        req.user_id = Some(s.session.user_id);
    } else {
        req.organization_roles = Some(f.all("org_role"));
        for (k, v) in &f.0 {
            if let Some(id) = k.strip_prefix("project_role:")
                && !v.is_empty()
            {
                let p = Uuid::parse_str(id).map_err(|_| Error::field("resources", "unknown project"))?;
                req.project_roles.push((p, vec![v.clone()]));
            }
        }
    }
    Ok(req)
}

/// The secret, shown once: access key, secret and bearer token with Copy, a Download
/// button and the warning. Reloading the page leads to the list (the secret is gone).
pub fn secret_panel(k: &KeyWithSecret, close: &str, warning: &str, done: &str) -> Markup {
    html! {
        div.secret-panel data-replace-url=(close) {
            div.flash.flash-warn role="alert" { (warning) }
            dl.kv {
                dt { "Key name" } dd { (k.key.name) }
                dt { "Access key" } dd { (layout::copyable("access_key", &k.key.access_key)) }
                dt { "Secret key" } dd { (layout::copyable("secret", &k.secret)) }
                dt { "Bearer token" } dd { (layout::copyable("bearer_token", &k.bearer_token)) }
            }
            div.dialog-actions {
                button.secondary type="button" data-download="access_key,secret,bearer_token" data-filename=(format!("dbcloud-api-key-{}.txt", k.key.access_key)) { "Download" }
                a.button.primary href=(close) { (done) }
            }
        }
    }
}

/// `POST /api-keys`: creates the key and shows its secret once.
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let result = match new_key(s, &form.fields) {
        Ok(req) => state.app.api_keys().create(s.caller(), req).await,
        Err(e) => Err(e),
    };
    let bg = list_content(&state, s).await.unwrap_or_default();
    match result {
        Ok(k) => {
            let warn = "This is the only time the secret key is shown. Store it safely now: if you lose it, generate a new key.";
            layout::page(s, "API key created", html! { (bg) (dialog("Key created", "/api-keys", secret_panel(&k, "/api-keys", warn, "Close"))) })
        }
        Err(e) => {
            let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
            let api = crate::error::ApiError::from(e);
            let body = html! { (Flash::error(&api.body.message).render()) (key_form(s, &projects, Some(&form.fields))) };
            layout::page_with(s, api.status, "Generate API key", None, html! { (bg) (dialog("Generate Key", "/api-keys", body)) })
        }
    }
}

async fn key_of(state: &AppState, s: &Signed, key: &str) -> Result<ApiKeyRecord, Error> {
    if !dbcloud_core::keys::is_access_key(key) {
        return Err(Error::NotFound(format!("api key {key}")));
    }
    state.app.api_keys().get(s.caller(), key).await
}

/// `GET /api-keys/{key}/revoke`: confirm by typing the key's name.
pub async fn revoke_dialog(State(state): State<AppState>, s: Signed, Path(key): Path<String>) -> Response {
    let k = match key_of(&state, &s, &key).await {
        Ok(k) => k,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let bg = list_content(&state, &s).await.unwrap_or_default();
    layout::page(&s, "Revoke API key", html! { (bg) (dialog("Revoke API key", "/api-keys", revoke_form(&s, &k, "/api-keys", None))) })
}

/// The revoke form: type `expected` to confirm.
pub fn revoke_form(s: &Signed, k: &ApiKeyRecord, back: &str, error: Option<&str>) -> Markup {
    html! {
        form.stack method="post" action=(format!("/api-keys/{}/revoke", k.access_key)) {
            (csrf(s))
            input type="hidden" name="back" value=(back);
            @if let Some(e) = error { (Flash::error(e).render()) }
            p { "Revoking " strong { (k.name) } " (" code { (k.access_key) } ") makes every call with it fail at once. This cannot be undone." }
            (layout::confirm_field("Enter the API key name to confirm", &k.name))
            div.dialog-actions {
                a.button.secondary href=(back) { "Cancel" }
                button.danger type="submit" { "Confirm" }
            }
        }
    }
}

/// `POST /api-keys/{key}/revoke`: revokes when the typed name matches.
pub async fn revoke(State(state): State<AppState>, Path(key): Path<String>, form: Submitted) -> Response {
    let s = &form.signed;
    let k = match key_of(&state, s, &key).await {
        Ok(k) => k,
        Err(e) => return layout::error_response(Some(s), e),
    };
    let back = if form.fields.get("back").starts_with("/service-accounts/") { form.fields.get("back").to_string() } else { "/api-keys".to_string() };
    if form.fields.get("confirm") != k.name {
        let bg = list_content(&state, s).await.unwrap_or_default();
        let body = revoke_form(s, &k, &back, Some("The name you typed does not match the key's name."));
        return layout::page_with(s, StatusCode::BAD_REQUEST, "Revoke API key", None, html! { (bg) (dialog("Revoke API key", &back, body)) });
    }
    match state.app.api_keys().revoke(s.caller(), &key).await {
        Ok(_) => Redirect::to(&format!("{back}?done=revoked")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// The rename form of a key.
pub fn rename_form(s: &Signed, k: &ApiKeyRecord, action: &str, back: &str) -> Markup {
    html! {
        form.stack method="post" action=(action) {
            (csrf(s))
            label for="name" { "API key name" }
            input #name name="name" required maxlength="100" value=(k.name) autofocus;
            label for="description" { "Description" }
            input #description name="description" maxlength="1024" value=(k.description);
            div.dialog-actions {
                a.button.secondary href=(back) { "Cancel" }
                button.primary type="submit" { "Save changes" }
            }
        }
    }
}

/// `GET /api-keys/{key}/rename`.
pub async fn rename_dialog(State(state): State<AppState>, s: Signed, Path(key): Path<String>) -> Response {
    let k = match key_of(&state, &s, &key).await {
        Ok(k) => k,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let bg = list_content(&state, &s).await.unwrap_or_default();
    let form = rename_form(&s, &k, &format!("/api-keys/{key}/rename"), "/api-keys");
    layout::page(&s, "Rename API key", html! { (bg) (dialog("Edit API key name", "/api-keys", form)) })
}

/// `POST /api-keys/{key}/rename`.
pub async fn rename(State(state): State<AppState>, Path(key): Path<String>, form: Submitted) -> Response {
    let s = &form.signed;
    let (name, description) = (form.fields.get("name"), form.fields.get("description"));
    match state.app.api_keys().update(s.caller(), &key, Some(name), Some(description), None).await {
        Ok(_) => Redirect::to("/api-keys?done=renamed").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /api-keys/{key}/rotate`: a new secret, shown once; the old one stops at once.
pub async fn rotate(State(state): State<AppState>, Path(key): Path<String>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.api_keys().rotate(s.caller(), &key, 0).await {
        Ok(k) => {
            let bg = list_content(&state, s).await.unwrap_or_default();
            let warn = "The key has a new secret; the old one no longer works. This is the only time the new secret is shown.";
            layout::page(s, "API key rotated", html! { (bg) (dialog("Key rotated", "/api-keys", secret_panel(&k, "/api-keys", warn, "Close"))) })
        }
        Err(e) => layout::error_response(Some(s), e),
    }
}
