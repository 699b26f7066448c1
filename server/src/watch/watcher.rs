//! One watch: replay from the history up to the applied revision, then follow the live
//! ring, falling back to the history whenever the ring leaves it behind.
//!
//! The watcher subscribes to the ring *before* reading the history, and delivers only
//! revisions ≥ `next`, so the seam between replay and live has no gap and no duplicate.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use super::hub::{HistoryError, Hub};
use super::matcher::WatchSpec;
use crate::znode::Event;

/// Events read from the history per step (whole revisions, so possibly a few more).
const HISTORY_CHUNK: usize = 1000;
/// A message is closed at the next revision boundary once its data passes this size.
const MESSAGE_BYTES: usize = 1 << 20;

/// How a watch was asked for.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Which events.
    pub spec: WatchSpec,
    /// First revision to deliver; 0 means the next one.
    pub start_revision: i64,
    /// Idle time after which a progress notice is sent, if asked.
    pub progress_notify: Option<Duration>,
}

/// What a watch sends to its stream.
#[derive(Debug, Clone)]
pub enum WatchMessage {
    /// Matching events of whole revisions, in order.
    Events(Vec<Event>),
    /// Every matching event up to this revision has been delivered.
    Progress(i64),
    /// The watch ended.
    Canceled {
        /// Why, for people.
        reason: String,
        /// Newest compacted revision, when that is why.
        compact_revision: i64,
    },
}

/// Where a watch's messages go: the client's stream (converted there, in the watcher's
/// own task, so a message takes no extra hop), or a channel for in-server watchers.
pub trait WatchSink: Send + Sync + 'static {
    /// Delivers `msg` of watch `id`, waiting for room; false once the receiver is gone.
    fn send(&self, id: i64, msg: WatchMessage) -> impl Future<Output = bool> + Send;
}

impl WatchSink for mpsc::Sender<(i64, WatchMessage)> {
    async fn send(&self, id: i64, msg: WatchMessage) -> bool {
        mpsc::Sender::send(self, (id, msg)).await.is_ok()
    }
}

/// Runs watch `id` until its sink closes or it is cancelled (by aborting the task).
/// `progress` is bumped by the stream on each progress request.
pub async fn run(
    hub: Arc<Hub>,
    id: i64,
    opts: WatchOptions,
    out: impl WatchSink,
    mut progress: watch::Receiver<u64>,
) {
    let mut next = if opts.start_revision > 0 {
        opts.start_revision
    } else {
        hub.applied_revision() + 1
    };
    let send = |msg: WatchMessage| out.send(id, msg);
    let idle = opts.progress_notify.unwrap_or(Duration::from_secs(3600));
    'resync: loop {
        let mut ring = hub.subscribe();
        // Catch up from the history.
        loop {
            let applied = hub.applied_revision();
            if next > applied {
                break;
            }
            let history = hub.history().clone();
            let from = next;
            let read =
                tokio::task::spawn_blocking(move || history.events_from(from, HISTORY_CHUNK)).await;
            let events = match read {
                Ok(Ok(events)) => events,
                Ok(Err(HistoryError::Compacted {
                    compact_revision, ..
                })) => {
                    send(WatchMessage::Canceled {
                        reason: format!(
                            "revision {next} is compacted (history is kept from revision {}); re-read the state and watch from compact_revision + 1",
                            compact_revision + 1
                        ),
                        compact_revision,
                    })
                    .await;
                    return;
                }
                Ok(Err(e)) => {
                    send(WatchMessage::Canceled {
                        reason: e.to_string(),
                        compact_revision: 0,
                    })
                    .await;
                    return;
                }
                Err(e) => {
                    send(WatchMessage::Canceled {
                        reason: format!("history read failed: {e}"),
                        compact_revision: 0,
                    })
                    .await;
                    return;
                }
            };
            let Some(last) = events.last().map(|e| e.revision) else {
                next = applied + 1;
                break;
            };
            if !deliver(&send, &opts.spec, events, next).await {
                return;
            }
            next = last + 1;
        }
        // Follow the ring.
        loop {
            tokio::select! {
                batch = ring.recv() => match batch {
                    Ok(batch) => {
                        if batch.resync {
                            continue 'resync;
                        }
                        let fresh: Vec<Event> = batch
                            .events
                            .iter()
                            .filter(|e| e.revision >= next)
                            .cloned()
                            .collect();
                        if !deliver(&send, &opts.spec, fresh, next).await {
                            return;
                        }
                        next = next.max(batch.revision + 1);
                    }
                    // Fell off the ring: catch up from the history instead.
                    Err(RecvError::Lagged(_)) => {
                        hub.note_fallback();
                        continue 'resync;
                    }
                    Err(RecvError::Closed) => return,
                },
                changed = progress.changed() => {
                    if changed.is_err() || !send(WatchMessage::Progress(next - 1)).await {
                        return;
                    }
                }
                _ = tokio::time::sleep(idle), if opts.progress_notify.is_some() => {
                    if !send(WatchMessage::Progress(next - 1)).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends the events matching `spec` with revision ≥ `from`, split into messages only at
/// revision boundaries. Returns false if the stream is gone.
async fn deliver<F, Fut>(send: &F, spec: &WatchSpec, events: Vec<Event>, from: i64) -> bool
where
    F: Fn(WatchMessage) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut message: Vec<Event> = Vec::new();
    let mut bytes = 0;
    for e in events {
        if e.revision < from || !spec.matches(&e) {
            continue;
        }
        if bytes >= MESSAGE_BYTES && message.last().map(|m| m.revision) != Some(e.revision) {
            if !send(WatchMessage::Events(std::mem::take(&mut message))).await {
                return false;
            }
            bytes = 0;
        }
        bytes += e.node.data.len() + e.prev.as_ref().map_or(0, |p| p.data.len()) + e.path.len();
        message.push(e);
    }
    if message.is_empty() {
        return true;
    }
    send(WatchMessage::Events(message)).await
}
