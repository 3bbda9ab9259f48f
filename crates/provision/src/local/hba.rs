//! The files that decide who may connect: the cluster's `pg_hba.conf` (shared by its nodes,
//! regenerated from the allow list) and each node's `dbcloud.conf` (port, addresses, TLS).
//!
//! Rules: the driver's superuser connects only over the cluster's private Unix socket
//! directory; over TCP only listed, unexpired CIDRs may connect, only with TLS
//! (`hostssl`) and a SCRAM password; anything else matches no line and is rejected.

use super::{ADMIN_ROLE, DesiredCidr};
use ipnet::IpNet;
use std::path::Path;
use time::OffsetDateTime;

/// The `pg_hba.conf` for `allowlist` at `now` (expired entries left out), and the entries
/// skipped because they are not valid CIDRs.
pub fn pg_hba(allowlist: &[DesiredCidr], now: OffsetDateTime) -> (String, Vec<String>) {
    let mut out = String::from(
        "# Managed by dbcloud: regenerated on every allow-list change; edits are lost.\n\
         # TYPE   DATABASE     USER            ADDRESS   METHOD\n",
    );
    out.push_str(&format!("local     all          {ADMIN_ROLE}                trust\n"));
    out.push_str(&format!("local     replication  {ADMIN_ROLE}                trust\n"));
    out.push_str("local     all          all                          reject\n");
    let mut invalid = vec![];
    let mut seen = vec![];
    for entry in allowlist {
        if entry.expires_at.is_some_and(|t| t <= now) {
            continue;
        }
        match entry.cidr.trim().parse::<IpNet>() {
            Ok(net) => {
                let net = net.trunc();
                if !seen.contains(&net) {
                    seen.push(net);
                    out.push_str(&format!("hostssl   all          all             {net}   scram-sha-256\n"));
                }
            }
            Err(_) => invalid.push(entry.cidr.clone()),
        }
    }
    (out, invalid)
}

/// The earliest future expiry in `allowlist` (when the file must be regenerated next).
pub fn next_expiry(allowlist: &[DesiredCidr], now: OffsetDateTime) -> Option<OffsetDateTime> {
    allowlist.iter().filter_map(|e| e.expires_at).filter(|t| *t > now).min()
}

/// A single-quoted `postgresql.conf` string.
pub fn conf_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Settings of one node, written to `<node>/dbcloud.conf` (included by its postgresql.conf).
pub struct NodeConf<'a> {
    /// TCP port.
    pub port: u16,
    /// Listen address.
    pub listen: &'a str,
    /// The cluster directory (socket dir, hba file and TLS files live there).
    pub cluster_dir: &'a Path,
    /// Extra settings (name, value as written).
    pub settings: &'a [(String, String)],
}

impl NodeConf<'_> {
    /// The file's text.
    pub fn render(&self) -> String {
        let d = self.cluster_dir;
        let path = |p: &str| conf_str(&d.join(p).to_string_lossy());
        let mut s = String::from("# Managed by dbcloud.\n");
        s.push_str(&format!("port = {}\nlisten_addresses = {}\n", self.port, conf_str(self.listen)));
        s.push_str(&format!("unix_socket_directories = {}\nunix_socket_permissions = 0700\n", path("s")));
        s.push_str(&format!("hba_file = {}\n", path("pg_hba.conf")));
        s.push_str(&format!(
            "ssl = on\nssl_cert_file = {}\nssl_key_file = {}\nssl_min_protocol_version = 'TLSv1.2'\n",
            path("tls/server.crt"),
            path("tls/server.key")
        ));
        s.push_str("password_encryption = 'scram-sha-256'\nhot_standby = on\nwal_level = replica\nmax_wal_senders = 16\nmax_replication_slots = 16\n");
        s.push_str("logging_collector = off\nlog_connections = off\n");
        for (k, v) in self.settings {
            if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') && !v.contains('\n') {
                s.push_str(&format!("{k} = {v}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_lists_only_valid_unexpired_cidrs_over_tls() {
        let now = OffsetDateTime::now_utc();
        let list = vec![
            DesiredCidr { cidr: "127.0.0.1/32".into(), expires_at: None },
            DesiredCidr { cidr: "10.0.0.0/8".into(), expires_at: Some(now - time::Duration::seconds(1)) },
            DesiredCidr { cidr: "192.168.1.7/24".into(), expires_at: Some(now + time::Duration::hours(1)) },
            DesiredCidr { cidr: "all\nhost all all 0.0.0.0/0 trust".into(), expires_at: None },
            DesiredCidr { cidr: "::1/128".into(), expires_at: None },
        ];
        let (hba, invalid) = pg_hba(&list, now);
        assert!(hba.contains("hostssl   all          all             127.0.0.1/32   scram-sha-256"));
        assert!(hba.contains("192.168.1.0/24"), "canonical network");
        assert!(hba.contains("::1/128"));
        assert!(!hba.contains("10.0.0.0/8"), "expired");
        assert!(!hba.contains("trust\nhost") && !hba.contains(" host "), "no injected line");
        assert!(!hba.lines().any(|l| l.starts_with("host ") || l.starts_with("hostnossl")), "no plain TCP access");
        assert_eq!(invalid.len(), 1);
        assert_eq!(next_expiry(&list, now), list[2].expires_at);
    }

    #[test]
    fn conf_strings_are_quoted() {
        assert_eq!(conf_str("a'b\\c"), "'a''b\\\\c'");
    }
}
