//! The Auth calls on [`Client`]: turning authentication on and off, tokens, users and
//! roles. What each user may do to znodes is in their ACLs (`acl.rs`). How the client
//! itself authenticates is set on the [`ClientBuilder`](crate::ClientBuilder)
//! (`credentials`, `token`, `tls_identity`) and handled in `token.rs`.
//!
//! ```no_run
//! # async fn example() -> corral_client::Result<()> {
//! use corral_client::Client;
//! let admin = Client::builder(["127.0.0.1:2479"])
//!     .credentials("root", "root-password")
//!     .connect()
//!     .await?;
//! admin.user_add("root", "root-password").await?; // before enabling: root must exist
//! admin.auth_enable().await?;
//! admin.role_add("team-a").await?;
//! admin.user_add("bob", "bobs-password").await?;
//! admin.user_grant_role("bob", "team-a").await?;
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use corral_proto::v1 as pb;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::lease::from_millis;
use crate::retry::Retry;
use crate::token::{auth_stub, AuthenticateResponse};
use crate::types::{wire_header, FromWire, Header};

/// Result of the Auth calls that change something and return nothing else (enable,
/// disable, user and role changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthChangeResponse {
    /// Header; `revision` is the revision of the change.
    pub header: Header,
}

/// Result of [`Client::auth_status`]: the answering member's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthStatus {
    /// Header of the answer.
    pub header: Header,
    /// Whether auth is enabled.
    pub enabled: bool,
    /// Who the server takes the caller to be (from the token or the client
    /// certificate); `None` when anonymous.
    pub user: Option<String>,
    /// The caller's roles, in name order.
    pub roles: Vec<String>,
    /// Lifetime of the tokens the member issues.
    pub token_ttl: Duration,
}

/// A user and their roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The user name.
    pub name: String,
    /// Roles granted to the user, in name order.
    pub roles: Vec<String>,
}

/// Result of [`Client::user_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListResponse {
    /// Header of the answer.
    pub header: Header,
    /// Every user, in name order.
    pub users: Vec<User>,
}

/// Result of [`Client::role_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleListResponse {
    /// Header of the answer.
    pub header: Header,
    /// Every role name, in order.
    pub roles: Vec<String>,
}

/// The Auth calls whose answer is only a header.
macro_rules! auth_change_from {
    ($($response:ty),*) => {$(
        impl FromWire<$response> for AuthChangeResponse {
            fn from_wire(r: $response) -> Result<Self> {
                Ok(AuthChangeResponse {
                    header: wire_header(r.header)?,
                })
            }
        }
    )*};
}

auth_change_from!(
    pb::AuthEnableResponse,
    pb::AuthDisableResponse,
    pb::AuthUserAddResponse,
    pb::AuthUserDeleteResponse,
    pb::AuthUserChangePasswordResponse,
    pb::AuthUserGrantRoleResponse,
    pb::AuthUserRevokeRoleResponse,
    pb::AuthRoleAddResponse,
    pb::AuthRoleDeleteResponse
);

impl FromWire<pb::AuthStatusResponse> for AuthStatus {
    fn from_wire(r: pb::AuthStatusResponse) -> Result<Self> {
        Ok(AuthStatus {
            header: wire_header(r.header)?,
            enabled: r.enabled,
            user: (!r.user.is_empty()).then_some(r.user),
            roles: r.roles,
            token_ttl: from_millis(r.token_ttl_ms),
        })
    }
}

impl FromWire<pb::AuthUserListResponse> for UserListResponse {
    fn from_wire(r: pb::AuthUserListResponse) -> Result<Self> {
        Ok(UserListResponse {
            header: wire_header(r.header)?,
            users: r
                .users
                .into_iter()
                .map(|u| User {
                    name: u.name,
                    roles: u.roles,
                })
                .collect(),
        })
    }
}

impl FromWire<pb::AuthRoleListResponse> for RoleListResponse {
    fn from_wire(r: pb::AuthRoleListResponse) -> Result<Self> {
        Ok(RoleListResponse {
            header: wire_header(r.header)?,
            roles: r.roles,
        })
    }
}

