//! Secrets at rest: HMAC secrets are kept encrypted (AES-256-GCM) under a master key that
//! lives outside the database, so a copy of the database alone yields no usable credential.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;

/// The master key. Its Debug output never shows the key.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl MasterKey {
    /// A new random master key, returned with its base64 encoding (to be stored 0600).
    pub fn generate() -> (Self, String) {
        let raw: [u8; 32] = rand::random();
        let text = B64.encode(raw);
        (Self::from_bytes(&raw).expect("32 bytes"), text)
    }

    /// Parses a base64-encoded 32-byte key (surrounding white space ignored).
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let raw = B64.decode(s.trim()).map_err(|_| "the master key is not valid base64".to_string())?;
        Self::from_bytes(&raw)
    }

    fn from_bytes(raw: &[u8]) -> Result<Self, String> {
        Aes256Gcm::new_from_slice(raw).map(MasterKey).map_err(|_| "the master key must be 32 bytes".to_string())
    }

    /// Encrypts `secret`, bound to `context` (the access key id), as base64(nonce ‖ ciphertext).
    pub fn seal(&self, context: &str, secret: &str) -> String {
        let nonce = Nonce::generate();
        let ct = self.0.encrypt(&nonce, Payload { msg: secret.as_bytes(), aad: context.as_bytes() }).expect("encryption");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        B64.encode(out)
    }

    /// Decrypts what [`MasterKey::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let nonce = Nonce::try_from(&raw[..12]).ok()?;
        let pt = self.0.decrypt(&nonce, Payload { msg: &raw[12..], aad: context.as_bytes() }).ok()?;
        String::from_utf8(pt).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let (k, text) = MasterKey::generate();
        let sealed = k.seal("dbc_a", "s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(k.open("dbc_a", &sealed).as_deref(), Some("s3cret"));
        assert!(k.open("dbc_b", &sealed).is_none(), "bound to its key id");
        let (other, _) = MasterKey::generate();
        assert!(other.open("dbc_a", &sealed).is_none(), "needs the master key");
        assert!(MasterKey::from_base64(&text).unwrap().open("dbc_a", &sealed).is_some());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{k:?}").contains(&text));
    }
}
