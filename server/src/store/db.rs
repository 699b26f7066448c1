//! The RocksDB seam: column families, key encodings and write options live here and
//! nowhere else. The Raft log and the state machine share one DB (and so one WAL): a
//! synced log append also makes every earlier state-machine write durable.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::auth::AuthState;
use super::keys::{child_key, history_key, lease_node_key};
use super::lease::LeaseRecord;
use super::overlay::{counters, Backing, Layer, ReapKind};
use super::session::SessionRecord;
use super::StoreError;
use crate::acl::Acl;
use crate::watch::{HistoryError, HistorySource};
use crate::znode::{Event, NodeRecord};

/// Raft log entries: big-endian index → serialized entry.
const CF_LOG: &str = "log";
/// Raft metadata: vote, committed, last purged log id.
const CF_RAFT: &str = "raft_meta";
/// Znodes: path → [`NodeRecord`].
const CF_NODES: &str = "nodes";
/// Child index: `parent \0 name` → empty.
const CF_CHILDREN: &str = "children";
/// Leases: big-endian id → lease record.
const CF_LEASES: &str = "leases";
/// State-machine metadata: revision, last applied log id, membership, counters.
const CF_SM: &str = "sm_meta";
/// Ephemeral znodes by lease: big-endian lease id + path → empty.
const CF_LEASE_NODES: &str = "lease_nodes";
/// TTL and container znodes, for the leader's reaper: path → kind byte.
const CF_REAP: &str = "reap";
/// Event history: big-endian revision + big-endian sequence → [`Event`].
const CF_HISTORY: &str = "history";
/// Client sessions for exactly-once writes: client id → [`SessionRecord`].
const CF_SESSIONS: &str = "sessions";
/// Znodes' ACLs, for znodes that have one: path → [`Acl`]. Others have the default.
const CF_ACLS: &str = "acls";

/// Column families that make up the state machine (what a snapshot carries). New ones
/// go at the end: a dump names column families by their index here.
const SM_CFS: [&str; 9] = [
    CF_NODES,
    CF_CHILDREN,
    CF_LEASES,
    CF_SM,
    CF_LEASE_NODES,
    CF_REAP,
    CF_HISTORY,
    CF_SESSIONS,
    CF_ACLS,
];

const KEY_REVISION: &[u8] = b"revision";
/// `sm_meta` key of the [`AuthState`].
const KEY_AUTH: &[u8] = b"auth";

/// Durability of writes that must survive a crash before being acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// fsync the WAL before returning (the default; required for correctness).
    Always,
    /// Skip the fsync. Unsafe: for tests that do not kill processes, never for production.
    Never,
}

/// Handle to the node's RocksDB database.
pub struct Db {
    db: DB,
    sync: Sync,
    dir: std::path::PathBuf,
    /// Injected extra time per durable write, in µs (a slow disk, for fault tests).
    fsync_delay_us: std::sync::atomic::AtomicU64,
    /// The decoded auth state, read on every request; `None` until first read after
    /// open or a state import. Apply replaces it when a batch changes it.
    auth_cache: std::sync::RwLock<Option<Arc<AuthState>>>,
}

/// Shared handle.
pub type SharedDb = Arc<Db>;

/// Serialized state machine, as shipped in a Raft snapshot.
#[derive(Serialize, Deserialize)]
struct SmDump {
    format: u32,
    /// (column family index in [`SM_CFS`], key, value). Keys and values go through
    /// `serde_bytes`: bincode writes the same bytes as for a plain `Vec<u8>` (length,
    /// then the bytes), but copies them whole instead of one element at a time, which
    /// made a 24 MB dump take seconds.
    entries: Vec<(u8, ByteBuf, ByteBuf)>,
}

const DUMP_FORMAT: u32 = 1;

