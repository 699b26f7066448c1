//! The hub: applied event batches fan out to watchers through a bounded ring, and a
//! watcher that falls off the ring catches up from the stored history.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::znode::Event;

/// Events of one applied batch, and the revision the state machine reached with it.
#[derive(Debug)]
pub struct EventBatch {
    /// Events in revision order (possibly empty).
    pub events: Vec<Event>,
    /// Revision after the batch.
    pub revision: i64,
    /// The state jumped (a snapshot was installed): watchers must re-read the history
    /// from their position instead of trusting the ring.
    pub resync: bool,
}

/// Why history could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HistoryError {
    /// The revision asked for is compacted away.
    #[error(
        "revision {requested} is compacted; the newest compacted revision is {compact_revision}"
    )]
    Compacted {
        /// First revision asked for.
        requested: i64,
        /// Newest compacted revision.
        compact_revision: i64,
    },
    /// Storage failed.
    #[error("history storage: {0}")]
    Storage(String),
}

/// Read access to the stored event history (implemented by the store).
pub trait HistorySource: Send + Sync + 'static {
    /// Events with revision ≥ `from`, whole revisions only, stopping once at least
    /// `limit` events are collected; `Compacted` if `from` is not retained.
    fn events_from(&self, from: i64, limit: usize) -> Result<Vec<Event>, HistoryError>;
}

/// Fan-out point between apply and watchers.
pub struct Hub {
    ring: broadcast::Sender<Arc<EventBatch>>,
    applied: watch::Sender<i64>,
    history: Arc<dyn HistorySource>,
    /// Times a watcher fell off the ring and went back to the history.
    fallbacks: std::sync::atomic::AtomicU64,
}

impl Hub {
    /// A hub whose ring keeps the last `ring_batches` batches for live watchers.
    pub fn new(
        history: Arc<dyn HistorySource>,
        applied_revision: i64,
        ring_batches: usize,
    ) -> Self {
        let (ring, _) = broadcast::channel(ring_batches.max(1));
        let (applied, _) = watch::channel(applied_revision);
        Self {
            ring,
            applied,
            history,
            fallbacks: Default::default(),
        }
    }

    /// Called after each applied batch is durable in the store. Never blocks: a slow
    /// watcher loses its place in the ring and later replays from the history.
    pub fn publish(&self, events: Vec<Event>, revision: i64) {
        // The revision is raised before the batch is sent, so a watcher that subscribes
        // and then reads the revision either gets the batch live or finds it in history.
        self.applied.send_replace(revision);
        if !events.is_empty() && self.ring.receiver_count() > 0 {
            let _ = self.ring.send(Arc::new(EventBatch {
                events,
                revision,
                resync: false,
            }));
        }
    }

    /// Called after a snapshot replaced the state: every watcher re-reads the history.
    pub fn resync(&self, revision: i64) {
        self.applied.send_replace(revision);
        let _ = self.ring.send(Arc::new(EventBatch {
            events: Vec::new(),
            revision,
            resync: true,
        }));
    }

    /// Subscribes to live batches.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventBatch>> {
        self.ring.subscribe()
    }

    /// The revision the state machine has applied.
    pub fn applied_revision(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Notified whenever the applied revision moves.
    pub fn applied_watch(&self) -> watch::Receiver<i64> {
        self.applied.subscribe()
    }

    /// Records that a watcher fell behind the ring and replays from the history.
    pub fn note_fallback(&self) {
        self.fallbacks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many times watchers fell behind the ring since start.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Live watchers subscribed to the ring.
    pub fn watchers(&self) -> usize {
        self.ring.receiver_count()
    }

    /// The stored history.
    pub fn history(&self) -> &Arc<dyn HistorySource> {
        &self.history
    }
}
