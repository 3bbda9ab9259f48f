//! Couchbase-style HMAC request signing (`Authorization: Bearer <access key>:<signature>`
//! with `Couchbase-Timestamp`): signature = base64(HMAC-SHA256(secret,
//! `METHOD\nENDPOINT\nTIMESTAMP`)). Some clients sign the absolute URL (or what follows its
//! first `.com`) instead of the path, so the server checks a small set of candidates.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Default allowed clock skew.
pub const DEFAULT_SKEW_MS: i64 = 5 * 60 * 1000;

/// The signature of a request, base64 with padding.
pub fn sign(secret: &str, method: &str, endpoint: &str, timestamp: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw_sign(secret, method, endpoint, timestamp))
}

fn raw_sign(secret: &str, method: &str, endpoint: &str, timestamp: &str) -> [u8; 32] {
    SigningKey::new(secret).raw_sign(method, endpoint, timestamp)
}

/// A secret made ready for signing: the HMAC keyed once (its inner and outer pads hashed),
/// so each signature checked with it costs one pass over the message, not a key setup too.
/// Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The key of `secret`.
    pub fn new(secret: &str) -> Self {
        SigningKey(HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length"))
    }

    fn raw_sign(&self, method: &str, endpoint: &str, timestamp: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        if method.bytes().any(|b| b.is_ascii_lowercase()) {
            mac.update(method.to_ascii_uppercase().as_bytes());
        } else {
            mac.update(method.as_bytes());
        }
        mac.update(b"\n");
        mac.update(endpoint.as_bytes());
        mac.update(b"\n");
        mac.update(timestamp.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` signs `method` + `endpoint` + `timestamp` (compared in constant time).
    pub fn signs(&self, method: &str, endpoint: &str, timestamp: &str, signature: &[u8]) -> bool {
        self.raw_sign(method, endpoint, timestamp).as_slice().ct_eq(signature).into()
    }

    /// Whether `signature` signs a request to `path_and_query` on `host`: the path as sent
    /// first (what clients sign), then — only if that fails — the other [`candidates`].
    /// Each comparison is constant-time; which form matched is not secret (the caller chose it).
    pub fn verify_request(&self, method: &str, path_and_query: &str, host: Option<&str>, timestamp: &str, signature: &[u8]) -> bool {
        self.signs(method, path_and_query, timestamp, signature)
            || candidates(path_and_query, host).iter().skip(1).any(|e| self.signs(method, e, timestamp, signature))
    }
}

/// Decodes a presented signature (standard alphabet; missing padding tolerated).
pub fn decode_signature(sig: &str) -> Option<Vec<u8>> {
    let trimmed = sig.trim_end_matches('=');
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed).ok()?;
    (raw.len() == 32).then_some(raw)
}

/// The endpoint strings a client may have signed for a request to `path_and_query` on
/// `host` (the configured public authority, or the `Host` header).
pub fn candidates(path_and_query: &str, host: Option<&str>) -> Vec<String> {
    let mut out = vec![path_and_query.to_string()];
    let mut collapsed = String::with_capacity(path_and_query.len());
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    if let Some(q) = query {
        collapsed.push('?');
        collapsed.push_str(q);
    }
    if collapsed != path_and_query {
        out.push(collapsed);
    }
    if let Some(host) = host.map(str::to_ascii_lowercase) {
        let bare = host.strip_suffix(":80").or_else(|| host.strip_suffix(":443")).unwrap_or(&host).to_string();
        let mut absolute = vec![];
        for scheme in ["http", "https"] {
            let default_port = if scheme == "http" { ":80" } else { ":443" };
            for authority in [bare.clone(), format!("{bare}{default_port}"), host.clone()] {
                absolute.push(format!("{scheme}://{authority}{path_and_query}"));
            }
        }
        absolute.sort();
        absolute.dedup();
        for a in &absolute {
            if let Some((_, after)) = a.split_once(".com") {
                out.push(after.to_string());
            }
        }
        out.extend(absolute);
    }
    out.dedup();
    out
}

/// Whether `signature` signs `method` + one of `endpoints` + `timestamp` with `secret`.
/// Every candidate is computed and compared in constant time.
pub fn verify(secret: &str, method: &str, endpoints: &[String], timestamp: &str, signature: &[u8]) -> bool {
    let key = SigningKey::new(secret);
    let mut ok = subtle::Choice::from(0);
    for e in endpoints {
        ok |= key.raw_sign(method, e, timestamp).as_slice().ct_eq(signature);
    }
    ok.into()
}

/// Parses `Couchbase-Timestamp` (milliseconds; a value below 10^11 is read as seconds) and
/// checks it is within `skew_ms` of `now_ms`.
pub fn check_timestamp(header: &str, now_ms: i64, skew_ms: i64) -> Result<i64, &'static str> {
    if header.is_empty() || header.len() > 16 || !header.bytes().all(|b| b.is_ascii_digit()) {
        return Err("malformed");
    }
    let v: i64 = header.parse().map_err(|_| "malformed")?;
    let ms = if v < 100_000_000_000 { v * 1000 } else { v };
    if now_ms.abs_diff(ms) > skew_ms.max(0).unsigned_abs() { Err("outside the allowed clock skew") } else { Ok(ms) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_of_the_dialect_document() {
        let s = "s3cr3t-example-key";
        assert_eq!(sign(s, "GET", "/v2/clouds?page=2&perPage=5", "1700000000000"), "qRFGXR6psVBQ7lDAOfw8anNnP4dZY4SfTFhSIFA1xSw=");
        assert_eq!(sign(s, "GET", "http://127.0.0.1:8080/v2/clouds?page=2&perPage=5", "1700000000000"), "T7yQho7UChBgICOfwQEv+UYTnwiuRlsxSSMQgRuaPus=");
    }

    #[test]
    fn candidates_cover_path_absolute_url_and_dot_com_forms() {
        let c = candidates("//v2/clouds?x=1", Some("API.example.com:8443"));
        for want in ["//v2/clouds?x=1", "/v2/clouds?x=1", "https://api.example.com:8443//v2/clouds?x=1", ":8443//v2/clouds?x=1"] {
            assert!(c.contains(&want.to_string()), "{want} missing from {c:?}");
        }
        let sig = decode_signature(&sign("k", "post", "http://127.0.0.1:8080/v2/x", "1")).unwrap();
        assert!(verify("k", "POST", &candidates("/v2/x", Some("127.0.0.1:8080")), "1", &sig));
        assert!(!verify("k2", "POST", &candidates("/v2/x", Some("127.0.0.1:8080")), "1", &sig));
        assert!(!verify("k", "GET", &candidates("/v2/x", Some("127.0.0.1:8080")), "1", &sig));
        let unpadded = sign("k", "GET", "/a", "1").trim_end_matches('=').to_string();
        assert!(decode_signature(&unpadded).is_some());
        assert!(decode_signature("short").is_none());
    }

    #[test]
    fn a_signing_key_checks_the_path_then_every_other_form() {
        let key = SigningKey::new("k");
        let host = Some("api.example.com:8443");
        for signed in ["/v2/x?a=1", "//v2/x?a=1", "https://api.example.com:8443//v2/x?a=1", ":8443//v2/x?a=1"] {
            let sig = decode_signature(&sign("k", "GET", signed, "7")).unwrap();
            assert!(key.verify_request("GET", "//v2/x?a=1", host, "7", &sig), "{signed}");
            assert!(key.verify_request("get", "//v2/x?a=1", host, "7", &sig), "{signed}: the method's case does not matter");
            assert!(!key.verify_request("GET", "//v2/x?a=1", host, "8", &sig), "{signed}: another timestamp");
            assert!(!key.verify_request("POST", "//v2/x?a=1", host, "7", &sig), "{signed}: another method");
            assert!(!SigningKey::new("k2").verify_request("GET", "//v2/x?a=1", host, "7", &sig), "{signed}: another key");
        }
        let sig = decode_signature(&sign("k", "GET", "/v2/y", "7")).unwrap();
        assert!(!key.verify_request("GET", "/v2/x", host, "7", &sig), "another path");
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }

    #[test]
    fn timestamps() {
        let now = 1_700_000_000_000;
        assert_eq!(check_timestamp("1700000000000", now, DEFAULT_SKEW_MS), Ok(now));
        assert_eq!(check_timestamp("1700000000", now, DEFAULT_SKEW_MS), Ok(now), "seconds accepted");
        assert!(check_timestamp(&(now - 301_000).to_string(), now, DEFAULT_SKEW_MS).is_err());
        assert!(check_timestamp(&(now + 301_000).to_string(), now, DEFAULT_SKEW_MS).is_err());
        assert!(check_timestamp("-5", now, DEFAULT_SKEW_MS).is_err());
        assert!(check_timestamp("", now, DEFAULT_SKEW_MS).is_err());
    }
}