impl Db {
    /// Opens (creating if needed) the database under `dir`.
    pub fn open(dir: &Path, sync: Sync) -> Result<Db, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Small, hot coordination data: keep the WAL lean and let group commit batch fsyncs.
        opts.set_max_total_wal_size(256 << 20);
        opts.increase_parallelism(2);
        let cfs = [CF_LOG, CF_RAFT]
            .into_iter()
            .chain(SM_CFS)
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        let this = Db {
            db,
            sync,
            dir: dir.to_path_buf(),
            fsync_delay_us: std::sync::atomic::AtomicU64::new(0),
            auth_cache: std::sync::RwLock::new(None),
        };
        this.ensure_root()?;
        Ok(this)
    }

    /// Opens a checkpoint made by [`Db::checkpoint`] read-only, to read the state it
    /// holds (nothing can be written through it).
    pub fn open_checkpoint(dir: &Path) -> Result<Db, StoreError> {
        let opts = Options::default();
        let cfs = [CF_LOG, CF_RAFT].into_iter().chain(SM_CFS);
        let db = DB::open_cf_for_read_only(&opts, dir, cfs, false)?;
        Ok(Db {
            db,
            sync: Sync::Never,
            dir: dir.to_path_buf(),
            fsync_delay_us: std::sync::atomic::AtomicU64::new(0),
            auth_cache: std::sync::RwLock::new(None),
        })
    }

    /// The auth state as of the last applied batch (decoded once, then cached).
    pub fn auth(&self) -> Result<Arc<AuthState>, StoreError> {
        if let Ok(cache) = self.auth_cache.read() {
            if let Some(state) = cache.as_ref() {
                return Ok(state.clone());
            }
        }
        let state = Arc::new(match self.db.get_cf(self.cf(CF_SM)?, KEY_AUTH)? {
            Some(bytes) => decode::<AuthState>(&bytes)?,
            None => AuthState::default(),
        });
        if let Ok(mut cache) = self.auth_cache.write() {
            *cache = Some(state.clone());
        }
        Ok(state)
    }

    fn forget_auth(&self) {
        if let Ok(mut cache) = self.auth_cache.write() {
            *cache = None;
        }
    }

    /// Writes a consistent copy of the whole database to `dir` (which must not exist):
    /// memtables are flushed, then table files are hard-linked, so it costs about one
    /// flush rather than a copy of the data.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StoreError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// The root znode exists from the start, at revision 0.
    fn ensure_root(&self) -> Result<(), StoreError> {
        if self.db.get_cf(self.cf(CF_NODES)?, b"/")?.is_none() {
            let mut batch = WriteBatch::default();
            batch.put_cf(self.cf(CF_NODES)?, b"/", encode(&NodeRecord::default())?);
            self.write(batch, true)?;
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Corrupt(format!("column family {name} missing")))
    }

    /// Makes every durable write take `delay` longer, as on a slow or overloaded disk.
    /// Fault injection for tests (`--unsafe-fault-injection`); zero turns it off.
    pub fn set_fsync_delay(&self, delay: std::time::Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.fsync_delay_us
            .store(us, std::sync::atomic::Ordering::Relaxed);
    }

    fn write(&self, batch: WriteBatch, durable: bool) -> Result<(), StoreError> {
        if durable {
            let delay = self
                .fsync_delay_us
                .load(std::sync::atomic::Ordering::Relaxed);
            if delay > 0 {
                std::thread::sleep(std::time::Duration::from_micros(delay));
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durable && self.sync == Sync::Always);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    // ---- Raft log ----------------------------------------------------------------

    /// Appends serialized log entries `(index, bytes)` and fsyncs before returning.
    pub fn log_append(&self, entries: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let cf = self.cf(CF_LOG)?;
        let mut batch = WriteBatch::default();
        for (index, bytes) in entries {
            batch.put_cf(cf, index.to_be_bytes(), bytes);
        }
        self.write(batch, true)
    }

    /// Serialized entries with index in `[start, end)`, in order.
    pub fn log_range(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let cf = self.cf(CF_LOG)?;
        let mut out = Vec::new();
        let start_key = start.to_be_bytes();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&start_key, Direction::Forward))
        {
            let (k, v) = item?;
            let index = decode_u64(&k)?;
            if index >= end {
                break;
            }
            out.push((index, v.to_vec()));
        }
        Ok(out)
    }

    /// The entry with the highest index, if any.
    pub fn log_last(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let cf = self.cf(CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some((decode_u64(&k)?, v.to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Deletes entries with index ≥ `from` (conflicting suffix), synced.
    pub fn log_truncate(&self, from: u64) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(CF_LOG)?, from.to_be_bytes(), u64::MAX.to_be_bytes());
        batch.delete_cf(self.cf(CF_LOG)?, u64::MAX.to_be_bytes());
        self.write(batch, true)
    }

    /// Deletes entries with index ≤ `upto` and records `meta` (the purged log id) in the
    /// same synced batch.
    pub fn log_purge(&self, upto: u64, meta_key: &str, meta: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.cf(CF_LOG)?,
            0u64.to_be_bytes(),
            upto.saturating_add(1).to_be_bytes(),
        );
        batch.put_cf(self.cf(CF_RAFT)?, meta_key.as_bytes(), meta);
        self.write(batch, true)
    }

    /// Reads a Raft metadata value.
    pub fn raft_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_RAFT)?, key.as_bytes())?)
    }

    /// Writes a Raft metadata value; `durable` fsyncs (required for the vote).
    pub fn set_raft_meta(&self, key: &str, value: &[u8], durable: bool) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_RAFT)?, key.as_bytes(), value);
        self.write(batch, durable)
    }

    // ---- State machine -------------------------------------------------------------

    /// Reads a state-machine metadata value (e.g. last applied log id).
    pub fn sm_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_SM)?, key.as_bytes())?)
    }

    /// A consistent point-in-time view of the tree.
    pub fn reader(&self) -> DbReader<'_> {
        DbReader {
            db: self,
            snap: self.db.snapshot(),
        }
    }

    /// Writes an applied batch's znode changes and metadata in one atomic `WriteBatch`.
    /// Not fsynced on its own: the log entries it came from are durable, and the next
    /// synced log write (or purge) syncs this too, since both share one WAL. Returns the
    /// layer's events, now in the history, for the watch hub.
    pub fn commit_applied(
        &self,
        layer: Layer,
        meta: &[(&str, Vec<u8>)],
    ) -> Result<Vec<Event>, StoreError> {
        let nodes = self.cf(CF_NODES)?;
        let children = self.cf(CF_CHILDREN)?;
        let sm = self.cf(CF_SM)?;
        let mut batch = WriteBatch::default();
        for (path, rec) in layer.nodes {
            match rec {
                Some(rec) => batch.put_cf(nodes, path.as_bytes(), encode(&rec)?),
                None => batch.delete_cf(nodes, path.as_bytes()),
            }
        }
        for (key, present) in layer.children {
            if present {
                batch.put_cf(children, key.as_bytes(), b"");
            } else {
                batch.delete_cf(children, key.as_bytes());
            }
        }
        if let Some(rev) = layer.revision {
            batch.put_cf(sm, KEY_REVISION, rev.to_be_bytes());
        }
        let leases = self.cf(CF_LEASES)?;
        for (id, rec) in layer.leases {
            match rec {
                Some(rec) => batch.put_cf(leases, id.to_be_bytes(), encode(&rec)?),
                None => batch.delete_cf(leases, id.to_be_bytes()),
            }
        }
        let lease_nodes = self.cf(CF_LEASE_NODES)?;
        for ((id, path), present) in layer.lease_nodes {
            let key = lease_node_key(id, &path);
            if present {
                batch.put_cf(lease_nodes, key, b"");
            } else {
                batch.delete_cf(lease_nodes, key);
            }
        }
        let reap = self.cf(CF_REAP)?;
        for (path, kind) in layer.reap {
            match kind {
                Some(kind) => batch.put_cf(reap, path.as_bytes(), [reap_byte(kind)]),
                None => batch.delete_cf(reap, path.as_bytes()),
            }
        }
        let history = self.cf(CF_HISTORY)?;
        for (key, value) in layer.counters {
            batch.put_cf(sm, key.as_bytes(), value.to_be_bytes());
            if key == counters::COMPACT_REVISION {
                batch.delete_range_cf(history, history_key(0, 0), history_key(value + 1, 0));
            }
        }
        let sessions = self.cf(CF_SESSIONS)?;
        for (id, rec) in layer.sessions {
            match rec {
                Some(rec) => batch.put_cf(sessions, id.as_bytes(), encode(&rec)?),
                None => batch.delete_cf(sessions, id.as_bytes()),
            }
        }
        let acls = self.cf(CF_ACLS)?;
        for (path, acl) in layer.acls {
            match acl {
                Some(acl) => batch.put_cf(acls, path.as_bytes(), encode(&acl)?),
                None => batch.delete_cf(acls, path.as_bytes()),
            }
        }
        if let Some(auth) = &layer.auth {
            batch.put_cf(sm, KEY_AUTH, encode(auth.as_ref())?);
        }
        let mut seq = 0u32;
        let mut last_rev = None;
        for event in &layer.events {
            if last_rev != Some(event.revision) {
                seq = 0;
                last_rev = Some(event.revision);
            }
            batch.put_cf(history, history_key(event.revision, seq), encode(event)?);
            seq += 1;
        }
        for (k, v) in meta {
            batch.put_cf(sm, k.as_bytes(), v);
        }
        self.write(batch, false)?;
        if let Some(auth) = layer.auth {
            if let Ok(mut cache) = self.auth_cache.write() {
                *cache = Some(auth);
            }
        }
        Ok(layer.events)
    }

    /// Serializes the whole state machine from one consistent RocksDB snapshot, and
    /// returns the `sm_meta` values of `meta_keys` as seen by that same snapshot.
    #[allow(clippy::type_complexity)]
    pub fn export_state(
        &self,
        meta_keys: &[&str],
    ) -> Result<(Vec<u8>, Vec<Option<Vec<u8>>>), StoreError> {
        let snap = self.db.snapshot();
        let mut entries = Vec::new();
        for (i, name) in SM_CFS.iter().enumerate() {
            for item in snap.iterator_cf(self.cf(name)?, IteratorMode::Start) {
                let (k, v) = item?;
                entries.push((
                    i as u8,
                    ByteBuf::from(k.to_vec()),
                    ByteBuf::from(v.to_vec()),
                ));
            }
        }
        let mut meta = Vec::with_capacity(meta_keys.len());
        for k in meta_keys {
            meta.push(snap.get_cf(self.cf(CF_SM)?, k.as_bytes())?);
        }
        let bytes = bincode::serialize(&SmDump {
            format: DUMP_FORMAT,
            entries,
        })?;
        Ok((bytes, meta))
    }

    /// A backup: the whole state machine serialized from one RocksDB snapshot, and the
    /// revision it holds, read from that same snapshot.
    pub fn export_backup(&self) -> Result<(Vec<u8>, i64), StoreError> {
        let (bytes, meta) = self.export_state(&["revision"])?;
        let revision = match meta.into_iter().next().flatten() {
            Some(b) => decode_u64(&b)? as i64,
            None => 0, // nothing written yet
        };
        Ok((bytes, revision))
    }

    /// Replaces the whole state machine with a serialized one plus `meta` overrides,
    /// atomically and durably.
    pub fn import_state(&self, bytes: &[u8], meta: &[(&str, Vec<u8>)]) -> Result<(), StoreError> {
        let dump = decode_dump(bytes)?;
        let mut batch = WriteBatch::default();
        for name in SM_CFS {
            let cf = self.cf(name)?;
            // Keys of every CF here are non-empty and shorter than this bound.
            batch.delete_range_cf(cf, [0u8].as_slice(), [0xffu8; 8192].as_slice());
        }
        for (i, k, v) in dump.entries {
            let name = SM_CFS.get(i as usize).ok_or_else(|| {
                StoreError::Corrupt(format!("snapshot names unknown column family #{i}"))
            })?;
            batch.put_cf(self.cf(name)?, k.as_slice(), v.as_slice());
        }
        for (k, v) in meta {
            batch.put_cf(self.cf(CF_SM)?, k.as_bytes(), v);
        }
        let written = self.write(batch, true);
        self.forget_auth();
        written
    }

    /// Size of the database's files on disk in bytes (tables, WAL and metadata), so it
    /// counts data still only in the write-ahead log too.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// A point-in-time view of the tree backed by a RocksDB snapshot.
