//! Who may connect to a local cluster, with real connections: users and their access,
//! passwords, the allow list (a client bound to 127.0.0.2), TLS verify-full with the
//! cluster CA (rustls and libpq's psql), and the driver's superuser never over TCP.

mod local_common;

use dbcloud_provision::Provisioner;
use dbcloud_provision::local::*;
use dbcloud_types::*;
use local_common::*;
use std::time::Duration;

fn allow(cidrs: &[&str]) -> Vec<DesiredCidr> {
    cidrs.iter().map(|c| DesiredCidr { cidr: (*c).into(), expires_at: None }).collect()
}

#[tokio::test]
async fn users_databases_allow_list_and_tls_with_real_connections() {
    let h = Harness::new(25432);
    let c = create(&h, "shop", 1).await;
    let ca = h.driver.ca_certificate(&c).expect("the cluster has a CA");
    let addr = primary_addr(&c);
    let host = c.endpoints[0].host.clone();
    let tls = || Rustls::new(&ca, &host);

    let mut desired = DesiredState {
        databases: vec!["orders".into(), "audit".into()],
        users: vec![
            user("app", Access::ReadWrite, None, "app-pass-1"),
            user("reader", Access::Read, None, "reader-pass-1"),
            user("auditor", Access::ReadWrite, Some("audit"), "auditor-pass-1"),
        ],
        allowlist: allow(&["127.0.0.1/32"]),
    };
    let report = h.driver.reconcile(&c, &desired).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.created_roles.len(), 3);
    assert_eq!(report.created_databases.len(), 2);
    let again = h.driver.reconcile(&c, &desired).await.unwrap();
    assert!(!again.changed(), "a second reconcile changes nothing: {again:?}");

    // readwrite: creates a table and inserts.
    let app = connect(addr, "127.0.0.1", tls(), "app", "app-pass-1", "orders").await.expect("readwrite user connects");
    app.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'pen'), (2, 'ink')").await.unwrap();

    // read: selects, and is refused an insert.
    let reader = connect(addr, "127.0.0.1", tls(), "reader", "reader-pass-1", "orders").await.expect("read user connects");
    let n: i64 = reader.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    let denied = reader.execute("INSERT INTO items VALUES (3, 'cap')", &[]).await.unwrap_err();
    assert_eq!(denied.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{denied}");
    assert!(reader.batch_execute("CREATE TABLE mine (x int)").await.is_err(), "read users cannot create tables");

    // A wrong password is refused.
    let wrong = refused(connect(addr, "127.0.0.1", tls(), "app", "not-the-password", "orders").await, "wrong password refused");
    assert!(wrong.contains("password authentication failed"), "{wrong}");

    // A user scoped to one database reaches only that one.
    assert!(connect(addr, "127.0.0.1", tls(), "auditor", "auditor-pass-1", "audit").await.is_ok());
    let other = refused(connect(addr, "127.0.0.1", tls(), "auditor", "auditor-pass-1", "orders").await, "scoped user refused elsewhere");
    assert!(other.contains("permission denied for database"), "{other}");
    assert!(connect(addr, "127.0.0.1", tls(), "app", "app-pass-1", "postgres").await.is_err(), "the maintenance database is closed to users");

    // Outside the allow list (source 127.0.0.2): refused; accepted once its CIDR is added.
    let outside = refused(connect(addr, "127.0.0.2", tls(), "app", "app-pass-1", "orders").await, "127.0.0.2 refused");
    assert!(outside.contains("no pg_hba.conf entry"), "{outside}");
    desired.allowlist = allow(&["127.0.0.1/32", "127.0.0.2/32"]);
    assert!(h.driver.reconcile(&c, &desired).await.unwrap().hba_changed);
    let inside = connect(addr, "127.0.0.2", tls(), "app", "app-pass-1", "orders").await.expect("127.0.0.2 accepted after adding it");
    let n: i64 = inside.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);

    // Without TLS: refused even from a listed address.
    let plain = refused(connect_plain(addr, "app", "app-pass-1", "orders").await, "plain TCP refused");
    assert!(plain.contains("no pg_hba.conf entry") && plain.contains("no encryption"), "{plain}");

    // verify-full: another CA fails; the right CA but a host the certificate does not name fails.
    let other_ca = dbcloud_provision::local::tls::new_ca(uuid::Uuid::now_v7()).unwrap().cert_pem;
    let bad = refused(connect(addr, "127.0.0.1", Rustls::new(&other_ca, &host), "app", "app-pass-1", "orders").await, "another CA fails");
    assert!(bad.to_lowercase().contains("certificate"), "{bad}");
    assert!(connect(addr, "127.0.0.1", Rustls::new(&ca, "db.example.com"), "app", "app-pass-1", "orders").await.is_err());

    // The driver's superuser has no TCP access at all.
    let admin = connect(addr, "127.0.0.1", tls(), ADMIN_ROLE, "", "postgres").await;
    assert!(admin.is_err(), "superuser over TCP must be refused");

    // Password change and delete change the real role.
    desired.users[0] = user("app", Access::ReadWrite, None, "app-pass-2");
    desired.users.remove(1);
    let r = h.driver.reconcile(&c, &desired).await.unwrap();
    assert_eq!(r.altered_roles, vec!["app".to_string()]);
    assert_eq!(r.dropped_roles, vec!["reader".to_string()]);
    assert!(connect(addr, "127.0.0.1", tls(), "app", "app-pass-1", "orders").await.is_err(), "old password refused");
    assert!(connect(addr, "127.0.0.1", tls(), "app", "app-pass-2", "orders").await.is_ok(), "new password accepted");
    let gone = refused(connect(addr, "127.0.0.1", tls(), "reader", "reader-pass-1", "orders").await, "deleted user refused");
    assert!(gone.contains("password authentication failed"), "{gone}");
    // The tables the deleted... remain readable and owned by someone: the data is intact.
    let n: i64 = app.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);

    // Reserved names and non-verifiers are refused, not applied.
    let mut bad_state = desired.clone();
    bad_state.users.push(DesiredUser { name: "dbcloud_admin".into(), access: Access::Read, scope: None, verifier: scram_verifier("x-y-z").unwrap() });
    bad_state.users.push(DesiredUser { name: "plain".into(), access: Access::Read, scope: None, verifier: "plaintext-password".into() });
    let r = h.driver.reconcile(&c, &bad_state).await.unwrap();
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(r.created_roles.is_empty());

    // A database removed from the desired state is dropped.
    desired.databases.retain(|d| d != "audit");
    let r = h.driver.reconcile(&c, &desired).await.unwrap();
    assert_eq!(r.dropped_databases, vec!["audit".to_string()]);
}

