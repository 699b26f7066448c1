//! Coordination recipes served by the server itself: fair locks and leader election.
//!
//! Both are a queue of sequential ephemeral znodes under one directory znode (a
//! container, so it goes when the queue empties): the first in order holds the lock or
//! leads, and each waiter watches only its predecessor, so a release wakes exactly one
//! waiter (no herd effect). Built on the Raft node's writes, reads and watch hub.

pub mod election;
pub mod lock;
pub mod queue;

use thiserror::Error;

use crate::raft::RaftNodeError;
use crate::store::command::{KvError, UnexpectedOutput};
use crate::store::StoreError;

/// Why a lock or election call failed.
#[derive(Debug, Error)]
pub enum CoordError {
    /// The wait ran out before the caller got to the front.
    #[error("gave up after waiting {0} ms; the queue entry was removed")]
    WaitTimeout(i64),
    /// The caller's queue entry disappeared while it waited (its lease ended, or it
    /// was deleted).
    #[error("{0} was deleted while waiting (its lease expired or it was removed)")]
    EntryGone(String),
    /// The key does not lead (Proclaim by a non-leader).
    #[error("{key} is not the leader of {name}")]
    NotLeader {
        /// Key.
        key: String,
        /// Election.
        name: String,
    },
    /// The election has no leader.
    #[error("election {0} has no leader")]
    NoLeader(String),
    /// Refused by the state machine.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The Raft layer could not serve it.
    #[error(transparent)]
    Raft(#[from] RaftNodeError),
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A watch needed for waiting ended.
    #[error("waiting failed: {0}")]
    Watch(String),
    /// Unlock, Resign or Proclaim named a znode that is not a queue entry.
    #[error("{key} is not a lock or election queue entry ({why}); pass the key that Lock or Campaign returned")]
    NotQueueEntry {
        /// The key given.
        key: String,
        /// The caller's lease.
        lease_id: i64,
        /// What is wrong with it.
        why: String,
    },
    /// The queue entry belongs to another lease than the caller's.
    #[error(
        "{key} is held by lease {owner}, not by lease {lease_id}; only its holder may release it"
    )]
    NotEntryOwner {
        /// The key given.
        key: String,
        /// The caller's lease.
        lease_id: i64,
        /// The lease that holds it.
        owner: i64,
    },
    /// A broken invariant of the queue code (a server bug, never the caller's fault).
    #[error("internal error in a lock or election queue: {0}")]
    Invariant(String),
}

impl From<UnexpectedOutput> for CoordError {
    fn from(e: UnexpectedOutput) -> Self {
        CoordError::Invariant(e.to_string())
    }
}