pub struct DbReader<'a> {
    db: &'a Db,
    snap: rocksdb::Snapshot<'a>,
}

impl DbReader<'_> {
    /// Names of `parent`'s children from `parent \0 from_name` in `direction`, leaving
    /// out the first keys that `skip(key, start)` says to, and stopping at the end of
    /// `parent`'s children.
    fn child_names<'s>(
        &'s self,
        parent: &str,
        from_name: &str,
        direction: Direction,
        skip: impl Fn(&[u8], &[u8]) -> bool + 's,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        let cf = match self.db.cf(CF_CHILDREN) {
            Ok(cf) => cf,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let prefix = child_key(parent, "");
        let start = child_key(parent, from_name);
        let iter = self
            .snap
            .iterator_cf(cf, IteratorMode::From(start.as_bytes(), direction))
            .map(|item| -> Result<Vec<u8>, StoreError> { Ok(item?.0.to_vec()) })
            .skip_while(move |item| matches!(item, Ok(k) if skip(k, start.as_bytes())))
            .take_while({
                let prefix = prefix.clone();
                move |item| match item {
                    Ok(k) => k.starts_with(prefix.as_bytes()),
                    Err(_) => true,
                }
            })
            .map(move |item| {
                let k = item?;
                String::from_utf8(k[prefix.len()..].to_vec())
                    .map_err(|_| StoreError::Corrupt("child key is not UTF-8".into()))
            });
        Box::new(iter)
    }
}

