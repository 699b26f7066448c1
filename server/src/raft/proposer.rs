//! Group commit: client commands queue here and leave as one Raft log entry per batch.
//!
//! openraft waits for one fsync per append, so throughput comes from putting many
//! commands in each entry: while one batch is being replicated and fsynced, the next one
//! fills. A command is acknowledged only after its entry is committed and applied.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::error::ClientWriteError;
use openraft::Raft;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::error::RaftNodeError;
use super::types::TypeConfig;
use crate::store::command::{Batch, Command, CommandResult};

/// Batches in flight at once: one being made durable while the next fills is enough to
/// keep the disk busy without reordering much.
const MAX_IN_FLIGHT: usize = 2;

/// A batch stops growing past this many bytes of payload, so one log entry (and one
/// peer message of a few entries) stays small even with large znode data.
pub(super) const MAX_BATCH_BYTES: usize = 2 << 20;

type Reply = oneshot::Sender<Result<CommandResult, RaftNodeError>>;

/// Handle to the batching task.
#[derive(Clone)]
pub(super) struct Proposer {
    tx: mpsc::Sender<(Command, Reply)>,
}

impl Proposer {
    /// Starts the batching task for `raft`, with at most `max_batch` commands per entry.
    pub(super) fn spawn(raft: Raft<TypeConfig>, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        tokio::spawn(run(raft, rx, max_batch.max(1)));
        Self { tx }
    }

    /// Proposes one command and waits for its applied result.
    pub(super) async fn propose(&self, command: Command) -> Result<CommandResult, RaftNodeError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((command, reply))
            .await
            .map_err(|_| RaftNodeError::Stopped("proposer stopped".into()))?;
        rx.await
            .map_err(|_| RaftNodeError::Stopped("proposal dropped".into()))?
    }
}

async fn run(raft: Raft<TypeConfig>, mut rx: mpsc::Receiver<(Command, Reply)>, max_batch: usize) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for room first, so commands arriving meanwhile join this batch.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.0.approx_size();
        let mut pending = vec![first];
        while pending.len() < max_batch && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += p.0.approx_size();
                    pending.push(p);
                }
                Err(_) => break,
            }
        }
        let (commands, replies): (Vec<_>, Vec<_>) = pending.into_iter().unzip();
        // The leader's clock stamp; apply uses it instead of reading a clock.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let batch = Batch { now_ms, commands };
        // Submitting in the loop (not in the spawned task) keeps batches in queue order.
        match raft.client_write_ff(batch).await {
            Err(fatal) => {
                let e = RaftNodeError::Stopped(fatal.to_string());
                for r in replies {
                    let _ = r.send(Err(e.clone()));
                }
            }
            Ok(response) => {
                tokio::spawn(async move {
                    let outcome = response.await;
                    drop(permit);
                    match outcome {
                        Ok(Ok(resp)) => {
                            let mut results = resp.data.results.into_iter();
                            for r in replies {
                                let res = results.next().ok_or_else(|| {
                                    RaftNodeError::Stopped("apply returned too few results".into())
                                });
                                let _ = r.send(res);
                            }
                        }
                        Ok(Err(e)) => {
                            let e = map_write_error(e);
                            for r in replies {
                                let _ = r.send(Err(e.clone()));
                            }
                        }
                        Err(_) => {
                            for r in replies {
                                let _ = r.send(Err(RaftNodeError::OutcomeUnknown(
                                    "the Raft node dropped the write before it committed".into(),
                                )));
                            }
                        }
                    }
                });
            }
        }
    }
}

fn map_write_error(e: ClientWriteError<u64, openraft::BasicNode>) -> RaftNodeError {
    match e {
        // Also sent when the entry was appended and later truncated by a new leader: a
        // copy may survive on another member and still commit, so this is not a clean
        // "not applied".
        ClientWriteError::ForwardToLeader(f) => RaftNodeError::OutcomeUnknown(format!(
            "leadership moved (to {}) before the write committed",
            f.leader_id
                .map_or("an unknown member".to_string(), |id| format!("member {id}"))
        )),
        ClientWriteError::ChangeMembershipError(e) => RaftNodeError::Unavailable(e.to_string()),
    }
}
