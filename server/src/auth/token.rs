//! Bearer tokens: `v1.<claims>.<signature>`, both base64url. The claims name the user,
//! the generation of their credentials and the expiry; the signature is HMAC-SHA256
//! with the cluster's replicated key, so every member verifies every token, and a token
//! outlives a leader change. Changing a user's password or deleting them changes the
//! generation, which revokes every earlier token of theirs at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::AuthError;

/// Longest token accepted, in bytes (a user name is at most 128).
pub const MAX_TOKEN_BYTES: usize = 1024;

const PREFIX: &str = "v1.";

/// What a token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User name.
    pub user: String,
    /// The user's credential generation when it was issued.
    pub generation: i64,
    /// Expiry, ms since the epoch (issuing member's clock).
    pub expires_ms: i64,
}

fn mac(key: &[u8]) -> Result<Hmac<Sha256>, AuthError> {
    Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| AuthError::InvalidToken("auth has no signing key".into()))
}

/// Signs `claims` with `key`.
pub fn issue(key: &[u8], claims: &Claims) -> Result<String, AuthError> {
    let body = bincode::serialize(claims)
        .map_err(|e| AuthError::InvalidToken(format!("cannot encode claims: {e}")))?;
    let mut m = mac(key)?;
    m.update(&body);
    let sig = m.finalize().into_bytes();
    Ok(format!("{PREFIX}{}.{}", B64.encode(&body), B64.encode(sig)))
}

/// Checks `token`'s form and signature and returns its claims; expiry is checked
/// against `now_ms`. Whether the user and generation still hold is the caller's check.
pub fn verify(key: &[u8], token: &str, now_ms: i64) -> Result<Claims, AuthError> {
    let bad = |why: &str| AuthError::InvalidToken(why.to_string());
    if key.is_empty() {
        return Err(bad(
            "this cluster has never had auth enabled, so it issued no token",
        ));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(bad("too long"));
    }
    let rest = token
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("not a Corral token"))?;
    let (body, sig) = rest.split_once('.').ok_or_else(|| bad("malformed"))?;
    let body = B64.decode(body).map_err(|_| bad("malformed"))?;
    let sig = B64.decode(sig).map_err(|_| bad("malformed"))?;
    let mut m = mac(key)?;
    m.update(&body);
    // Constant-time comparison.
    m.verify_slice(&sig)
        .map_err(|_| bad("signature does not verify (issued by another cluster, or altered)"))?;
    let claims: Claims = bincode::deserialize(&body).map_err(|_| bad("malformed claims"))?;
    if now_ms >= claims.expires_ms {
        return Err(AuthError::TokenExpired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            user: "alice".into(),
            generation: 3,
            expires_ms: 10_000,
        }
    }

    #[test]
    fn a_token_verifies_with_its_key_until_it_expires() {
        let key = [7u8; 32];
        let token = issue(&key, &claims()).expect("issue");
        assert_eq!(verify(&key, &token, 9_999).expect("verify"), claims());
        assert_eq!(verify(&key, &token, 10_000), Err(AuthError::TokenExpired));
        assert!(matches!(
            verify(&[8u8; 32], &token, 0),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn altered_or_garbage_tokens_are_invalid_not_panics() {
        let key = [7u8; 32];
        let token = issue(&key, &claims()).expect("issue");
        let mut flipped = token.clone().into_bytes();
        let i = PREFIX.len() + 2;
        flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        for t in [
            flipped.as_str(),
            "",
            "v1.",
            "v1..",
            "v1.%%%.###",
            "Bearer x",
            &"v1.".repeat(500),
        ] {
            assert!(
                matches!(verify(&key, t, 0), Err(AuthError::InvalidToken(_))),
                "{t:?}"
            );
        }
        assert!(matches!(
            verify(&[], &token, 0),
            Err(AuthError::InvalidToken(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn random_tokens_never_verify(token in ".{0,300}") {
            proptest::prop_assert!(verify(&[1u8; 32], &token, 0).is_err());
        }
    }
}