impl Backing for DbReader<'_> {
    fn node(&self, path: &str) -> Result<Option<NodeRecord>, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_NODES)?, path.as_bytes())? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn scan_nodes<'s>(
        &'s self,
        prefix: &str,
        after: &str,
    ) -> Box<dyn Iterator<Item = Result<(String, NodeRecord), StoreError>> + 's> {
        let cf = match self.db.cf(CF_NODES) {
            Ok(cf) => cf,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let start = after.max(prefix).to_string();
        let prefix = prefix.to_string();
        let iter = self
            .snap
            .iterator_cf(cf, IteratorMode::From(start.as_bytes(), Direction::Forward))
            .map(|item| -> Result<(Vec<u8>, Vec<u8>), StoreError> {
                let (k, v) = item?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .skip_while(move |item| matches!(item, Ok((k, _)) if k.as_slice() == start.as_bytes()))
            .take_while(move |item| match item {
                Ok((k, _)) => k.starts_with(prefix.as_bytes()),
                Err(_) => true,
            })
            .map(|item| {
                let (k, v) = item?;
                let path = String::from_utf8(k)
                    .map_err(|_| StoreError::Corrupt("znode key is not UTF-8".into()))?;
                Ok((path, decode(&v)?))
            });
        Box::new(iter)
    }

    fn scan_children<'s>(
        &'s self,
        parent: &str,
        after_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        // Forward from `parent \0 after_name`, leaving out that key itself.
        let skip_first = !after_name.is_empty();
        self.child_names(parent, after_name, Direction::Forward, move |k, start| {
            skip_first && k == start
        })
    }

    fn scan_children_before<'s>(
        &'s self,
        parent: &str,
        before_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        // A reverse iterator from `start` begins at the last key <= start: leave out
        // `start` itself (and anything after it).
        self.child_names(parent, before_name, Direction::Reverse, |k, start| {
            k >= start
        })
    }

    fn revision(&self) -> Result<i64, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_SM)?, KEY_REVISION)? {
            Some(bytes) => Ok(decode_u64(&bytes)? as i64),
            None => Ok(0),
        }
    }

    fn lease(&self, id: i64) -> Result<Option<LeaseRecord>, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_LEASES)?, id.to_be_bytes())? {
            Some(bytes) => Ok(Some(LeaseRecord::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .snap
            .iterator_cf(self.db.cf(CF_LEASES)?, IteratorMode::Start)
        {
            let (_, v) = item?;
            out.push(LeaseRecord::decode(&v)?);
        }
        Ok(out)
    }

    fn lease_nodes<'s>(
        &'s self,
        id: i64,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        let cf = match self.db.cf(CF_LEASE_NODES) {
            Ok(cf) => cf,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let prefix = id.to_be_bytes();
        let iter = self
            .snap
            .iterator_cf(cf, IteratorMode::From(&prefix, Direction::Forward))
            .map(|item| -> Result<Vec<u8>, StoreError> { Ok(item?.0.to_vec()) })
            .take_while(move |item| match item {
                Ok(k) => k.starts_with(&prefix),
                Err(_) => true,
            })
            .map(|item| {
                let k = item?;
                String::from_utf8(k[8..].to_vec())
                    .map_err(|_| StoreError::Corrupt("lease node key is not UTF-8".into()))
            });
        Box::new(iter)
    }

    fn acl(&self, path: &str) -> Result<Option<Acl>, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_ACLS)?, path.as_bytes())? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn auth(&self) -> Result<Arc<AuthState>, StoreError> {
        self.db.auth()
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_SESSIONS)?, id.as_bytes())? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .snap
            .iterator_cf(self.db.cf(CF_SESSIONS)?, IteratorMode::Start)
        {
            let (k, v) = item?;
            let id = String::from_utf8(k.to_vec())
                .map_err(|_| StoreError::Corrupt("session key is not UTF-8".into()))?;
            out.push((id, decode(&v)?));
        }
        Ok(out)
    }

    fn counter(&self, key: &str) -> Result<Option<i64>, StoreError> {
        match self.snap.get_cf(self.db.cf(CF_SM)?, key.as_bytes())? {
            Some(bytes) => Ok(Some(decode_u64(&bytes)? as i64)),
            None => Ok(None),
        }
    }
}

