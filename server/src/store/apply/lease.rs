//! Leases: grant, revoke (also expiry, decided by the leader), and checkpoints of the
//! remaining time. Granting and checkpointing change no znode, so they take no revision.

use super::delete::remove_subtree;
use super::{ApplyError, Cx};
use crate::store::command::{KvError, Output};
use crate::store::lease::LeaseRecord;
use crate::store::overlay::{counters, Backing};

pub(crate) fn grant<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    requested: i64,
    ttl_ms: i64,
) -> Result<Output, ApplyError> {
    let id = if requested > 0 {
        if cx.tree.lease(requested)?.is_some() {
            return Err(KvError::LeaseExists {
                lease_id: requested,
            }
            .into());
        }
        requested
    } else {
        // Ids only grow, so a revoked lease's id is never handed out again.
        let mut next = cx
            .tree
            .counter(counters::NEXT_LEASE_ID)?
            .unwrap_or(1)
            .max(1);
        while cx.tree.lease(next)?.is_some() {
            next += 1;
        }
        cx.tree.set_counter(counters::NEXT_LEASE_ID, next + 1);
        next
    };
    cx.tree.set_lease(
        id,
        Some(LeaseRecord {
            id,
            ttl_ms,
            remaining_ms: ttl_ms,
            owner: cx.user.clone(),
        }),
    );
    Ok(Output::Lease { id, ttl_ms })
}

pub(crate) fn revoke<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    id: i64,
) -> Result<Output, ApplyError> {
    let Some(lease) = cx.tree.lease(id)? else {
        return Err(KvError::LeaseNotFound { lease_id: id }.into());
    };
    cx.require_lease_owner(&lease)?;
    let mut deleted = 0;
    // Deleting one ephemeral znode can never delete another (they have no children),
    // so each path is still present when reached.
    for path in cx.tree.lease_nodes(id)? {
        if let Some(rec) = cx.tree.node(&path)? {
            deleted += remove_subtree(cx, &path, rec)?;
        }
    }
    cx.tree.set_lease(id, None);
    Ok(Output::Deleted { deleted })
}

pub(crate) fn checkpoint<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    remaining: &[(i64, i64)],
) -> Result<Output, ApplyError> {
    for &(id, ms) in remaining {
        // A lease revoked since the leader took its checkpoint is simply skipped.
        if let Some(mut rec) = cx.tree.lease(id)? {
            rec.remaining_ms = ms.clamp(0, rec.ttl_ms);
            cx.tree.set_lease(id, Some(rec));
        }
    }
    Ok(Output::Unit)
}
