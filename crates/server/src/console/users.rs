//! Users (people) and their role grants: list, add (a one-time password is shown once),
//! grant and remove roles at organization or project scope, set a password, remove.

use super::layout::{self, Flash, csrf, when};
use super::session::{Signed, Submitted};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::model::PrincipalRef;
use dbcloud_app::{Error, Permission, Role, Scope, Target};
use dbcloud_core::perms::Grant;
use dbcloud_types::{Project, User};
use maud::{Markup, html};
use uuid::Uuid;

fn scope_label(g: &dbcloud_types::RoleGrant, projects: &[Project]) -> String {
    match (g.scope.kind.as_str(), g.scope.id) {
        ("project", Some(id)) => format!("project {}", projects.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())),
        ("cluster", Some(id)) => format!("cluster {id}"),
        _ => "organization".into(),
    }
}

fn roles_text(u: &User, projects: &[Project]) -> String {
    let v: Vec<String> = u.roles.iter().map(|g| format!("{} ({})", g.role, scope_label(g, projects))).collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn role_select(s: &Signed, id: &str, t: Target) -> Markup {
    html! {
        select id=(id) name="role" required {
            @for r in Role::ALL { @if s.session.caller.principal.holds_role(*r, t) { option value=(r.as_str()) { (r.as_str()) } } }
        }
    }
}

async fn list_content(state: &AppState, s: &Signed, extra: Markup) -> Result<Markup, Error> {
    let users = state.app.users().list_all(s.caller()).await?;
    let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
    let may_manage = s.can(Permission::UserManage, Target::Organization);
    Ok(html! {
        (extra)
        (layout::header("Users", "People of the organization; they sign in to this console with their e-mail address.", html! {}))
        @if may_manage {
            form.row-form.card method="post" action="/users" {
                (csrf(s))
                label for="u-email" { "E-mail address" } input #u-email type="email" name="email" required;
                label for="u-name" { "Name" } input #u-name name="name" maxlength="100";
                label for="u-role" { "Organization role" } (role_select(s, "u-role", Target::Organization))
                button.primary type="submit" { "Add user" }
            }
        }
        div.table-wrap { table #users {
            thead { tr { th { "E-mail address" } th { "Name" } th { "Roles" } th { "Added" } } }
            tbody { @for u in &users { tr {
                td { a href=(format!("/users/{}", u.id)) { (u.email) } } td { (u.name) } td { (roles_text(u, &projects)) } td { (when(u.created_at)) }
            } } }
        } }
    })
}

