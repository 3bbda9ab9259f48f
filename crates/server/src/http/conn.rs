//! One connection's state as the timeouts see it ([`Watch`]), and the socket wrapper
//! ([`WatchedIo`]) that feeds it, gives hyper's own bodiless error answers a JSON body and
//! closes with a short linger.
//!
//! Phases: a connection is waiting for a request head (`Head`, from accept or from the
//! first byte of a later request; bounded by the header read timeout), handling a request
//! (`Handling`; the body read timeout of the guard bounds the body), or idle between
//! requests and while its answer is written (`Idle`, since the last byte moved; bounded by
//! the idle timeout).

use super::{HttpConfig, LINGER, Surface, raw_error_response};
use axum::http::StatusCode;
use dbcloud_types::Code;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy)]
enum Phase {
    Head(Instant),
    Handling,
    Idle(Instant),
}

/// What a connection is doing, for its watchdog.
#[derive(Debug)]
pub struct Watch {
    phase: Mutex<Phase>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch { phase: Mutex::new(Phase::Head(Instant::now())) }
    }
}

impl Watch {
    fn with<R>(&self, f: impl FnOnce(&mut Phase) -> R) -> R {
        f(&mut self.phase.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes arrived: an idle connection starts reading a request head.
    pub fn on_read(&self) {
        self.with(|p| {
            if let Phase::Idle(_) = p {
                *p = Phase::Head(Instant::now());
            }
        });
    }

    /// Bytes left: an answer being written is progress.
    pub fn on_write(&self) {
        self.with(|p| {
            if let Phase::Idle(_) = p {
                *p = Phase::Idle(Instant::now());
            }
        });
    }

    /// A request head was parsed and is being handled.
    pub fn request_started(&self) {
        self.with(|p| *p = Phase::Handling);
    }

    /// The handler answered.
    pub fn request_done(&self) {
        self.with(|p| *p = Phase::Idle(Instant::now()));
    }

    /// Whether no request is being handled (then anything hyper writes is its own answer to
    /// a request head it could not parse).
    pub fn awaiting_head(&self) -> bool {
        self.with(|p| matches!(p, Phase::Head(_)))
    }

    /// When the connection must be closed, if nothing changes.
    pub fn deadline(&self, cfg: &HttpConfig) -> Option<Instant> {
        self.with(|p| match *p {
            Phase::Head(since) => Some(since + cfg.header_read_timeout),
            Phase::Idle(since) => Some(since + cfg.idle_timeout),
            Phase::Handling => None,
        })
    }

    /// When to look again: the deadline, but at least every `min(header, idle)` timeout,
    /// since a phase change can bring the deadline closer.
    pub fn next_check(&self, cfg: &HttpConfig) -> Instant {
        let tick = Instant::now() + cfg.header_read_timeout.min(cfg.idle_timeout);
        self.deadline(cfg).map_or(tick, |d| d.min(tick))
    }

    /// Whether the deadline has passed.
    pub fn expired(&self, cfg: &HttpConfig) -> bool {
        self.deadline(cfg).is_some_and(|d| d <= Instant::now())
    }
}

/// Bytes of a request head kept to tell which API surface a refused request was for.
const HEAD_PREFIX: usize = 64;

/// The socket of one connection, as hyper sees it.
pub struct WatchedIo<T> {
    io: T,
    watch: std::sync::Arc<Watch>,
    /// The first bytes of the request head being read.
    head: [u8; HEAD_PREFIX],
    head_len: usize,
    /// Our replacement for hyper's own error answer, and how much of it is written.
    rewrite: Option<(Vec<u8>, usize)>,
    /// Lingering close: write side shut, discarding input until EOF or this deadline.
    linger: Option<Pin<Box<Sleep>>>,
}

impl<T> WatchedIo<T> {
    /// Wraps a socket.
    pub fn new(io: T, watch: std::sync::Arc<Watch>) -> Self {
        WatchedIo { io, watch, head: [0; HEAD_PREFIX], head_len: 0, rewrite: None, linger: None }
    }

    /// The answer to send instead of hyper's bodiless `status` (the head hyper wrote).
    fn replacement(&self, written: &[u8]) -> Option<Vec<u8>> {
        let status = written.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
        let status = StatusCode::from_bytes(status).ok()?;
        let message = match status {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                format!("request header fields too large: the request line and headers must fit in {} bytes", super::MAX_HEADER_BYTES)
            }
            StatusCode::URI_TOO_LONG => "request URI too long".to_string(),
            StatusCode::BAD_REQUEST => "invalid argument: malformed request line or header (the path and query must be ASCII, percent-encoded UTF-8)".into(),
            _ => return None,
        };
        let surface = Surface::of(self.head[..self.head_len].split(|b| *b == b' ').nth(1).unwrap_or(b"/"));
        Some(raw_error_response(surface, status, Code::InvalidArgument, &message))
    }
}

impl<T: AsyncWrite + Unpin> WatchedIo<T> {
    /// Writes what is left of the replacement answer.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, done)) = &mut self.rewrite {
            while *done < bytes.len() {
                let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *done += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let got = &buf.filled()[before..];
        if !got.is_empty() {
            let was_waiting = this.watch.awaiting_head();
            this.watch.on_read();
            if !was_waiting && this.watch.awaiting_head() {
                this.head_len = 0;
            }
            if this.watch.awaiting_head() && this.head_len < HEAD_PREFIX {
                let n = got.len().min(HEAD_PREFIX - this.head_len);
                this.head[this.head_len..this.head_len + n].copy_from_slice(&got[..n]);
                this.head_len += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + AsyncRead + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewrite.is_some() {
            // hyper's error answer is head-only; whatever else it writes is dropped.
            ready!(this.poll_rewrite(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if this.watch.awaiting_head()
            && let Some(bytes) = this.replacement(buf)
        {
            this.rewrite = Some((bytes, 0));
            ready!(this.poll_rewrite(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if n > 0 {
            this.watch.on_write();
        }
        Poll::Ready(Ok(n))
    }

    /// Vectored writes (hyper then queues body chunks instead of copying them into a
    /// buffer that would keep the size of the largest answer for the connection's life).
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        if self.rewrite.is_some() || self.watch.awaiting_head() {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            self.watch.on_write();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_rewrite(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Flushes, shuts the write side, then reads and discards until the client closes or
    /// [`LINGER`] passes, so a client still sending (a large body or header we refused)
    /// reads our answer rather than a connection reset.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            ready!(this.poll_rewrite(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 4096];
        loop {
            if let Some(sleep) = &mut this.linger
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg() -> HttpConfig {
        HttpConfig { header_read_timeout: Duration::from_secs(2), idle_timeout: Duration::from_secs(5), ..HttpConfig::default() }
    }

    /// `f`'s deadline lies `after` past a moment between the call's start and end.
    fn deadline_after(w: &Watch, f: impl FnOnce(&Watch), after: Duration) {
        let before = Instant::now();
        f(w);
        let d = w.deadline(&cfg()).expect("a deadline");
        assert!(d >= before + after && d <= Instant::now() + after, "{after:?}");
    }

    #[test]
    fn phases_set_deadlines() {
        let (head, idle) = (Duration::from_secs(2), Duration::from_secs(5));
        let before = Instant::now();
        let w = Watch::default();
        let d = w.deadline(&cfg()).expect("a new connection must send its head in time");
        assert!(d >= before + head && d <= Instant::now() + head);
        w.request_started();
        assert_eq!(w.deadline(&cfg()), None, "a handler's time is not limited here");
        assert!(!w.awaiting_head());
        deadline_after(&w, Watch::request_done, idle);
        deadline_after(&w, Watch::on_write, idle);
        assert!(!w.awaiting_head());
        deadline_after(&w, Watch::on_read, head);
        assert!(w.awaiting_head());
        assert!(w.next_check(&cfg()) <= Instant::now() + head);
        assert!(!w.expired(&cfg()));
        assert!(w.expired(&HttpConfig { header_read_timeout: Duration::ZERO, ..cfg() }));
    }
}
