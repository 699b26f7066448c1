//! Errors of the Raft layer as the API sees them.

use thiserror::Error;

/// Why a proposal or a linearizable read could not be served.
#[derive(Debug, Clone, Error)]
pub enum RaftNodeError {
    /// This member is not the leader; `leader_id`/`leader_addr` say who is, if known.
    #[error("this member is not the leader{}", leader_hint(.leader_id, .leader_addr))]
    NotLeader {
        /// Current leader, if known.
        leader_id: Option<u64>,
        /// Its client address, if known.
        leader_addr: Option<String>,
    },
    /// No quorum or no leader: the cluster cannot serve this now.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The Raft node stopped (shutdown or fatal storage error).
    #[error("raft node stopped: {0}")]
    Stopped(String),
}

fn leader_hint(id: &Option<u64>, addr: &Option<String>) -> String {
    match (id, addr) {
        (Some(id), Some(addr)) => format!("; the leader is member {id} at {addr}"),
        (Some(id), None) => format!("; the leader is member {id}"),
        _ => "; no leader is known yet, retry shortly".to_string(),
    }
}
