//! `corral.v1.Auth`: tokens, users and roles. Passwords are hashed here, on the member
//! that takes the request (off the async workers), and only the hash is proposed; apply
//! checks who may make each change against the state it applies to.

use std::sync::atomic::Ordering;

use corral_proto::v1 as pb;
use corral_proto::v1::auth_server::Auth;
use tonic::{Request, Response, Status};

use super::access;
use super::errors::ApiError;
use super::validate;
use super::ApiContext;
use crate::auth::token::{self, Claims};
use crate::auth::{caller, password, AuthError};
use crate::store::command::{AuthCmd, Command, CommandResult};

/// The Auth service.
pub struct AuthService {
    cx: ApiContext,
}

impl AuthService {
    /// Auth service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }

    /// Proposes an auth change as the request's caller; returns the revision.
    async fn change<T>(&self, req: &Request<T>, cmd: AuthCmd) -> Result<i64, ApiError> {
        let cmd = self.cx.client_command(req, Command::Auth(cmd)).await?;
        let CommandResult { revision, result } = self.cx.node.propose(cmd).await?;
        result?.into_unit()?;
        Ok(revision)
    }

    fn header(&self, revision: i64) -> Option<pb::ResponseHeader> {
        self.cx.header(revision)
    }

    fn revision(&self) -> i64 {
        self.cx.node.applied_revision()
    }
}

