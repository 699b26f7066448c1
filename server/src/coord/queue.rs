//! The queue both recipes stand on: enqueue a sequential ephemeral znode, wait until it
//! is first (watching only the predecessor), and remove it if the caller gives up.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::CoordError;
use crate::raft::RaftNode;
use crate::store::command::{
    CmpOp, CmpTarget, Command, Compare, CreateCmd, DeleteCmd, KvError, ListQuery, OpOutput, Output,
    PutCmd, TxnCmd, TxnOp,
};
use crate::store::overlay::Overlay;
use crate::store::{path, read};
use crate::watch::watcher::{self, WatchMessage, WatchOptions};
use crate::watch::{Scope, WatchSpec};
use crate::znode::{EventKind, Node, NodeKind};

/// Most entries read from one queue.
const MAX_QUEUE: usize = 10_000;

/// The sequence number of a queue entry, from its 10-digit suffix.
fn sequence(name: &str) -> Option<u64> {
    let digits = name.get(name.len().checked_sub(10)?..)?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The queue's entries in order, read linearizably, and the revision of the read.
pub async fn entries(node: &RaftNode, dir: &str) -> Result<(Vec<Node>, i64), CoordError> {
    node.read_barrier().await?;
    let reader = node.db().reader();
    let tree = Overlay::new(&reader);
    let revision = tree.revision()?;
    let page = match read::list(
        &tree,
        &ListQuery {
            path: dir.to_string(),
            recursive: false,
            with_data: true,
            limit: MAX_QUEUE,
            after: String::new(),
        },
    ) {
        Ok(page) => page,
        Err(read::ListError::Kv(KvError::NodeNotFound { .. })) => {
            return Ok((Vec::new(), revision))
        }
        Err(read::ListError::Kv(e)) => return Err(e.into()),
        Err(read::ListError::Store(e)) => return Err(e.into()),
    };
    let mut nodes: Vec<(u64, Node)> = page
        .nodes
        .into_iter()
        .filter_map(|n| sequence(path::name(&n.path)).map(|s| (s, n)))
        .collect();
    nodes.sort_by_key(|(s, _)| *s);
    Ok((nodes.into_iter().map(|(_, n)| n).collect(), revision))
}

async fn write(node: &RaftNode, cmd: Command) -> Result<Output, CoordError> {
    Ok(node.propose(cmd).await?.result?)
}

/// Adds an entry `dir/<prefix><seq>` bound to `lease_id`, or adopts the one this lease
/// already has.
pub async fn enqueue(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
    lease_id: i64,
    data: Vec<u8>,
) -> Result<Entry, CoordError> {
    loop {
        // One entry per lease: a caller retrying after a lost answer (its entry may have
        // been created) finds its own entry instead of queueing behind it forever.
        let (existing, _) = entries(node, dir).await?;
        let Some(own) = existing.into_iter().find(|n| {
            n.record.stat.lease_id == lease_id && path::name(&n.path).starts_with(prefix)
        }) else {
            return create_entry(node, dir, prefix, lease_id, data).await;
        };
        // Adopt it by bumping its version: the call that had it before (cancelled, and
        // about to remove it) then finds a version it does not expect and leaves it.
        let adopted = write(
            node,
            Command::Put(PutCmd {
                path: own.path.clone(),
                data: data.clone(),
                expected_version: Some(own.record.stat.version),
                create_if_missing: false,
                prev_node: false,
            }),
        )
        .await;
        match adopted {
            Ok(Output::Op(OpOutput::Put { stat, .. })) => {
                return Ok(Entry {
                    key: own.path,
                    create_revision: stat.create_revision,
                    version: stat.version,
                })
            }
            // Removed or adopted meanwhile: look again.
            Err(CoordError::Kv(KvError::NodeNotFound { .. }))
            | Err(CoordError::Kv(KvError::VersionMismatch { .. })) => continue,
            Ok(other) => {
                return Err(CoordError::Watch(format!(
                    "unexpected adopt result {other:?}"
                )))
            }
            Err(e) => return Err(e),
        }
    }
}

/// A queue entry held by one call.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path of the entry.
    pub key: String,
    /// Its create revision (the fencing token of a lock).
    pub create_revision: i64,
    /// Its version when this call took it: a later call adopting it bumps the version.
    pub version: i64,
}

