//! Corral's openraft type configuration, on its own so that every module of the Raft
//! layer can name it without importing the layer's root (which imports them all).

use super::snapshot_buffer::SnapshotBuffer;
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