fn reap_byte(kind: ReapKind) -> u8 {
    match kind {
        ReapKind::Ttl => 1,
        ReapKind::Container => 2,
    }
}

fn reap_kind(byte: u8) -> Option<ReapKind> {
    match byte {
        1 => Some(ReapKind::Ttl),
        2 => Some(ReapKind::Container),
        _ => None,
    }
}

impl Db {
    /// Every lease, by id.
    pub fn leases(&self) -> Result<Vec<LeaseRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_LEASES)?, IteratorMode::Start)
        {
            let (_, v) = item?;
            out.push(LeaseRecord::decode(&v)?);
        }
        Ok(out)
    }

    /// Every znode in the reap index, with its kind.
    pub fn reap_candidates(&self) -> Result<Vec<(String, ReapKind)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_REAP)?, IteratorMode::Start) {
            let (k, v) = item?;
            let path = String::from_utf8(k.to_vec())
                .map_err(|_| StoreError::Corrupt("reap key is not UTF-8".into()))?;
            if let Some(kind) = v.first().copied().and_then(reap_kind) {
                out.push((path, kind));
            }
        }
        Ok(out)
    }

    /// Newest compacted revision of the history (0 if never compacted).
    pub fn compact_revision(&self) -> Result<i64, StoreError> {
        Ok(self
            .reader()
            .counter(counters::COMPACT_REVISION)?
            .unwrap_or(0))
    }

    /// Revision of the oldest retained event stamped at or after `ms` (leader clock),
    /// for age-based retention; `None` if every retained event is older. Reads only the
    /// events older than `ms`, plus one.
    pub fn first_revision_since(&self, ms: i64) -> Result<Option<i64>, StoreError> {
        for item in self
            .db
            .iterator_cf(self.cf(CF_HISTORY)?, IteratorMode::Start)
        {
            let (_, v) = item?;
            let event = Event::decode(&v)?;
            if event.ts_ms >= ms {
                return Ok(Some(event.revision));
            }
        }
        Ok(None)
    }
}