async fn create_entry(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
    lease_id: i64,
    data: Vec<u8>,
) -> Result<Entry, CoordError> {
    let entry = TxnOp::Create(CreateCmd {
        path: path::join(dir, prefix),
        data,
        kind: NodeKind::Ephemeral,
        lease_id,
        sequential: true,
        ttl_ms: 0,
        create_parents: false,
    });
    // The directory is a container, which the server removes once its queue empties;
    // creating it and the entry in one Txn means a reap can never slip in between.
    let out = write(
        node,
        Command::Txn(TxnCmd {
            compares: vec![Compare {
                path: dir.to_string(),
                op: CmpOp::Equal,
                target: CmpTarget::Exists(false),
            }],
            success: vec![
                TxnOp::Create(CreateCmd {
                    path: dir.to_string(),
                    data: Vec::new(),
                    kind: NodeKind::Container,
                    lease_id: 0,
                    sequential: false,
                    ttl_ms: 0,
                    create_parents: true,
                }),
                entry.clone(),
            ],
            failure: vec![entry],
        }),
    )
    .await?;
    match out {
        Output::Txn { results, .. } => match results.last() {
            Some(OpOutput::Create { path, stat }) => Ok(Entry {
                key: path.clone(),
                create_revision: stat.create_revision,
                version: stat.version,
            }),
            other => Err(CoordError::Watch(format!(
                "unexpected enqueue result {other:?}"
            ))),
        },
        other => Err(CoordError::Watch(format!(
            "unexpected enqueue result {other:?}"
        ))),
    }
}

/// Deletes a queue entry (ignoring one already gone).
pub async fn remove(node: &RaftNode, key: &str) -> Result<(), CoordError> {
    match write(
        node,
        Command::Delete(DeleteCmd {
            path: key.to_string(),
            expected_version: None,
            recursive: false,
        }),
    )
    .await
    {
        Ok(_) | Err(CoordError::Kv(KvError::NodeNotFound { .. })) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the entry when dropped, unless disarmed: a caller that times out or goes
/// away (cancelled RPC) leaves no entry behind to block the queue. The removal is
/// conditional on the version this call took it at, so it never removes an entry that
/// a retry of the same caller (same lease) has adopted since.
pub struct EntryGuard {
    node: Option<Arc<RaftNode>>,
    key: String,
    version: i64,
}

impl EntryGuard {
    /// Guards `entry`.
    pub fn new(node: Arc<RaftNode>, entry: &Entry) -> Self {
        Self {
            node: Some(node),
            key: entry.key.clone(),
            version: entry.version,
        }
    }

    /// Keeps the entry (the caller now holds the lock or leads).
    pub fn disarm(mut self) {
        self.node = None;
    }
}

impl Drop for EntryGuard {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let key = std::mem::take(&mut self.key);
            let version = self.version;
            tokio::spawn(async move {
                let removed = write(
                    &node,
                    Command::Delete(DeleteCmd {
                        path: key.clone(),
                        expected_version: Some(version),
                        recursive: false,
                    }),
                )
                .await;
                match removed {
                    Ok(_)
                    | Err(CoordError::Kv(KvError::NodeNotFound { .. }))
                    | Err(CoordError::Kv(KvError::VersionMismatch { .. })) => {}
                    Err(e) => {
                        tracing::warn!(%key, "could not remove an abandoned queue entry: {e}")
                    }
                }
            });
        }
    }
}

/// Waits until `key` is the first entry of `dir`, watching only its predecessor.
pub async fn wait_first(
    node: &RaftNode,
    dir: &str,
    key: &str,
    deadline: Option<Instant>,
) -> Result<(), CoordError> {
    loop {
        let (entries, revision) = entries(node, dir).await?;
        let Some(pos) = entries.iter().position(|n| n.path == key) else {
            return Err(CoordError::EntryGone(key.to_string()));
        };
        if pos == 0 {
            return Ok(());
        }
        let predecessor = entries[pos - 1].path.clone();
        wait_deleted(node, &predecessor, revision + 1, deadline).await?;
    }
}

/// Waits for a DELETED event of `path` at or after `from`.
async fn wait_deleted(
    node: &RaftNode,
    path: &str,
    from: i64,
    deadline: Option<Instant>,
) -> Result<(), CoordError> {
    let (tx, mut rx) = mpsc::channel(16);
    let (_progress_tx, progress_rx) = watch::channel(0u64);
    let opts = WatchOptions {
        spec: WatchSpec {
            path: path.to_string(),
            scope: Scope::Node,
            exclude: vec![EventKind::Created, EventKind::Updated],
        },
        start_revision: from,
        progress_notify: None,
    };
    let task = tokio::spawn(watcher::run(node.hub().clone(), 0, opts, tx, progress_rx));
    struct AbortOnDrop(tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _task = AbortOnDrop(task);
    loop {
        let msg = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), rx.recv()).await {
                Ok(m) => m,
                Err(_) => return Err(CoordError::WaitTimeout(0)),
            },
            None => rx.recv().await,
        };
        match msg {
            Some((_, WatchMessage::Events(events))) if !events.is_empty() => return Ok(()),
            Some((_, WatchMessage::Canceled { reason, .. })) => {
                return Err(CoordError::Watch(reason))
            }
            Some(_) => {}
            None => return Err(CoordError::Watch("watch ended".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sequence;

    #[test]
    fn sequence_comes_from_the_ten_digit_suffix() {
        assert_eq!(sequence("lock-0000000042"), Some(42));
        assert_eq!(sequence("0000000007"), Some(7));
        assert_eq!(sequence("lock-00042"), None);
        assert_eq!(sequence("short"), None);
    }
}
