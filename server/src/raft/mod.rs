//! The Raft layer: openraft wired to RocksDB storage and a gRPC peer transport, plus
//! the proposer that batches client commands into log entries (group commit) and the
//! read barrier that batches linearizable reads into shared ReadIndex rounds.
//!
//! Imports point one way, down: `peer_service` (the serving side) → `node` →
//! `forward_batcher`, `retry` → `leader_link` → `network` → `peer_wire`,
//! `peer_failure_log`, `forward_wire`; `node` → `proposer`, `read_barrier`,
//! `state_machine` → `snapshot_store` → `applied_meta`. Every module names the shared
//! types from their own modules (`types`, `error`), never through this root, which only
//! declares the modules and re-exports what the rest of the server uses.

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
mod types;

pub use error::RaftNodeError;
pub use node::{Consistency, MemberInfo, NodeStatus, RaftNode, RaftSettings, ReadView};
pub use types::TypeConfig;

/// The in-process single-member harness, for tests of the layers above.
#[cfg(test)]
pub(crate) use node::tests as node_tests;

#[cfg(test)]
mod storage_suite;
