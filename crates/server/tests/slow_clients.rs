//! Slow, silent, oversized and malformed clients over raw TCP against a real server on
//! loopback: each is answered with a JSON error body (in the shape of the API surface of
//! its path) or closed within the configured timeout, and never holds the server up.

mod common;

use common::{Backend, TestServer, config};
use dbcloud_server::ServerConfig;
use dbcloud_server::http::HttpConfig;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_MS: u64 = 400;
const BODY_MS: u64 = 400;
const IDLE_MS: u64 = 800;

fn cfg(max_connections: usize) -> ServerConfig {
    let mut c = config(0, 0.0);
    c.http = HttpConfig {
        header_read_timeout: Duration::from_millis(HEADER_MS),
        body_read_timeout: Duration::from_millis(BODY_MS),
        idle_timeout: Duration::from_millis(IDLE_MS),
        max_connections,
    };
    c
}

async fn server() -> TestServer {
    TestServer::with(Backend::Sqlite, cfg(64)).await
}

async fn connect(t: &TestServer) -> TcpStream {
    TcpStream::connect(t.server.addr).await.unwrap()
}

/// A parsed response: status, lower-cased headers, JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Reads one response (head, then `content-length` bytes of body) within 5 s.
async fn read_answer(s: &mut (impl AsyncRead + Unpin)) -> Answer {
    read_answers(s, 1).await.pop().unwrap()
}

/// Reads `n` responses within 5 s.
async fn read_answers(s: &mut (impl AsyncRead + Unpin), n: usize) -> Vec<Answer> {
    let mut buf = Vec::new();
    let mut answers = vec![];
    let read = async {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(buf[..end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
                let headers: Vec<(String, String)> =
                    lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
                let len: usize = headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let body = &buf[end + 4..end + 4 + len];
                    let body = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or_else(|_| panic!("JSON body: {body:?}")) };
                    buf.drain(..end + 4 + len);
                    answers.push(Answer { status, headers, body });
                    if answers.len() == n {
                        return answers;
                    }
                    continue;
                }
            }
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed before a full answer: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await.expect("an answer within 5 s")
}

/// Time until the server closes the connection (EOF or reset), failing after `limit`.
async fn closed_within(s: &mut (impl AsyncRead + Unpin), limit: Duration) -> Duration {
    let start = Instant::now();
    let mut chunk = [0u8; 1024];
    let wait = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.unwrap_or_else(|_| panic!("still open after {limit:?}"));
    start.elapsed()
}

fn assert_native(a: &Answer, status: u16, code: i64) {
    assert_eq!(a.status, status, "{a:?}");
    assert_eq!(a.body["code"], code, "{a:?}");
    assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{a:?}");
    assert!(a.body["details"].is_array(), "{a:?}");
    assert_eq!(a.header("content-type"), Some("application/json"), "{a:?}");
}

