//! openraft state machine on RocksDB. `apply` runs the pure `store::apply` over an
//! overlay and commits each applied batch in one `WriteBatch` together with
//! `last_applied` and the membership, so the tree and the applied index never disagree.

// openraft's `StorageError` is large, but these signatures are openraft's own.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    BasicNode, Entry, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageError,
    StorageIOError, StoredMembership,
};
use tokio::sync::watch;

use super::applied_meta::{
    self, applied_state, derive_cluster_id, AppliedState, KEY_CLUSTER_ID, KEY_LAST_APPLIED,
    KEY_MEMBERSHIP,
};
use super::io_thread::IoThread;
use super::snapshot_buffer::{SnapshotBuffer, DEFAULT_MAX_SNAPSHOT_BYTES};
pub use super::snapshot_store::decode_snapshot_file;
use super::snapshot_store::SnapshotStore;
use super::types::TypeConfig;
use crate::store::apply::apply_command;
use crate::store::command::BatchResult;
use crate::store::db::{Db, SharedDb};
use crate::store::overlay::Overlay;
use crate::store::StoreError;
use crate::watch::Hub;

/// The replicated state machine.
pub struct StateMachine {
    db: SharedDb,
    snapshots: SnapshotStore,
    /// Revision after the last applied batch, for readers waiting on progress.
    revision_tx: Arc<watch::Sender<i64>>,
    /// Snapshots received from a leader and installed here since start.
    installs: Arc<std::sync::atomic::AtomicU64>,
    /// The cluster id once known: read at start, then set by the apply or snapshot
    /// install that first records it. It never changes after that, so readers need no
    /// storage access (and cannot mistake a storage error for "no id yet").
    cluster_id: Arc<OnceLock<u64>>,
    /// Largest snapshot accepted from a leader, in bytes.
    max_snapshot_bytes: u64,
    /// Where applied events go to watchers.
    hub: Arc<Hub>,
    /// Runs apply: its RocksDB write can wait behind a log fsync in RocksDB's write
    /// queue, which must not hold up an async worker.
    apply_io: IoThread,
}

impl StateMachine {
    /// State machine over `db`, keeping its latest snapshot under `snapshot_dir`.
    pub fn new(db: SharedDb, snapshot_dir: PathBuf, hub: Arc<Hub>) -> Result<Self, StoreError> {
        let snapshots = SnapshotStore::open(snapshot_dir)?;
        let reader = db.reader();
        let revision = crate::store::overlay::Backing::revision(&reader)?;
        drop(reader);
        let (tx, _) = watch::channel(revision);
        let cluster_id = Arc::new(OnceLock::new());
        if let Some(id) = applied_meta::cluster_id(&db)? {
            let _ = cluster_id.set(id);
        }
        Ok(Self {
            db,
            snapshots,
            revision_tx: Arc::new(tx),
            installs: Arc::default(),
            cluster_id,
            max_snapshot_bytes: DEFAULT_MAX_SNAPSHOT_BYTES,
            hub,
            apply_io: IoThread::spawn("corral-apply")?,
        })
    }

    /// Accept snapshots from a leader of at most `cap` bytes (default
    /// [`DEFAULT_MAX_SNAPSHOT_BYTES`]).
    pub fn with_max_snapshot_bytes(mut self, cap: u64) -> Self {
        self.max_snapshot_bytes = cap;
        self
    }

    /// The cluster id as this state machine knows it (unset until the bootstrap
    /// membership is applied or a snapshot brings it).
    pub fn cluster_id_cell(&self) -> Arc<OnceLock<u64>> {
        self.cluster_id.clone()
    }