/// `GET /users`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    match list_content(&state, &s, html! {}).await {
        Ok(m) => layout::page(&s, "Users", m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `POST /users`: adds a person with a generated one-time password, shown once.
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let f = &form.fields;
    let r = async {
        let role = Role::parse(f.get("role")).ok_or_else(|| Error::field("role", "choose a role"))?;
        let u = state.app.users().create_with(s.caller(), f.get("email"), f.get("name"), vec![Grant { role, scope: Scope::Organization }], None).await?.value;
        let password = dbcloud_core::keys::random_base62(20);
        state.app.sessions().set_password(s.caller(), u.id, None, &password).await?;
        Ok::<_, Error>((u, password))
    }
    .await;
    match r {
        Ok((u, password)) => {
            let panel = html! {
                div.card.secret-panel data-replace-url="/users" {
                    div.flash.flash-warn role="alert" { (u.email) " was added. Give them this one-time password; it is shown only now." }
                    dl.kv { dt { "Password" } dd { (layout::copyable("user_password", &password)) } }
                }
            };
            match list_content(&state, s, panel).await {
                Ok(m) => layout::page(s, "Users", m),
                Err(e) => layout::error_response(Some(s), e),
            }
        }
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `GET /users/{id}`: the person's grants and what may be done with them.
pub async fn detail(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    let u = match state.app.users().get(s.caller(), id).await {
        Ok(u) => u,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
    let may_manage = s.can(Permission::UserManage, Target::Organization);
    let base = format!("/users/{id}");
    let m = html! {
        p.crumbs { a href="/users" { "Users" } " / " (u.email) }
        (layout::header(&u.email, &u.name, html! {}))
        section.card {
            h2 { "Role grants" }
            @if u.roles.is_empty() { p.empty { "No roles." } } @else {
                table #grants { thead { tr { th { "Role" } th { "Scope" } th { "Granted" } th { span.sr-only { "Actions" } } } }
                    tbody { @for g in &u.roles { tr {
                        td { (g.role) } td { (scope_label(g, &projects)) } td { (when(g.created_at)) }
                        td.row-actions { @if may_manage { form.inline method="post" action=(format!("{base}/grants/{}/delete", g.id)) { (csrf(&s)) button.icon-button type="submit" aria-label=(format!("Remove {}", g.role)) { (layout::trash_icon()) } } } }
                    } } } }
            }
            @if may_manage {
                form.row-form method="post" action=(format!("{base}/grants")) {
                    (csrf(&s))
                    label for="g-role" { "Role" } (role_select(&s, "g-role", Target::Organization))
                    label for="g-scope" { "Scope" }
                    select #g-scope name="scope" { option value="organization" { "Organization" } @for p in &projects { option value=(p.id) { "Project " (p.name) } } }
                    button.secondary type="submit" { "Grant role" }
                }
            }
        }
        @if may_manage {
            section.card {
                h2 { "Console password" }
                form.row-form method="post" action=(format!("{base}/password")) {
                    (csrf(&s))
                    input type="text" name="username" value=(u.email) autocomplete="username" hidden;
                    label for="u-pw" { "New password" } input #u-pw type="password" name="password" autocomplete="new-password" minlength="12" required;
                    button.secondary type="submit" { "Set password" }
                }
                p.hint { "Setting a password ends every session of this person." }
            }
            @if u.id != s.session.user_id {
                section.card.danger-zone {
                    h2 { "Remove user" }
                    form.row-form method="post" action=(format!("{base}/delete")) {
                        (csrf(&s))
                        (layout::confirm_field("Enter the e-mail address to confirm", &u.email))
                        button.danger type="submit" { "Remove user" }
                    }
                }
            }
        }
    };
    layout::page(&s, &u.email, m)
}

/// `POST /users/{id}/grants`.
pub async fn add_grant(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let role = Role::parse(form.fields.get("role")).ok_or_else(|| Error::field("role", "choose a role"))?;
        let scope = match form.fields.get("scope") {
            "organization" | "" => Scope::Organization,
            p => Scope::Project(Uuid::parse_str(p).map_err(|_| Error::field("scope", "unknown project"))?),
        };
        state.app.grants().create_parsed(s.caller(), &PrincipalRef { kind: "user".into(), id: id.to_string() }, Grant { role, scope }).await
    }
    .await;
    match r {
        Ok(_) => Redirect::to(&format!("/users/{id}?done=added")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /users/{id}/grants/{grant}/delete`.
pub async fn remove_grant(State(state): State<AppState>, Path((id, grant)): Path<(Uuid, Uuid)>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let g = state.app.grants().get(s.caller(), grant).await?;
        if g.principal_type != "user" || g.principal_id != id.to_string() {
            return Err(Error::NotFound(format!("grant {grant}")));
        }
        state.app.grants().delete(s.caller(), grant).await
    }
    .await;
    match r {
        Ok(_) => Redirect::to(&format!("/users/{id}?done=removed")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /users/{id}/password`: sets another person's password (their sessions end).
pub async fn set_password(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    if id == s.session.user_id {
        return layout::page_with(
            s,
            axum::http::StatusCode::BAD_REQUEST,
            "Users",
            Some(Flash::error("Change your own password on your account page.")),
            html! {},
        );
    }
    match state.app.sessions().set_password(s.caller(), id, None, form.fields.raw("password")).await {
        Ok(()) => Redirect::to(&format!("/users/{id}?done=password")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /users/{id}/delete`: removes the person (grants go, keys are revoked, sessions end).
pub async fn delete(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let u = state.app.users().get(s.caller(), id).await?;
        if form.fields.get("confirm").to_ascii_lowercase() != u.email {
            return Err(Error::field("confirm", "the address you typed does not match"));
        }
        state.app.users().delete(s.caller(), id).await
    }
    .await;
    match r {
        Ok(()) => Redirect::to("/users?done=deleted").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}
