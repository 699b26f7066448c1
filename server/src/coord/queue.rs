//! The queue both recipes stand on: enqueue a sequential ephemeral znode, wait until it
//! is first (watching only the predecessor), and remove it if the caller gives up.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::CoordError;
use crate::raft::{Consistency, RaftNode, ReadView};
use crate::store::command::{
    CmpOp, CmpTarget, Command, Compare, CreateCmd, DeleteCmd, KvError, Output, PutCmd, TxnCmd,
    TxnOp,
};
use crate::store::{path, read};
use crate::watch::watcher::{self, WatchMessage, WatchOptions};
use crate::watch::{Scope, WatchSpec};
use crate::znode::{EventKind, Node, NodeKind};

/// Children read per step when a queue is read whole (Observe's first look).
const PAGE: usize = 1024;

/// The sequence number of a queue entry named `<prefix><10 digits>`, or `None` for any
/// other name. One parser for locks ("lock-") and elections ("cand-").
pub fn sequence(name: &str, prefix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?;
    if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The queue entries of `dir` with `prefix`, in queue order, read linearizably, and the
/// revision of the read: every entry, however many, with its data (an election's
/// value), read in pages.
pub async fn entries(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
) -> Result<(Vec<Node>, i64), CoordError> {
    let (dir, prefix) = (dir.to_string(), prefix.to_string());
    // A long queue is a scan: off the async workers.
    node.read_scan(Consistency::Linearizable, move |tree| {
        entries_in(tree, &dir, &prefix)
    })
    .await
}

fn entries_in(tree: &ReadView<'_>, dir: &str, prefix: &str) -> Result<Vec<Node>, CoordError> {
    let mut out = Vec::new();
    // Entries with one prefix sort by name as by sequence (fixed-width digits), and all
    // sort after the bare prefix.
    let mut after = prefix.to_string();
    loop {
        let names = tree.children(dir, &after, PAGE)?;
        let Some(last) = names.last() else { break };
        after = last.clone();
        let done = names.len() < PAGE || !last.starts_with(prefix);
        for name in names {
            if !name.starts_with(prefix) {
                break;
            }
            if sequence(&name, prefix).is_none() {
                continue;
            }
            let child = path::join(dir, &name);
            let record = tree.node(&child)?.ok_or_else(|| {
                CoordError::Invariant(format!("child index names {child} but it is missing"))
            })?;
            out.push(Node {
                path: child,
                record,
            });
        }
        if done {
            break;
        }
    }
    Ok(out)
}

/// The first entry of `dir`'s `prefix` queue, read linearizably, and the revision of the
/// read (reads the queue's head only).
pub async fn first(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
) -> Result<(Option<Node>, i64), CoordError> {
    node.read(Consistency::Linearizable, |tree| {
        first_in(tree, dir, prefix)
    })
    .await
}

fn first_in(tree: &ReadView<'_>, dir: &str, prefix: &str) -> Result<Option<Node>, CoordError> {
    let mut after = prefix.to_string();
    loop {
        let names = tree.children(dir, &after, 16)?;
        let Some(last) = names.last() else {
            return Ok(None);
        };
        after = last.clone();
        for name in &names {
            if !name.starts_with(prefix) {
                return Ok(None);
            }
            if sequence(name, prefix).is_some() {
                let child = path::join(dir, name);
                let record = tree.node(&child)?.ok_or_else(|| {
                    CoordError::Invariant(format!("child index names {child} but it is missing"))
                })?;
                return Ok(Some(Node {
                    path: child,
                    record,
                }));
            }
        }
    }
}

/// Where `key` stands in its queue, read linearizably.
enum Place {
    /// `key` is not in the queue (any more).
    Gone,
    /// `key` is first.
    First,
    /// `key` waits behind this entry.
    Behind(String),
}

/// `key`'s place in the queue of `dir` and the revision of the read: one seek back
/// from `key` finds its predecessor, however long the queue.
async fn place(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
    key: &str,
) -> Result<(Place, i64), CoordError> {
    node.read(Consistency::Linearizable, |tree| {
        place_in(tree, dir, prefix, key)
    })
    .await
}

fn place_in(tree: &ReadView<'_>, dir: &str, prefix: &str, key: &str) -> Result<Place, CoordError> {
    if tree.node(key)?.is_none() {
        return Ok(Place::Gone);
    }
    let name = path::name(key);
    let mut before = name.to_string();
    loop {
        let names = tree.children_before(dir, &before, 16)?;
        let Some(last) = names.last() else {
            return Ok(Place::First);
        };
        before = last.clone();
        for n in &names {
            if !n.starts_with(prefix) {
                // Below the prefix's range: no entry of this queue comes before.
                return Ok(Place::First);
            }
            if sequence(n, prefix).is_some() {
                return Ok(Place::Behind(path::join(dir, n)));
            }
        }
    }
}

/// The entry of `dir` bound to `lease_id`, if any: found through the lease's index of
/// ephemeral znodes (a lease holds few), not by reading the queue.
fn own_entry(
    tree: &ReadView<'_>,
    dir: &str,
    prefix: &str,
    lease_id: i64,
) -> Result<Option<Node>, CoordError> {
    for p in tree.lease_nodes(lease_id)? {
        if path::parent(&p) == Some(dir) && sequence(path::name(&p), prefix).is_some() {
            if let Some(record) = tree.node(&p)? {
                return Ok(Some(Node { path: p, record }));
            }
        }
    }
    Ok(None)
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
        let (own, _) = node
            .read(Consistency::Linearizable, |tree| {
                own_entry(tree, dir, prefix, lease_id)
            })
            .await?;
        let Some(own) = own else {
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
            Ok(out) => {
                let (stat, _) = out.into_op()?.into_put()?;
                return Ok(Entry {
                    key: own.path,
                    create_revision: stat.create_revision,
                    version: stat.version,
                });
            }
            // Removed or adopted meanwhile: look again.
            Err(CoordError::Kv(KvError::NodeNotFound { .. }))
            | Err(CoordError::Kv(KvError::VersionMismatch { .. })) => continue,
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
    // Either branch ends with the entry's create.
    let (_, results) = out.into_txn()?;
    let created = results
        .into_iter()
        .next_back()
        .ok_or_else(|| CoordError::Invariant("the enqueue Txn returned no results".into()))?;
    let (key, stat) = created.into_create()?;
    Ok(Entry {
        key,
        create_revision: stat.create_revision,
        version: stat.version,
    })
}

/// Checks that `key` names an entry of a `prefix` queue held by `lease_id`, read
/// linearizably: `Ok(None)` when it is gone (nothing to act on), else the entry.
/// Anything else (a plain znode, another lease's entry) is refused and left alone.
pub async fn owned_entry(
    node: &RaftNode,
    key: &str,
    prefix: &str,
    lease_id: i64,
) -> Result<Option<Node>, CoordError> {
    let not_entry = |why: String| CoordError::NotQueueEntry {
        key: key.to_string(),
        lease_id,
        why,
    };
    if sequence(path::name(key), prefix).is_none() || path::parent(key).is_none_or(|p| p == "/") {
        return Err(not_entry(format!(
            "its name is not {prefix}NNNNNNNNNN under a lock or election"
        )));
    }
    let (found, _) = node
        .read(Consistency::Linearizable, |tree| {
            Ok::<_, CoordError>(read::get(tree, key, true)?)
        })
        .await?;
    let Some(entry) = found else { return Ok(None) };
    let stat = &entry.record.stat;
    if stat.kind != NodeKind::Ephemeral {
        return Err(not_entry("it is not an ephemeral znode".into()));
    }
    if stat.lease_id != lease_id {
        return Err(CoordError::NotEntryOwner {
            key: key.to_string(),
            lease_id,
            owner: stat.lease_id,
        });
    }
    Ok(Some(entry))
}

/// Deletes the queue entry `key` if it is still the incarnation `entry` (same create
/// revision, so same lease): `false` when it was gone already.
pub async fn remove_entry(node: &RaftNode, entry: &Node) -> Result<bool, CoordError> {
    let out = write(
        node,
        Command::Txn(TxnCmd {
            compares: vec![Compare {
                path: entry.path.clone(),
                op: CmpOp::Equal,
                target: CmpTarget::CreateRevision(entry.record.stat.create_revision),
            }],
            success: vec![TxnOp::Delete(DeleteCmd {
                path: entry.path.clone(),
                expected_version: None,
                recursive: false,
            })],
            failure: vec![],
        }),
    )
    .await?;
    Ok(out.into_txn()?.0)
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

/// Waits until `key` is the first entry of `dir`'s `prefix` queue, watching only its
/// predecessor.
pub async fn wait_first(
    node: &RaftNode,
    dir: &str,
    prefix: &str,
    key: &str,
    deadline: Option<Instant>,
) -> Result<(), CoordError> {
    loop {
        match place(node, dir, prefix, key).await? {
            (Place::Gone, _) => return Err(CoordError::EntryGone(key.to_string())),
            (Place::First, _) => return Ok(()),
            // Wake when the predecessor goes (maybe this entry is first now) or when
            // this entry itself goes (its lease ended: tell the caller at once, not
            // when the predecessor happens to leave).
            (Place::Behind(predecessor), revision) => {
                wait_deleted(node, &[&predecessor, key], revision + 1, deadline).await?
            }
        }
    }
}

/// Waits for a DELETED event of any of `paths` at or after `from`: one node watch each
/// (never a watch of the whole queue, which would wake every waiter on every change).
async fn wait_deleted(
    node: &RaftNode,
    paths: &[&str],
    from: i64,
    deadline: Option<Instant>,
) -> Result<(), CoordError> {
    let (tx, mut rx) = mpsc::channel(16);
    let (_progress_tx, progress_rx) = watch::channel(0u64);
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for task in &self.0 {
                task.abort();
            }
        }
    }
    let mut tasks = AbortOnDrop(Vec::with_capacity(paths.len()));
    for (id, path) in paths.iter().enumerate() {
        let opts = WatchOptions {
            spec: WatchSpec {
                path: path.to_string(),
                scope: Scope::Node,
                exclude: vec![EventKind::Created, EventKind::Updated],
            },
            start_revision: from,
            progress_notify: None,
        };
        tasks.0.push(tokio::spawn(watcher::run(
            node.hub().clone(),
            id as i64,
            opts,
            tx.clone(),
            progress_rx.clone(),
        )));
    }
    drop(tx);
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
    fn sequence_comes_from_the_prefix_and_ten_digits() {
        assert_eq!(sequence("lock-0000000042", "lock-"), Some(42));
        assert_eq!(sequence("cand-0000000007", "cand-"), Some(7));
        assert_eq!(sequence("lock-00042", "lock-"), None);
        assert_eq!(sequence("cand-0000000007", "lock-"), None);
        assert_eq!(sequence("lock-00000000x7", "lock-"), None);
        assert_eq!(sequence("lock-+000000007", "lock-"), None);
        assert_eq!(sequence("lock-00000000071", "lock-"), None);
        assert_eq!(sequence("lock-", "lock-"), None);
    }
}