    /// Counter of snapshots installed from a leader since start.
    pub fn install_counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.installs.clone()
    }

    /// Receives the revision after each applied batch.
    pub fn revision_watch(&self) -> watch::Receiver<i64> {
        self.revision_tx.subscribe()
    }

    /// Applies entries synchronously (on the apply thread), publishing the new revision
    /// on `revision_tx` and the events to `hub`; no RocksDB snapshot lives across an
    /// await.
    fn apply_sync(
        db: &Db,
        revision_tx: &watch::Sender<i64>,
        hub: &Hub,
        cluster_id: &OnceLock<u64>,
        entries: Vec<Entry<TypeConfig>>,
    ) -> Result<Vec<BatchResult>, StorageError<u64>> {
        let reader = db.reader();
        let mut tree = Overlay::new(&reader);
        let mut responses = Vec::with_capacity(entries.len());
        let mut last_applied = None;
        let mut membership = None;
        let mut new_cluster_id = None;
        let has_cluster_id = applied_meta::cluster_id(db)
            .map_err(|e| StorageIOError::read_state_machine(&e))?
            .is_some();
        for entry in entries {
            last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(BatchResult::default()),
                EntryPayload::Membership(m) => {
                    if !has_cluster_id && new_cluster_id.is_none() {
                        new_cluster_id = Some(derive_cluster_id(&m));
                    }
                    membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    responses.push(BatchResult::default());
                }
                EntryPayload::Normal(batch) => {
                    let mut results = Vec::with_capacity(batch.commands.len());
                    for command in &batch.commands {
                        let r = apply_command(&mut tree, batch.now_ms, command)
                            .map_err(|e| StorageIOError::apply(entry.log_id, &e))?;
                        results.push(r);
                    }
                    responses.push(BatchResult { results });
                }
            }
        }
        let revision = tree
            .revision()
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        let layer = tree.into_layer();
        drop(reader);
        let mut meta = Vec::new();
        if let Some(id) = last_applied {
            meta.push((
                KEY_LAST_APPLIED,
                bincode::serialize(&Some(id))
                    .map_err(|e| StorageIOError::write_state_machine(&e))?,
            ));
        }
        if let Some(m) = &membership {
            meta.push((
                KEY_MEMBERSHIP,
                bincode::serialize(m).map_err(|e| StorageIOError::write_state_machine(&e))?,
            ));
        }
        if let Some(id) = new_cluster_id {
            meta.push((
                KEY_CLUSTER_ID,
                bincode::serialize(&id).map_err(|e| StorageIOError::write_state_machine(&e))?,
            ));
        }
        let events = db
            .commit_applied(layer, &meta)
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        if let Some(id) = new_cluster_id {
            let _ = cluster_id.set(id);
        }
        revision_tx.send_replace(revision);
        // Only after the batch is in RocksDB: a watcher that misses it live finds it in
        // the history.
        hub.publish(events, revision);
        Ok(responses)
    }
}

