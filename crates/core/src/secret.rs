//! Database-user passwords: generation and hashing.

use sha2::{Digest, Sha256};

/// Length of a generated password.
pub const GENERATED_PASSWORD_LEN: usize = 24;

/// A random password of base62 characters.
pub fn generate_password() -> String {
    crate::keys::random_base62(GENERATED_PASSWORD_LEN)
}

/// Checks a chosen password: 12–128 printable characters.
pub fn check_password(p: &str) -> Result<(), String> {
    let n = p.chars().count();
    if !(12..=128).contains(&n) {
        return Err("must be 12 to 128 characters".into());
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Salted SHA-256 of a database-user password, as `salt$hex` (the simulated clusters only
/// need to know it was set; real drivers receive the password itself once).
pub fn hash_password(p: &str) -> String {
    let salt = crate::keys::random_base62(16);
    let digest = Sha256::digest(format!("{salt}:{p}").as_bytes());
    format!("{salt}${}", hex::encode(digest))
}
