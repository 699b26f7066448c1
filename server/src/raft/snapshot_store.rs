//! Where a member keeps its current Raft snapshot: a RocksDB checkpoint of its own
//! database, taken when openraft asks for a snapshot (so it can purge the log behind it)
//! and serialized only when a lagging member needs it sent.
//!
//! Exporting the whole state at every snapshot cost each member a full copy and encoding
//! of the state (the event history dominates it) every `--snapshot-every-entries`
//! entries; under write load that halved throughput for about two seconds each time. A
//! checkpoint costs a memtable flush and hard links.
//!
//! Layout under the snapshot directory: `checkpoint/` is the current snapshot;
//! `checkpoint.tmp/` one being made; `checkpoint.old/` the previous one while the new one
//! is moved into place (used if a crash leaves no `checkpoint/`). `current.snap`, the
//! serialized snapshot file of earlier versions, is still read when no checkpoint exists.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::SnapshotMeta;
use openraft::BasicNode;
use serde::{Deserialize, Serialize};

use super::applied_meta::applied_state;
use crate::store::db::Db;
use crate::store::StoreError;

const CURRENT: &str = "checkpoint";
const MAKING: &str = "checkpoint.tmp";
const PREVIOUS: &str = "checkpoint.old";
const LEGACY_FILE: &str = "current.snap";

/// A snapshot file of earlier versions: its metadata and the serialized state.
#[derive(Serialize, Deserialize)]
struct LegacySnapshot {
    meta: SnapshotMeta<u64, BasicNode>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// Decodes a snapshot file as earlier versions wrote it (public for the fuzz targets).
pub fn decode_snapshot_file(
    bytes: &[u8],
) -> Result<(SnapshotMeta<u64, BasicNode>, Vec<u8>), StoreError> {
    let stored: LegacySnapshot = super::log_store::decode(bytes)?;
    Ok((stored.meta, stored.data))
}

/// The snapshots of one member. Clones share the lock that keeps two checkpoints from
/// being made at once (a build and an install may overlap).
#[derive(Clone)]
pub(super) struct SnapshotStore {
    dir: PathBuf,
    making: Arc<Mutex<()>>,
}

impl SnapshotStore {
    /// Snapshots kept under `dir` (created if missing).
    pub(super) fn open(dir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            making: Arc::default(),
        })
    }

    /// Makes the state of `db` as it is now the current snapshot and returns its
    /// metadata. Blocking: run it off the async workers.
    pub(super) fn take(&self, db: &Db) -> Result<SnapshotMeta<u64, BasicNode>, StoreError> {
        // Checkpoints are made one at a time, so the current one only ever moves forward.
        let _making = self
            .making
            .lock()
            .map_err(|_| StoreError::Corrupt("a snapshot build panicked".into()))?;
        let making = self.dir.join(MAKING);
        remove_if_present(&making)?;
        db.checkpoint(&making)?;
        let meta = meta_of(&Db::open_checkpoint(&making)?)?;
        let current = self.dir.join(CURRENT);
        let previous = self.dir.join(PREVIOUS);
        remove_if_present(&previous)?;
        if current.exists() {
            std::fs::rename(&current, &previous)?;
        }
        std::fs::rename(&making, &current)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        remove_if_present(&previous)?;
        match std::fs::remove_file(self.dir.join(LEGACY_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        Ok(meta)
    }

    /// The current snapshot, serialized for sending: its metadata and the state dump that
    /// `Db::import_state` takes. Blocking.
    #[allow(clippy::type_complexity)]
    pub(super) fn load(
        &self,
    ) -> Result<Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>, StoreError> {
        for name in [CURRENT, PREVIOUS] {
            let dir = self.dir.join(name);
            if dir.exists() {
                // Read-only and never written again, so the metadata and the dump agree.
                let copy = Db::open_checkpoint(&dir)?;
                let (data, _) = copy.export_state(&[])?;
                return Ok(Some((meta_of(&copy)?, data)));
            }
        }
        match std::fs::read(self.dir.join(LEGACY_FILE)) {
            Ok(bytes) => Ok(Some(decode_snapshot_file(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn remove_if_present(dir: &Path) -> Result<(), StoreError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// The metadata of a snapshot of `db`'s state. The id is derived from the position:
/// two snapshots at one log id hold the same state.
fn meta_of(db: &Db) -> Result<SnapshotMeta<u64, BasicNode>, StoreError> {
    let (last_log_id, last_membership) = applied_state(db)?;
    let snapshot_id = match last_log_id {
        Some(id) => format!("{}-{}", id.leader_id, id.index),
        None => "empty".to_string(),
    };
    Ok(SnapshotMeta {
        last_log_id,
        last_membership,
        snapshot_id,
    })
}
