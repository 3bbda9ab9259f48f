//! API key format.
//!
//! An access key id is `dbc_` followed by 22 base62 characters; a secret is 43 base62
//! characters (~256 bits). The bearer token joins them with `_`: `dbc_<id>_<secret>`. The
//! recognisable prefix lets secret scanners find leaked tokens. The server keeps only the
//! SHA-256 of the secret for bearer / basic verification.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every access key id.
pub const KEY_PREFIX: &str = "dbc_";
const ID_LEN: usize = 22;
const SECRET_LEN: usize = 43;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random base62 characters from a cryptographically secure generator.
pub fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| BASE62[rng.random_range(0..BASE62.len())] as char).collect()
}

/// A freshly generated key: the id, the secret (shown once) and its hash.
pub struct NewKey {
    /// Access key id (`dbc_…`).
    pub access_key: String,
    /// The secret, to be shown exactly once.
    pub secret: String,
    /// Hex SHA-256 of the secret, what the store keeps.
    pub secret_hash: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey").field("access_key", &self.access_key).field("secret", &"<redacted>").finish()
    }
}

impl NewKey {
    /// Generates a new access key id and secret.
    pub fn generate() -> Self {
        let access_key = format!("{KEY_PREFIX}{}", random_base62(ID_LEN));
        let secret = random_base62(SECRET_LEN);
        let secret_hash = hash_secret(&secret);
        NewKey { access_key, secret, secret_hash }
    }

    /// The bearer token form, `<access key>_<secret>`.
    pub fn bearer_token(&self) -> String {
        bearer_token(&self.access_key, &self.secret)
    }
}

/// Joins an access key id and a secret into the bearer token form.
pub fn bearer_token(access_key: &str, secret: &str) -> String {
    format!("{access_key}_{secret}")
}

/// Splits a bearer token at its last `_` into (access key id, secret); `None` when it is
/// not of the dbcloud form.
pub fn split_bearer_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.rsplit_once('_')?;
    if is_access_key(id) && !secret.is_empty() && secret.len() <= 128 { Some((id, secret)) } else { None }
}

/// Whether `s` has the shape of an access key id.
pub fn is_access_key(s: &str) -> bool {
    s.strip_prefix(KEY_PREFIX).is_some_and(|rest| rest.len() == ID_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Hex SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` matches `stored_hash`, compared in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(secret);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let k = NewKey::generate();
        assert!(is_access_key(&k.access_key));
        assert_eq!(k.secret.len(), SECRET_LEN);
        let token = k.bearer_token();
        let (id, secret) = split_bearer_token(&token).unwrap();
        assert_eq!(id, k.access_key);
        assert!(verify_secret(secret, &k.secret_hash));
        let mut wrong = secret.to_string();
        wrong.replace_range(0..1, if wrong.starts_with('a') { "b" } else { "a" });
        assert!(!verify_secret(&wrong, &k.secret_hash));
        assert!(!format!("{k:?}").contains(&k.secret));
    }

    #[test]
    fn rejects_foreign_tokens() {
        assert!(split_bearer_token("abc").is_none());
        assert!(split_bearer_token("dbc_short_secret").is_none());
        assert!(split_bearer_token(&format!("dbc_{}_", "a".repeat(22))).is_none());
        assert_ne!(NewKey::generate().access_key, NewKey::generate().access_key);
    }
}
