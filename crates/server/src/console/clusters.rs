//! Clusters: the list with filters, create, and the detail page with nodes, endpoints and
//! connection strings, the CA download, operations with live progress (polling
//! `status.json`), buckets, database users (password shown once), the allow list ("add my
//! current address", a warning on `0.0.0.0/0`), scale, and delete after typing the name.

use super::layout::{self, Flash, badge, csrf, dialog, when, when_opt};
use super::session::{Signed, Submitted};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::clusters::{ClusterChanges, NewCluster};
use dbcloud_app::db_users::NewUser;
use dbcloud_app::model::{ClusterFilter, NewAllowlistEntry};
use dbcloud_app::{Error, Permission, Target};
use dbcloud_types::{Access, Cloud, Cluster, ClusterState, CreateCluster, DatabaseUserWithPassword, Project, Provider};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

/// Filters of the cluster list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    project: Option<String>,
    cloud: Option<String>,
    state: Option<String>,
    name: Option<String>,
}

fn some(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn cloud_label(clouds: &[Cloud], id: Uuid) -> String {
    clouds.iter().find(|c| c.id == id).map(|c| format!("{} · {} {}", c.name, c.provider, c.region)).unwrap_or_else(|| id.to_string())
}

fn project_label(projects: &[Project], id: Uuid) -> String {
    projects.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())
}

fn live_nodes(c: &Cluster) -> usize {
    c.nodes.iter().filter(|n| n.status == dbcloud_types::NodeStatus::Live).count()
}

