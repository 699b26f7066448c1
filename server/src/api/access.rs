//! Permission checks of the API's reads and root-only calls (writes are checked by
//! apply, against the state they apply to). Reads check against the same view they
//! read, so the answer and the decision to give it agree.

use crate::acl::{Caller, Perms};
use crate::auth::caller::Who;
use crate::store::command::KvError;
use crate::store::overlay::{Backing, Overlay};

use super::errors::ApiError;

/// The name on the verified client certificate of the request's connection, if any.
/// Filled by the TLS layer once client certificates are verified (mTLS).
pub fn cert_user<T>(req: &tonic::Request<T>) -> Option<String> {
    req.extensions().get::<CertUser>().map(|c| c.0.clone())
}

/// A request extension naming the verified client certificate's user.
#[derive(Debug, Clone)]
pub struct CertUser(pub String);

/// The caller whose permissions `view` judges, or `None` when auth is off (no checks).
pub fn caller_in<B: Backing + ?Sized>(
    view: &Overlay<'_, B>,
    who: &Who,
) -> Result<Option<Caller>, ApiError> {
    if !who.enabled {
        return Ok(None);
    }
    let state = view.auth()?;
    if !state.enabled {
        return Ok(None);
    }
    Ok(Some(state.caller(who.user.as_deref())))
}

/// Refuses unless `who` may do `perm` on `path` as `view` sees it. While auth is on,
/// the gRPC API serves no anonymous call (as etcd): `anyone` in an ACL then grants what
/// `authenticated` does.
pub fn require<B: Backing + ?Sized>(
    view: &Overlay<'_, B>,
    who: &Who,
    path: &str,
    perm: Perms,
) -> Result<(), ApiError> {
    require_user(who)?;
    let Some(caller) = caller_in(view, who)? else {
        return Ok(());
    };
    Ok(KvError::check_permission(
        &caller,
        view.acl(path)?.as_ref(),
        path,
        perm,
    )?)
}

/// Whether `caller` (from [`caller_in`]) may read the znode at `path`.
pub fn may_read<B: Backing + ?Sized>(
    view: &Overlay<'_, B>,
    caller: Option<&Caller>,
    path: &str,
) -> Result<bool, ApiError> {
    match caller {
        None => Ok(true),
        Some(c) => Ok(c.may(view.acl(path)?.as_ref(), Perms::READ)),
    }
}

/// Refuses unless `who` is root (or auth is off).
pub fn require_root(who: &Who) -> Result<(), ApiError> {
    if !who.enabled || who.user.as_deref() == Some(crate::acl::ROOT) {
        return Ok(());
    }
    match &who.user {
        None => Err(crate::auth::AuthError::Required.into()),
        Some(user) => Err(KvError::PermissionDenied {
            path: String::new(),
            permission: "root".to_string(),
            user: user.clone(),
        }
        .into()),
    }
}

/// Refuses an anonymous caller while auth is on.
pub fn require_user(who: &Who) -> Result<(), ApiError> {
    if who.enabled && who.user.is_none() {
        return Err(crate::auth::AuthError::Required.into());
    }
    Ok(())
}

/// Refuses unless `who` owns `lease` (or is root, or auth is off).
pub fn require_lease_owner(
    who: &Who,
    lease: &crate::store::lease::LeaseRecord,
) -> Result<(), ApiError> {
    if !who.enabled {
        return Ok(());
    }
    Ok(KvError::check_lease_owner(who.user.as_deref(), lease)?)
}

/// Checks, for a lock or election `name` (its queue's znode), that `who` owns
/// `lease_id` (when non-zero) and has `perms` on the queue's znode, or on its nearest
/// existing ancestor while the queue's znode does not exist yet (it will be created with
/// that ancestor's ACL). Queue operations run several commands of the server's own, so
/// they are checked here, on this member's applied state, before any is proposed.
pub async fn require_queue(
    node: &crate::raft::RaftNode,
    who: &Who,
    name: &str,
    lease_id: i64,
    perms: &[Perms],
) -> Result<(), ApiError> {
    require_user(who)?;
    if !who.enabled {
        return Ok(());
    }
    node.read(crate::raft::Consistency::Serializable, |tree| {
        if lease_id != 0 {
            if let Some(lease) = tree.lease(lease_id)? {
                require_lease_owner(who, &lease)?;
            }
        }
        let mut at = name.to_string();
        while tree.node(&at)?.is_none() {
            match crate::store::path::parent(&at) {
                Some(parent) => at = parent.to_string(),
                None => break,
            }
        }
        for &perm in perms {
            require(tree, who, &at, perm)?;
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(())
}