#[tokio::test]
async fn psql_verify_full_with_the_cluster_ca() {
    let h = Harness::new(25472);
    let c = create(&h, "libpq", 1).await;
    let desired =
        DesiredState { databases: vec!["app".into()], users: vec![user("u1", Access::ReadWrite, None, "pw-u1-secret")], allowlist: allow(&["127.0.0.0/8"]) };
    h.driver.reconcile(&c, &desired).await.unwrap();
    let ca_file = h.data().join("ca.pem");
    std::fs::write(&ca_file, h.driver.ca_certificate(&c).unwrap()).unwrap();
    let other_file = h.data().join("other.pem");
    std::fs::write(&other_file, dbcloud_provision::local::tls::new_ca(uuid::Uuid::now_v7()).unwrap().cert_pem).unwrap();
    let psql = std::path::Path::new("/usr/lib/postgresql").join(h.driver.default_version().unwrap()).join("bin/psql");
    let psql = if psql.exists() { psql } else { "psql".into() };
    let endpoint = &c.endpoints[0];
    let uri = connection_uri(endpoint, Some("u1"), Some("app"));
    assert!(uri.starts_with("postgresql://u1@127.0.0.1:") && uri.ends_with("/app?sslmode=verify-full"), "{uri}");
    let run = |root: &std::path::Path| {
        std::process::Command::new(&psql)
            .arg(format!("{uri}&sslrootcert={}", root.display()))
            .args(["-Atqc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"])
            .env("PGPASSWORD", "pw-u1-secret")
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .unwrap()
    };
    let ok = run(&ca_file);
    assert!(ok.status.success(), "psql verify-full with the cluster CA: {}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "t");
    let bad = run(&other_file);
    assert!(!bad.status.success(), "psql verify-full with another CA must fail");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("certificate verify failed"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[tokio::test]
async fn an_expired_temporary_entry_is_removed_by_the_supervisor() {
    let h = Harness::new(25512);
    let c = create(&h, "temp", 1).await;
    h.catalog.supervise(c.clone(), false);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let desired = DesiredState {
        databases: vec!["d".into()],
        users: vec![user("t", Access::Read, None, "pw-temp-1")],
        allowlist: vec![DesiredCidr { cidr: "127.0.0.1/32".into(), expires_at: None }, DesiredCidr { cidr: "127.0.0.2/32".into(), expires_at: Some(soon) }],
    };
    h.driver.reconcile(&c, &desired).await.unwrap();
    let ca = h.driver.ca_certificate(&c).unwrap();
    let addr = primary_addr(&c);
    assert!(connect(addr, "127.0.0.2", Rustls::new(&ca, "127.0.0.1"), "t", "pw-temp-1", "d").await.is_ok(), "allowed before expiry");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    h.driver.supervise_once().await;
    let late = refused(connect(addr, "127.0.0.2", Rustls::new(&ca, "127.0.0.1"), "t", "pw-temp-1", "d").await, "refused after expiry");
    assert!(late.contains("no pg_hba.conf entry"), "{late}");
    assert!(connect(addr, "127.0.0.1", Rustls::new(&ca, "127.0.0.1"), "t", "pw-temp-1", "d").await.is_ok(), "permanent entry kept");
}
