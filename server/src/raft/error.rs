//! Errors of the Raft layer as the API sees them. Serializable: a follower forwards a
//! request to the leader and gets these back over the peer protocol.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a proposal, read or cluster operation could not be served.
#[derive(Debug, Clone, Error, Serialize, Deserialize, PartialEq, Eq)]
pub enum RaftNodeError {
    /// This member is not the leader; `leader_id`/`leader_addr` say who is, if known.
    /// `leader_addr` is always the leader's client address, never its peer address.
    #[error("this member is not the leader{}", leader_hint(.leader_id, .leader_addr))]
    NotLeader {
        /// Current leader, if known.
        leader_id: Option<u64>,
        /// Its client address (its `--client-addr`), if known: where a client should go.
        leader_addr: Option<String>,
    },
    /// A write may or may not have been applied (leadership changed or contact with the
    /// leader was lost after it was submitted). Retrying is safe only with a request id.
    #[error("outcome unknown: {0}; retry with the same corral-request-id to learn it without applying it twice")]
    OutcomeUnknown(String),
    /// No quorum or no leader: the cluster cannot serve this now.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The Raft node stopped (shutdown or fatal storage error).
    #[error("raft node stopped: {0}")]
    Stopped(String),
    /// A membership change that the current configuration does not allow.
    #[error("{0}")]
    Membership(String),
    /// No member with this id.
    #[error("member {0} is not in the cluster")]
    MemberNotFound(u64),
    /// The lease does not exist (never granted, revoked, or expired).
    #[error("lease {0} does not exist (it expired, was revoked, or was never granted)")]
    LeaseNotFound(i64),
    /// The operation did not finish in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

fn leader_hint(id: &Option<u64>, addr: &Option<String>) -> String {
    match (id, addr) {
        (Some(id), Some(addr)) => format!("; the leader is member {id}, serving clients at {addr}"),
        (Some(id), None) => format!("; the leader is member {id}"),
        _ => "; no leader is known yet, retry shortly".to_string(),
    }
}
