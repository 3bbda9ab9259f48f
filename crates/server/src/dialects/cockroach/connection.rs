//! `GET /api/v1/clusters/{cluster_id}/connection-string`: a generic `postgresql://` URI of the
//! cluster's SQL endpoint (for `local` clusters, the real primary), with its parts.

use super::CockroachErrorBody;
use super::clusters::cluster_id;
use super::{CCaller, CQuery, CResult, field};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use dbcloud_core::Error;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa::ToSchema;

/// Query of the connection-string route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectionQuery {
    /// Database to connect to (default `defaultdb`).
    pub database: Option<String>,
    /// SQL user to name in the URI (none: the client supplies it).
    pub sql_user: Option<String>,
    /// `MAC`, `LINUX` or `WINDOWS` (accepted; the CA is fetched from the API, not a path).
    pub os: Option<String>,
}

/// `GetConnectionStringResponse`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionString {
    /// The full URI, parameters inline.
    pub connection_string: String,
    /// Its parts.
    pub params: ConnectionParams,
}

/// `ConnectionStringParameters` (the vendor spells them in PascalCase).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionParams {
    /// Database.
    pub database: String,
    /// Host clients dial.
    pub host: String,
    /// Port, as a string.
    pub port: String,
    /// SQL user, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A generic connection string for a cluster.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster_id}/connection-string", tag = "cockroachdb cloud", security(("bearer" = [])),
    params(("cluster_id" = uuid::Uuid, Path), ConnectionQuery),
    responses((status = 200, body = ConnectionString, description = "GetConnectionStringResponse"), (status = 400, body = CockroachErrorBody), (status = 401, body = CockroachErrorBody),
        (status = 403, body = CockroachErrorBody), (status = 404, body = CockroachErrorBody)))]
pub async fn connection_string(
    State(s): State<AppState>,
    CCaller(caller): CCaller,
    Path(id): Path<String>,
    CQuery(q): CQuery<ConnectionQuery>,
) -> CResult<Json<ConnectionString>> {
    let id = cluster_id(&id)?;
    if let Some(os) = &q.os
        && !matches!(os.as_str(), "MAC" | "LINUX" | "WINDOWS")
    {
        return Err(field("os", "must be MAC, LINUX or WINDOWS"));
    }
    let database = q.database.unwrap_or_else(|| "defaultdb".to_string());
    if database.is_empty() || database.len() > 63 {
        return Err(field("database", "must be 1-63 characters"));
    }
    let c = s.app.clusters().get(&caller, id).await?;
    let Some(e) = c.endpoints.iter().find(|e| e.kind == "sql").or(c.endpoints.first()) else {
        return Err(Error::FailedPrecondition(format!("cluster {id} has no SQL endpoint yet")).into());
    };
    let host = if e.host.contains(':') { format!("[{}]", e.host) } else { e.host.clone() };
    let user = q.sql_user.as_deref().filter(|u| !u.is_empty());
    let who = user.map(|u| format!("{}@", encode(u))).unwrap_or_default();
    let connection_string = format!("postgresql://{who}{host}:{}/{}?sslmode=verify-full", e.port, encode(&database));
    Ok(Json(ConnectionString {
        connection_string,
        params: ConnectionParams { database, host: e.host.clone(), port: e.port.to_string(), username: user.map(str::to_string) },
    }))
}
