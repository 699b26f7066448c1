//! Linearizable reads: a ReadIndex round (openraft `ensure_linearizable`) shared by every
//! reader that arrived before the round started.
//!
//! A reader may only be released by a round that began after it arrived — otherwise it
//! could miss a write acknowledged just before its read — so waiters are collected, then
//! one round runs for all of them, and later arrivals wait for the next round.

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::Raft;
use tokio::sync::{mpsc, oneshot};

use super::{RaftNodeError, TypeConfig};

type Waiter = oneshot::Sender<Result<(), RaftNodeError>>;

/// Handle to the barrier task.
#[derive(Clone)]
pub(super) struct ReadBarrier {
    tx: mpsc::Sender<Waiter>,
}

impl ReadBarrier {
    pub(super) fn spawn(raft: Raft<TypeConfig>) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(raft, rx));
        Self { tx }
    }

    /// Returns once this member has applied everything committed before the call.
    pub(super) async fn wait(&self) -> Result<(), RaftNodeError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .await
            .map_err(|_| RaftNodeError::Stopped("read barrier stopped".into()))?;
        rx.await
            .map_err(|_| RaftNodeError::Stopped("read barrier dropped".into()))?
    }
}

async fn run(raft: Raft<TypeConfig>, mut rx: mpsc::Receiver<Waiter>) {
    while let Some(first) = rx.recv().await {
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let result = raft.ensure_linearizable().await.map(|_| ()).map_err(map_error);
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

fn map_error(e: RaftError<u64, CheckIsLeaderError<u64, openraft::BasicNode>>) -> RaftNodeError {
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