/// Takes snapshots (RocksDB checkpoints) of the state machine's database.
pub struct SnapshotBuilder {
    db: SharedDb,
    snapshots: SnapshotStore,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// openraft keeps only the metadata of a snapshot it asked for (to purge the log
    /// behind it), so the data stays in the checkpoint until a lagging member needs it:
    /// the returned snapshot's data is empty.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let (db, snapshots) = (self.db.clone(), self.snapshots.clone());
        let meta = tokio::task::spawn_blocking(move || snapshots.take(&db))
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotBuffer::new(Vec::new(), 0)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<AppliedState, StorageError<u64>> {
        applied_state(&self.db).map_err(|e| StorageIOError::read_state_machine(&e).into())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResult>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let (db, revision_tx, hub) = (self.db.clone(), self.revision_tx.clone(), self.hub.clone());
        let cluster_id = self.cluster_id.clone();
        self.apply_io
            .run(move || Self::apply_sync(&db, &revision_tx, &hub, &cluster_id, entries))
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotBuffer>, StorageError<u64>> {
        Ok(Box::new(SnapshotBuffer::new(
            Vec::new(),
            self.max_snapshot_bytes,
        )))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<SnapshotBuffer>,
    ) -> Result<(), StorageError<u64>> {
        let err = |e: &dyn std::error::Error| {
            StorageIOError::write_snapshot(
                Some(meta.signature()),
                openraft::AnyError::error(e.to_string()),
            )
        };
        let data = snapshot.into_inner();
        let last_applied = bincode::serialize(&meta.last_log_id).map_err(|e| err(&e))?;
        let membership = bincode::serialize(&meta.last_membership).map_err(|e| err(&e))?;
        // Decoding the whole dump and its synced write take as long as the state is
        // large (and the disk slow): on the apply thread, not an async worker, where
        // they would stall heartbeats and every request on it.
        let (db, snapshots) = (self.db.clone(), self.snapshots.clone());
        let (cluster_id, revision) = self
            .apply_io
            .run(move || -> Result<_, StoreError> {
                db.import_state(
                    &data,
                    &[
                        (KEY_LAST_APPLIED, last_applied),
                        (KEY_MEMBERSHIP, membership),
                    ],
                )?;
                drop(data);
                // The installed state becomes this member's current snapshot, for
                // members that lag behind it in turn.
                snapshots.take(&db)?;
                let cluster_id = applied_meta::cluster_id(&db)?;
                let revision = crate::store::overlay::Backing::revision(&db.reader())?;
                Ok((cluster_id, revision))
            })
            .await
            .map_err(|e| err(&e))?
            .map_err(|e| err(&e))?;
        if let Some(id) = cluster_id {
            let _ = self.cluster_id.set(id);
        }
        self.revision_tx.send_replace(revision);
        self.hub.resync(revision);
        self.installs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(snapshot = %meta.snapshot_id, revision, "installed snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let snapshots = self.snapshots.clone();
        let loaded = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(loaded.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(SnapshotBuffer::new(data, u64::MAX)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use openraft::{CommittedLeaderId, LogId};

    use super::*;
    use crate::store::db::Sync;

    fn meta() -> SnapshotMeta<u64, BasicNode> {
        SnapshotMeta {
            last_log_id: Some(LogId {
                leader_id: CommittedLeaderId {
                    term: 1,
                    node_id: 1,
                },
                index: 5,
            }),
            last_membership: StoredMembership::default(),
            snapshot_id: "1-1-5".into(),
        }
    }

    fn state_machine(dir: &std::path::Path) -> (SharedDb, StateMachine) {
        let db = Arc::new(Db::open(&dir.join("db"), Sync::Always).expect("open"));
        let hub = Arc::new(Hub::new(db.clone(), 0, 16));
        let sm = StateMachine::new(db.clone(), dir.join("snapshots"), hub).expect("sm");
        (db, sm)
    }

    /// The state dump of a fresh database: a valid snapshot's data.
    fn dump(dir: &std::path::Path) -> Vec<u8> {
        let source = Db::open(&dir.join("source"), Sync::Never).expect("open");
        source.export_state(&[]).expect("export").0
    }

    // The default test runtime has one thread: a blocking call in the install stops
    // the ticker for as long as it blocks.
    #[tokio::test]
    async fn installing_a_snapshot_does_not_block_the_async_worker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dump(dir.path());
        let (db, mut sm) = state_machine(dir.path());
        // A slow disk: the install's synced write takes at least this long.
        db.set_fsync_delay(Duration::from_millis(400));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = tokio::spawn({
            let done = done.clone();
            async move {
                let mut longest = Duration::ZERO;
                while !done.load(Ordering::Relaxed) {
                    let before = Instant::now();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    longest = longest.max(before.elapsed());
                }
                longest
            }
        });
        // Let the ticker start ticking before the install begins.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let installed = sm
            .install_snapshot(&meta(), Box::new(SnapshotBuffer::new(data, u64::MAX)))
            .await;
        done.store(true, Ordering::Relaxed);
        let longest = ticker.await.expect("ticker");
        installed.expect("install");
        assert!(
            longest < Duration::from_millis(200),
            "the runtime's only worker was blocked for {longest:?}"
        );
        assert_eq!(
            applied_state(&db).expect("applied").0,
            meta().last_log_id,
            "installed"
        );
    }

    #[tokio::test]
    async fn a_snapshot_larger_than_the_cap_is_refused_with_a_clear_error() {
        use tokio::io::{AsyncSeekExt, AsyncWriteExt};
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, sm) = state_machine(dir.path());
        let mut sm = sm.with_max_snapshot_bytes(1000);
        let mut buffer = sm.begin_receiving_snapshot().await.expect("begin");
        buffer.write_all(&[7; 600]).await.expect("under the cap");
        let err = buffer.write_all(&[7; 600]).await.expect_err("past the cap");
        assert!(
            err.to_string().contains("1000-byte cap"),
            "the error names the cap: {err}"
        );
        // A chunk at a far offset is refused too, before anything is allocated.
        let mut buffer = sm.begin_receiving_snapshot().await.expect("begin");
        buffer
            .seek(std::io::SeekFrom::Start(1 << 40))
            .await
            .expect("seek");
        assert!(buffer.write_all(&[7; 10]).await.is_err());
        assert!(buffer.into_inner().is_empty());
    }
}
