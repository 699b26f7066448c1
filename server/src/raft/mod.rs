//! The Raft layer: openraft wired to RocksDB storage and a gRPC peer transport, plus
//! the proposer that batches client commands into log entries (group commit) and the
//! read barrier that batches linearizable reads into shared ReadIndex rounds.
//!
//! Imports point one way, from the node down: `node` → `leader_link`, `retry`,
//! `forward_batcher`, `proposer`, `read_barrier` → `network` → `peer_wire`,
//! `forward_wire`; storage: `state_machine` → `snapshot_store` → `applied_meta`.
//! `peer_service` (the serving side) sits on top of `node`.

pub mod applied_meta;
mod error;
mod forward_batcher;
pub mod forward_wire;
mod io_thread;
mod leader_link;
pub mod lease_clock;
pub mod log_store;
pub mod network;
mod node;
mod peer_failure_log;
pub mod peer_service;
mod peer_wire;
mod proposer;
mod read_barrier;
pub mod restored_member;
mod retry;
pub mod snapshot_buffer;
mod snapshot_store;
pub mod state_machine;

pub use error::RaftNodeError;
/// The in-process single-member harness, for tests of the layers above.
#[cfg(test)]
pub(crate) use node::tests as node_tests;
pub use node::{Consistency, MemberInfo, NodeStatus, RaftNode, RaftSettings};
use snapshot_buffer::SnapshotBuffer;

use crate::store::command::{Batch, BatchResult};

openraft::declare_raft_types!(
    /// Corral's openraft type configuration: log entries carry batches of commands.
    pub TypeConfig:
        D = Batch,
        R = BatchResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = SnapshotBuffer,
);

#[cfg(test)]
mod storage_suite;