/// The error shape of each surface: native/CockroachDB `code`, Couchbase `errorType`,
/// CrateDB `success: false`.
fn assert_shape(path: &str, a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{path}: {a:?}");
    assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {a:?}");
    if path.starts_with("/api/v2") {
        assert_eq!(a.body["success"], false, "{path}: {a:?}");
    } else if path.starts_with("/v2") {
        assert!(a.body["errorType"].is_string(), "{path}: {a:?}");
    } else {
        assert!(a.body["code"].is_i64() && a.body["details"].is_array(), "{path}: {a:?}");
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

#[tokio::test]
async fn partial_headers_and_silence_are_closed_at_the_header_timeout() {
    let t = server().await;
    let mut partial = connect(&t).await;
    partial.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ").await.unwrap();
    let mut silent = connect(&t).await;
    let took = closed_within(&mut partial, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(HEADER_MS - 100), "closed early: {took:?}");
    let took = closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(took < Duration::from_millis(HEADER_MS + 1000), "{took:?}");
}

#[tokio::test]
async fn a_partial_body_gets_408_and_is_closed() {
    let t = server().await;
    for path in ["/v1/projects", "/v2/organizations/x/projects", "/api/v2/projects/"] {
        let mut s = connect(&t).await;
        let head = format!("POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"name\":", t.token);
        s.write_all(head.as_bytes()).await.unwrap();
        let start = Instant::now();
        let a = read_answer(&mut s).await;
        assert_shape(path, &a, 408);
        assert!(start.elapsed() >= Duration::from_millis(BODY_MS - 100), "{:?}", start.elapsed());
        assert_eq!(a.header("connection"), Some("close"));
        closed_within(&mut s, Duration::from_secs(3)).await;
    }
    let mut s = connect(&t).await;
    s.write_all(b"POST /v1/projects HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n").await.unwrap();
    assert_native(&read_answer(&mut s).await, 408, 4);
}

#[tokio::test]
async fn keep_alive_works_and_idle_connections_are_closed() {
    let t = server().await;
    let mut s = connect(&t).await;
    for _ in 0..3 {
        s.write_all(get("/health").as_bytes()).await.unwrap();
        let a = read_answer(&mut s).await;
        assert_eq!(a.status, 200, "{a:?}");
        tokio::time::sleep(Duration::from_millis(IDLE_MS / 2)).await;
    }
    // Two requests in one write (pipelined) are both answered.
    s.write_all(format!("{}{}", get("/health"), get("/ready")).as_bytes()).await.unwrap();
    let both = read_answers(&mut s, 2).await;
    assert_eq!((both[0].status, both[1].status), (200, 200), "{both:?}");
    let took = closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(IDLE_MS - 100), "idle connections live for the idle timeout, not the header timeout: {took:?}");
}

#[tokio::test]
async fn an_oversized_declared_body_gets_413_before_it_is_sent() {
    let t = server().await;
    for path in ["/v1/projects", "/v2/organizations/x/projects", "/api/v2/projects/", "/api/v1/clusters", "/no/such/route"] {
        let mut s = connect(&t).await;
        let head = format!("POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Length: 20971520\r\n\r\n{{", t.token);
        s.write_all(head.as_bytes()).await.unwrap();
        let start = Instant::now();
        let a = read_answer(&mut s).await;
        assert_shape(path, &a, 413);
        assert!(start.elapsed() < Duration::from_millis(BODY_MS), "answered at once, not after the body timeout");
        if !path.starts_with("/v2") && !path.starts_with("/api/v2") {
            assert_eq!(a.body["code"], 3, "{a:?}");
        }
    }
    // A chunked body with no declared length is cut off at the limit.
    let mut s = connect(&t).await;
    s.write_all(b"POST /v1/projects HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
    for _ in 0..5 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    assert_native(&read_answer(&mut s).await, 413, 3);
}

#[tokio::test]
async fn connections_over_the_cap_get_503_with_a_body() {
    let t = TestServer::with(Backend::Sqlite, {
        let mut c = cfg(2);
        c.http.header_read_timeout = Duration::from_secs(10);
        c
    })
    .await;
    let mut first = connect(&t).await;
    let _second = connect(&t).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect(&t).await;
    third.write_all(get("/health").as_bytes()).await.unwrap();
    let a = read_answer(&mut third).await;
    assert_native(&a, 503, 14);
    assert_eq!(a.header("retry-after"), Some("1"));
    closed_within(&mut third, Duration::from_secs(3)).await;
    // A connection that was in before the cap still works; once one leaves there is room.
    first.write_all(get("/health").as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut first).await.status, 200);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut s = connect(&t).await;
        s.write_all(get("/health").as_bytes()).await.unwrap();
        if read_answer(&mut s).await.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a closed connection frees its slot");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `head` (which may be huge) while reading the answer, as a real client would.
async fn send_big(t: &TestServer, head: Vec<u8>) -> Answer {
    let (mut r, mut w) = connect(t).await.into_split();
    let writer = tokio::spawn(async move {
        let _ = w.write_all(&head).await;
        w
    });
    let a = read_answer(&mut r).await;
    writer.abort();
    a
}

#[tokio::test]
async fn a_1mb_header_gets_431_with_a_body() {
    let t = server().await;
    for path in ["/v1/clusters", "/v2/organizations", "/api/v2/users/me/", "/api/v1/clusters"] {
        let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n", "a".repeat(1024 * 1024));
        let a = send_big(&t, head.into_bytes()).await;
        assert_shape(path, &a, 431);
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    }
    // Below the limit is fine.
    let mut s = connect(&t).await;
    s.write_all(format!("GET /health HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n", "a".repeat(32 * 1024)).as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut s).await.status, 200);
}

#[tokio::test]
async fn invalid_utf8_in_path_or_query_is_400_with_a_body_on_every_route() {
    let t = server().await;
    let paths = [
        "/v1/clusters/%FF",
        "/v1/clusters?name=%FF",
        "/v1/clusters?name=caf%C3",
        "/no/such/route/%FF",
        "/health?x=%ff%fe",
        "/v2/organizations/%FF/projects",
        "/api/v1/clusters?cursor=%FF",
        "/api/v2/clusters/%FF/",
    ];
    for path in paths {
        let mut s = connect(&t).await;
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\r\n", t.token);
        s.write_all(req.as_bytes()).await.unwrap();
        let a = read_answer(&mut s).await;
        assert_shape(path, &a, 400);
        assert!(a.body["message"].as_str().unwrap().contains("UTF-8"), "{path}: {a:?}");
    }
    // Raw bytes that are not UTF-8 never reach a route: hyper refuses them, with our body.
    for raw in [&b"GET /v1/clusters/\xff HTTP/1.1\r\nHost: test\r\n\r\n"[..], b"GET /v2/clusters?x=\xfe HTTP/1.1\r\nHost: test\r\n\r\n"] {
        let mut s = connect(&t).await;
        s.write_all(raw).await.unwrap();
        let a = read_answer(&mut s).await;
        assert_eq!(a.status, 400, "{a:?}");
        assert!(a.body["message"].is_string(), "{a:?}");
    }
    // Percent-encoded UTF-8 is fine.
    let (s, _, _) = t.call(reqwest::Method::GET, "/v1/clusters?name=caf%C3%A9", None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_closes_idle_connections() {
    let t = server().await;
    let mut idle = connect(&t).await;
    idle.write_all(get("/health").as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut idle).await.status, 200);
    let mut busy = connect(&t).await;
    let body = r#"{"name":"drained"}"#;
    let head = format!("POST /v1/projects HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n", t.token, body.len());
    busy.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(t.server.shutdown());
    closed_within(&mut idle, Duration::from_secs(2)).await;
    busy.write_all(body.as_bytes()).await.unwrap();
    let a = read_answer(&mut busy).await;
    assert_eq!(a.status, 201, "{a:?}");
    tokio::time::timeout(Duration::from_secs(5), stopping).await.expect("shutdown completes").unwrap();
}
