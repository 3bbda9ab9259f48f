//! SCRAM-SHA-256 password verifiers in PostgreSQL's stored form
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, RFC 5802/7677), computed in
//! Rust so that only the verifier is ever kept and sent to PostgreSQL.

use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// PostgreSQL's default iteration count.
pub const ITERATIONS: u32 = 4096;

/// The verifier of `password` with a fresh random salt.
///
/// Passwords must be printable ASCII: PostgreSQL normalises other passwords with SASLprep
/// before hashing, which this function does not do, so they are refused rather than
/// producing a verifier no client could match.
pub fn scram_verifier(password: &str) -> Result<String, String> {
    if password.is_empty() || !password.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("the password must be non-empty printable ASCII".into());
    }
    let salt: [u8; 16] = rand::random();
    Ok(verifier_with(password.as_bytes(), &salt, ITERATIONS))
}

/// The verifier of `password` with a given salt and iteration count.
pub fn verifier_with(password: &[u8], salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, NonZeroU32::new(iterations.max(1)).expect("non-zero"), salt, password, &mut salted);
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", b64.encode(salt), b64.encode(stored_key.as_ref()), b64.encode(server_key.as_ref()))
}

/// Whether `s` has the shape of a SCRAM-SHA-256 verifier (so it can be passed to
/// PostgreSQL as an already-hashed password and never as a plaintext).
pub fn is_verifier(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("SCRAM-SHA-256$") else { return false };
    let b64ish = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    let Some((iter_salt, keys)) = rest.split_once('$') else { return false };
    let (Some((iter, salt)), Some((stored, server))) = (iter_salt.split_once(':'), keys.split_once(':')) else { return false };
    iter.parse::<u32>().is_ok_and(|i| i > 0) && b64ish(salt) && b64ish(stored) && b64ish(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 7677 test vector: user "user", password "pencil", salt "W22ZaJ0SNY7soEsUEjb6gQ==",
    /// 4096 iterations; its ServerSignature fixes ServerKey, and StoredKey follows ClientProof.
    #[test]
    fn rfc7677_vector() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let salt = b64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier_with(b"pencil", &salt, 4096);
        let parts: Vec<&str> = v.split(['$', ':']).collect();
        assert_eq!(parts[0], "SCRAM-SHA-256");
        assert_eq!(parts[1], "4096");
        let server_key = hmac::Key::new(hmac::HMAC_SHA256, &b64.decode(parts[4]).unwrap());
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let sig = hmac::sign(&server_key, auth.as_bytes());
        assert_eq!(b64.encode(sig.as_ref()), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(is_verifier(&v));
        assert!(!is_verifier("pencil") && !is_verifier("SCRAM-SHA-256$x:a$b:c") && !is_verifier("SCRAM-SHA-256$4096:a$b:c'--"));
    }

    #[test]
    fn fresh_salts_and_refusals() {
        let a = scram_verifier("s3cret-Pass").unwrap();
        assert_ne!(a, scram_verifier("s3cret-Pass").unwrap(), "random salt");
        assert!(!a.contains("s3cret"));
        assert!(scram_verifier("").is_err() && scram_verifier("pässword").is_err() && scram_verifier("a\nb").is_err());
    }
}
