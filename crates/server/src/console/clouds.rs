//! Clouds: the connections clusters are deployed into (list, create, delete).

use super::layout::{self, csrf, when};
use super::session::{Signed, Submitted};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dbcloud_app::{Error, Permission, Target};
use dbcloud_types::Provider;
use maud::html;
use uuid::Uuid;

/// `GET /clouds`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    let clouds = match state.app.clouds().list_all(s.caller()).await {
        Ok(c) => c,
        Err(e) => return layout::error_response(Some(&s), e),
    };
    let may_manage = s.can(Permission::CloudManage, Target::Organization);
    let regions = dbcloud_core::regions::regions(None);
    let m = html! {
        (layout::header("Clouds", "Cloud connections: a provider, a region and a virtual network clusters are deployed into.", html! {}))
        @if may_manage {
            form.row-form.card method="post" action="/clouds" {
                (csrf(&s))
                label for="c-name" { "Cloud name" } input #c-name name="name" required maxlength="100";
                label for="c-region" { "Provider and region" }
                select #c-region name="region" required { @for r in &regions { option value=(format!("{}/{}", r.provider, r.name)) { (r.provider) " · " (r.name) " — " (r.location) } } }
                label for="c-cidr" { "Network (CIDR)" } input #c-cidr name="cidr" value="10.0.0.0/16";
                button.primary type="submit" { "Create cloud" }
            }
        }
        @if clouds.is_empty() { p.empty { "No clouds yet." } } @else {
            div.table-wrap { table #clouds {
                thead { tr { th { "Name" } th { "ID" } th { "Provider" } th { "Region" } th { "Network" } th.num { "Clusters" } th { "Created" } th { span.sr-only { "Actions" } } } }
                tbody { @for c in &clouds { tr {
                    td { strong { (c.name) } } td { code { (c.id) } } td { (c.provider) } td { (c.region) } td { code { (c.virtual_network_cidr) } }
                    td.num { (c.cluster_count) } td { (when(c.created_at)) }
                    td.row-actions { @if may_manage && c.cluster_count == 0 {
                        form.inline method="post" action=(format!("/clouds/{}/delete", c.id)) { (csrf(&s)) button.icon-button type="submit" aria-label=(format!("Delete cloud {}", c.name)) { (layout::trash_icon()) } }
                    } }
                } } }
            } }
        }
    };
    layout::page(&s, "Clouds", m)
}

/// `POST /clouds`.
pub async fn create(State(state): State<AppState>, form: Submitted) -> Response {
    let s = &form.signed;
    let r = async {
        let (p, region) = form.fields.get("region").split_once('/').ok_or_else(|| Error::field("region", "choose a region"))?;
        let provider = Provider::parse(p).ok_or_else(|| Error::field("provider", "unknown provider"))?;
        let cidr = Some(form.fields.get("cidr")).filter(|c| !c.is_empty());
        state.app.clouds().create(s.caller(), form.fields.get("name"), provider, region, cidr, None).await
    }
    .await;
    match r {
        Ok(_) => Redirect::to("/clouds?done=created").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}

/// `POST /clouds/{id}/delete`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<Uuid>, form: Submitted) -> Response {
    let s = &form.signed;
    match state.app.clouds().delete(s.caller(), id).await {
        Ok(()) => Redirect::to("/clouds?done=deleted").into_response(),
        Err(e) => layout::error_response(Some(s), e),
    }
}