/// Hashes a password off the async workers (Argon2 takes tens of milliseconds).
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task failed: {e}")))?
        .map_err(ApiError::Internal)
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn enable(
        &self,
        req: Request<pb::AuthEnableRequest>,
    ) -> Result<Response<pb::AuthEnableResponse>, Status> {
        let mut token_key = vec![0u8; 32];
        getrandom::getrandom(&mut token_key)
            .map_err(|e| ApiError::Internal(format!("no randomness for the token key: {e}")))?;
        let revision = self.change(&req, AuthCmd::Enable { token_key }).await?;
        Ok(Response::new(pb::AuthEnableResponse {
            header: self.header(revision),
        }))
    }

    async fn disable(
        &self,
        req: Request<pb::AuthDisableRequest>,
    ) -> Result<Response<pb::AuthDisableResponse>, Status> {
        let revision = self.change(&req, AuthCmd::Disable).await?;
        Ok(Response::new(pb::AuthDisableResponse {
            header: self.header(revision),
        }))
    }

    async fn status(
        &self,
        req: Request<pb::AuthStatusRequest>,
    ) -> Result<Response<pb::AuthStatusResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let state = self.cx.node.db().auth().map_err(ApiError::from)?;
        let roles = who
            .user
            .as_deref()
            .and_then(|u| state.users.get(u))
            .map(|u| u.roles.iter().cloned().collect())
            .unwrap_or_default();
        Ok(Response::new(pb::AuthStatusResponse {
            header: self.header(self.revision()),
            enabled: state.enabled,
            user: who.user.unwrap_or_default(),
            roles,
            token_ttl_ms: self.cx.token_ttl_ms,
        }))
    }

    async fn authenticate(
        &self,
        req: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let r = req.into_inner();
        validate::name("name", &r.name)?;
        let bad = || {
            ApiError::Auth(AuthError::BadCredentials {
                user: r.name.clone(),
            })
        };
        let mut state = self.cx.node.db().auth().map_err(ApiError::from)?;
        if !state.users.contains_key(&r.name) || state.token_key.is_empty() {
            // Maybe added (or auth enabled) on a member ahead of this one.
            self.cx.node.read_barrier().await.map_err(ApiError::from)?;
            state = self.cx.node.db().auth().map_err(ApiError::from)?;
        }
        if !state.enabled {
            return Err(ApiError::InvalidArgument(
                "auth is not enabled, so there are no tokens to issue (Auth/Enable turns it on)"
                    .into(),
            )
            .into());
        }
        let Some(user) = state.users.get(&r.name).cloned() else {
            crate::auth::BAD_CREDENTIALS.fetch_add(1, Ordering::Relaxed);
            return Err(bad().into());
        };
        let password = r.password;
        let stored = user.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
            .await
            .map_err(|e| ApiError::Internal(format!("verify task failed: {e}")))?;
        if !ok {
            crate::auth::BAD_CREDENTIALS.fetch_add(1, Ordering::Relaxed);
            return Err(bad().into());
        }
        let ttl_ms = self.cx.token_ttl_ms;
        let token = token::issue(
            &state.token_key,
            &Claims {
                user: r.name.clone(),
                generation: user.generation,
                expires_ms: caller::now_ms() + ttl_ms,
            },
        )
        .map_err(ApiError::from)?;
        crate::auth::TOKENS_ISSUED.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(pb::AuthenticateResponse {
            header: self.header(self.revision()),
            token,
            ttl_ms,
        }))
    }

    async fn user_add(
        &self,
        req: Request<pb::AuthUserAddRequest>,
    ) -> Result<Response<pb::AuthUserAddResponse>, Status> {
        let r = req.get_ref();
        validate::name("name", &r.name)?;
        validate::password(&r.password)?;
        // Refuse a caller who may not add users before paying for a hash.
        access::require_root(&self.cx.who(&req).await?)?;
        let password_hash = hash(r.password.clone()).await?;
        let name = r.name.clone();
        let revision = self
            .change(
                &req,
                AuthCmd::UserAdd {
                    name,
                    password_hash,
                },
            )
            .await?;
        Ok(Response::new(pb::AuthUserAddResponse {
            header: self.header(revision),
        }))
    }

    async fn user_delete(
        &self,
        req: Request<pb::AuthUserDeleteRequest>,
    ) -> Result<Response<pb::AuthUserDeleteResponse>, Status> {
        validate::name("name", &req.get_ref().name)?;
        let name = req.get_ref().name.clone();
        let revision = self.change(&req, AuthCmd::UserDelete { name }).await?;
        Ok(Response::new(pb::AuthUserDeleteResponse {
            header: self.header(revision),
        }))
    }

    async fn user_list(
        &self,
        req: Request<pb::AuthUserListRequest>,
    ) -> Result<Response<pb::AuthUserListResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let state = self.cx.node.db().auth().map_err(ApiError::from)?;
        let users = state
            .users
            .iter()
            .map(|(name, u)| pb::User {
                name: name.clone(),
                roles: u.roles.iter().cloned().collect(),
            })
            .collect();
        Ok(Response::new(pb::AuthUserListResponse {
            header: self.header(self.revision()),
            users,
        }))
    }

    async fn user_change_password(
        &self,
        req: Request<pb::AuthUserChangePasswordRequest>,
    ) -> Result<Response<pb::AuthUserChangePasswordResponse>, Status> {
        let r = req.get_ref();
        validate::name("name", &r.name)?;
        validate::password(&r.password)?;
        let who = self.cx.who(&req).await?;
        if who.user.as_deref() != Some(r.name.as_str()) {
            access::require_root(&who)?;
        }
        let password_hash = hash(r.password.clone()).await?;
        let name = r.name.clone();
        let revision = self
            .change(
                &req,
                AuthCmd::UserChangePassword {
                    name,
                    password_hash,
                },
            )
            .await?;
        Ok(Response::new(pb::AuthUserChangePasswordResponse {
            header: self.header(revision),
        }))
    }

    async fn user_grant_role(
        &self,
        req: Request<pb::AuthUserGrantRoleRequest>,
    ) -> Result<Response<pb::AuthUserGrantRoleResponse>, Status> {
        let r = req.get_ref();
        validate::name("name", &r.name)?;
        validate::name("role", &r.role)?;
        let (name, role) = (r.name.clone(), r.role.clone());
        let revision = self
            .change(&req, AuthCmd::UserGrantRole { name, role })
            .await?;
        Ok(Response::new(pb::AuthUserGrantRoleResponse {
            header: self.header(revision),
        }))
    }

    async fn user_revoke_role(
        &self,
        req: Request<pb::AuthUserRevokeRoleRequest>,
    ) -> Result<Response<pb::AuthUserRevokeRoleResponse>, Status> {
        let r = req.get_ref();
        validate::name("name", &r.name)?;
        validate::name("role", &r.role)?;
        let (name, role) = (r.name.clone(), r.role.clone());
        let revision = self
            .change(&req, AuthCmd::UserRevokeRole { name, role })
            .await?;
        Ok(Response::new(pb::AuthUserRevokeRoleResponse {
            header: self.header(revision),
        }))
    }

    async fn role_add(
        &self,
        req: Request<pb::AuthRoleAddRequest>,
    ) -> Result<Response<pb::AuthRoleAddResponse>, Status> {
        validate::name("name", &req.get_ref().name)?;
        let name = req.get_ref().name.clone();
        let revision = self.change(&req, AuthCmd::RoleAdd { name }).await?;
        Ok(Response::new(pb::AuthRoleAddResponse {
            header: self.header(revision),
        }))
    }

    async fn role_delete(
        &self,
        req: Request<pb::AuthRoleDeleteRequest>,
    ) -> Result<Response<pb::AuthRoleDeleteResponse>, Status> {
        validate::name("name", &req.get_ref().name)?;
        let name = req.get_ref().name.clone();
        let revision = self.change(&req, AuthCmd::RoleDelete { name }).await?;
        Ok(Response::new(pb::AuthRoleDeleteResponse {
            header: self.header(revision),
        }))
    }

    async fn role_list(
        &self,
        req: Request<pb::AuthRoleListRequest>,
    ) -> Result<Response<pb::AuthRoleListResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let state = self.cx.node.db().auth().map_err(ApiError::from)?;
        Ok(Response::new(pb::AuthRoleListResponse {
            header: self.header(self.revision()),
            roles: state.roles.iter().cloned().collect(),
        }))
    }
}
