//! Watches: fan-out of applied events to watchers and replay from the history.
//!
//! Apply never waits for a watcher: the hub keeps a bounded ring of recent event
//! batches; a watcher that falls behind it catches up from the stored history, and one
//! that falls behind the retained history is cancelled with the compact revision.

pub mod hub;
pub mod matcher;
pub mod watcher;

pub use hub::{EventBatch, HistoryError, HistorySource, Hub};
pub use matcher::{Scope, WatchSpec};
