//! TLS material of a cluster: a CA of its own (ECDSA P-256, ten years) and a server
//! certificate for the endpoint host, `localhost` and `127.0.0.1`, signed by it.
//!
//! The CA is generated once and kept in the catalog (its key sealed by the store); server
//! certificates are issued from it whenever the files are missing, so a resumed create, or a
//! cluster whose endpoint host changed, gets a certificate that verifies against the same CA.

use super::{ClusterCa, Result, err};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The CA parameters of a cluster; rebuilt identically to sign with a stored CA key.
fn ca_params(cluster: Uuid) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "dbcloud");
    dn.push(DnType::CommonName, format!("dbcloud cluster CA {cluster}"));
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p
}

fn rc(e: rcgen::Error) -> super::LocalError {
    err(format!("certificate generation failed: {e}"))
}

/// A new CA for `cluster`.
pub fn new_ca(cluster: Uuid) -> Result<ClusterCa> {
    let key = KeyPair::generate().map_err(rc)?;
    let mut p = ca_params(cluster);
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(3650);
    let cert = p.self_signed(&key).map_err(rc)?;
    Ok(ClusterCa { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// A server certificate and key (PEM) for `hosts` (DNS names or IP addresses), signed by `ca`.
pub fn server_cert(cluster: Uuid, ca: &ClusterCa, hosts: &[String]) -> Result<(String, String)> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(rc)?;
    let issuer = Issuer::new(ca_params(cluster), ca_key);
    let mut names: Vec<String> = vec![];
    for h in hosts.iter().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()) {
        if !h.is_empty() && !names.contains(&h) && h != "0.0.0.0" && h != "::" && h != "*" {
            names.push(h);
        }
    }
    let mut p = CertificateParams::new(names.clone()).map_err(rc)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.first().cloned().unwrap_or_else(|| "localhost".into()));
    p.distinguished_name = dn;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(825);
    let key = KeyPair::generate().map_err(rc)?;
    let cert = p.signed_by(&key, &issuer).map_err(rc)?;
    Ok((cert.pem(), key.serialize_pem()))
}
