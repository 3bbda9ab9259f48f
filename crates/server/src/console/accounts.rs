//! Service accounts (seeds 001 and 004): the table with an Action menu, Create Service
//! Account (name, description, the legacy ADMIN/CREATE/DELETE/EDIT/READ permissions and
//! the role vocabularies) followed by its first API key or Skip, Edit, the API Access table
//! of each account, Create API key (secret shown once with Copy), delete a key by typing
//! the account's name, edit a key's name; and Organization Settings > API Access > Create
//! API Key (pick or create an account).

use super::keys::{rename_form, secret_panel};
use super::layout::{self, Flash, csrf, dialog, when};
use super::session::{Fields, Signed, Submitted};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::identity::grants::grants_of;
use dbcloud_app::identity::keys::NewKey;
use dbcloud_app::model::{ApiKeyRecord, KeyOwner, PrincipalRef};
use dbcloud_app::{Error, Permission, Role, Scope, Target};
use dbcloud_core::perms::Grant;
use dbcloud_types::ServiceAccount;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

/// Role groups offered for service accounts: (group, roles with a description).
pub const ROLE_GROUPS: &[(&str, &[(Role, &str)])] = &[
    (
        "Permissions",
        &[
            (Role::Admin, "Full authorization for the organization: create, modify and delete clusters"),
            (Role::Create, "Create new clusters"),
            (Role::Delete, "Delete clusters"),
            (Role::Edit, "Modify clusters"),
            (Role::Read, "Get details about clusters"),
        ],
    ),
    (
        "Cluster roles",
        &[
            (Role::ClusterAdmin, "Cluster Admin: full access to all cluster operations, including create, update, delete, and billing"),
            (Role::ClusterCreator, "Cluster Creator: create and delete clusters, not modify existing ones"),
            (Role::ClusterDeveloper, "Cluster Developer: view and modify existing clusters, not create or delete them"),
            (Role::ClusterOperatorWriter, "Cluster Operator: maintenance windows and operational settings"),
            (Role::BillingCoordinator, "Billing Coordinator: view invoices and billing information"),
        ],
    ),
    (
        "Organization roles",
        &[
            (Role::OrganizationOwner, "Owner of the organization"),
            (Role::OrganizationMember, "Member: reads the organization"),
            (Role::ProjectCreator, "Creates projects (owns what it creates)"),
        ],
    ),
];

