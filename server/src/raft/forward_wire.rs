//! The wire format of forwarded requests: what a member hands to the leader over the
//! peer protocol's `Forward` call (writes, ReadIndex, membership changes, lease calls,
//! and the election nudge of a leadership transfer) and the answers. Serialized with
//! bincode inside `peer_wire`'s envelope.

use serde::{Deserialize, Serialize};

use super::error::RaftNodeError;
use crate::store::command::{Command, CommandResult};

/// A membership or leadership operation, carried out by the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminOp {
    /// Add a learner.
    AddLearner {
        /// New member id.
        id: u64,
        /// Its peer address.
        addr: String,
    },
    /// Promote a learner to voter.
    Promote {
        /// Learner id.
        id: u64,
    },
    /// Remove a voter or learner.
    Remove {
        /// Member id.
        id: u64,
    },
    /// Move leadership to a voter.
    TransferLeader {
        /// Target voter.
        to: u64,
    },
}

/// What a member asks of another.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardRequest {
    /// Propose a client command (to the leader).
    Propose(Command),
    /// Confirm leadership and return the index a linearizable read must wait for.
    ReadIndex,
    /// Carry out a membership operation (on the leader).
    Admin(AdminOp),
    /// Start an election now (sent by the leader to the transfer target).
    StartElection,
    /// Refresh a lease's clock (on the leader, which times leases).
    KeepAlive(i64),
    /// A lease's remaining time, as the leader's clock has it.
    LeaseRemaining(i64),
    /// Propose client commands (to the leader), each answered on its own.
    ProposeBatch(Vec<Command>),
}

/// The answer. Short-lived (decoded and consumed at once), so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardResponse {
    /// The command's applied result.
    Proposed(CommandResult),
    /// Log index to wait for before reading.
    ReadIndex(u64),
    /// The leader after an admin operation.
    Admin {
        /// Leader id after the operation.
        leader_id: u64,
    },
    /// The election was started.
    ElectionStarted,
    /// The lease's TTL after a keepalive, ms.
    KeptAlive(i64),
    /// The lease's remaining time, ms.
    Remaining(i64),
    /// Each command's applied result or error, in the order proposed.
    ProposedBatch(Vec<Result<CommandResult, RaftNodeError>>),
}

/// Result of a forwarded request, as sent back.
pub type ForwardResult = Result<ForwardResponse, RaftNodeError>;
