//! Leader election on the same queue as locks: the first campaigner leads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::queue::{self, EntryGuard};
use super::CoordError;
use crate::raft::RaftNode;
use crate::store::command::{CmpOp, CmpTarget, Command, Compare, PutCmd, TxnCmd, TxnOp};
use crate::store::path;
use crate::watch::watcher::{self, WatchMessage, WatchOptions};
use crate::watch::{Scope, WatchSpec};
use crate::znode::{EventKind, Node};

/// Name prefix of an election's queue entries: `<election>/cand-NNNNNNNNNN`.
pub const PREFIX: &str = "cand-";

/// An election's leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// Election name.
    pub name: String,
    /// Leader key.
    pub key: String,
    /// Published value.
    pub value: Vec<u8>,
    /// The key's create revision.
    pub create_revision: i64,
    /// Its lease.
    pub lease_id: i64,
}

fn leader_of(name: &str, node: &Node) -> Leader {
    Leader {
        name: name.to_string(),
        key: node.path.clone(),
        value: node.record.data.clone(),
        create_revision: node.record.stat.create_revision,
        lease_id: node.record.stat.lease_id,
    }
}

/// Waits until the caller leads election `name`.
pub async fn campaign(
    node: Arc<RaftNode>,
    name: &str,
    lease_id: i64,
    value: Vec<u8>,
    wait_ms: i64,
) -> Result<Leader, CoordError> {
    let deadline = (wait_ms > 0).then(|| Instant::now() + Duration::from_millis(wait_ms as u64));
    let entry = queue::enqueue(&node, name, PREFIX, lease_id, value.clone()).await?;
    let guard = EntryGuard::new(node.clone(), &entry);
    match queue::wait_first(&node, name, PREFIX, &entry.key, deadline).await {
        Ok(()) => {
            guard.disarm();
            Ok(Leader {
                name: name.to_string(),
                key: entry.key,
                value,
                create_revision: entry.create_revision,
                lease_id,
            })
        }
        Err(CoordError::WaitTimeout(_)) => Err(CoordError::WaitTimeout(wait_ms)),
        Err(e) => Err(e),
    }
}

/// The current leader of `name`, if any, and the revision it was read at.
pub async fn leader(node: &RaftNode, name: &str) -> Result<(Option<Leader>, i64), CoordError> {
    let (first, revision) = queue::first(node, name, PREFIX).await?;
    Ok((first.map(|n| leader_of(name, &n)), revision))
}

/// Sets the leader's value if `key`, held by `lease_id`, still leads.
pub async fn proclaim(
    node: &RaftNode,
    key: &str,
    lease_id: i64,
    value: Vec<u8>,
) -> Result<i64, CoordError> {
    let name = path::parent(key).unwrap_or("/").to_string();
    let not_leader = || CoordError::NotLeader {
        key: key.to_string(),
        name: name.clone(),
    };
    let Some(entry) = queue::owned_entry(node, key, PREFIX, lease_id).await? else {
        return Err(not_leader());
    };
    let (current, _) = leader(node, &name).await?;
    if current.is_none_or(|l| l.key != key) {
        return Err(not_leader());
    }
    // Only its deletion can end a leader's term, so "same key, same incarnation" is
    // enough to know it still leads when the put applies.
    let res = node
        .propose(Command::Txn(TxnCmd {
            compares: vec![Compare {
                path: key.to_string(),
                op: CmpOp::Equal,
                target: CmpTarget::CreateRevision(entry.record.stat.create_revision),
            }],
            success: vec![TxnOp::Put(PutCmd {
                path: key.to_string(),
                data: value,
                expected_version: None,
                create_if_missing: false,
                prev_node: false,
            })],
            failure: vec![],
        }))
        .await?;
    if res.result?.into_txn()?.0 {
        Ok(res.revision)
    } else {
        Err(not_leader())
    }
}

/// Gives up leadership or a place in the queue held by `lease_id`. Only an election's
/// queue entry of that lease is deleted; one already gone has resigned already.
pub async fn resign(node: &RaftNode, key: &str, lease_id: i64) -> Result<(), CoordError> {
    if let Some(entry) = queue::owned_entry(node, key, PREFIX, lease_id).await? {
        queue::remove_entry(node, &entry).await?;
    }
    Ok(())
}

/// Sends the leader now and after every change of leader or value, in order, until
/// `out` closes. `None` means the election has no leader.
pub async fn observe(
    node: Arc<RaftNode>,
    name: String,
    out: mpsc::Sender<Result<(Option<Leader>, i64), CoordError>>,
) {
    let (entries, revision) = match queue::entries(&node, &name, PREFIX).await {
        Ok(v) => v,
        Err(e) => {
            let _ = out.send(Err(e)).await;
            return;
        }
    };
    // The queue as of `revision`, kept current from the watch that starts right after.
    let mut queue: Vec<Node> = entries;
    let mut last = queue.first().map(|n| leader_of(&name, n));
    if out.send(Ok((last.clone(), revision))).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::channel(64);
    let (_progress_tx, progress_rx) = tokio::sync::watch::channel(0u64);
    let opts = WatchOptions {
        spec: WatchSpec {
            path: name.clone(),
            scope: Scope::Children,
            exclude: vec![],
        },
        start_revision: revision + 1,
        progress_notify: None,
    };
    let task = tokio::spawn(watcher::run(node.hub().clone(), 0, opts, tx, progress_rx));
    loop {
        // An observer whose client went away ends now, not at the next leader change
        // (which may never come): it holds a watcher on the hub.
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            _ = out.closed() => None,
        };
        let Some((_, msg)) = msg else { break };
        let events = match msg {
            WatchMessage::Events(events) => events,
            WatchMessage::Progress(_) => continue,
            WatchMessage::Canceled { reason, .. } => {
                let _ = out.send(Err(CoordError::Watch(reason))).await;
                break;
            }
        };
        for e in events {
            let Some(seq) = seq_of(&e.path) else { continue };
            match e.kind {
                EventKind::Deleted => queue.retain(|n| n.path != e.path),
                EventKind::Created | EventKind::Updated => {
                    let n = Node {
                        path: e.path.clone(),
                        record: e.node.clone(),
                    };
                    match queue.iter().position(|q| q.path == e.path) {
                        Some(i) => queue[i] = n,
                        None => {
                            let at = queue
                                .iter()
                                .position(|q| seq_of(&q.path).is_some_and(|s| s > seq))
                                .unwrap_or(queue.len());
                            queue.insert(at, n);
                        }
                    }
                }
            }
            let now = queue.first().map(|n| leader_of(&name, n));
            if now != last {
                last = now.clone();
                if out.send(Ok((now, e.revision))).await.is_err() {
                    task.abort();
                    return;
                }
            }
        }
    }
    task.abort();
}

fn seq_of(p: &str) -> Option<u64> {
    queue::sequence(path::name(p), PREFIX)
}
