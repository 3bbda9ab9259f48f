//! The CA certificate of a cluster: what clients pin to verify TLS connections to it
//! (`sslmode=verify-full` with a `local` cluster).

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::ApiPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use dbcloud_core::Error;
use dbcloud_types::{ClusterCertificate, ErrorBody};
use uuid::Uuid;

/// Get the PEM certificate of the CA that signs the cluster's server certificates (404 when
/// its provisioner issued none yet).
#[utoipa::path(get, path = "/v1/clusters/{id}/certificate", tag = "clusters", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ClusterCertificate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_certificate(State(s): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<ClusterCertificate>> {
    let pem = s.app.clusters().certificate(&caller, id).await?.ok_or_else(|| Error::NotFound(format!("certificate of cluster {id}")))?;
    Ok(Json(ClusterCertificate { certificate: pem }))
}
