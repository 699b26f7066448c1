//! Password hashes: Argon2id with a random salt, kept as a PHC string. Hashing and
//! verifying are slow on purpose (tens of ms), so callers run them off the async
//! workers (`tokio::task::spawn_blocking`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `stored` (false for a damaged one).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_salted() {
        let a = hash("s3cret").expect("hash");
        let b = hash("s3cret").expect("hash");
        assert_ne!(a, b, "two hashes of one password must differ (salt)");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("s3cret", &a));
        assert!(!verify("s3cret!", &a));
        assert!(!verify("s3cret", "not a phc string"));
    }
}
