//! The Raft layer: openraft wired to RocksDB storage and a gRPC peer transport, plus
//! the proposer that batches client commands into log entries (group commit) and the
//! read barrier that batches linearizable reads into shared ReadIndex rounds.

mod error;
pub mod forward;
mod forwarder;
mod io_thread;
pub mod lease_clock;
pub mod log_store;
pub mod network;
mod node;
mod proposer;
mod read_barrier;
pub mod restore;
mod snapshot_store;
pub mod state_machine;

use std::io::Cursor;

pub use error::RaftNodeError;
pub use node::{MemberInfo, NodeStatus, RaftNode, RaftSettings};

use crate::store::command::{Batch, BatchResult};

openraft::declare_raft_types!(
    /// Corral's openraft type configuration: log entries carry batches of commands.
    pub TypeConfig:
        D = Batch,
        R = BatchResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

#[cfg(test)]
mod storage_suite;
