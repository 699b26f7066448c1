//! Fair locks with fencing tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::{self, EntryGuard};
use super::CoordError;
use crate::raft::RaftNode;

/// Name prefix of a lock's queue entries: `<lock>/lock-NNNNNNNNNN`.
pub const PREFIX: &str = "lock-";

/// A held lock.
#[derive(Debug, Clone)]
pub struct Held {
    /// The holder's znode.
    pub key: String,
    /// Its create revision: strictly increasing per lock.
    pub fencing_token: i64,
}

/// Waits (up to `wait_ms`, 0 = no limit of its own) until the caller holds lock `name`.
pub async fn lock(
    node: Arc<RaftNode>,
    name: &str,
    lease_id: i64,
    wait_ms: i64,
) -> Result<Held, CoordError> {
    let deadline = (wait_ms > 0).then(|| Instant::now() + Duration::from_millis(wait_ms as u64));
    let entry = queue::enqueue(&node, name, PREFIX, lease_id, Vec::new()).await?;
    // From here on, giving up (error, timeout, or the caller cancelling) removes the entry.
    let guard = EntryGuard::new(node.clone(), &entry);
    match queue::wait_first(&node, name, PREFIX, &entry.key, deadline).await {
        Ok(()) => {
            guard.disarm();
            Ok(Held {
                key: entry.key,
                fencing_token: entry.create_revision,
            })
        }
        Err(CoordError::WaitTimeout(_)) => Err(CoordError::WaitTimeout(wait_ms)),
        Err(e) => Err(e),
    }
}

/// Releases a lock (or a place in its queue) that `lease_id` holds. Only a lock's queue
/// entry of that lease is deleted; one already gone is released already.
pub async fn unlock(node: &RaftNode, key: &str, lease_id: i64) -> Result<(), CoordError> {
    if let Some(entry) = queue::owned_entry(node, key, PREFIX, lease_id).await? {
        queue::remove_entry(node, &entry).await?;
    }
    Ok(())
}