/// `GET /clusters`.
pub async fn list(State(state): State<AppState>, s: Signed, Query(q): Query<ListQuery>) -> Response {
    let c = s.caller();
    let projects = state.app.projects().list_all(c).await.unwrap_or_default();
    let clouds = state.app.clouds().list_all(c).await.unwrap_or_default();
    let mut filter = ClusterFilter { by_name: true, ..Default::default() };
    filter.project_id = some(&q.project).and_then(|p| Uuid::parse_str(p).ok());
    filter.cloud_id = some(&q.cloud).and_then(|p| Uuid::parse_str(p).ok());
    filter.state = some(&q.state).and_then(ClusterState::parse);
    filter.include_deleted = filter.state == Some(ClusterState::Deleted);
    let name = some(&q.name).map(str::to_lowercase);
    let clusters = if s.can_somewhere(Permission::ClusterRead) {
        match state.app.clusters().list_all(c, filter).await {
            Ok(v) => v,
            Err(e) => return layout::error_response(Some(&s), e),
        }
    } else {
        vec![]
    };
    let clusters: Vec<&Cluster> = clusters.iter().filter(|c| name.as_deref().is_none_or(|n| c.name.to_lowercase().contains(n))).collect();
    let actions = html! { @if s.can_somewhere(Permission::ClusterCreate) { a.button.primary href="/clusters/new" { "Create cluster" } } };
    let selected = |v: &Option<String>, x: &str| some(v) == Some(x);
    let m = html! {
        (layout::header("Clusters", "Database clusters of the projects you may read.", actions))
        form.filters method="get" action="/clusters" role="search" {
            div { label for="f-name" { "Name" } input #f-name name="name" value=(q.name.clone().unwrap_or_default()) placeholder="Filter by name"; }
            div { label for="f-project" { "Project" } select #f-project name="project" { option value="" { "All projects" } @for p in &projects { option value=(p.id) selected[selected(&q.project, &p.id.to_string())] { (p.name) } } } }
            div { label for="f-cloud" { "Cloud" } select #f-cloud name="cloud" { option value="" { "All clouds" } @for k in &clouds { option value=(k.id) selected[selected(&q.cloud, &k.id.to_string())] { (k.name) } } } }
            div { label for="f-state" { "State" } select #f-state name="state" { option value="" { "Any live state" } @for st in ClusterState::ALL { option value=(st.as_str()) selected[selected(&q.state, st.as_str())] { (st.as_str()) } } } }
            div.filter-actions { button.secondary type="submit" { "Filter" } }
        }
        @if clusters.is_empty() { p.empty { "No clusters match." } } @else {
            div.table-wrap { table #clusters {
                thead { tr { th { "Name" } th { "State" } th { "Project" } th { "Cloud" } th.num { "Nodes" } th.num { "Buckets" } } }
                tbody { @for c in &clusters {
                    tr {
                        td { a href=(format!("/clusters/{}", c.id)) { strong { (c.name) } } div.sub { code { (c.id) } } }
                        td { (badge(c.state.as_str())) }
                        td { (project_label(&projects, c.project_id)) }
                        td { (cloud_label(&clouds, c.cloud_id)) }
                        td.num { (live_nodes(c)) " / " (c.node_count) }
                        td.num { (c.bucket_count) }
                    }
                } }
            } }
        }
    };
    layout::page(&s, "Clusters", m)
}

fn create_form(s: &Signed, projects: &[Project], clouds: &[Cloud], f: Option<&super::session::Fields>) -> Markup {
    let v = |n: &str, d: &str| f.map(|f| f.get(n).to_string()).filter(|x| !x.is_empty()).unwrap_or_else(|| d.to_string());
    let regions = dbcloud_core::regions::regions(None);
    html! {
        form.stack.card method="post" action="/clusters" {
            (csrf(s))
            label for="name" { "Cluster name" }
            input #name name="name" required maxlength="63" value=(v("name", "")) autofocus;
            label for="project" { "Project" }
            select #project name="project" required {
                @for p in projects { @if s.can(Permission::ClusterCreate, Target::Project(p.id)) { option value=(p.id) selected[v("project", "") == p.id.to_string()] { (p.name) } } }
            }
            label for="location" { "Cloud, or provider and region" }
            select #location name="location" required {
                @if !clouds.is_empty() { optgroup label="Clouds" { @for k in clouds { option value=(format!("cloud:{}", k.id)) { (k.name) " (" (k.provider) " " (k.region) ")" } } } }
                optgroup label="Provider and region" { @for r in &regions { option value=(format!("region:{}/{}", r.provider, r.name)) selected[v("location", "") == format!("region:{}/{}", r.provider, r.name)] { (r.provider) " · " (r.name) " — " (r.location) } } }
            }
            label for="nodes" { "Nodes" }
            input #nodes name="nodes" type="number" min="1" max=(dbcloud_core::cluster::MAX_NODE_COUNT) value=(v("nodes", "3")) required;
            label for="version" { "Version" }
            input #version name="version" value=(v("version", dbcloud_core::cluster::DEFAULT_VERSION)) required;
            div.dialog-actions { a.button.secondary href="/clusters" { "Cancel" } button.primary type="submit" { "Create cluster" } }
        }
    }
}

/// `GET /clusters/new`.
pub async fn new(State(state): State<AppState>, s: Signed) -> Response {
    let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
    let clouds = state.app.clouds().list_all(s.caller()).await.unwrap_or_default();
    layout::page(&s, "Create cluster", html! { (layout::header("Create cluster", "", html! {})) (create_form(&s, &projects, &clouds, None)) })
}

fn spec_of(f: &super::session::Fields) -> Result<CreateCluster, Error> {
    let mut spec = CreateCluster { name: f.get("name").to_string(), version: Some(f.get("version").to_string()), ..Default::default() };
    spec.project_id = Some(Uuid::parse_str(f.get("project")).map_err(|_| Error::field("project_id", "choose a project"))?);
    spec.node_count = Some(f.get("nodes").parse().map_err(|_| Error::field("node_count", "must be a whole number"))?);
    match f.get("location").split_once(':') {
        Some(("cloud", id)) => spec.cloud_id = Some(Uuid::parse_str(id).map_err(|_| Error::field("cloud_id", "unknown cloud"))?),
        Some(("region", pr)) => {
            let (p, r) = pr.split_once('/').ok_or_else(|| Error::field("region", "choose a region"))?;
            spec.provider = Some(Provider::parse(p).ok_or_else(|| Error::field("provider", "unknown provider"))?);
            spec.region = Some(r.to_string());
        }
        _ => return Err(Error::field("cloud_id", "choose a cloud or a region")),
    }
    Ok(spec)
}

/// `POST /clusters`: creates the cluster and shows it (its create operation runs).
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let result = match spec_of(&form.fields) {
        Ok(spec) => state.app.clusters().create(s.caller(), NewCluster { spec, ..Default::default() }, None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Redirect::to(&format!("/clusters/{}?done=created", c.value.cluster.id)).into_response(),
        Err(e) => {
            let projects = state.app.projects().list_all(s.caller()).await.unwrap_or_default();
            let clouds = state.app.clouds().list_all(s.caller()).await.unwrap_or_default();
            let api = crate::error::ApiError::from(e);
            let m = html! { (layout::header("Create cluster", "", html! {})) (create_form(s, &projects, &clouds, Some(&form.fields))) };
            layout::page_with(s, api.status, "Create cluster", Some(Flash::error(&api.body.message)), m)
        }
    }
}

fn connection_string(kind: &str, host: &str, port: u16) -> String {
    match kind {
        "sql" => format!("postgresql://USER:PASSWORD@{host}:{port}/defaultdb?sslmode=verify-full"),
        "http" => format!("https://{host}:{port}"),
        other => format!("{other}://{host}:{port}"),
    }
}

/// The detail page's content; `extra` (a one-time password panel) goes on top.
async fn detail_content(state: &AppState, s: &Signed, id: Uuid, extra: Markup) -> Result<(Cluster, Markup), Error> {
    let app = &state.app;
    let c = s.caller();
    let cl = app.clusters().get(c, id).await?;
    let target = Target::Cluster { project: cl.project_id, cluster: cl.id };
    let project = app.projects().get(c, cl.project_id).await.map(|p| p.name).unwrap_or_else(|_| cl.project_id.to_string());
    let cloud = app.clouds().get(c, cl.cloud_id).await.map(|k| format!("{} · {} {}", k.name, k.provider, k.region)).unwrap_or_else(|_| cl.cloud_id.to_string());
    let ops = app.operations().list_all(c, id).await?;
    let buckets = app.buckets().list_all(c, id).await?;
    let users = app.db_users().list_all(c, id).await?;
    let allow = app.allowlist().list_all(c, id).await?;
    let ca = app.clusters().certificate(c, id).await?.is_some();
    let live = cl.state != ClusterState::Deleted;
    let busy = ops.iter().any(|o| o.status.is_active());
    let (may_update, may_delete, may_users, may_allow) = (
        s.can(Permission::ClusterUpdate, target) && live,
        s.can(Permission::ClusterDelete, target) && live,
        s.can(Permission::DbuserManage, target) && live,
        s.can(Permission::AllowlistManage, target) && live,
    );
    let base = format!("/clusters/{id}");
    let my_ip = &c.source_ip;
    let mine = if my_ip.contains(':') { format!("{my_ip}/128") } else { format!("{my_ip}/32") };
    let actions = html! { @if may_delete { a.button.danger href=(format!("{base}/delete")) { "Delete cluster" } } };
    let m = html! {
        p.crumbs { a href="/clusters" { "Clusters" } " / " (cl.name) }
        (extra)
        (layout::header(&cl.name, "", actions))
        div #live data-poll=(format!("{base}/status.json")) data-state=(cl.state.as_str()) data-busy=(if busy { "1" } else { "0" }) {
            section.card.grid2 {
                dl.kv {
                    dt { "State" } dd #cluster-state { (badge(cl.state.as_str())) }
                    dt { "Cluster ID" } dd { code { (cl.id) } }
                    dt { "Project" } dd { (project) }
                    dt { "Cloud" } dd { (cloud) }
                }
                dl.kv {
                    dt { "Version" } dd { (cl.version) }
                    dt { "Plan" } dd { (cl.plan.as_str()) }
                    dt { "Nodes" } dd { (live_nodes(&cl)) " live of " (cl.node_count) }
                    dt { "Created" } dd { (when(cl.created_at)) }
                    @if let Some(r) = &cl.failure_reason { dt { "Failure" } dd { (r) } }
                }
            }
            section.card {
                h2 { "Nodes" }
                @if cl.nodes.is_empty() { p.empty { "No nodes yet." } } @else {
                    table #nodes { thead { tr { th { "Node" } th { "Status" } } } tbody { @for n in &cl.nodes { tr { td { code { (n.name) } } td { (badge(n.status.as_str())) } } } } }
                }
                @if may_update && cl.state == ClusterState::Created {
                    form.row-form method="post" action=(format!("{base}/scale")) {
                        (csrf(s))
                        label for="scale-nodes" { "Scale to" }
                        input #scale-nodes name="nodes" type="number" min="1" max=(dbcloud_core::cluster::MAX_NODE_COUNT) value=(cl.node_count) required;
                        button.secondary type="submit" { "Scale" }
                    }
                }
            }
            section.card {
                h2 { "Operations" }
                @if ops.is_empty() { p.empty { "No operations." } } @else {
                    table #operations {
                        thead { tr { th { "Kind" } th { "Status" } th { "Step" } th { "Progress" } th { "Started" } } }
                        tbody { @for o in ops.iter().rev() {
                            tr data-op=(o.id) {
                                td { (o.kind.as_str()) }
                                td.op-status { (badge(o.status.as_str())) }
                                td.op-step { (o.step) @if let Some(e) = &o.error { div.sub { (e) } } }
                                td { progress.op-progress value=(o.progress) max="100" aria-label=(format!("{} progress", o.kind.as_str())) { (o.progress) "%" } " " span.op-pct { (o.progress) "%" } }
                                td { (when(o.created_at)) }
                            }
                        } }
                    }
                }
            }
        }
        section.card {
            h2 { "Connect" }
            @if !cl.connection_strings.is_empty() {
                // A real database (the `local` provider): the URIs it answers at.
                dl.kv { @for (i, uri) in cl.connection_strings.iter().enumerate() {
                    dt { "Node " (i + 1) } dd { (layout::copyable(&format!("uri-{i}"), uri)) }
                } }
                p.hint { "Add the database user's password, and the CA below as sslrootcert for sslmode=verify-full." }
            } @else if cl.endpoints.is_empty() { p.empty { "Endpoints appear once the cluster is created." } } @else {
                dl.kv { @for (i, e) in cl.endpoints.iter().enumerate() {
                    dt { (e.kind) " endpoint" } dd { (layout::copyable(&format!("endpoint-{i}"), &connection_string(&e.kind, &e.host, e.port))) }
                } }
            }
            @if ca { p { a.button.secondary href=(format!("{base}/ca.pem")) download="ca.pem" { "Download CA certificate" } } }
        }
        section.card {
            h2 { "Buckets" }
            @if buckets.is_empty() { p.empty { "No buckets." } } @else {
                table #buckets { thead { tr { th { "Name" } th.num { "Memory (MB)" } th.num { "Replicas" } th { span.sr-only { "Actions" } } } }
                    tbody { @for b in &buckets { tr {
                        td { (b.name) } td.num { (b.memory_quota_mb) } td.num { (b.replicas) }
                        td.row-actions { @if may_update { form.inline method="post" action=(format!("{base}/buckets/{}/delete", b.id)) { (csrf(s)) button.icon-button type="submit" aria-label=(format!("Delete bucket {}", b.name)) { (layout::trash_icon()) } } } }
                    } } } }
            }
            @if may_update {
                form.row-form method="post" action=(format!("{base}/buckets")) {
                    (csrf(s))
                    label for="bucket-name" { "Bucket name" } input #bucket-name name="name" required maxlength="100";
                    label for="bucket-quota" { "Memory (MB)" } input #bucket-quota name="quota" type="number" min="100" value="256";
                    button.secondary type="submit" { "Add bucket" }
                }
            }
        }
        section.card {
            h2 { "Database users" }
            @if users.is_empty() { p.empty { "No database users." } } @else {
                table #db-users { thead { tr { th { "Name" } th { "Access" } th { "Password changed" } th { span.sr-only { "Actions" } } } }
                    tbody { @for u in &users { tr {
                        td { (u.name) } td { (u.access.as_str()) } td { (when(u.password_changed_at)) }
                        td.row-actions { @if may_users { form.inline method="post" action=(format!("{base}/users/{}/delete", u.id)) { (csrf(s)) button.icon-button type="submit" aria-label=(format!("Delete user {}", u.name)) { (layout::trash_icon()) } } } }
                    } } } }
            }
            @if may_users {
                form.row-form method="post" action=(format!("{base}/users")) {
                    (csrf(s))
                    label for="dbu-name" { "User name" } input #dbu-name name="name" required maxlength="100";
                    label for="dbu-access" { "Access" } select #dbu-access name="access" { option value="readwrite" { "Read and write" } option value="read" { "Read only" } }
                    button.secondary type="submit" { "Add user" }
                }
            }
        }
        section.card #allow-list {
            h2 { "Allow list" }
            p.lead { "Only these networks may connect to the cluster." }
            @if allow.is_empty() { p.empty { "No entries: nobody can connect." } } @else {
                table #allowlist { thead { tr { th { "Network" } th { "Comment" } th { "Expires" } th { span.sr-only { "Actions" } } } }
                    tbody { @for e in &allow { tr {
                        td { code { (e.cidr) } @if e.cidr == "0.0.0.0/0" || e.cidr == "::/0" { " " span.badge.badge-bad { "open to the internet" } } }
                        td { (e.comment) } td { (when_opt(e.expires_at, "never")) }
                        td.row-actions { @if may_allow { form.inline method="post" action=(format!("{base}/allowlist/{}/delete", e.id)) { (csrf(s)) button.icon-button type="submit" aria-label=(format!("Remove {}", e.cidr)) { (layout::trash_icon()) } } } }
                    } } } }
            }
            @if may_allow {
                form.row-form method="post" action=(format!("{base}/allowlist")) {
                    (csrf(s))
                    label for="al-cidr" { "Network (CIDR)" } input #al-cidr name="cidr" required placeholder="203.0.113.0/24";
                    label for="al-comment" { "Comment" } input #al-comment name="comment" maxlength="200";
                    label.check { input type="checkbox" name="allow_any" value="1"; " Allow 0.0.0.0/0 (any address)" }
                    button.secondary type="submit" { "Add" }
                }
                p.hint { "0.0.0.0/0 opens the cluster to the whole internet; it needs the box above ticked." }
                form.inline method="post" action=(format!("{base}/allowlist")) {
                    (csrf(s))
                    input type="hidden" name="cidr" value=(mine);
                    input type="hidden" name="comment" value="my address";
                    button.secondary type="submit" { "Add my current address (" (mine) ")" }
                }
            }
        }
    };
    Ok((cl, m))
}

