//! The real `dbcloud serve`: its data directory and SQLite files are private to its user
//! (also after an older install left them readable), and the HTTP settings arrive from the
//! environment (connection timeouts, the `/metrics` token).

mod common;

use common::Proc;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

fn assert_private(data: &Path) {
    // Others may traverse it (0711) when dbcloud runs as root: the PostgreSQL account of the
    // `local` provider passes through to its clusters; nobody else lists or reads it.
    assert_eq!(mode(data) & !0o011, 0o700, "data directory");
    for f in ["dbcloud.db", "dbcloud.db-wal", "dbcloud.db-shm", "bootstrap-credentials.json", "master.key"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_directory_and_database_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Proc::spawn(&data, None, &[]);
    assert_eq!(reqwest::get(format!("{}/health", server.url)).await.unwrap().status(), 200);
    assert_private(&data);
    server.kill();

    // An install from before: everything world-readable. The next start narrows it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["dbcloud.db", "dbcloud.db-wal", "dbcloud.db-shm"] {
        if data.join(f).exists() {
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let server = Proc::spawn(&data, None, &[]);
    assert_eq!(reqwest::get(format!("{}/health", server.url)).await.unwrap().status(), 200);
    assert_private(&data);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_settings_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let token = "a-metrics-token-for-tests";
    let server = Proc::spawn(dir.path(), None, &[("DBCLOUD_HEADER_READ_TIMEOUT_MS", "300"), ("DBCLOUD_METRICS_TOKEN", token)]);
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", server.url);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(http.get(&url).bearer_auth(token).send().await.unwrap().status(), 200);

    let addr = server.url.trim_start_matches("http://").to_string();
    let closed = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let start = Instant::now();
        let n = s.read(&mut [0u8; 64]).unwrap_or(0);
        (n, start.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(closed.0, 0, "closed without an answer");
    assert!(closed.1 < Duration::from_secs(3), "closed at the configured header timeout, not the default: {:?}", closed.1);
    let log = server.kill().join("\n");
    assert!(!log.contains(token), "the token is never logged");
}
