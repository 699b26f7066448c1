//! Auth state changes: enable, disable, users and roles. Only root may make them once
//! auth is enabled (a user may change their own password).

use super::{ApplyError, Cx};
use crate::acl::ROOT;
use crate::store::auth::UserRecord;
use crate::store::command::{AuthCmd, KvError, Output};
use crate::store::overlay::Backing;

pub(crate) fn apply<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &AuthCmd,
) -> Result<Output, ApplyError> {
    let own_password = matches!(c, AuthCmd::UserChangePassword { name, .. }
        if cx.caller.as_ref().and_then(|w| w.user.as_deref()) == Some(name.as_str()));
    if !own_password {
        cx.require_root()?;
    }
    let mut state = (*cx.tree.auth()?).clone();
    let user_missing = |name: &str| KvError::UserNotFound {
        user: name.to_string(),
    };
    match c {
        AuthCmd::Enable { token_key } => {
            if !state.users.contains_key(ROOT) {
                return Err(KvError::RootRequired(
                    "auth cannot be enabled before the user root exists (add it with Auth/UserAdd)"
                        .into(),
                )
                .into());
            }
            state.enabled = true;
            if state.token_key.is_empty() {
                state.token_key = token_key.clone();
            }
        }
        AuthCmd::Disable => state.enabled = false,
        AuthCmd::UserAdd {
            name,
            password_hash,
        } => {
            if state.users.contains_key(name) {
                return Err(KvError::UserExists { user: name.clone() }.into());
            }
            state.epoch += 1;
            let record = UserRecord {
                password_hash: password_hash.clone(),
                roles: Default::default(),
                generation: state.epoch,
            };
            state.users.insert(name.clone(), record);
        }
        AuthCmd::UserDelete { name } => {
            if state.enabled && name == ROOT {
                return Err(KvError::RootRequired(
                    "the user root cannot be deleted while auth is enabled (disable auth first)"
                        .into(),
                )
                .into());
            }
            state.users.remove(name).ok_or_else(|| user_missing(name))?;
        }
        AuthCmd::UserChangePassword {
            name,
            password_hash,
        } => {
            state.epoch += 1;
            let epoch = state.epoch;
            let user = state
                .users
                .get_mut(name)
                .ok_or_else(|| user_missing(name))?;
            user.password_hash = password_hash.clone();
            user.generation = epoch;
        }
        AuthCmd::UserGrantRole { name, role } => {
            if !state.roles.contains(role) {
                return Err(KvError::RoleNotFound { role: role.clone() }.into());
            }
            let user = state
                .users
                .get_mut(name)
                .ok_or_else(|| user_missing(name))?;
            user.roles.insert(role.clone());
        }
        AuthCmd::UserRevokeRole { name, role } => {
            let user = state
                .users
                .get_mut(name)
                .ok_or_else(|| user_missing(name))?;
            user.roles.remove(role);
        }
        AuthCmd::RoleAdd { name } => {
            if !state.roles.insert(name.clone()) {
                return Err(KvError::RoleExists { role: name.clone() }.into());
            }
        }
        AuthCmd::RoleDelete { name } => {
            if !state.roles.remove(name) {
                return Err(KvError::RoleNotFound { role: name.clone() }.into());
            }
            for user in state.users.values_mut() {
                user.roles.remove(name);
            }
        }
    }
    cx.tree.set_auth(state);
    Ok(Output::Unit)
}
