//! `dbcloud clusters connect NAME`: runs `psql` against a `local` cluster's primary with
//! TLS `verify-full` (the cluster CA from the API written to a private file as
//! `sslrootcert`); psql asks for the user's password. `--print` prints the URI instead.

use crate::client::Client;
use crate::error::{CliError, Result};
use clap::Args;
use serde_json::Value;

/// Arguments of `dbcloud clusters connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Cluster id or name.
    pub cluster: String,
    /// Database user to log in as [default: psql's (PGUSER, else your OS user name)].
    #[arg(long)]
    pub user: Option<String>,
    /// Database (bucket) to connect to [default: postgres].
    #[arg(long)]
    pub database: Option<String>,
    /// Print the connection URI (with the CA file as `sslrootcert`) instead of running psql.
    #[arg(long)]
    pub print: bool,
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The `postgresql://` URI of `endpoint` for `user` and `database`, verifying the server
/// with the CA in `ca_file`.
pub fn uri(endpoint: &Value, user: Option<&str>, database: Option<&str>, ca_file: &std::path::Path) -> Result<String> {
    let host = endpoint["host"].as_str().ok_or_else(|| CliError::Network("the cluster's endpoint has no host".into()))?;
    let port = endpoint["port"].as_u64().ok_or_else(|| CliError::Network("the cluster's endpoint has no port".into()))?;
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let user = user.map(|u| format!("{}@", enc(u))).unwrap_or_default();
    let db = enc(database.unwrap_or("postgres"));
    Ok(format!("postgresql://{user}{host}:{port}/{db}?sslmode=verify-full&sslrootcert={}", enc(&ca_file.display().to_string())))
}

/// Writes the cluster CA to a file only this user can read; returns its path.
fn write_ca(cluster: &str, pem: &str) -> Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!("dbcloud-{cluster}-ca.crt"));
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| CliError::Usage(format!("cannot write the cluster CA to {}: {e}", path.display())))?;
    f.write_all(pem.as_bytes()).map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Runs `dbcloud clusters connect`.
pub async fn run(c: &Client, a: ConnectArgs) -> Result<()> {
    let id = crate::clusters::resolve_cluster(c, &a.cluster).await?;
    let cluster = c.get(&format!("/v1/clusters/{id}")).await?;
    let endpoints = cluster["endpoints"].as_array().cloned().unwrap_or_default();
    let Some(primary) = endpoints.iter().find(|e| e["kind"] == "sql") else {
        return Err(CliError::Usage(format!("cluster `{}` has no SQL endpoint (is it CREATED, on provider `local`?)", a.cluster)));
    };
    let cert = c.get(&format!("/v1/clusters/{id}/certificate")).await?;
    let pem = cert["certificate"].as_str().ok_or_else(|| CliError::Network("the certificate answer has no `certificate`".into()))?;
    let ca_file = write_ca(&id, pem)?;
    let uri = uri(primary, a.user.as_deref(), a.database.as_deref(), &ca_file)?;
    if a.print {
        println!("{uri}");
        return Ok(());
    }
    let status = std::process::Command::new("psql").arg(&uri).status().map_err(|e| {
        CliError::Usage(format!("cannot run psql ({e}); install the PostgreSQL client (Debian: apt-get install postgresql-client), or use --print"))
    })?;
    if status.success() { Ok(()) } else { Err(CliError::Usage(format!("psql ended with {status}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_encode_names_and_pin_the_ca() {
        let e = serde_json::json!({"kind": "sql", "host": "127.0.0.1", "port": 25432});
        let u = uri(&e, Some("app user"), Some("orders"), std::path::Path::new("/tmp/ca.crt")).unwrap();
        assert_eq!(u, "postgresql://app%20user@127.0.0.1:25432/orders?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.crt");
        let v6 = serde_json::json!({"kind": "sql", "host": "::1", "port": 1});
        assert!(uri(&v6, None, None, std::path::Path::new("c")).unwrap().starts_with("postgresql://[::1]:1/postgres?"));
    }
}
