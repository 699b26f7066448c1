//! Membership: the members as this member knows them, membership changes (add a
//! learner, promote, remove) carried out by the leader, and leadership transfer.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use openraft::{BasicNode, ChangeMembers};

use super::RaftNode;
use crate::raft::error::RaftNodeError;
use crate::raft::forward_wire::{AdminOp, ForwardRequest, ForwardResponse};
use crate::raft::leader_link::{map_write_error, FORWARD_TIMEOUT};
use crate::raft::network::ForwardFailure;
use crate::raft::retry::{self, Repeat};

/// A learner this many entries behind the leader is not promoted.
const MAX_PROMOTE_LAG: u64 = 1000;

/// A member of the current configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Raft id.
    pub id: u64,
    /// Peer address.
    pub peer_addr: String,
    /// Learner (non-voting)?
    pub is_learner: bool,
}

impl RaftNode {
    /// Carries out a membership or leadership operation on the leader; returns the
    /// leader's id afterwards. Not repeatable (adding a member twice fails the second
    /// time), so retried only while it certainly was not carried out.
    pub async fn admin(&self, op: AdminOp) -> Result<u64, RaftNodeError> {
        retry::on_leader(&self.link, Repeat::Unsafe, self.link.deadline(), |leader| {
            let op = op.clone();
            async move {
                if leader.id == self.link.id {
                    return self.admin_local(op).await;
                }
                match self
                    .link
                    .forward(&leader, ForwardRequest::Admin(op))
                    .await?
                {
                    ForwardResponse::Admin { leader_id } => Ok(leader_id),
                    other => Err(RaftNodeError::Stopped(format!(
                        "unexpected reply {other:?}"
                    ))),
                }
            }
        })
        .await
    }

    /// Whether this member is in the cluster's configuration as it knows it (a voter or
    /// a learner): a removed member still knows the last leader, but no longer gets the
    /// log, so it must not count as ready.
    pub fn is_member(&self) -> bool {
        let m = self.link.raft.metrics();
        let m = m.borrow();
        let is_member = m
            .membership_config
            .membership()
            .nodes()
            .any(|(id, _)| *id == self.link.id);
        is_member
    }

