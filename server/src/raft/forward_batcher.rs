//! The forward batcher: writes a follower receives go to the leader in batches, one
//! peer call per batch instead of one per write (the messages are `forward_wire`'s).
//!
//! Every forwarded call costs a peer RPC, its task wake-ups on both members and a
//! proposer hand-off on the leader; under load those, not the disk, bound how fast a
//! follower's clients can write. Like the proposer, this queue sends what arrived while
//! earlier batches were in flight as the next batch.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::error::RaftNodeError;
use super::forward_wire::{ForwardRequest, ForwardResponse};
use super::leader_link::{Leader, LeaderLink};
use super::proposer::MAX_BATCH_BYTES;
use crate::store::command::{Command, CommandResult};

/// Batches on their way to the leader at once.
const MAX_IN_FLIGHT: usize = 4;

type Reply = oneshot::Sender<Result<CommandResult, RaftNodeError>>;

/// One queued write: the leader it was meant for, the command and who waits for it.
struct Queued {
    leader: Leader,
    command: Command,
    reply: Reply,
}

/// Handle to the forwarding task.
#[derive(Clone)]
pub(super) struct ForwardBatcher {
    tx: mpsc::Sender<Queued>,
}

impl ForwardBatcher {
    /// Starts the forwarding task, with at most `max_batch` commands per call.
    pub(super) fn spawn(link: Arc<LeaderLink>, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        tokio::spawn(run(link, rx, max_batch.max(1)));
        Self { tx }
    }

    /// Sends `command` to `leader` with the other writes queued now. Fails as
    /// `LeaderLink::forward` does.
    pub(super) async fn forward(
        &self,
        leader: &Leader,
        command: Command,
    ) -> Result<CommandResult, RaftNodeError> {
        let (reply, rx) = oneshot::channel();
        let queued = Queued {
            leader: leader.clone(),
            command,
            reply,
        };
        if self.tx.send(queued).await.is_err() {
            return Err(RaftNodeError::Stopped("forward batcher stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(RaftNodeError::Stopped("forwarded write dropped".into())))
    }
}

async fn run(link: Arc<LeaderLink>, mut rx: mpsc::Receiver<Queued>, max_batch: usize) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // A write for another leader than the batch's waits for the next batch.
    let mut held: Option<Queued> = None;
    loop {
        let first = match held.take() {
            Some(q) => q,
            None => match rx.recv().await {
                Some(q) => q,
                None => return,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let leader = first.leader.clone();
        let mut bytes = first.command.approx_size();
        let mut batch = vec![first];
        while batch.len() < max_batch && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(q) if q.leader == leader => {
                    bytes += q.command.approx_size();
                    batch.push(q);
                }
                Ok(q) => {
                    held = Some(q);
                    break;
                }
                Err(_) => break,
            }
        }
        let link = link.clone();
        tokio::spawn(async move {
            let (commands, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|q| (q.command, q.reply)).unzip();
            let sent = commands.len();
            let outcome = link
                .forward(&leader, ForwardRequest::ProposeBatch(commands))
                .await;
            drop(permit);
            let results: Vec<Result<CommandResult, RaftNodeError>> = match outcome {
                Ok(ForwardResponse::ProposedBatch(results)) if results.len() == sent => results,
                Ok(other) => {
                    let e = RaftNodeError::Stopped(format!(
                        "leader {} answered a batch of {sent} writes with {other:?}",
                        leader.id
                    ));
                    (0..sent).map(|_| Err(e.clone())).collect()
                }
                Err(e) => (0..sent).map(|_| Err(e.clone())).collect(),
            };
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        });
    }
}
