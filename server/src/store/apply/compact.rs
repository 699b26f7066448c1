//! Compact: discard event history up to a revision. Watches must start above it.

use super::{ApplyError, Cx};
use crate::store::command::{KvError, Output};
use crate::store::overlay::{counters, Backing};

pub(crate) fn compact<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    revision: i64,
) -> Result<Output, ApplyError> {
    let current = cx.tree.revision()?;
    if revision > current {
        return Err(KvError::Invalid(format!(
            "cannot compact to revision {revision}: the current revision is {current}"
        ))
        .into());
    }
    let compacted = cx.tree.counter(counters::COMPACT_REVISION)?.unwrap_or(0);
    if revision > compacted {
        cx.tree.set_counter(counters::COMPACT_REVISION, revision);
    }
    Ok(Output::Compacted {
        compact_revision: revision.max(compacted),
    })
}
