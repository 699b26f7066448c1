//! The link to the leader: who leads now, waiting until someone does, and handing a
//! request to the leader over the peer protocol and sorting out what its answer (or its
//! silence) means. Shared by the node and its background tasks (forward batcher, read
//! barrier).

use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, Raft};

use super::error::RaftNodeError;
use super::forward_wire::{ForwardRequest, ForwardResponse};
use super::network::{ForwardFailure, PeerNetwork};
use super::peer_wire::ClientAddrs;
use super::types::TypeConfig;

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
    /// Members' client addresses, for `NotLeader` errors.
    pub(super) client_addrs: ClientAddrs,
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

    /// Resolves once this member follows a leader other than `leader` (or none), or
    /// openraft stops here; says which.
    async fn leader_moved(&self, leader: u64) -> String {
        let mut rx = self.raft.metrics();
        loop {
            if rx.borrow_and_update().current_leader != Some(leader) {
                return format!(
                    "member {leader} stopped being the leader while it had the request"
                );
            }
            if rx.changed().await.is_err() {
                return format!("this member shut down while member {leader} had the request");
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
            why = self.leader_moved(*id), if give_up_on_move => Err(ForwardFailure::Unknown(why)),
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

/// "Not the leader", naming the leader if known and, if known, its client address:
/// never its peer address (openraft's `ForwardToLeader` carries that), which a client
/// cannot use.
pub(super) fn not_leader(leader_id: Option<u64>, addrs: &ClientAddrs) -> RaftNodeError {
    RaftNodeError::NotLeader {
        leader_id,
        leader_addr: leader_id.and_then(|id| addrs.get(id)),
    }
}

/// The error of a failed membership change on this member.
pub(super) fn map_write_error(
    e: RaftError<u64, ClientWriteError<u64, BasicNode>>,
    addrs: &ClientAddrs,
) -> RaftNodeError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(f.leader_id, addrs),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            RaftNodeError::Membership(e.to_string())
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}

/// The error of a failed leadership check on this member.
pub(super) fn map_check_error(
    e: RaftError<u64, CheckIsLeaderError<u64, BasicNode>>,
    addrs: &ClientAddrs,
) -> RaftNodeError {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => {
            not_leader(f.leader_id, addrs)
        }
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
            RaftNodeError::Unavailable(format!("could not confirm leadership with a quorum: {q}"))
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use openraft::error::ForwardToLeader;

    use super::*;

    /// What openraft says when member `id` (peer port 2480 + 10 (id - 1)) leads.
    fn forward(id: u64) -> ForwardToLeader<u64, BasicNode> {
        ForwardToLeader {
            leader_id: Some(id),
            leader_node: Some(BasicNode {
                addr: format!("127.0.0.1:{}", 2480 + 10 * (id - 1)),
            }),
        }
    }

    fn not_leader(id: u64, addr: Option<&str>) -> RaftNodeError {
        RaftNodeError::NotLeader {
            leader_id: Some(id),
            leader_addr: addr.map(str::to_string),
        }
    }

    #[test]
    fn not_leader_names_the_leaders_client_address_never_its_peer_address() {
        let addrs = ClientAddrs::new(1, Some("127.0.0.1:2479".into()));
        addrs.learn(2, "127.0.0.1:2489");
        let write = |id| {
            map_write_error(
                RaftError::APIError(ClientWriteError::ForwardToLeader(forward(id))),
                &addrs,
            )
        };
        let check = |id| {
            map_check_error(
                RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward(id))),
                &addrs,
            )
        };
        assert_eq!(write(2), not_leader(2, Some("127.0.0.1:2489")));
        assert_eq!(check(2), not_leader(2, Some("127.0.0.1:2489")));
        // This member's own, as given at start.
        assert_eq!(write(1), not_leader(1, Some("127.0.0.1:2479")));
        // Not known: absent, not the peer address.
        assert_eq!(write(3), not_leader(3, None));
        assert_eq!(check(3), not_leader(3, None));
    }
}
