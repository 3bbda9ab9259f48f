//! The simulated provisioner's per-cluster CA certificate: a minimal self-signed X.509 v3
//! certificate (Ed25519, CA:TRUE, valid ten years from the cluster's creation), DER-encoded
//! by hand and returned as PEM.
//!
//! Everything is derived deterministically from the cluster (the key seed is a SHA-256 of a
//! fixed label and the cluster id; Ed25519 signatures are deterministic), so the same
//! cluster always gets the byte-identical certificate on every replica, without storing it.
//! This is a stand-in for a real provisioner's CA: anyone who knows the cluster id can
//! derive the private key, so it must never protect real traffic.

use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// AlgorithmIdentifier of Ed25519 (OID 1.3.101.112, no parameters).
fn ed25519_alg() -> Vec<u8> {
    seq(&[tlv(0x06, &[0x2b, 0x65, 0x70])])
}

/// A Name with one common name.
fn name(cn: &str) -> Vec<u8> {
    let atv = seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())]);
    seq(&[tlv(0x31, &atv)])
}

/// UTCTime (`YYMMDDHHMMSSZ`) before 2050, GeneralizedTime after.
fn der_time(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let rest = format!("{:02}{:02}{:02}{:02}{:02}Z", u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if (1950..2050).contains(&t.year()) {
        tlv(0x17, format!("{:02}{rest}", t.year() % 100).as_bytes())
    } else {
        tlv(0x18, format!("{:04}{rest}", t.year()).as_bytes())
    }
}

/// The PEM of the simulated CA certificate of cluster `id` named `cluster_name`, created at `created`.
pub fn simulated_ca_pem(id: Uuid, cluster_name: &str, created: OffsetDateTime) -> String {
    let seed = Sha256::new().chain_update(b"dbcloud simulated cluster CA v1\0").chain_update(id.as_bytes()).finalize();
    let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("a 32-byte seed is a valid Ed25519 seed");
    let public = ring::signature::KeyPair::public_key(&key).as_ref().to_vec();
    // Serial: 16 bytes of the id's hash, positive, never zero.
    let mut serial = Sha256::digest(id.as_bytes())[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let cn = format!("dbcloud cluster CA {cluster_name} {id}");
    let not_before = created.replace_nanosecond(0).unwrap_or(created);
    let not_after = not_before + time::Duration::days(3650);
    let mut spki_key = vec![0u8];
    spki_key.extend_from_slice(&public);
    // basicConstraints (2.5.29.19), critical, CA:TRUE.
    let basic = seq(&[tlv(0x06, &[0x55, 0x1d, 0x13]), tlv(0x01, &[0xff]), tlv(0x04, &seq(&[tlv(0x01, &[0xff])]))]);
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[0x02])),
        tlv(0x02, &serial),
        ed25519_alg(),
        name(&cn),
        seq(&[der_time(not_before), der_time(not_after)]),
        name(&cn),
        seq(&[ed25519_alg(), tlv(0x03, &spki_key)]),
        tlv(0xa3, &seq(&[basic])),
    ]);
    let mut sig = vec![0u8];
    sig.extend_from_slice(key.sign(&tbs).as_ref());
    let cert = seq(&[tbs, ed25519_alg(), tlv(0x03, &sig)]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_cluster() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let a = Uuid::from_u128(1);
        let pem = simulated_ca_pem(a, "one", t);
        assert_eq!(pem, simulated_ca_pem(a, "one", t));
        assert_ne!(pem, simulated_ca_pem(Uuid::from_u128(2), "one", t));
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
    }
}
