//! Target `record`: bytes decoded as each bincode-encoded type Corral reads back from
//! disk or from a peer (chosen by the first byte): stored znodes, leases, sessions and
//! history events; Raft log entries and metadata; snapshot files and state dumps; and
//! every peer-protocol payload (`raft::peer_wire`).
//!
//! Properties: decoding returns `Err` rather than panicking, overflowing the stack or
//! allocating memory the input does not pay for; whatever decodes re-encodes to a
//! canonical form that decodes again; a state dump imported into a real RocksDB
//! database leaves every later read returning a value or an error, never a panic.

use std::sync::OnceLock;

use corral_server::raft::forward_wire::{ForwardRequest, ForwardResult};
use corral_server::raft::TypeConfig;
use corral_server::store::command::{Batch, BatchResult, Command};
use corral_server::store::db::{Db, Sync};
use corral_server::store::lease::LeaseRecord;
use corral_server::store::overlay::Backing;
use corral_server::store::session::SessionRecord;
use corral_server::watch::HistorySource;
use corral_server::znode::{Event, NodeRecord};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Entry, LogId, SnapshotMeta, StoredMembership, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The decoded types, in selector order (first input byte modulo the count).
pub const KINDS: [&str; 21] = [
    "NodeRecord",
    "LeaseRecord",
    "SessionRecord",
    "Event",
    "Command",
    "Batch",
    "BatchResult",
    "Entry",
    "LogId",
    "Vote",
    "StoredMembership",
    "SnapshotFile",
    "StateDump",
    "VoteRequest",
    "AppendEntriesRequest",
    "InstallSnapshotRequest",
    "ForwardRequest",
    "ForwardResult",
    "VoteReply",
    "AppendEntriesReply",
    "InstallSnapshotReply",
];

/// Fuzz entry point: `data[0]` picks the type, the rest is its encoding.
pub fn record(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match KINDS[selector as usize % KINDS.len()] {
        // Column families of the state machine (store::db).
        "NodeRecord" => roundtrip::<NodeRecord>(body),
        "LeaseRecord" => roundtrip_with(body, LeaseRecord::decode),
        "SessionRecord" => roundtrip::<SessionRecord>(body),
        "Event" => roundtrip_with(body, Event::decode),
        // The Raft log (raft::log_store) and what apply returns.
        "Command" => roundtrip::<Command>(body),
        "Batch" => roundtrip::<Batch>(body),
        "BatchResult" => roundtrip::<BatchResult>(body),
        "Entry" => roundtrip::<Entry<TypeConfig>>(body),
        // Raft metadata: committed / last applied / last purged, vote, membership.
        "LogId" => roundtrip::<Option<LogId<u64>>>(body),
        "Vote" => roundtrip::<Vote<u64>>(body),
        "StoredMembership" => roundtrip::<StoredMembership<u64, BasicNode>>(body),
        // Snapshots: the file a member keeps, and the state dump inside it.
        "SnapshotFile" => snapshot_file(body),
        "StateDump" => state_dump(body),
        // The peer protocol, both directions (raft::peer_wire).
        "VoteRequest" => roundtrip::<VoteRequest<u64>>(body),
        "AppendEntriesRequest" => roundtrip::<AppendEntriesRequest<TypeConfig>>(body),
        "InstallSnapshotRequest" => roundtrip::<InstallSnapshotRequest<TypeConfig>>(body),
        "ForwardRequest" => roundtrip::<ForwardRequest>(body),
        "ForwardResult" => roundtrip::<ForwardResult>(body),
        "VoteReply" => roundtrip::<Result<VoteResponse<u64>, RaftError<u64>>>(body),
        "AppendEntriesReply" => {
            roundtrip::<Result<AppendEntriesResponse<u64>, RaftError<u64>>>(body)
        }
        _ => {
            roundtrip::<Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>>(
                body,
            )
        }
    }
}

/// [`roundtrip`] for types with their own decoder (that also reads an older layout): a
/// value decoded from either layout encodes in the current one, which decodes back to
/// the same encoding.
fn roundtrip_with<T: Serialize>(body: &[u8], decode: fn(&[u8]) -> Result<T, bincode::Error>) {
    let Ok(value) = decode(body) else {
        return;
    };
    let bytes = bincode::serialize(&value).expect("a decoded value encodes");
    let again = decode(&bytes).expect("its encoding decodes");
    let bytes_again = bincode::serialize(&again).expect("encodes again");
    assert_eq!(
        bytes, bytes_again,
        "encoding is not stable across a round trip"
    );
}

/// Decodes `body` the way the server does; a value that decodes must encode, and its
/// encoding must decode to a value with the same encoding.
fn roundtrip<T: Serialize + DeserializeOwned>(body: &[u8]) {
    let Ok(value) = corral_server::raft::log_store::decode::<T>(body) else {
        return;
    };
    let bytes = bincode::serialize(&value).expect("a decoded value encodes");
    let again: T = corral_server::raft::log_store::decode(&bytes).expect("its encoding decodes");
    let bytes_again = bincode::serialize(&again).expect("encodes again");
    assert_eq!(
        bytes, bytes_again,
        "encoding is not stable across a round trip"
    );
}

/// A member's snapshot file (`raft::state_machine`): metadata plus the state dump.
fn snapshot_file(body: &[u8]) {
    if let Ok((meta, data)) = corral_server::raft::state_machine::decode_snapshot_file(body) {
        let _: &SnapshotMeta<u64, BasicNode> = &meta;
        state_dump(&data);
    }
}

/// Prefix of the scratch databases' directories in the temporary directory.
const SCRATCH_PREFIX: &str = "corral-fuzz-record-";

/// A scratch database for imported state dumps, shared by every run of the process.
/// A static is never dropped, so its directory outlives the process: it is named after
/// the process id, and those of processes that have exited are removed here.
fn scratch_db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let tmp = std::env::temp_dir();
        remove_stale_scratch_dirs(&tmp);
        let dir = tmp.join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
        // A leftover of an earlier process with the same id.
        let _ = std::fs::remove_dir_all(&dir);
        Db::open(&dir, Sync::Never).expect("a scratch RocksDB")
    })
}

/// Removes scratch directories whose process is gone (Linux: no `/proc/<pid>`).
fn remove_stale_scratch_dirs(tmp: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A state dump as a follower receives it in a snapshot: imported into a real database
/// (`Db::import_state`), after which every read path decodes what it finds there.
fn state_dump(body: &[u8]) {
    let db = scratch_db();
    if db.import_state(body, &[]).is_err() {
        return;
    }
    // Whatever the dump held, reads answer with a value or an error.
    let reader = db.reader();
    let _ = reader.revision();
    let _ = reader.node("/");
    let _ = reader.lease(1);
    let _ = reader.session("c");
    let _ = reader.sessions();
    let _ = reader.counter("next_lease_id");
    for item in reader.scan_nodes("/", "").take(64) {
        let _ = item;
    }
    for item in reader.scan_children("/", "").take(64) {
        let _ = item;
    }
    for item in reader.lease_nodes(1).take(64) {
        let _ = item;
    }
    drop(reader);
    let _ = db.leases();
    let _ = db.reap_candidates();
    let _ = db.compact_revision();
    let _ = db.first_revision_since(0);
    let _ = db.events_from(1, 64);
    let _ = corral_server::raft::applied_meta::cluster_id(db);
    let _ = corral_server::raft::log_store::committed_index(db);
    let _ = db.export_state(&["revision"]);
}