impl HistorySource for Db {
    fn events_from(&self, from: i64, limit: usize) -> Result<Vec<Event>, HistoryError> {
        let storage = |e: StoreError| HistoryError::Storage(e.to_string());
        let compacted = self.compact_revision().map_err(storage)?;
        if from <= compacted {
            return Err(HistoryError::Compacted {
                requested: from,
                compact_revision: compacted,
            });
        }
        let snap = self.db.snapshot();
        let cf = self.cf(CF_HISTORY).map_err(storage)?;
        let start = history_key(from, 0);
        let mut out: Vec<Event> = Vec::new();
        for item in snap.iterator_cf(cf, IteratorMode::From(&start, Direction::Forward)) {
            let (_, v) = item.map_err(|e| storage(e.into()))?;
            let event = Event::decode(&v).map_err(|e| storage(e.into()))?;
            // Whole revisions only: stop at a revision boundary once the limit is reached.
            if out.len() >= limit && out.last().map(|e| e.revision) != Some(event.revision) {
                break;
            }
            out.push(event);
        }
        // A compaction racing with this read could have removed the start of the range.
        let compacted = self.compact_revision().map_err(storage)?;
        if from <= compacted {
            return Err(HistoryError::Compacted {
                requested: from,
                compact_revision: compacted,
            });
        }
        Ok(out)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(bincode::serialize(value)?)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(bincode::deserialize(bytes)?)
}

/// A state dump (backup or snapshot), or an error a person can act on: a file that is not
/// a dump at all is told apart from a damaged one (bincode alone says "io error").
fn decode_dump(bytes: &[u8]) -> Result<SmDump, StoreError> {
    // bincode 1 writes the leading u32 `format` as 4 little-endian bytes.
    let format = bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    match format {
        Some(DUMP_FORMAT) => {}
        Some(f) if f < 16 => {
            return Err(StoreError::BadDump(format!(
                "state dump format {f} is not supported (this version reads format {DUMP_FORMAT})"
            )))
        }
        _ => {
            return Err(StoreError::BadDump(format!(
                "not a Corral backup or snapshot: it does not start with a state dump header \
                 (format {DUMP_FORMAT}); was it made by `corralctl snapshot save`?"
            )))
        }
    }
    bincode::deserialize(bytes).map_err(|e| {
        StoreError::BadDump(format!(
            "the backup or snapshot is damaged or truncated ({} bytes): {e}",
            bytes.len()
        ))
    })
}

fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!("expected an 8-byte key, got {} bytes", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod dump_tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_backup_is_named_so_and_a_damaged_one_too() {
        for garbage in [
            &b"PK\x03\x04 a zip file, not a backup"[..],
            b"",
            b"\x01\x00",
        ] {
            let err = decode_dump(garbage).err().expect("refused").to_string();
            assert!(err.starts_with("not a Corral backup"), "{err}");
            assert!(!err.contains("io error"), "{err}");
        }
        let mut bytes = bincode::serialize(&SmDump {
            format: DUMP_FORMAT,
            entries: vec![(0, ByteBuf::from(vec![1, 2]), ByteBuf::from(vec![3; 64]))],
        })
        .expect("encode");
        assert!(decode_dump(&bytes).is_ok());
        bytes.truncate(bytes.len() - 10);
        let err = decode_dump(&bytes).err().expect("refused").to_string();
        assert!(err.contains("damaged or truncated"), "{err}");
        let later = 7u32.to_le_bytes();
        let err = decode_dump(&later).err().expect("refused").to_string();
        assert!(err.contains("format 7 is not supported"), "{err}");
    }
}