fn roles_text(sa: &ServiceAccount) -> String {
    let v: Vec<&str> = sa.roles.iter().map(|r| r.role.as_str()).collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn role_boxes(s: &Signed, checked: &[String]) -> Markup {
    let p = &s.session.caller.principal;
    html! {
        @for (group, roles) in ROLE_GROUPS {
            fieldset {
                legend { (group) }
                @for (r, text) in *roles {
                    @if p.holds_role(*r, Target::Organization) {
                        label.check {
                            input type="checkbox" name="role" value=(r.as_str()) checked[checked.iter().any(|c| c == r.as_str())];
                            " " strong { (r.as_str()) } " — " span.sub { (text) }
                        }
                    }
                }
            }
        }
    }
}

fn grants_from(f: &Fields) -> Result<Vec<Grant>, Error> {
    f.all("role")
        .iter()
        .map(|r| Role::parse(r).map(|role| Grant { role, scope: Scope::Organization }).ok_or_else(|| Error::field("role", format!("unknown role {r:?}"))))
        .collect()
}

async fn list_content(state: &AppState, s: &Signed) -> Result<Markup, Error> {
    let accounts = state.app.service_accounts().list_all(s.caller()).await?;
    let actions = html! { a.button.primary href="/service-accounts/new" { "Create Service Account" } };
    Ok(html! {
        (layout::header("Service accounts", "Service accounts are used by applications calling the API; they are not for people. Their API keys inherit their permissions.", actions))
        @if accounts.is_empty() { p.empty { "No service accounts yet." } } @else {
            div.table-wrap { table {
                thead { tr { th { "Account name" } th { "Description" } th { "Permissions" } th { "Created" } th { span.sr-only { "Actions" } } } }
                tbody {
                    @for a in &accounts {
                        tr {
                            td { a href=(format!("/service-accounts/{}", a.id)) { strong { (a.name) } } }
                            td { (a.description) }
                            td { (roles_text(a)) }
                            td { (when(a.created_at)) }
                            td.row-actions { (action_menu(&format!("Actions for {}", a.name), &[
                                ("Edit", format!("/service-accounts/{}/edit", a.id)),
                                ("API keys", format!("/service-accounts/{}", a.id)),
                                ("Delete", format!("/service-accounts/{}/delete", a.id)),
                            ])) }
                        }
                    }
                }
            } }
        }
    })
}

/// An Action menu (a disclosure: works without script, by keyboard).
pub fn action_menu(label: &str, items: &[(&str, String)]) -> Markup {
    html! {
        details.menu {
            summary.button.ghost aria-label=(label) { "Action ▾" }
            ul.menu-items { @for (text, href) in items { li { a href=(href) { (text) } } } }
        }
    }
}

/// `GET /service-accounts`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    match list_content(&state, &s).await {
        Ok(m) => layout::page(&s, "Service accounts", m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

fn account_form(s: &Signed, action: &str, sa: Option<&ServiceAccount>, f: Option<&Fields>, submit: &str) -> Markup {
    let name = f.map(|f| f.get("name").to_string()).or_else(|| sa.map(|a| a.name.clone())).unwrap_or_default();
    let description = f.map(|f| f.get("description").to_string()).or_else(|| sa.map(|a| a.description.clone())).unwrap_or_default();
    let checked: Vec<String> = f.map(|f| f.all("role")).or_else(|| sa.map(|a| a.roles.iter().map(|r| r.role.clone()).collect())).unwrap_or_default();
    html! {
        form.stack method="post" action=(action) {
            (csrf(s))
            label for="name" { "Account name" }
            input #name name="name" required maxlength="100" value=(name) autofocus;
            label for="description" { "Description " span.opt { "(optional)" } }
            input #description name="description" maxlength="1024" value=(description);
            (role_boxes(s, &checked))
            div.dialog-actions {
                a.button.secondary href="/service-accounts" { "Cancel" }
                button.primary type="submit" { (submit) }
            }
        }
    }
}

/// `GET /service-accounts/new`: the Create service account dialog.
pub async fn new(State(state): State<AppState>, s: Signed) -> Response {
    let bg = list_content(&state, &s).await.unwrap_or_default();
    layout::page(
        &s,
        "Create service account",
        html! { (bg) (dialog("Create service account", "/service-accounts", account_form(&s, "/service-accounts", None, None, "Create"))) },
    )
}

fn form_error(s: &Signed, bg: Markup, title: &str, e: Error, body: impl FnOnce() -> Markup) -> Response {
    let api = crate::error::ApiError::from(e);
    let content = html! { (Flash::error(&api.body.message).render()) (body()) };
    layout::page_with(s, api.status, title, None, html! { (bg) (dialog(title, "/service-accounts", content)) })
}

/// `POST /service-accounts`: creates it, then offers its first API key (or Skip).
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let (s, f) = (&form.signed, &form.fields);
    let result = match grants_from(f) {
        Ok(g) => state.app.service_accounts().create_with(s.caller(), f.get("name"), f.get("description"), g, None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Redirect::to(&format!("/service-accounts/{}/keys/new?first=1", c.value.id)).into_response(),
        Err(e) => {
            let bg = list_content(&state, s).await.unwrap_or_default();
            form_error(s, bg, "Create service account", e, || account_form(s, "/service-accounts", None, Some(f), "Create"))
        }
    }
}

async fn keys_of(state: &AppState, s: &Signed, id: Uuid) -> Result<Vec<ApiKeyRecord>, Error> {
    let keys = state.app.api_keys().list_all(s.caller(), Some(KeyOwner::ServiceAccount(id))).await?;
    Ok(keys.into_iter().filter(|k| k.state == "active").collect())
}

async fn detail_content(state: &AppState, s: &Signed, id: Uuid) -> Result<(ServiceAccount, Markup), Error> {
    let sa = state.app.service_accounts().get(s.caller(), id).await?;
    let keys = keys_of(state, s, id).await?;
    let base = format!("/service-accounts/{id}");
    let actions = html! {
        a.button.secondary href=(format!("{base}/edit")) { "Edit" }
        a.button.primary href=(format!("{base}/keys/new")) { "Create API Key" }
    };
    let m = html! {
        p.crumbs { a href="/service-accounts" { "Service accounts" } " / " (sa.name) }
        (layout::header(&sa.name, &sa.description, actions))
        dl.kv.card {
            dt { "Account ID" } dd { code { (sa.id) } }
            dt { "Permissions" } dd { (roles_text(&sa)) }
            dt { "Created" } dd { (when(sa.created_at)) }
        }
        h2 { "API Access" }
        p.lead { "All API keys of this service account. They authenticate with the account's permissions." }
        @if keys.is_empty() { p.empty { "No API keys yet." } } @else {
            div.table-wrap { table #api-access {
                thead { tr { th { "API key ID" } th { "Name" } th { "Created" } th { "Last used" } th { span.sr-only { "Actions" } } } }
                tbody { @for k in &keys {
                    tr data-key=(k.access_key) {
                        td { code { (k.access_key) } }
                        td { (k.name) }
                        td { (when(k.created_at)) }
                        td { (layout::when_opt(k.last_used_at, "never")) }
                        td.row-actions { (action_menu(&format!("Actions for {}", k.access_key), &[
                            ("Edit", format!("{base}/keys/{}/edit", k.access_key)),
                            ("Delete", format!("{base}/keys/{}/delete", k.access_key)),
                        ])) }
                    }
                } }
            } }
        }
    };
    Ok((sa, m))
}

/// `GET /service-accounts/{id}`: the account and its API Access table.
pub async fn detail(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    match detail_content(&state, &s, id).await {
        Ok((sa, m)) => layout::page(&s, &sa.name, m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `GET /service-accounts/{id}/edit`: the Edit service account dialog.
pub async fn edit(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    let sa = match state.app.service_accounts().get(s.caller(), id).await {
        Ok(sa) => sa,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let bg = list_content(&state, &s).await.unwrap_or_default();
    let form = account_form(&s, &format!("/service-accounts/{id}"), Some(&sa), None, "Save changes");
    layout::page(&s, "Edit service account", html! { (bg) (dialog("Edit service account", "/service-accounts", form)) })
}

/// `POST /service-accounts/{id}`: saves name, description and permissions.
pub async fn save(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let (s, f) = (&form.signed, &form.fields);
    let app = &state.app;
    let result = async {
        let grants = grants_from(f)?;
        let sa = app.service_accounts().update(s.caller(), id, Some(f.get("name")), Some(f.get("description"))).await?;
        let current = grants_of(&sa.roles);
        if current.len() != grants.len() || !grants.iter().all(|g| current.contains(g)) {
            app.grants().replace(s.caller(), &PrincipalRef { kind: "service_account".into(), id: id.to_string() }, &grants).await?;
        }
        Ok::<_, Error>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/service-accounts?done=saved").into_response(),
        Err(e) => {
            let bg = list_content(&state, s).await.unwrap_or_default();
            form_error(s, bg, "Edit service account", e, || account_form(s, &format!("/service-accounts/{id}"), None, Some(f), "Save changes"))
        }
    }
}

/// `GET /service-accounts/{id}/delete`.
pub async fn delete_dialog(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    let sa = match state.app.service_accounts().get(s.caller(), id).await {
        Ok(sa) => sa,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let bg = list_content(&state, &s).await.unwrap_or_default();
    let form = html! {
        form.stack method="post" action=(format!("/service-accounts/{id}/delete")) {
            (csrf(&s))
            p { "Deleting " strong { (sa.name) } " revokes all of its API keys." }
            (layout::confirm_field("Enter the service account name to confirm", &sa.name))
            div.dialog-actions { a.button.secondary href="/service-accounts" { "Cancel" } button.danger type="submit" { "Delete" } }
        }
    };
    layout::page(&s, "Delete service account", html! { (bg) (dialog("Delete service account", "/service-accounts", form)) })
}

/// `POST /service-accounts/{id}/delete`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let result = async {
        let sa = state.app.service_accounts().get(s.caller(), id).await?;
        if form.fields.get("confirm") != sa.name {
            return Err(Error::field("confirm", "the name you typed does not match the service account's name"));
        }
        state.app.service_accounts().delete(s.caller(), id).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/service-accounts?done=deleted").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// Query of the Create API key dialog.
#[derive(Debug, Deserialize)]
pub struct NewKeyQuery {
    first: Option<String>,
}

fn key_name_form(s: &Signed, id: Uuid, first: bool, value: &str) -> Markup {
    html! {
        form.stack method="post" action=(format!("/service-accounts/{id}/keys")) {
            (csrf(s))
            @if first { p { "The service account was created. Create an API key for it now, or skip." } }
            label for="name" { "API key name" }
            input #name name="name" required maxlength="100" value=(value) autofocus;
            p.hint { "Name it for the application that will use it." }
            div.dialog-actions {
                @if first { a.button.secondary href="/service-accounts" { "Skip" } } @else { a.button.secondary href=(format!("/service-accounts/{id}")) { "Cancel" } }
                button.primary type="submit" { "Create" }
            }
        }
    }
}

/// `GET /service-accounts/{id}/keys/new`: the Create API key dialog (after creating an
/// account it offers Skip).
pub async fn new_key(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>, Query(q): Query<NewKeyQuery>) -> Response {
    match detail_content(&state, &s, id).await {
        Ok((_, bg)) => {
            let first = q.first.is_some();
            layout::page(&s, "Create API key", html! { (bg) (dialog("Create API key", &format!("/service-accounts/{id}"), key_name_form(&s, id, first, ""))) })
        }
        Err(e) => layout::error_response(Some(&s), e),
    }
}

const SA_KEY_WARNING: &str = "The secret key will not be available after closing this dialog. If you lose it, delete the API key and create a new one. \
                              The secret key contains the API key and secret: anyone with it can use the API with the permissions of the service account.";

/// `POST /service-accounts/{id}/keys`: creates a key of the account and shows its secret key once.
pub async fn create_key(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let req = NewKey { name: form.fields.get("name").to_string(), service_account_id: Some(id), ..Default::default() };
    let result = state.app.api_keys().create(s.caller(), req).await;
    let (_, bg) = match detail_content(&state, s, id).await {
        Ok(x) => x,
        Err(e) => return layout::error_response(Some(s), e),
    };
    let back = format!("/service-accounts/{id}");
    match result {
        Ok(k) => layout::page(s, "API key created", html! { (bg) (dialog("Create API key", &back, secret_panel(&k, &back, SA_KEY_WARNING, "Done"))) }),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            let body = html! { (Flash::error(&api.body.message).render()) (key_name_form(s, id, false, form.fields.get("name"))) };
            layout::page_with(s, api.status, "Create API key", None, html! { (bg) (dialog("Create API key", &back, body)) })
        }
    }
}

async fn account_key(state: &AppState, s: &Signed, id: Uuid, key: &str) -> Result<(ServiceAccount, ApiKeyRecord, Markup), Error> {
    let (sa, bg) = detail_content(state, s, id).await?;
    let k = state.app.api_keys().get(s.caller(), key).await?;
    if k.owner != KeyOwner::ServiceAccount(id) {
        return Err(Error::NotFound(format!("api key {key}")));
    }
    Ok((sa, k, bg))
}

/// `GET /service-accounts/{id}/keys/{key}/edit`: the Edit API key name dialog.
pub async fn edit_key(State(state): State<AppState>, s: Signed, Path((id, key)): Path<(Uuid, String)>) -> Response {
    match account_key(&state, &s, id, &key).await {
        Ok((_, k, bg)) => {
            let back = format!("/service-accounts/{id}");
            let form = rename_form(&s, &k, &format!("{back}/keys/{key}/edit"), &back);
            layout::page(&s, "Edit API key name", html! { (bg) (dialog("Edit API key name", &back, form)) })
        }
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `POST /service-accounts/{id}/keys/{key}/edit`.
pub async fn rename_key(State(state): State<AppState>, Path((id, key)): Path<(Uuid, String)>, form: Submitted) -> Response {
    let s = &form.signed;
    let result = async {
        account_key(&state, s, id, &key).await?;
        state.app.api_keys().update(s.caller(), &key, Some(form.fields.get("name")), Some(form.fields.get("description")), None).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/service-accounts/{id}?done=renamed")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

fn delete_key_form(s: &Signed, sa: &ServiceAccount, k: &ApiKeyRecord, error: Option<&str>) -> Markup {
    let back = format!("/service-accounts/{}", sa.id);
    html! {
        form.stack method="post" action=(format!("{back}/keys/{}/delete", k.access_key)) {
            (csrf(s))
            @if let Some(e) = error { (Flash::error(e).render()) }
            p { "Delete API key " code { (k.access_key) } " (" (k.name) ")? Calls with it fail at once." }
            (layout::confirm_field("Enter the name of the service account to confirm", &sa.name))
            div.dialog-actions { a.button.secondary href=(back) { "Cancel" } button.danger type="submit" { "Delete" } }
        }
    }
}

/// `GET /service-accounts/{id}/keys/{key}/delete`: confirm by typing the account's name.
pub async fn delete_key_dialog(State(state): State<AppState>, s: Signed, Path((id, key)): Path<(Uuid, String)>) -> Response {
    match account_key(&state, &s, id, &key).await {
        Ok((sa, k, bg)) => {
            let back = format!("/service-accounts/{id}");
            layout::page(&s, "Delete API key", html! { (bg) (dialog("Delete API key", &back, delete_key_form(&s, &sa, &k, None))) })
        }
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `POST /service-accounts/{id}/keys/{key}/delete`: revokes the key when the typed name is
/// the service account's.
pub async fn delete_key(State(state): State<AppState>, Path((id, key)): Path<(Uuid, String)>, form: Submitted) -> Response {
    let s = &form.signed;
    let (sa, k, bg) = match account_key(&state, s, id, &key).await {
        Ok(x) => x,
        Err(e) => return layout::error_response(Some(s), e),
    };
    if form.fields.get("confirm") != sa.name {
        let body = delete_key_form(s, &sa, &k, Some("The name you typed does not match the service account's name."));
        return layout::page_with(
            s,
            StatusCode::BAD_REQUEST,
            "Delete API key",
            None,
            html! { (bg) (dialog("Delete API key", &format!("/service-accounts/{id}"), body)) },
        );
    }
    match state.app.api_keys().revoke(s.caller(), &key).await {
        Ok(_) => Redirect::to(&format!("/service-accounts/{id}?done=deleted")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// The Settings > API Access > Create API Key dialog: pick a service account or create one
/// with roles, then name the key.
pub fn quick_key_form(s: &Signed, accounts: &[ServiceAccount], f: Option<&Fields>) -> Markup {
    let chosen = f.map(|f| f.get("account").to_string()).unwrap_or_default();
    html! {
        form.stack method="post" action="/settings/api-access" {
            (csrf(s))
            label for="account" { "Service account" }
            select #account name="account" {
                @for a in accounts { option value=(a.id) selected[chosen == a.id.to_string()] { (a.name) " (" (roles_text(a)) ")" } }
                option value="new" selected[chosen == "new" || accounts.is_empty()] { "Create a new service account…" }
            }
            fieldset.new-account {
                legend { "New service account" }
                label for="account_name" { "Account name" }
                input #account_name name="account_name" maxlength="100" value=(f.map(|f| f.get("account_name")).unwrap_or(""));
                (role_boxes(s, &f.map(|f| f.all("role")).unwrap_or_default()))
            }
            label for="name" { "API key name" }
            input #name name="name" required maxlength="100" value=(f.map(|f| f.get("name")).unwrap_or(""));
            div.dialog-actions { a.button.secondary href="/settings" { "Cancel" } button.primary type="submit" { "Create API Key" } }
        }
    }
}

/// Creates (when asked) the service account, then its key; returns the key with its secret.
pub async fn quick_key(state: &AppState, s: &Signed, f: &Fields) -> Result<dbcloud_app::identity::keys::KeyWithSecret, Error> {
    let account = match f.get("account") {
        "new" | "" => state.app.service_accounts().create_with(s.caller(), f.get("account_name"), "", grants_from(f)?, None).await?.value.id,
        id => Uuid::parse_str(id).map_err(|_| Error::field("account", "choose a service account"))?,
    };
    state.app.api_keys().create(s.caller(), NewKey { name: f.get("name").to_string(), service_account_id: Some(account), ..Default::default() }).await
}

/// The permissions check behind the Settings > API Access section.
pub fn may_manage_accounts(s: &Signed) -> bool {
    s.can(Permission::ServiceaccountManage, Target::Organization) && s.can(Permission::ApikeyManage, Target::Organization)
}

/// The secret warning of service-account keys (shown by Settings > API Access too).
pub fn key_warning() -> &'static str {
    SA_KEY_WARNING
}
