//! The link to the leader: who leads now, waiting until someone does, and handing a
//! request to the leader over the peer protocol and sorting out what its answer (or its
//! silence) means. Shared by the node and its background tasks (forward batcher, read
//! barrier).

use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, Raft};

use super::forward_wire::{ForwardRequest, ForwardResponse};
use super::network::{ForwardFailure, PeerNetwork};
use super::{RaftNodeError, TypeConfig};

/// How long a forwarded request may take before the forwarding member gives up (it also
/// gives up as soon as another member becomes leader).
pub(super) const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The leader as this member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Leader {
    /// Its Raft id.
    pub(super) id: u64,
    /// Its peer address (where forwarded requests go).
    pub(super) peer_addr: String,
}

/// What requests need to reach the leader.
pub(super) struct LeaderLink {
    /// This member's id.
    pub(super) id: u64,
    pub(super) raft: Raft<TypeConfig>,
    pub(super) network: PeerNetwork,
    /// How long a request waits for a leader to exist before failing UNAVAILABLE.
    pub(super) leader_wait: Duration,
    pub(super) election_timeout_max: Duration,
}

impl LeaderLink {
    /// The deadline of a request that starts now.
    pub(super) fn deadline(&self) -> Instant {
        Instant::now() + self.leader_wait
    }

    /// The leader this member follows right now, if any.
    pub(super) fn leader_now(&self) -> Option<Leader> {
        let m = self.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let peer_addr = m
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .unwrap_or_default();
        Some(Leader { id, peer_addr })
    }

    /// Waits until some member leads, up to `deadline`. Fails `Stopped` at once when
    /// openraft has stopped: no leader can come then, and its metrics channel, closed,
    /// would otherwise wake this loop without pause until the deadline.
    pub(super) async fn wait_leader(&self, deadline: Instant) -> Result<Leader, RaftNodeError> {
        let mut rx = self.raft.metrics();
        loop {
            if let Err(fatal) = &rx.borrow_and_update().running_state {
                return Err(RaftNodeError::Stopped(fatal.to_string()));
            }
            if let Some(l) = self.leader_now() {
                return Ok(l);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(RaftNodeError::Unavailable(format!(
                    "no leader within {:?}; a majority of members may be down or partitioned",
                    self.leader_wait
                )));
            }
            if let Ok(Err(_closed)) = tokio::time::timeout(remaining, rx.changed()).await {
                return Err(RaftNodeError::Stopped("the Raft node has shut down".into()));
            }
        }
    }

    /// Resolves once this member follows a leader other than `leader` (or none).
    async fn leader_moved(&self, leader: u64) {
        let mut rx = self.raft.metrics();
        loop {
            if rx.borrow_and_update().current_leader != Some(leader) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Sends `req` to `leader` and sorts out what its answer (or silence) means: a
    /// request that certainly did not reach a leader fails `NotLeader` or `Unavailable`,
    /// one that may have been carried out `OutcomeUnknown` (see `retry`).
    pub(super) async fn forward(
        &self,
        leader: &Leader,
        req: ForwardRequest,
    ) -> Result<ForwardResponse, RaftNodeError> {
        let Leader { id, peer_addr } = leader;
        // A frozen or partitioned leader never answers; for writes and read indexes,
        // stop waiting once this member sees another leader (or an election) rather
        // than at the full timeout. Membership operations (a leadership transfer moves
        // the leader on purpose) wait for their answer.
        let give_up_on_move = matches!(
            req,
            ForwardRequest::Propose(_)
                | ForwardRequest::ProposeBatch(_)
                | ForwardRequest::ReadIndex
        );
        let sent = tokio::select! {
            r = self.network.forward(*id, peer_addr, &req, FORWARD_TIMEOUT) => r,
            _ = self.leader_moved(*id), if give_up_on_move => Err(ForwardFailure::Unknown(format!(
                "member {id} stopped being the leader while it had the request"
            ))),
        };
        match sent {
            Ok(result) => result,
            Err(ForwardFailure::NotDelivered(m)) => Err(RaftNodeError::Unavailable(format!(
                "leader {id} at {peer_addr} unreachable: {m}"
            ))),
            Err(ForwardFailure::Unknown(m)) => Err(RaftNodeError::OutcomeUnknown(format!(
                "lost contact with leader {id} at {peer_addr}: {m}"
            ))),
        }
    }
}

/// The error of a failed membership change on this member.
pub(super) fn map_write_error(
    e: RaftError<u64, ClientWriteError<u64, BasicNode>>,
) -> RaftNodeError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => RaftNodeError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            RaftNodeError::Membership(e.to_string())
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}

/// The error of a failed leadership check on this member.
pub(super) fn map_check_error(
    e: RaftError<u64, CheckIsLeaderError<u64, BasicNode>>,
) -> RaftNodeError {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => RaftNodeError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
            RaftNodeError::Unavailable(format!("could not confirm leadership with a quorum: {q}"))
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}
