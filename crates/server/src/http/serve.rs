//! The accept loop: at most [`HttpConfig::max_connections`] connections at once (more get
//! a 503 and are closed), each served by hyper's HTTP/1.1 with a watchdog enforcing the
//! header read and idle timeouts; on shutdown it stops accepting, lets in-flight requests
//! finish and closes idle connections, and returns once every connection is gone.

use super::conn::{Watch, WatchedIo};
use super::{HttpConfig, MAX_BUF_BYTES, MAX_HEADER_BYTES, Surface, raw_error_response};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use dbcloud_types::Code;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// Refusals (503) being written at once; beyond that, excess connections are just closed.
const REFUSAL_SLOTS: usize = 64;

/// Serves `router` on `listener` until `stop` turns true, then drains.
pub async fn serve(listener: TcpListener, router: Router, cfg: HttpConfig, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
    let cfg = Arc::new(cfg);
    let max = cfg.max_connections.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let permits = Arc::new(Semaphore::new(max as usize));
    let refusals = Arc::new(Semaphore::new(REFUSAL_SLOTS));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|v| *v) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory: wait instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(connection(stream, peer, router.clone(), cfg.clone(), stop.clone(), permit));
            }
            Err(_) => {
                metrics::counter!("dbcloud_http_connections_refused_total").increment(1);
                if let Ok(slot) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, slot));
                }
            }
        }
    }
    drop(listener);
    // Every connection holds a permit until it is closed.
    let _all = permits.acquire_many(max).await;
    Ok(())
}

/// Accept errors that concern one connection only.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Answers 503 to a connection over the cap, then closes it after a short linger.
async fn refuse(mut stream: TcpStream, _slot: OwnedSemaphorePermit) {
    let answer = raw_error_response(Surface::Native, StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, "server busy: too many connections");
    let linger = async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 4096];
        while stream.read(&mut scratch).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(super::LINGER, linger).await;
}

/// Serves one connection until it ends, times out or the server stops.
async fn connection(stream: TcpStream, peer: SocketAddr, router: Router, cfg: Arc<HttpConfig>, mut stop: watch::Receiver<bool>, _permit: OwnedSemaphorePermit) {
    let watch = Arc::new(Watch::default());
    let io = TokioIo::new(WatchedIo::new(stream, watch.clone()));
    let svc_watch = watch.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let (router, watch) = (router.clone(), svc_watch.clone());
        watch.request_started();
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            let res = router.oneshot(req.map(Body::new)).await;
            watch.request_done();
            res
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None).max_header_size(MAX_HEADER_BYTES).max_buf_size(MAX_BUF_BYTES).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let check = watch.next_check(&cfg);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = tokio::time::sleep_until(check) => {
                if watch.expired(&cfg) {
                    let phase = if watch.awaiting_head() { "header" } else { "idle" };
                    metrics::counter!("dbcloud_http_timeouts_total", "phase" => phase).increment(1);
                    break;
                }
            }
            _ = stop.wait_for(|v| *v), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
