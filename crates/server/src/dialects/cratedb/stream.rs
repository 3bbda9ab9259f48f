//! The vendor's unpaged cluster list, sent as it is read: the JSON array is written page by
//! page (500 clusters, each page one store query plus a fixed number for details), so the
//! server holds one page at a time and the cost per cluster stays flat however long the list.
//!
//! The first page is read before the answer starts, so refusals and store errors still get
//! their status and error body. A failure after that can no longer change the status: the
//! body is cut short (the client sees an incomplete response, never a valid-looking list).

use super::clusters::cluster_docs;
use super::{CrResult, wire};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dbcloud_app::Caller;
use dbcloud_app::model::{ClusterFilter, PageReq};
use dbcloud_core::Error;
use dbcloud_types::{Cluster, Page};
use futures::StreamExt;
use uuid::Uuid;

/// Clusters read per store call.
const PAGE: u32 = dbcloud_core::cursor::MAX_PAGE_SIZE;

/// `[doc, doc, …]` of the clusters `caller` may read with `filter`, streamed page by page.
pub(super) async fn cluster_list(s: AppState, caller: Caller, filter: ClusterFilter) -> CrResult<Response> {
    let first = s.app.clusters().list(&caller, filter.clone(), PageReq::first(PAGE)).await?;
    let docs = cluster_docs(&s, &caller, &first.items).await?;
    let Some(after) = next_after(&first) else {
        return Ok(Json(docs).into_response());
    };
    let mut head = vec![b'['];
    append(&mut head, &docs).map_err(|e| Error::Internal(format!("rendering a cluster: {e}")))?;
    let pages = futures::stream::unfold(Some(after), move |after| {
        let (s, caller, filter) = (s.clone(), caller.clone(), filter.clone());
        async move {
            let after = after?;
            let page = PageReq { after: Some(after), ..PageReq::first(PAGE) };
            let read = async {
                let got = s.app.clusters().list(&caller, filter, page).await?;
                let docs = cluster_docs(&s, &caller, &got.items).await?;
                CrResult::Ok((docs, next_after(&got)))
            };
            match read.await {
                Ok((docs, next)) => {
                    let mut chunk = Vec::with_capacity(docs.len() * 1024 + 2);
                    if !docs.is_empty() {
                        chunk.push(b',');
                    }
                    if let Err(e) = append(&mut chunk, &docs) {
                        tracing::error!(error = %e, "CrateDB cluster list: rendering failed; the answer is cut short");
                        return Some((Err(std::io::Error::other("cluster list interrupted")), None));
                    }
                    if next.is_none() {
                        chunk.push(b']');
                    }
                    // After the last page the state is `None`: the next call ends the stream.
                    Some((Ok(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    tracing::error!(error = ?e.0, "CrateDB cluster list: a later page failed; the answer is cut short");
                    Some((Err(std::io::Error::other("cluster list interrupted")), None))
                }
            }
        }
    });
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) }).chain(pages);
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}

/// Where the next page starts, if there is one.
fn next_after(page: &Page<Cluster>) -> Option<Uuid> {
    page.next_cursor.as_ref().and(page.items.last()).map(|c| c.id)
}

/// Appends `docs` to `out` separated by commas.
fn append(out: &mut Vec<u8>, docs: &[wire::Cluster]) -> serde_json::Result<()> {
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, d)?;
    }
    Ok(())
}