    /// Members of the current configuration.
    pub fn members(&self) -> Vec<MemberInfo> {
        let m = self.link.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, n)| MemberInfo {
                id: *id,
                peer_addr: n.addr.clone(),
                is_learner: !voters.contains(id),
            })
            .collect()
    }

    /// Carries out `op` on this member, which leads.
    pub(super) async fn admin_local(&self, op: AdminOp) -> Result<u64, RaftNodeError> {
        let raft = &self.link.raft;
        let (membership, replication, last_log_index) = {
            let m = raft.metrics();
            let m = m.borrow();
            (
                m.membership_config.membership().clone(),
                m.replication.clone().unwrap_or_default(),
                m.last_log_index.unwrap_or(0),
            )
        };
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        match op {
            AdminOp::AddLearner { id, addr } => {
                if let Some(node) = membership.get_node(&id) {
                    if voters.contains(&id) {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} is already a voter"
                        )));
                    }
                    if node.addr != addr {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} already exists with peer address {}; remove it first",
                            node.addr
                        )));
                    }
                } else if let Some((other, _)) = membership.nodes().find(|(_, n)| n.addr == addr) {
                    return Err(RaftNodeError::Membership(format!(
                        "peer address {addr} is already used by member {other}"
                    )));
                }
                raft.add_learner(id, BasicNode { addr }, false)
                    .await
                    .map_err(|e| map_write_error(e, &self.link.client_addrs))?;
            }
            AdminOp::Promote { id } => {
                if membership.get_node(&id).is_none() {
                    return Err(RaftNodeError::MemberNotFound(id));
                }
                if !voters.contains(&id) {
                    let matched = replication
                        .get(&id)
                        .copied()
                        .flatten()
                        .map(|l| l.index)
                        .unwrap_or(0);
                    let lag = last_log_index.saturating_sub(matched);
                    if lag > MAX_PROMOTE_LAG {
                        return Err(RaftNodeError::Membership(format!(
                            "learner {id} is {lag} entries behind the leader; wait for it to catch up, then retry"
                        )));
                    }
                    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                        .await
                        .map_err(|e| map_write_error(e, &self.link.client_addrs))?;
                }
            }
            AdminOp::Remove { id } => {
                if membership.get_node(&id).is_none() {
                    return Err(RaftNodeError::MemberNotFound(id));
                }
                let change = if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} is the last voter and cannot be removed"
                        )));
                    }
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                raft.change_membership(change, false)
                    .await
                    .map_err(|e| map_write_error(e, &self.link.client_addrs))?;
                if voters.contains(&id) {
                    // `retain = false` leaves it out of the voters; drop it as a node too.
                    let still_node = raft
                        .metrics()
                        .borrow()
                        .membership_config
                        .membership()
                        .get_node(&id)
                        .is_some();
                    if still_node && self.leader() == Some(self.link.id) {
                        raft.change_membership(
                            ChangeMembers::RemoveNodes(BTreeSet::from([id])),
                            false,
                        )
                        .await
                        .map_err(|e| map_write_error(e, &self.link.client_addrs))?;
                    }
                }
            }
            AdminOp::TransferLeader { to } => {
                if !voters.contains(&to) {
                    return Err(if membership.get_node(&to).is_some() {
                        RaftNodeError::Membership(format!(
                            "member {to} is a learner; promote it before making it leader"
                        ))
                    } else {
                        RaftNodeError::MemberNotFound(to)
                    });
                }
                return self.transfer_leader(to).await;
            }
        }
        Ok(self.leader().unwrap_or(0))
    }

    /// Leadership transfer on openraft 0.9, which has no built-in one: wait for the
    /// target to hold the whole log, stop heartbeats so the followers' leader leases
    /// lapse, then ask the target to campaign. It wins because its log is complete and
    /// it starts before any other member's election timer fires.
    async fn transfer_leader(&self, to: u64) -> Result<u64, RaftNodeError> {
        let raft = &self.link.raft;
        if to == self.link.id {
            return Ok(to);
        }
        let catch_up = Instant::now() + Duration::from_secs(10);
        loop {
            let caught_up = {
                let m = raft.metrics();
                let m = m.borrow();
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&to).copied().flatten())
                    .map(|l| l.index);
                matched.is_some() && matched >= m.last_log_index
            };
            if caught_up {
                break;
            }
            if Instant::now() >= catch_up {
                return Err(RaftNodeError::Timeout(format!(
                    "member {to} did not catch up with the leader's log within 10s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let addr = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&to)
            .map(|n| n.addr.clone())
            .ok_or(RaftNodeError::MemberNotFound(to))?;
        let rc = raft.runtime_config();
        rc.heartbeat(false);
        rc.elect(false);
        let result = async {
            // Followers refuse votes while the leader lease (election-timeout-max) holds.
            tokio::time::sleep(self.link.election_timeout_max + Duration::from_millis(100)).await;
            for _ in 0..5 {
                match self
                    .link
                    .network
                    .forward(to, &addr, &ForwardRequest::StartElection, FORWARD_TIMEOUT)
                    .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(ForwardFailure::NotDelivered(m)) | Err(ForwardFailure::Unknown(m)) => {
                        return Err(RaftNodeError::Unavailable(format!(
                            "could not reach member {to}: {m}"
                        )))
                    }
                }
                let waited = raft
                    .wait(Some(self.link.election_timeout_max * 2))
                    .metrics(|m| m.current_leader == Some(to), "leadership transfer")
                    .await;
                if waited.is_ok() {
                    return Ok(to);
                }
            }
            Err(RaftNodeError::Timeout(format!(
                "member {to} did not become leader after 5 attempts"
            )))
        }
        .await;
        rc.heartbeat(true);
        rc.elect(true);
        result
    }
}
