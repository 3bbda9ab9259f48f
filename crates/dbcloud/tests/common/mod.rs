//! Runs the real `dbcloud` binary as a server on loopback port 0 and keeps what it logs.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Proc {
    pub child: Child,
    pub url: String,
    /// Every line the server wrote to stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `dbcloud serve` on `data_dir` with extra environment.
    pub fn spawn(data_dir: &Path, database_url: Option<&str>, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbcloud"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", "text"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("DBCLOUD_NO_CLIENT_PROFILE", "true")
            .env("DBCLOUD_RATE_LIMIT", "10000")
            .env_remove("DBCLOUD_DATABASE_URL")
            .env_remove("DBCLOUD_MASTER_KEY")
            .env_remove("DBCLOUD_MASTER_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(u) = database_url {
            cmd.env("DBCLOUD_DATABASE_URL", u);
        }
        let mut child = cmd.spawn().expect("spawn dbcloud");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(vec![]));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start");
        Proc { child, url, log }
    }

    /// Stops the server with SIGKILL and waits for it.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }
}

/// The bootstrap credentials of a data directory.
pub fn credentials(data_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data_dir.join("bootstrap-credentials.json")).unwrap()).unwrap()
}