/// `GET /clusters/{id}`.
pub async fn detail(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    match detail_content(&state, &s, id, html! {}).await {
        Ok((cl, m)) => layout::page(&s, &cl.name, m),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `GET /clusters/{id}/status.json`: state, nodes and operations, for live progress.
pub async fn status(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    let c = s.caller();
    let result = async {
        let cl = state.app.clusters().get(c, id).await?;
        let ops = state.app.operations().list_all(c, id).await?;
        Ok::<_, Error>(serde_json::json!({
            "state": cl.state.as_str(),
            "nodes": cl.nodes.iter().map(|n| serde_json::json!({"name": n.name, "status": n.status.as_str()})).collect::<Vec<_>>(),
            "operations": ops.iter().map(|o| serde_json::json!({"id": o.id, "kind": o.kind.as_str(), "status": o.status.as_str(), "step": o.step, "progress": o.progress})).collect::<Vec<_>>(),
        }))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// `GET /clusters/{id}/ca.pem`: the CA certificate, when the provisioner issues one.
pub async fn ca(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    match state.app.clusters().certificate(s.caller(), id).await {
        Ok(Some(pem)) => {
            ([(header::CONTENT_TYPE, "application/x-pem-file"), (header::CONTENT_DISPOSITION, "attachment; filename=\"ca.pem\"")], pem).into_response()
        }
        Ok(None) => layout::error_response(Some(&s), Error::NotFound("this cluster's provisioner issues no CA certificate".into())),
        Err(e) => layout::error_response(Some(&s), e),
    }
}

fn done(id: Uuid, what: &str, r: Result<(), Error>, s: &Signed) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/clusters/{id}?done={what}")).into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /clusters/{id}/scale`.
pub async fn scale(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let n: i32 = form.fields.get("nodes").parse().map_err(|_| Error::field("node_count", "must be a whole number"))?;
        state.app.clusters().update(s.caller(), id, ClusterChanges { node_count: Some(n), ..Default::default() }).await.map(|_| ())
    }
    .await;
    done(id, "scaling", r, s)
}

/// `GET /clusters/{id}/delete`: confirm by typing the cluster's name.
pub async fn delete_dialog(State(state): State<AppState>, s: Signed, Path(id): Path<Uuid>) -> Response {
    match detail_content(&state, &s, id, html! {}).await {
        Ok((cl, bg)) => {
            let form = html! {
                form.stack method="post" action=(format!("/clusters/{id}/delete")) {
                    (csrf(&s))
                    p { "Deleting " strong { (cl.name) } " removes its nodes and all the data in it." }
                    (layout::confirm_field("Enter the cluster name to confirm", &cl.name))
                    div.dialog-actions { a.button.secondary href=(format!("/clusters/{id}")) { "Cancel" } button.danger type="submit" { "Delete" } }
                }
            };
            layout::page(&s, "Delete cluster", html! { (bg) (dialog("Delete cluster", &format!("/clusters/{id}"), form)) })
        }
        Err(e) => layout::error_response(Some(&s), e),
    }
}

/// `POST /clusters/{id}/delete`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let cl = state.app.clusters().get(s.caller(), id).await?;
        if form.fields.get("confirm") != cl.name {
            return Err(Error::field("confirm", "the name you typed does not match the cluster's name"));
        }
        state.app.clusters().delete(s.caller(), id).await.map(|_| ())
    }
    .await;
    match r {
        Ok(()) => Redirect::to("/clusters?done=deleting").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /clusters/{id}/buckets`.
pub async fn add_bucket(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let quota = form.fields.get("quota").parse::<i64>().ok();
        let new = dbcloud_app::buckets::check_new(form.fields.get("name"), quota, None)?;
        state.app.buckets().create(s.caller(), id, new, None).await.map(|_| ())
    }
    .await;
    done(id, "added", r, s)
}

/// `POST /clusters/{id}/buckets/{bucket}/delete`.
pub async fn delete_bucket(State(state): State<AppState>, Path((id, bucket)): Path<(Uuid, Uuid)>, form: Submitted) -> Response {
    let s = &form.signed;
    done(id, "removed", state.app.buckets().delete(s.caller(), id, bucket).await, s)
}

/// `POST /clusters/{id}/users`: the generated password is shown once, on this answer.
pub async fn add_db_user(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let access = if form.fields.get("access") == "read" { Access::Read } else { Access::ReadWrite };
    let new = NewUser { name: form.fields.get("name").to_string(), access, scope: None, password: None };
    match state.app.db_users().create(s.caller(), id, new, None).await {
        Ok(created) => {
            let DatabaseUserWithPassword { user, password } = created.value;
            let panel = html! {
                div.card.secret-panel data-replace-url=(format!("/clusters/{id}")) {
                    div.flash.flash-warn role="alert" { "Database user " strong { (user.name) } " was created. This is the only time its password is shown." }
                    dl.kv { dt { "Password" } dd { (layout::copyable("db_password", &password)) } }
                }
            };
            match detail_content(&state, s, id, panel).await {
                Ok((cl, m)) => layout::page(s, &cl.name, m),
                Err(e) => layout::error_response(Some(s), e),
            }
        }
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /clusters/{id}/users/{user}/delete`.
pub async fn delete_db_user(State(state): State<AppState>, Path((id, user)): Path<(Uuid, Uuid)>, form: Submitted) -> Response {
    let s = &form.signed;
    done(id, "removed", state.app.db_users().delete(s.caller(), id, user).await, s)
}

/// `POST /clusters/{id}/allowlist`: `0.0.0.0/0` needs the "any address" box ticked.
pub async fn add_allowlist(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    let cidr = form.fields.get("cidr");
    if (cidr == "0.0.0.0/0" || cidr == "::/0") && !form.fields.checked("allow_any") {
        let e = Error::field("cidr", format!("{cidr} lets any address on the internet connect; tick \"Allow 0.0.0.0/0\" to confirm"));
        let api = crate::error::ApiError::from(e);
        return match detail_content(&state, s, id, html! {}).await {
            Ok((cl, m)) => layout::page_with(s, StatusCode::BAD_REQUEST, &cl.name, Some(Flash::error(&api.body.message)), m),
            Err(e) => layout::error_response(Some(s), e),
        };
    }
    let entry = NewAllowlistEntry { cidr: cidr.to_string(), comment: form.fields.get("comment").to_string(), expires_at: None, attributes: Default::default() };
    done(id, "added", state.app.allowlist().add(s.caller(), id, entry, None).await.map(|_| ()), s)
}

/// `POST /clusters/{id}/allowlist/{entry}/delete`.
pub async fn delete_allowlist(State(state): State<AppState>, Path((id, entry)): Path<(Uuid, Uuid)>, form: Submitted) -> Response {
    let s = &form.signed;
    done(id, "removed", state.app.allowlist().delete(s.caller(), id, entry).await, s)
}
