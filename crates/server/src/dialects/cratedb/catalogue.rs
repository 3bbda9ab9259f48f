//! Catalogues every authenticated caller may read: roles, regions and the one product.

use super::wire::{Dc, Product, Region, RoleInfo, Scaling, Specs, ts};
use super::{CrCaller, CrQuery, CrResult, PRODUCT_NAME, PRODUCT_TIER, own_org};
use axum::Json;
use axum::extract::Path;
use dbcloud_core::cluster::MAX_NODE_COUNT;
use dbcloud_types::Provider;
use serde::Deserialize;
use utoipa::IntoParams;

/// CrateDB-style region name of a catalogue entry: `<provider>.<region>`.
pub(super) fn region_name(p: Provider, region: &str) -> String {
    format!("{}.{}", p.as_str(), region)
}

/// Provider and region of a CrateDB-style region name.
pub(super) fn parse_region(name: &str) -> Option<(Provider, String)> {
    let (p, r) = name.split_once('.')?;
    let p = Provider::parse(p)?;
    dbcloud_core::regions::is_valid(p, r).then(|| (p, r.to_string()))
}

/// Nodes of a product unit (a `value` of the product's `scaling` table), if it is one.
pub(super) fn unit_nodes(unit: i64) -> Option<i32> {
    (0..i64::from(MAX_NODE_COUNT)).contains(&unit).then(|| unit as i32 + 1)
}

/// The role catalogue.
#[utoipa::path(get, path = "/api/v2/roles/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<RoleInfo>, description = "The roles."), (status = 401, description = "Authentication required", body = super::ErrorDoc)))]
pub async fn list_roles(CrCaller(_caller): CrCaller) -> CrResult<Json<Vec<RoleInfo>>> {
    Ok(Json(vec![
        RoleInfo { id: "org_admin", name: "Organization Admin" },
        RoleInfo { id: "org_member", name: "Organization Member" },
        RoleInfo { id: "project_admin", name: "Project Admin" },
        RoleInfo { id: "project_member", name: "Project Member" },
    ]))
}

/// The shared regions.
#[utoipa::path(get, path = "/api/v2/regions/", tag = "cratedb cloud v2", security(("basic" = [])),
    responses((status = 200, body = Vec<Region>, description = "The regions."), (status = 401, description = "Authentication required", body = super::ErrorDoc)))]
pub async fn list_regions(CrCaller(_caller): CrCaller) -> CrResult<Json<Vec<Region>>> {
    // The catalogue is readable by every authenticated principal.
    let now = dbcloud_core::now();
    let items = dbcloud_core::regions::regions(None)
        .iter()
        .map(|r| Region {
            name: region_name(r.provider, &r.name),
            description: format!("{} {} ({})", r.provider.as_str().to_ascii_uppercase(), r.name, r.location),
            is_edge_region: false,
            status: "UP",
            deprecated: false,
            last_seen: ts(now),
            upgrade_available: false,
            dc: Dc::new(now, now),
        })
        .collect();
    Ok(Json(items))
}

/// Regions available to one organization (the shared catalogue).
#[utoipa::path(get, path = "/api/v2/organizations/{org_id}/regions/", tag = "cratedb cloud v2", security(("basic" = [])), params(("org_id" = String, Path)),
    responses((status = 200, body = Vec<Region>, description = "The organization's regions."), (status = 401, description = "Authentication required", body = super::ErrorDoc), (status = 404, description = "Not found", body = super::ErrorDoc)))]
pub async fn list_org_regions(caller: CrCaller, Path(org): Path<String>) -> CrResult<Json<Vec<Region>>> {
    own_org(&caller.0, &org)?;
    list_regions(caller).await
}

/// Product filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Only this kind (`cluster`).
    pub kind: Option<String>,
    /// Only this tier.
    pub tier: Option<String>,
    /// Only this name.
    pub name: Option<String>,
}

fn product() -> Product {
    let scaling = (0..i64::from(MAX_NODE_COUNT))
        .filter_map(|u| unit_nodes(u).map(|n| (u, n)))
        .map(|(u, n)| Scaling { value: u, nodes: n, dtus: n, price_per_minute: n, description: format!("{n} node(s)") })
        .collect();
    Product {
        kind: "cluster",
        name: PRODUCT_NAME,
        tier: PRODUCT_TIER,
        label: "CR4",
        description: "Dedicated cluster",
        scale_summary: format!("1 - {MAX_NODE_COUNT} nodes"),
        price_per_dtu_minute: 1,
        deprecated: false,
        tags: vec![],
        specs: Specs {
            cpu_cores: 4,
            ram_bytes: 17_179_869_184,
            storage_bytes: 161_061_273_600,
            storage_minimum_bytes: 34_359_738_368,
            storage_maximum_bytes: 8_796_093_022_208,
        },
        scaling,
    }
}

/// The product catalogue.
#[utoipa::path(get, path = "/api/v2/products/", tag = "cratedb cloud v2", security(("basic" = [])), params(ProductQuery),
    responses((status = 200, body = Vec<Product>, description = "The products."), (status = 401, description = "Authentication required", body = super::ErrorDoc)))]
pub async fn list_products(CrCaller(_caller): CrCaller, CrQuery(q): CrQuery<ProductQuery>) -> CrResult<Json<Vec<Product>>> {
    let keep = q.kind.as_deref().is_none_or(|k| k == "cluster")
        && q.tier.as_deref().is_none_or(|t| t == PRODUCT_TIER)
        && q.name.as_deref().is_none_or(|n| n == PRODUCT_NAME);
    Ok(Json(if keep { vec![product()] } else { vec![] }))
}
