//! Identifies the caller of a request: the bearer token if one is sent, else the
//! verified client certificate's name, else nobody.

use std::sync::Arc;

use corral_proto::AUTHORIZATION_HEADER;

use super::token::{self, Claims};
use super::AuthError;
use crate::raft::{RaftNode, RaftNodeError};
use crate::store::auth::AuthState;
use crate::store::StoreError;

/// Who sent a request, as far as auth is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// Whether auth was enabled when the request was identified.
    pub enabled: bool,
    /// The user; `None` when anonymous (always `None` while auth is off).
    pub user: Option<String>,
    /// The credential generation of the token the user came with (not for a client
    /// certificate): a long-lived stream ends once it no longer holds.
    pub generation: Option<i64>,
}

impl Who {
    /// Whether the token this caller came with has been revoked in `state` since
    /// (the user deleted or their password changed).
    pub fn revoked_in(&self, state: &AuthState) -> bool {
        match (&self.user, self.generation) {
            (Some(user), Some(generation)) => state
                .users
                .get(user)
                .is_none_or(|u| u.generation != generation),
            _ => false,
        }
    }
}

/// Why identifying failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    /// Credentials refused.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Local state unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read barrier failed.
    #[error(transparent)]
    Raft(#[from] RaftNodeError),
}

/// The `authorization` header's token: `Bearer <token>` (scheme case-insensitive).
pub fn bearer(metadata: &tonic::metadata::MetadataMap) -> Result<Option<String>, AuthError> {
    let Some(value) = metadata.get(AUTHORIZATION_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| AuthError::InvalidToken("the authorization header is not ASCII".into()))?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(|| {
        AuthError::InvalidToken("the authorization header must be \"Bearer <token>\"".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::InvalidToken(
            "the authorization header must be \"Bearer <token>\"".into(),
        ));
    }
    Ok(Some(token.trim().to_string()))
}

/// Wall clock in ms since the epoch (token expiry is judged by each member's clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether `claims` hold in `state`: the user exists with the same credential generation.
fn current(state: &AuthState, claims: &Claims) -> bool {
    state
        .users
        .get(&claims.user)
        .is_some_and(|u| u.generation == claims.generation)
}

/// Identifies the caller of a request with `metadata` and, if the connection presented
/// a verified client certificate, its name `cert_user`.
///
/// A token naming a user or credential generation this member has not applied yet (it
/// was issued by a member ahead of this one, e.g. just after a failover) is checked
/// again after a read barrier has brought this member up to date, so a valid token
/// works on every member; only then is it revoked.
pub async fn identify(
    node: &Arc<RaftNode>,
    metadata: &tonic::metadata::MetadataMap,
    cert_user: Option<String>,
) -> Result<Who, IdentifyError> {
    let mut state = node.db().auth()?;
    if !state.enabled {
        return Ok(Who {
            enabled: false,
            user: None,
            generation: None,
        });
    }
    let Some(token) = bearer(metadata)? else {
        return Ok(Who {
            enabled: true,
            user: cert_user,
            generation: None,
        });
    };
    let now = now_ms();
    let claims = match token::verify(&state.token_key, &token, now) {
        Ok(claims) => claims,
        // A member that has not applied the Enable that drew the key yet.
        Err(AuthError::InvalidToken(_)) if state.token_key.is_empty() => {
            node.read_barrier().await?;
            state = node.db().auth()?;
            token::verify(&state.token_key, &token, now)?
        }
        Err(e) => return Err(e.into()),
    };
    if !current(&state, &claims) {
        let behind = state
            .users
            .get(&claims.user)
            .is_none_or(|u| u.generation < claims.generation);
        if behind {
            node.read_barrier().await?;
            state = node.db().auth()?;
        }
        if !current(&state, &claims) {
            return Err(AuthError::TokenRevoked { user: claims.user }.into());
        }
    }
    Ok(Who {
        enabled: state.enabled,
        user: Some(claims.user),
        generation: Some(claims.generation),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataMap;

    fn with(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert(AUTHORIZATION_HEADER, value.parse().expect("ascii"));
        m
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer(&MetadataMap::new()), Ok(None));
        assert_eq!(bearer(&with("Bearer abc")), Ok(Some("abc".into())));
        assert_eq!(bearer(&with("bearer  abc ")), Ok(Some("abc".into())));
        for bad in ["abc", "Basic abc", "Bearer", ""] {
            assert!(
                matches!(bearer(&with(bad)), Err(AuthError::InvalidToken(_))),
                "{bad:?}"
            );
        }
    }
}
