//! Who is calling: bearer tokens (signed, expiring, tied to the user's credentials),
//! password hashes, and the caller of each request. The state these rely on (users,
//! roles, the signing key) is replicated in the store (`store::auth`); this module only
//! reads it, so a token verifies on every member that has applied its user.

pub mod caller;
pub mod password;
pub mod token;

use std::sync::atomic::AtomicU64;

use thiserror::Error;

/// Tokens this process issued since it started (`corral_auth_tokens_issued_total`).
pub static TOKENS_ISSUED: AtomicU64 = AtomicU64::new(0);
/// Authenticate calls refused for a wrong name or password since start
/// (`corral_auth_failures_total`): a climbing rate is someone guessing.
pub static BAD_CREDENTIALS: AtomicU64 = AtomicU64::new(0);

/// Why a caller's credentials were refused (all UNAUTHENTICATED).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Auth is enabled and the call carries no credentials.
    #[error("auth is enabled: this call needs credentials (authorization: Bearer <token> from Auth/Authenticate, or a client certificate)")]
    Required,
    /// The token cannot be read or its signature does not verify.
    #[error("invalid token: {0}; authenticate again (Auth/Authenticate)")]
    InvalidToken(String),
    /// The token has expired.
    #[error("the token has expired; authenticate again (Auth/Authenticate)")]
    TokenExpired,
    /// The token's user was deleted or changed password since it was issued.
    #[error("the token of user {user} was revoked (the user was deleted or changed password); authenticate again")]
    TokenRevoked {
        /// The token's user.
        user: String,
    },
    /// Wrong user name or password.
    #[error("wrong user name or password for user {user}")]
    BadCredentials {
        /// The name given.
        user: String,
    },
}
