//! Lease calls answered by the leader's lease clock (keepalive, remaining time), from
//! any member: run here when this member leads, forwarded to the leader otherwise.

use super::RaftNode;
use crate::raft::error::RaftNodeError;
use crate::raft::forward_wire::{ForwardRequest, ForwardResponse};
use crate::raft::leader_link::map_check_error;
use crate::raft::retry::{self, Repeat};
use crate::store::lease::LeaseRecord;

impl RaftNode {
    /// Refreshes lease `id` on the leader; returns its TTL in ms.
    pub async fn lease_keepalive(&self, id: i64) -> Result<i64, RaftNodeError> {
        match self.on_leader(ForwardRequest::KeepAlive(id)).await? {
            ForwardResponse::KeptAlive(ttl) => Ok(ttl),
            other => Err(RaftNodeError::Stopped(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    /// Lease `id`'s remaining time in ms, by the leader's clock.
    pub async fn lease_remaining(&self, id: i64) -> Result<i64, RaftNodeError> {
        match self.on_leader(ForwardRequest::LeaseRemaining(id)).await? {
            ForwardResponse::Remaining(ms) => Ok(ms),
            other => Err(RaftNodeError::Stopped(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    /// Runs a lease request here if this member leads, else on the leader. Repeating
    /// one is harmless (a keepalive twice is a keepalive), so any failure short of a
    /// final one is retried until the leader wait runs out.
    async fn on_leader(&self, req: ForwardRequest) -> Result<ForwardResponse, RaftNodeError> {
        retry::on_leader(
            &self.link,
            Repeat::Harmless,
            self.link.deadline(),
            |leader| {
                let req = req.clone();
                async move {
                    if leader.id == self.link.id {
                        self.serve_forwarded(req).await
                    } else {
                        self.link.forward(&leader, req).await
                    }
                }
            },
        )
        .await
    }

    /// Lease `id` as this (leading) member's store has it. A new leader may not yet have
    /// applied a grant its predecessor committed, so "absent" is only believed after
    /// the state machine has caught up with everything committed.
    pub(super) async fn local_lease(&self, id: i64) -> Result<LeaseRecord, RaftNodeError> {
        let read = || {
            let reader = self.db.reader();
            crate::store::overlay::Backing::lease(&reader, id)
                .map_err(|e| RaftNodeError::Stopped(format!("storage: {e}")))
        };
        if let Some(lease) = read()? {
            return Ok(lease);
        }
        self.link
            .raft
            .ensure_linearizable()
            .await
            .map_err(|e| map_check_error(e, &self.link.client_addrs))?;
        read()?.ok_or(RaftNodeError::LeaseNotFound(id))
    }
}
