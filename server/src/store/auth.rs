//! The replicated auth state: whether auth is on, users (with salted password hashes and
//! roles), roles, and the key that signs tokens. Small, read on every request, so it is
//! stored as one value and kept decoded in memory (`Db::auth`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::acl::Caller;

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// PHC string of the salted Argon2id password hash, made by the member that took the
    /// request (apply never hashes: it stays deterministic and cheap).
    pub password_hash: String,
    /// Roles held.
    pub roles: BTreeSet<String>,
    /// Revision of the last credential change (add or password change): tokens carry it,
    /// so a token issued before a change no longer verifies.
    pub generation: i64,
}

/// Auth state of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AuthState {
    /// Whether calls are authenticated and ACLs enforced.
    pub enabled: bool,
    /// Users by name.
    pub users: BTreeMap<String, UserRecord>,
    /// Role names.
    pub roles: BTreeSet<String>,
    /// Counts credential changes; each one's number becomes the user's `generation`, so
    /// a user deleted and added again never matches a token of the earlier one.
    pub epoch: i64,
    /// HMAC key of tokens, chosen at random by the member that took the first Enable
    /// and replicated, so every member verifies every token.
    #[serde(with = "serde_bytes")]
    pub token_key: Vec<u8>,
}

impl AuthState {
    /// The caller named `user` (anonymous when `None`), with the roles the user holds.
    /// A user name unknown here (e.g. a certificate's CN with no user) has no roles.
    pub fn caller(&self, user: Option<&str>) -> Caller {
        let roles = user
            .and_then(|u| self.users.get(u))
            .map(|r| r.roles.clone())
            .unwrap_or_default();
        Caller {
            user: user.map(str::to_string),
            roles,
        }
    }
}
