//! The data model every layer shares: a znode's kind, stat and record, and the events
//! that record changes to znodes. Imports nothing else from the crate but `acl`, the
//! other half of the data model.

use serde::{Deserialize, Serialize};

use crate::acl::Acl;

/// What kind of znode it is; fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum NodeKind {
    /// Lives until deleted.
    #[default]
    Persistent,
    /// Bound to a lease; cannot have children.
    Ephemeral,
    /// Deleted by the server once its last child goes.
    Container,
    /// Deleted once not modified for `ttl_ms`.
    Ttl,
}

/// Metadata of a znode (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Stat {
    /// Revision of the create.
    pub create_revision: i64,
    /// Revision of the last data change (the create's until then).
    pub mod_revision: i64,
    /// Data changes since creation.
    pub version: i64,
    /// Changes to the child list.
    pub children_version: i64,
    /// Changes to the ACL.
    pub acl_version: i64,
    /// Revision of the last change to the child list.
    pub children_revision: i64,
    /// Lease of an ephemeral znode; 0 otherwise.
    pub lease_id: i64,
    /// Length of the data in bytes (kept so stat-only reads need not load data).
    pub data_length: i64,
    /// Direct children.
    pub num_children: i64,
    /// Creation time stamped by the leader, ms since the epoch.
    pub ctime_ms: i64,
    /// Last data change time stamped by the leader, ms since the epoch.
    pub mtime_ms: i64,
    /// Kind of znode.
    pub kind: NodeKind,
    /// TTL of a TTL znode, else 0.
    pub ttl_ms: i64,
}

/// A znode as stored: data plus stat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeRecord {
    /// The znode's data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The znode's stat.
    pub stat: Stat,
}

/// A znode with its path, as returned by reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Absolute path.
    pub path: String,
    /// The stored record. Data is empty when the caller asked for stats only.
    pub record: NodeRecord,
}

/// What happened to a znode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The znode was created.
    Created,
    /// The znode's data was set.
    Updated,
    /// The znode was deleted.
    Deleted,
}

/// A change to one znode at one revision, as recorded in the history and sent to
/// watchers. Events of one revision keep their order; revisions strictly increase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Revision of the write that caused it.
    pub revision: i64,
    /// What happened.
    pub kind: EventKind,
    /// Path of the znode.
    pub path: String,
    /// The znode after the change (for a delete: as it was when deleted).
    pub node: NodeRecord,
    /// The znode before the change, for updates and deletes.
    pub prev: Option<NodeRecord>,
    /// Leader clock stamp of the write (ms since the epoch), for age-based retention.
    pub ts_ms: i64,
    /// The znode's stored ACL at the event (`None`: the default): watchers are sent only
    /// events on znodes they may read, judged by the ACL the znode had then.
    pub acl: Option<Acl>,
}

/// The layout of events stored before they carried an ACL.
#[derive(Deserialize)]
struct EventV1 {
    revision: i64,
    kind: EventKind,
    path: String,
    node: NodeRecord,
    prev: Option<NodeRecord>,
    ts_ms: i64,
}

impl Event {
    /// Decodes a stored event in either layout (one without an ACL has the default).
    pub fn decode(bytes: &[u8]) -> Result<Event, bincode::Error> {
        match bincode::deserialize(bytes) {
            Ok(event) => Ok(event),
            // The old layout ends where the new one's ACL begins: decoding it as the new
            // one runs out of bytes, and only then is it read as the old one.
            Err(new_err) => match bincode::deserialize::<EventV1>(bytes) {
                Ok(v1) => Ok(Event {
                    revision: v1.revision,
                    kind: v1.kind,
                    path: v1.path,
                    node: v1.node,
                    prev: v1.prev,
                    ts_ms: v1.ts_ms,
                    acl: None,
                }),
                Err(_) => Err(new_err),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serde_bytes` only changes how data is decoded (one copy instead of byte by byte):
    /// the bincode layout — a u64 length, then the bytes — must stay the one that logs,
    /// snapshots and history written by earlier versions already hold.
    #[test]
    fn data_keeps_the_plain_vec_layout() {
        #[derive(Serialize)]
        struct Before<'a> {
            data: &'a Vec<u8>,
            stat: &'a Stat,
        }
        let record = NodeRecord {
            data: vec![1, 2, 3, 250],
            stat: Stat::default(),
        };
        let old = bincode::serialize(&Before {
            data: &record.data,
            stat: &record.stat,
        })
        .expect("encode");
        assert_eq!(bincode::serialize(&record).expect("encode"), old);
        assert_eq!(&old[..12], &[4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 250]);
        let back: NodeRecord = bincode::deserialize(&old).expect("decode");
        assert_eq!(back, record);
    }
}
