//! Linearizable reads: one ReadIndex round shared by every reader that arrived before
//! the round started.
//!
//! A reader may only be released by a round that began after it arrived — otherwise it
//! could miss a write acknowledged just before its read — so waiters are collected, then
//! one round runs for all of them, and later arrivals wait for the next round.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::error::RaftNodeError;

type Waiter = oneshot::Sender<Result<(), RaftNodeError>>;

/// Handle to the barrier task.
#[derive(Clone)]
pub(super) struct ReadBarrier {
    tx: mpsc::Sender<Waiter>,
}

impl ReadBarrier {
    /// Starts the task; `round` performs one ReadIndex round and waits for local apply.
    pub(super) fn spawn<F, Fut>(round: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), RaftNodeError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(Arc::new(round), rx));
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

async fn run<F, Fut>(round: Arc<F>, mut rx: mpsc::Receiver<Waiter>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), RaftNodeError>> + Send + 'static,
{
    while let Some(first) = rx.recv().await {
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let result = round().await;
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}
