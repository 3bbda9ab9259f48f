//! Projects: list, create, rename, delete (a project with live clusters cannot go).

use super::layout::{self, csrf, when};
use super::session::{Signed, Submitted};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::{Permission, Target};
use maud::html;
use uuid::Uuid;

/// `GET /projects`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    let projects = match state.app.projects().list_all(s.caller()).await {
        Ok(p) => p,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let may_create = s.can(Permission::ProjectCreate, Target::Organization);
    let m = html! {
        (layout::header("Projects", "Projects group clusters; roles can be granted per project.", html! {}))
        @if may_create {
            form.row-form.card method="post" action="/projects" {
                (csrf(&s))
                label for="p-name" { "Project name" } input #p-name name="name" required maxlength="100";
                label for="p-desc" { "Description" } input #p-desc name="description" maxlength="1024";
                button.primary type="submit" { "Create project" }
            }
        }
        @if projects.is_empty() { p.empty { "No projects you may read." } } @else {
            div.table-wrap { table #projects {
                thead { tr { th { "Name" } th { "Project ID" } th { "Description" } th.num { "Clusters" } th { "Created" } th { span.sr-only { "Actions" } } } }
                tbody { @for p in &projects {
                    @let t = Target::Project(p.id);
                    tr {
                        td { a href=(format!("/clusters?project={}", p.id)) { strong { (p.name) } } }
                        td { code { (p.id) } }
                        td { (p.description) }
                        td.num { (p.cluster_count) }
                        td { (when(p.created_at)) }
                        td.row-actions {
                            @if s.can(Permission::ProjectUpdate, t) {
                                details.menu {
                                    summary.button.ghost aria-label=(format!("Rename {}", p.name)) { "Rename" }
                                    form.menu-items.stack method="post" action=(format!("/projects/{}", p.id)) {
                                        (csrf(&s))
                                        label for=(format!("rn-{}", p.id)) { "New name" }
                                        input id=(format!("rn-{}", p.id)) name="name" value=(p.name) required maxlength="100";
                                        button.primary type="submit" { "Save" }
                                    }
                                }
                            }
                            @if s.can(Permission::ProjectDelete, t) && p.cluster_count == 0 {
                                form.inline method="post" action=(format!("/projects/{}/delete", p.id)) {
                                    (csrf(&s))
                                    button.icon-button type="submit" aria-label=(format!("Delete project {}", p.name)) { (layout::trash_icon()) }
                                }
                            }
                        }
                    }
                } }
            } }
        }
    };
    layout::page(&s, "Projects", m)
}

/// `POST /projects`.
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.projects().create(s.caller(), form.fields.get("name"), form.fields.get("description"), None).await {
        Ok(_) => Redirect::to("/projects?done=created").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /projects/{id}`: renames.
pub async fn rename(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.projects().update(s.caller(), id, Some(form.fields.get("name")), None).await {
        Ok(_) => Redirect::to("/projects?done=renamed").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /projects/{id}/delete`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.projects().delete(s.caller(), id).await {
        Ok(()) => Redirect::to("/projects?done=deleted").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}
