//! The leader's side of forwarded requests: what this member does with a request
//! another member hands it over the peer protocol (`peer_service` calls in here).

use super::RaftNode;
use crate::raft::error::RaftNodeError;
use crate::raft::forward_wire::{ForwardRequest, ForwardResponse, ForwardResult};
use crate::raft::leader_link::{map_check_error, not_leader};

impl RaftNode {
    /// Answers a request forwarded by another member.
    pub async fn serve_forwarded(&self, req: ForwardRequest) -> ForwardResult {
        match req {
            // Proposed locally only: a member that is no longer leader answers NotLeader
            // and the sender retries elsewhere, so forwards never loop.
            ForwardRequest::Propose(cmd) => self
                .propose_here(cmd, self.link.deadline())
                .await
                .map(ForwardResponse::Proposed),
            ForwardRequest::ProposeBatch(commands) => {
                // Refused whole while not leading: certainly not applied, so the sender
                // retries every write, with or without a request id.
                self.require_leader()?;
                Ok(ForwardResponse::ProposedBatch(
                    self.propose_batch_here(commands, self.link.deadline())
                        .await,
                ))
            }
            ForwardRequest::ReadIndex => {
                let (read_log_id, _) = self
                    .link
                    .raft
                    .get_read_log_id()
                    .await
                    .map_err(|e| map_check_error(e, &self.link.client_addrs))?;
                Ok(ForwardResponse::ReadIndex(
                    read_log_id.map(|l| l.index).unwrap_or(0),
                ))
            }
            ForwardRequest::Admin(op) => {
                self.require_leader()?;
                self.admin_local(op)
                    .await
                    .map(|leader_id| ForwardResponse::Admin { leader_id })
            }
            ForwardRequest::KeepAlive(id) => {
                self.require_leader()?;
                // The grant was applied here before it was acknowledged, so a lease
                // unknown to the leader's store does not exist.
                let lease = self.local_lease(id).await?;
                self.leases.keepalive(id, lease.ttl_ms);
                Ok(ForwardResponse::KeptAlive(lease.ttl_ms))
            }
            ForwardRequest::LeaseRemaining(id) => {
                self.require_leader()?;
                let lease = self.local_lease(id).await?;
                let ms = self
                    .leases
                    .remaining(id)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(lease.remaining_ms);
                Ok(ForwardResponse::Remaining(ms))
            }
            ForwardRequest::StartElection => {
                self.link
                    .raft
                    .trigger()
                    .elect()
                    .await
                    .map_err(|e| RaftNodeError::Stopped(e.to_string()))?;
                Ok(ForwardResponse::ElectionStarted)
            }
        }
    }

    fn require_leader(&self) -> Result<(), RaftNodeError> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(not_leader(self.leader(), &self.link.client_addrs))
        }
    }
}
