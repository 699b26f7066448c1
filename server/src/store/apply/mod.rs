//! The one apply entry point: `apply_command(tree, now_ms, command)`.
//!
//! Apply must be a pure function of (state, command): it must not read the clock (time
//! comes from the leader's stamp in the batch), use randomness, or do any I/O beyond
//! reading the tree and buffering writes in the overlay. Every member applying the same
//! log therefore reaches the same state. One function per command kind, one file each.

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
/// leader's clock stamp, and whether anything was written.
pub(crate) struct Cx<'o, 'a, B: Backing + ?Sized> {
    pub tree: &'o mut Overlay<'a, B>,
    pub rev: i64,
    pub now_ms: i64,
    pub wrote: bool,
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
    let current = tree.revision()?;
    tree.begin();
    let mut cx = Cx {
        tree,
        rev: current + 1,
        now_ms,
        wrote: false,
    };
    let result = match command {
        Command::Create(c) => create::create(&mut cx, c).map(Output::Op),
        Command::Put(c) => put::put(&mut cx, c).map(Output::Op),
        Command::Delete(c) => delete::delete(&mut cx, c).map(Output::Op),
        Command::Txn(c) => txn::txn(&mut cx, c),
        Command::LeaseGrant { id, ttl_ms } => lease::grant(&mut cx, *id, *ttl_ms),
        Command::LeaseRevoke { id } => lease::revoke(&mut cx, *id),
        Command::LeaseCheckpoint { remaining } => lease::checkpoint(&mut cx, remaining),
        Command::Reap { path, mod_revision } => reap::reap(&mut cx, path, *mod_revision),
        Command::Compact { revision } => compact::compact(&mut cx, *revision),
        Command::Once { .. } | Command::ExpireSessions { .. } => Err(ApplyError::Kv(
            KvError::Invalid("request ids cannot be nested".into()),
        )),
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
