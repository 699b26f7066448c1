//! openraft log storage (storage-v2) on RocksDB: entries, vote, committed and purge
//! marker. Every call that openraft needs durable (append, vote, truncate, purge) is
//! fsynced before openraft is told it is done: losing a vote or an acknowledged entry
//! breaks Raft's safety.

// openraft's `StorageError` is large, but these signatures are openraft's own.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    Entry, LogId, LogState, OptionalSend, RaftLogId, RaftLogReader, StorageError, StorageIOError,
    Vote,
};

use super::io_thread::IoThread;
use super::types::TypeConfig;
use crate::store::db::SharedDb;
use crate::store::StoreError;

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_LAST_PURGED: &str = "last_purged";

/// Index of the last entry known committed, as last saved by openraft (0 if none).
pub fn committed_index(db: &crate::store::db::Db) -> Result<u64, crate::store::StoreError> {
    match db.raft_meta(KEY_COMMITTED)? {
        Some(bytes) => {
            let committed: Option<LogId<u64>> = bincode::deserialize(&bytes)?;
            Ok(committed.map(|l| l.index).unwrap_or(0))
        }
        None => Ok(0),
    }
}

/// Decodes a bincode value read back from disk (log entries, Raft metadata, snapshot
/// files) or received from a peer. Never panics on malformed bytes: it returns an error.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}

/// The Raft log, in the `log` and `raft_meta` column families.
#[derive(Clone)]
pub struct LogStore {
    db: SharedDb,
    /// Runs the synced writes (append, vote, truncate, purge), in the order submitted.
    io: IoThread,
}

impl LogStore {
    /// Log store over `db`, with its own I/O thread.
    pub fn new(db: SharedDb) -> std::io::Result<Self> {
        Ok(Self {
            db,
            io: IoThread::spawn("corral-log-io")?,
        })
    }

    /// Runs a synced write on the I/O thread.
    async fn synced<F>(&self, write: F) -> Result<(), StoreError>
    where
        F: FnOnce(&crate::store::db::Db) -> Result<(), StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        self.io
            .run(move || write(&db))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    fn meta<T: for<'de> serde::Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError<u64>> {
        let bytes = self
            .db
            .raft_meta(key)
            .map_err(|e| StorageIOError::read(&e))?;
        bytes
            .map(|b| bincode::deserialize(&b).map_err(|e| StorageIOError::read(&e).into()))
            .transpose()
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => x.saturating_add(1),
            Bound::Excluded(x) => *x,
            Bound::Unbounded => u64::MAX,
        };
        let raw = self
            .db
            .log_range(start, end)
            .map_err(|e| StorageIOError::read_logs(&e))?;
        raw.into_iter()
            .map(|(_, bytes)| {
                bincode::deserialize(&bytes).map_err(|e| StorageIOError::read_logs(&e).into())
            })
            .collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged_log_id: Option<LogId<u64>> = self.meta(KEY_LAST_PURGED)?;
        let last = self
            .db
            .log_last()
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let last_log_id = match last {
            Some((_, bytes)) => {
                let entry: Entry<TypeConfig> =
                    bincode::deserialize(&bytes).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(*entry.get_log_id())
            }
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let bytes = bincode::serialize(vote).map_err(|e| StorageIOError::write_vote(&e))?;
        self.synced(move |db| db.set_raft_meta(KEY_VOTE, &bytes, true))
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.meta(KEY_VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        // Not synced: losing it only means re-learning the commit index from the leader.
        let bytes = bincode::serialize(&committed).map_err(|e| StorageIOError::write(&e))?;
        self.db
            .set_raft_meta(KEY_COMMITTED, &bytes, false)
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.meta::<Option<LogId<u64>>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes = bincode::serialize(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            encoded.push((entry.get_log_id().index, bytes));
        }
        // One synced write for every entry openraft handed us: this is where group commit
        // pays off, as each entry already carries a whole batch of client commands.
        match self.synced(move |db| db.log_append(&encoded)).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.synced(move |db| db.log_truncate(log_id.index))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let bytes = bincode::serialize(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        // Synced, and the WAL is shared: this also makes durable every state-machine write
        // that the snapshot behind this purge was built from.
        self.synced(move |db| db.log_purge(log_id.index, KEY_LAST_PURGED, &bytes))
            .await
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
