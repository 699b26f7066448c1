//! Exactly-once writes: a write with a request id is applied the first time and its
//! result remembered; the same id again returns that result without applying anything.

use super::apply_command;
use crate::store::command::{Command, CommandResult, KvError, Output};
use crate::store::overlay::{Backing, Overlay};
use crate::store::StoreError;

pub(super) fn once<B: Backing + ?Sized>(
    tree: &mut Overlay<'_, B>,
    now_ms: i64,
    client_id: &str,
    seq: u64,
    command: &Command,
) -> Result<CommandResult, StoreError> {
    let mut session = tree.session(client_id)?.unwrap_or_default();
    if let Some(first) = session.results.get(&seq) {
        return Ok(first.clone());
    }
    if seq < session.floor {
        return Ok(CommandResult {
            revision: tree.revision()?,
            result: Err(KvError::RequestTooOld {
                client_id: client_id.to_string(),
                seq,
                floor: session.floor,
            }),
        });
    }
    let result = apply_command(tree, now_ms, command)?;
    session.remember(seq, result.clone(), now_ms);
    tree.set_session(client_id, Some(session));
    Ok(result)
}

pub(super) fn expire<B: Backing + ?Sized>(
    tree: &mut Overlay<'_, B>,
    before_ms: i64,
) -> Result<CommandResult, StoreError> {
    for (id, session) in tree.sessions()? {
        if session.last_ms < before_ms {
            tree.set_session(&id, None);
        }
    }
    Ok(CommandResult {
        revision: tree.revision()?,
        result: Ok(Output::Unit),
    })
}
