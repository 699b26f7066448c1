//! The one apply entry point: `apply_command(tree, now_ms, command)`.
//!
//! Apply must be a pure function of (state, command): it must not read the clock (time
//! comes from the leader's stamp in the batch), use randomness, or do any I/O beyond
//! reading the tree and buffering writes in the overlay. Every member applying the same
//! log therefore reaches the same state. One function per command kind, one file each.

mod acl;
mod auth;
mod compact;
mod create;
pub use create::SEQUENCE_DIGITS;
mod delete;
mod lease;
mod put;
mod reap;
mod session;
mod txn;

use super::command::{Command, CommandResult, KvError, Output};
use super::overlay::{Backing, Overlay};
use super::StoreError;
use crate::acl::{Caller, Perms};

/// Why a command stopped: a deterministic refusal, or a storage failure that must halt apply.
#[derive(Debug)]
pub(crate) enum ApplyError {
    Kv(KvError),
    Store(StoreError),
}

impl From<KvError> for ApplyError {
    fn from(e: KvError) -> Self {
        ApplyError::Kv(e)
    }
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        ApplyError::Store(e)
    }
}

impl From<super::read::ListError> for ApplyError {
    fn from(e: super::read::ListError) -> Self {
        match e {
            super::read::ListError::Kv(e) => ApplyError::Kv(e),
            super::read::ListError::Store(e) => ApplyError::Store(e),
        }
    }
}

/// Compare-and-set on a znode's version: refuses when `expected` is set and differs.
pub(crate) fn check_version(
    path: &str,
    expected: Option<i64>,
    current: i64,
) -> Result<(), KvError> {
    match expected {
        Some(expected) if expected != current => Err(KvError::VersionMismatch {
            path: path.to_string(),
            expected,
            current,
        }),
        _ => Ok(()),
    }
}

/// State threaded through one command: the tree, the revision its writes get, the
/// leader's clock stamp, whether anything was written, and who is asking.
pub(crate) struct Cx<'o, 'a, B: Backing + ?Sized> {
    pub tree: &'o mut Overlay<'a, B>,
    pub rev: i64,
    pub now_ms: i64,
    pub wrote: bool,
    /// The caller whose permissions are checked: set for a client's command while auth
    /// is enabled; `None` means no checks (auth off, or the server's own command).
    pub caller: Option<Caller>,
    /// The client's user, auth on or off (it owns the leases it grants).
    pub user: Option<String>,
}

impl<B: Backing + ?Sized> Cx<'_, '_, B> {
    /// Refuses unless the caller may do `perm` on the znode at `path`.
    pub(crate) fn require(&self, path: &str, perm: Perms) -> Result<(), ApplyError> {
        let Some(caller) = &self.caller else {
            return Ok(());
        };
        if caller.is_root() {
            return Ok(());
        }
        Ok(KvError::check_permission(
            caller,
            self.tree.acl(path)?.as_ref(),
            path,
            perm,
        )?)
    }

    /// Refuses unless the caller owns `lease` (or is root), when auth is enabled.
    pub(crate) fn require_lease_owner(
        &self,
        lease: &crate::store::lease::LeaseRecord,
    ) -> Result<(), ApplyError> {
        match &self.caller {
            Some(caller) => Ok(KvError::check_lease_owner(caller.user.as_deref(), lease)?),
            None => Ok(()),
        }
    }

    /// Refuses unless the caller is root (when auth is enabled).
    pub(crate) fn require_root(&self) -> Result<(), ApplyError> {
        match &self.caller {
            Some(caller) if !caller.is_root() => Err(KvError::PermissionDenied {
                path: String::new(),
                permission: "root".to_string(),
                user: caller.name().to_string(),
            }
            .into()),
            _ => Ok(()),
        }
    }
}

/// Applies one command. A refused command leaves the tree unchanged and the revision
/// where it was; a successful write advances the revision by exactly one.
pub fn apply_command<B: Backing + ?Sized>(
    tree: &mut Overlay<'_, B>,
    now_ms: i64,
    command: &Command,
) -> Result<CommandResult, StoreError> {
    match command {
        Command::Once {
            client_id,
            seq,
            command,
        } => return session::once(tree, now_ms, client_id, *seq, command),
        Command::ExpireSessions { before_ms } => return session::expire(tree, *before_ms),
        _ => {}
    }
    let (caller, user, command) = match command {
        Command::As { user, command } => {
            let auth = tree.auth()?;
            if !auth.enabled {
                (None, user.clone(), command.as_ref())
            } else if user.is_none() {
                return Ok(CommandResult {
                    revision: tree.revision()?,
                    result: Err(KvError::AuthRequired),
                });
            } else {
                (
                    Some(auth.caller(user.as_deref())),
                    user.clone(),
                    command.as_ref(),
                )
            }
        }
        other => (None, None, other),
    };
    let current = tree.revision()?;
    tree.begin();
    let mut cx = Cx {
        tree,
        rev: current + 1,
        now_ms,
        wrote: false,
        caller,
        user,
    };
    let result = match command {
        Command::Create(c) => create::create(&mut cx, c, None).map(Output::Op),
        Command::CreateWithAcl(c, acl) => create::create(&mut cx, c, Some(acl)).map(Output::Op),
        Command::SetAcl(c) => acl::set_acl(&mut cx, c),
        Command::Auth(c) => auth::apply(&mut cx, c),
        Command::Put(c) => put::put(&mut cx, c).map(Output::Op),
        Command::Delete(c) => delete::delete(&mut cx, c).map(Output::Op),
        Command::Txn(c) => txn::txn(&mut cx, c),
        Command::LeaseGrant { id, ttl_ms } => lease::grant(&mut cx, *id, *ttl_ms),
        Command::LeaseRevoke { id } => lease::revoke(&mut cx, *id),
        Command::LeaseCheckpoint { remaining } => lease::checkpoint(&mut cx, remaining),
        Command::Reap { path, mod_revision } => reap::reap(&mut cx, path, *mod_revision),
        Command::Compact { revision } => cx
            .require_root()
            .and_then(|()| compact::compact(&mut cx, *revision)),
        Command::Once { .. } | Command::ExpireSessions { .. } | Command::As { .. } => Err(
            ApplyError::Kv(KvError::Invalid("request ids cannot be nested".into())),
        ),
    };
    let wrote = cx.wrote;
    match result {
        Ok(output) => {
            let revision = if wrote {
                tree.set_revision(current + 1);
                current + 1
            } else {
                current
            };
            tree.commit();
            Ok(CommandResult {
                revision,
                result: Ok(output),
            })
        }
        Err(ApplyError::Kv(e)) => {
            tree.rollback();
            Ok(CommandResult {
                revision: current,
                result: Err(e),
            })
        }
        Err(ApplyError::Store(e)) => {
            tree.rollback();
            Err(e)
        }
    }
}
