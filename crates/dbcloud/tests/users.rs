//! `dbcloud users set-password`: the operator's recovery path sets a console password
//! straight in the store (read from stdin, never a flag), and refuses bad input clearly.

use std::io::Write;
use std::process::{Command, Stdio};

fn set_password(data_dir: &std::path::Path, email: &str, stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbcloud"))
        .args(["users", "set-password", "--email", email, "--data-dir"])
        .arg(data_dir)
        .env_remove("DBCLOUD_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn operator_sets_a_console_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dbcloud.db");
    {
        let store = dbcloud_store::open(&format!("sqlite://{}", db.display())).await.unwrap();
        let (key, _) = dbcloud_core::crypto::MasterKey::generate();
        dbcloud_server::bootstrap::ensure(store.as_ref(), dir.path(), &key).await.unwrap();
    }
    let out = set_password(dir.path(), "Owner@DBcloud.local", "a brand new password\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("password set for owner@dbcloud.local"), "{stderr}");
    assert!(!stderr.contains("a brand new password") && out.stdout.is_empty(), "the password is never printed");

    let store = dbcloud_store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let c = store.login_candidates("owner@dbcloud.local").await.unwrap();
    assert_eq!(c.len(), 1);
    assert!(dbcloud_app::sessions::verify_password("a brand new password", &c[0].password_hash));

    // Too short, unknown address, no store: a clear error and exit 1.
    let short = set_password(dir.path(), "owner@dbcloud.local", "short\n");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("12 to 128 characters"));
    let unknown = set_password(dir.path(), "nobody@example.com", "a brand new password\n");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user has the e-mail address"));
    let none = set_password(&dir.path().join("missing"), "owner@dbcloud.local", "a brand new password\n");
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no store at"));
}