/// Sends one Auth call: `$method` of the Auth stub with `$request`, retried as `$retry`.
macro_rules! auth_call {
    ($client:expr, $retry:expr, $request:expr, $method:ident) => {
        $client
            .call("", $retry, $request, |channel, r| async move {
                auth_stub(channel).$method(r).await
            })
            .await
    };
}

impl Client {
    /// Turns authentication on: from then on every call needs credentials (a token
    /// from a user and password, or a client certificate) and is checked against the
    /// ACLs. Fails with [`Error::RootRequired`](crate::Error::RootRequired) until the
    /// user `root` exists, and once enabled, with
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied) unless the caller is
    /// `root`.
    pub async fn auth_enable(&self) -> Result<AuthChangeResponse> {
        auth_call!(self, Retry::WithRequestId, pb::AuthEnableRequest {}, enable)
    }

    /// Turns authentication off: every call is then allowed, as on a new cluster.
    /// Needs `root`.
    pub async fn auth_disable(&self) -> Result<AuthChangeResponse> {
        auth_call!(
            self,
            Retry::WithRequestId,
            pb::AuthDisableRequest {},
            disable
        )
    }

    /// Whether auth is enabled, and who the answering member takes this client to be.
    pub async fn auth_status(&self) -> Result<AuthStatus> {
        auth_call!(self, Retry::Safe, pb::AuthStatusRequest {}, status)
    }

    /// Checks `user`'s password and returns a token, e.g. to hand to another process
    /// ([`ClientBuilder::token`](crate::ClientBuilder::token)). The client's own calls
    /// do not need this: with [`ClientBuilder::credentials`](crate::ClientBuilder::credentials)
    /// it authenticates by itself. Fails with
    /// [`Error::Unauthenticated`](crate::Error::Unauthenticated) (`BadCredentials`).
    pub async fn authenticate(
        &self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthenticateResponse> {
        let request = pb::AuthenticateRequest {
            name: user.into(),
            password: password.into(),
        };
        let trying = AtomicUsize::new(usize::MAX);
        let Some(timeout) = self.timeout() else {
            return self.send_authenticate(None, &trying, request).await;
        };
        let deadline = Instant::now() + timeout;
        tokio::time::timeout_at(
            deadline,
            self.send_authenticate(Some(deadline), &trying, request),
        )
        .await
        .map_err(|_| Error::Timeout {
            message: format!("no answer within {timeout:?}"),
        })?
    }

    /// Adds user `name` with `password`. Needs `root` once auth is enabled. Fails with
    /// [`Error::UserExists`](crate::Error::UserExists) and
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) (name or password
    /// breaking the rules: names of 1 to 128 letters, digits and `- _ . @`).
    pub async fn user_add(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthChangeResponse> {
        let request = pb::AuthUserAddRequest {
            name: name.into(),
            password: password.into(),
        };
        auth_call!(self, Retry::WithRequestId, request, user_add)
    }

    /// Deletes user `name`; their tokens stop working at once. Needs `root`. Fails with
    /// [`Error::UserNotFound`](crate::Error::UserNotFound), and with
    /// [`Error::RootRequired`](crate::Error::RootRequired) for `root` while auth is enabled.
    pub async fn user_delete(&self, name: impl Into<String>) -> Result<AuthChangeResponse> {
        let request = pb::AuthUserDeleteRequest { name: name.into() };
        auth_call!(self, Retry::WithRequestId, request, user_delete)
    }

    /// Every user and their roles. Needs `root`.
    pub async fn user_list(&self) -> Result<UserListResponse> {
        auth_call!(self, Retry::Safe, pb::AuthUserListRequest {}, user_list)
    }

    /// Sets user `name`'s password; tokens issued to them before stop working at once.
    /// Needs `root`, or to be `name`. When this client authenticates as `name`, it keeps
    /// the new password and authenticates with it on its next call; other clients of
    /// that user get [`Error::Unauthenticated`](crate::Error::Unauthenticated) until
    /// given it ([`Client::set_credentials`]).
    pub async fn user_change_password(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthChangeResponse> {
        let name = name.into();
        let password = password.into();
        let request = pb::AuthUserChangePasswordRequest {
            name: name.clone(),
            password: password.clone(),
        };
        let changed = auth_call!(self, Retry::WithRequestId, request, user_change_password)?;
        self.members.tokens.password_changed(&name, &password);
        Ok(changed)
    }

    /// Gives user `name` role `role` (granting it again changes nothing). Needs `root`.
    /// Fails with [`Error::UserNotFound`](crate::Error::UserNotFound) and
    /// [`Error::RoleNotFound`](crate::Error::RoleNotFound).
    pub async fn user_grant_role(
        &self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<AuthChangeResponse> {
        let request = pb::AuthUserGrantRoleRequest {
            name: name.into(),
            role: role.into(),
        };
        auth_call!(self, Retry::WithRequestId, request, user_grant_role)
    }

    /// Takes role `role` from user `name` (changes nothing if they lack it). Needs
    /// `root`. Fails with [`Error::UserNotFound`](crate::Error::UserNotFound).
    pub async fn user_revoke_role(
        &self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<AuthChangeResponse> {
        let request = pb::AuthUserRevokeRoleRequest {
            name: name.into(),
            role: role.into(),
        };
        auth_call!(self, Retry::WithRequestId, request, user_revoke_role)
    }

    /// Adds role `name`. Needs `root`. Fails with
    /// [`Error::RoleExists`](crate::Error::RoleExists).
    pub async fn role_add(&self, name: impl Into<String>) -> Result<AuthChangeResponse> {
        let request = pb::AuthRoleAddRequest { name: name.into() };
        auth_call!(self, Retry::WithRequestId, request, role_add)
    }

    /// Deletes role `name` and takes it from every user. Needs `root`. Fails with
    /// [`Error::RoleNotFound`](crate::Error::RoleNotFound).
    pub async fn role_delete(&self, name: impl Into<String>) -> Result<AuthChangeResponse> {
        let request = pb::AuthRoleDeleteRequest { name: name.into() };
        auth_call!(self, Retry::WithRequestId, request, role_delete)
    }

    /// Every role. Needs `root`.
    pub async fn role_list(&self) -> Result<RoleListResponse> {
        auth_call!(self, Retry::Safe, pb::AuthRoleListRequest {}, role_list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Option<pb::ResponseHeader> {
        Some(pb::ResponseHeader {
            cluster_id: 1,
            member_id: 1,
            revision: 7,
            raft_term: 2,
        })
    }

    #[test]
    fn status_of_an_anonymous_caller_has_no_user() {
        let status = AuthStatus::from_wire(pb::AuthStatusResponse {
            header: header(),
            enabled: true,
            user: String::new(),
            roles: vec![],
            token_ttl_ms: 300_000,
        })
        .expect("valid");
        assert_eq!(status.user, None);
        assert!(status.enabled);
        assert_eq!(status.token_ttl, Duration::from_secs(300));
        let status = AuthStatus::from_wire(pb::AuthStatusResponse {
            header: header(),
            enabled: true,
            user: "bob".into(),
            roles: vec!["team-a".into()],
            token_ttl_ms: 1000,
        })
        .expect("valid");
        assert_eq!(status.user.as_deref(), Some("bob"));
        assert_eq!(status.roles, ["team-a"]);
    }

    #[test]
    fn users_keep_their_roles_in_order() {
        let list = UserListResponse::from_wire(pb::AuthUserListResponse {
            header: header(),
            users: vec![
                pb::User {
                    name: "bob".into(),
                    roles: vec!["a".into(), "b".into()],
                },
                pb::User {
                    name: "root".into(),
                    roles: vec![],
                },
            ],
        })
        .expect("valid");
        assert_eq!(
            list.users,
            [
                User {
                    name: "bob".into(),
                    roles: vec!["a".into(), "b".into()]
                },
                User {
                    name: "root".into(),
                    roles: vec![]
                }
            ]
        );
    }

    #[test]
    fn an_answer_without_a_token_is_invalid() {
        let err = AuthenticateResponse::from_wire(pb::AuthenticateResponse {
            header: header(),
            token: String::new(),
            ttl_ms: 1000,
        })
        .expect_err("no token");
        assert!(matches!(err, crate::Error::InvalidResponse { .. }));
        let err = AuthChangeResponse::from_wire(pb::AuthEnableResponse { header: None })
            .expect_err("no header");
        assert!(matches!(err, crate::Error::InvalidResponse { .. }));
    }
}
