//! Writes: a client command proposed through the leader (here, or forwarded in a batch
//! from a follower) and acknowledged once committed and applied.

use std::time::Instant;

use super::RaftNode;
use crate::raft::error::RaftNodeError;
use crate::raft::retry::{self, Repeat};
use crate::store::command::{Command, CommandResult};

impl RaftNode {
    /// Proposes a command through the leader and waits until it is committed by a quorum
    /// and applied on the leader. Retried by the rule of `retry`: a write with a request
    /// id is deduplicated by the state machine, so even a submission whose outcome is
    /// unknown may be sent again; a plain one only while it certainly was not carried out.
    pub async fn propose(&self, command: Command) -> Result<CommandResult, RaftNodeError> {
        let repeat = if matches!(command, Command::Once { .. }) {
            Repeat::Deduplicated
        } else {
            Repeat::Unsafe
        };
        let deadline = self.link.deadline();
        retry::on_leader(&self.link, repeat, deadline, |leader| {
            let command = command.clone();
            async move {
                if leader.id == self.link.id {
                    self.propose_here(command, deadline).await
                } else {
                    let result = self.forwarder.forward(&leader, command).await?;
                    self.catch_up_to(result.revision, deadline).await;
                    Ok(result)
                }
            }
        })
        .await
    }

    /// Proposes `command` on this member, which leads, waiting for it to commit until
    /// `deadline`. A leader that has lost its quorum keeps leading in openraft 0.9 but
    /// commits nothing, so without this bound the write would wait for as long as the
    /// client does. Past the deadline the outcome is unknown: the command may be in this
    /// leader's log (or still in the proposer's queue) and commit once a quorum is back.
    pub(super) async fn propose_here(
        &self,
        command: Command,
        deadline: Instant,
    ) -> Result<CommandResult, RaftNodeError> {
        match tokio::time::timeout_at(deadline.into(), self.proposer.propose(command)).await {
            Ok(result) => result,
            Err(_) => Err(RaftNodeError::OutcomeUnknown(format!(
                "the leader (member {}) did not commit the write within {:?}: a majority of \
                 members may be down or cut off; it may still commit if they come back",
                self.link.id, self.link.leader_wait
            ))),
        }
    }

    /// Proposes the commands of a batch forwarded by a follower on this member, which
    /// leads; each gets its own result.
    pub(super) async fn propose_batch_here(
        &self,
        commands: Vec<Command>,
        deadline: Instant,
    ) -> Vec<Result<CommandResult, RaftNodeError>> {
        futures::future::join_all(commands.into_iter().map(|c| self.propose_here(c, deadline)))
            .await
    }

    /// Waits until this member has applied up to `revision`, the revision the leader
    /// answered a forwarded write with, so that the client's next serializable read or
    /// watch "from now" on this member includes its own write (ZooKeeper's session
    /// order). The write is done whatever happens here: if this member cannot catch up
    /// before `deadline`, the answer goes out anyway rather than as an error a client
    /// might retry.
    async fn catch_up_to(&self, revision: i64, deadline: Instant) {
        let mut applied = self.revision.clone();
        let caught_up = {
            let wait = applied.wait_for(|r| *r >= revision);
            // An error means the state machine stopped: the node is shutting down.
            tokio::time::timeout_at(deadline.into(), wait).await.is_ok()
        };
        if !caught_up {
            tracing::warn!(
                revision,
                applied = self.applied_revision(),
                "answering a forwarded write before this member applied it"
            );
        }
    }
}
