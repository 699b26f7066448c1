//! Coordination recipes built on the client, each in its own module with an example:
//!
//! | recipe | what | built on |
//! |---|---|---|
//! | [`Mutex`] | exclusive lock with a guard and a fencing token | the server's Lock service |
//! | [`LeaderElection`] | campaign, observe, proclaim, resign | the server's Election service |
//! | [`RwLock`] | shared readers or one writer, FIFO | sequential ephemeral znodes |
//! | [`Semaphore`] | at most N holders | a lock plus ephemeral permit znodes |
//! | [`Barrier`] | everyone waits until it is lifted | one znode and a watch |
//! | [`DoubleBarrier`] | N participants enter and leave together | ephemeral znodes, a ready znode |
//! | [`Queue`] | FIFO work queue with priorities | sequential znodes, delete to claim |
//! | [`Counter`] | shared integer | compare-and-set on one znode |
//! | [`Cache`] | local mirror of a subtree | a list and a resuming [`Watcher`](crate::Watcher) |
//! | [`ServiceRegistry`] | register instances, discover and watch them | ephemeral znodes, [`Cache`] |
//! | [`ConfigWatcher`] | the latest value of a config znode | a get and a resuming watch |
//!
//! Everything a recipe holds is bound to a [`Session`]'s lease, so it
//! is released when the holder's process dies (after the lease's TTL) or its session
//! is lost. The znode recipes wait only on their predecessor where the recipe allows
//! (no herd effect), and never miss a change between a read and the watch after it:
//! each watch starts at the revision after the read.

mod barrier;
mod cache;
mod config;
mod counter;
mod double_barrier;
mod election;
mod mutex;
mod queue;
mod registry;
mod rwlock;
mod semaphore;

pub use barrier::Barrier;
pub use cache::Cache;
pub use config::ConfigWatcher;
pub use counter::Counter;
pub use double_barrier::DoubleBarrier;
pub use election::{LeaderElection, Leadership};
pub use mutex::{Mutex, MutexGuard};
pub use queue::Queue;
pub use registry::{Instance, Registration, ServiceRegistry, ServiceWatcher};
pub use rwlock::{RwLock, RwLockGuard, RwLockMode};
pub use semaphore::{Semaphore, SemaphorePermit};

use std::future::Future;
use std::time::Duration;

use crate::{
    Client, Compare, CreateOptions, Error, EventType, ListOptions, Node, Op, OpResult, Result,
    Session, Txn, WatchOptions,
};

/// Most entries a recipe reads from one queue directory.
const MAX_ENTRIES: i32 = 10_000;

/// The 10-digit sequence a sequential znode's name ends with.
pub(crate) fn sequence(path: &str) -> Option<u64> {
    let digits = path.get(path.len().checked_sub(10)?..)?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The last segment of a path.
pub(crate) fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `dir/name`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Creates `dir/<prefix><sequence>` (ephemeral on `session`) holding `data`, making
/// `dir` a container znode first if it is absent, in one transaction; returns the
/// entry's path and create revision.
pub(crate) async fn create_entry(
    session: &Session,
    dir: &str,
    prefix: &str,
    data: Vec<u8>,
) -> Result<(String, i64)> {
    let client = session.client();
    let entry = Op::create(
        join(dir, prefix),
        data,
        CreateOptions::new()
            .sequential()
            .ephemeral(session.lease_id()),
    );
    let txn = Txn::new()
        .when([Compare::exists(dir)])
        .and_then([entry.clone()])
        .or_else([
            Op::create(dir, "", CreateOptions::new().container().create_parents()),
            entry,
        ]);
    let response = client.txn(txn).await.map_err(|e| lease_error(session, e))?;
    match response.results.last() {
        Some(OpResult::Create { path, stat }) => Ok((path.clone(), stat.create_revision)),
        other => Err(Error::InvalidResponse {
            message: format!("a create in a Txn returned {other:?}"),
        }),
    }
}

/// An error about the session's lease, as [`Error::SessionLost`].
pub(crate) fn lease_error(session: &Session, error: Error) -> Error {
    match error {
        Error::LeaseNotFound { .. } | Error::EntryGone { .. } => Error::SessionLost {
            lease_id: session.lease_id(),
        },
        other => other,
    }
}

/// The entries of queue directory `dir` in sequence order (entries without a sequence
/// left out), read linearizably, and the revision of the read; none if `dir` is absent.
pub(crate) async fn entries(client: &Client, dir: &str) -> Result<(Vec<Node>, i64)> {
    match client
        .list(dir, ListOptions::new().with_data().limit(MAX_ENTRIES))
        .await
    {
        Ok(page) => {
            let mut nodes: Vec<(u64, Node)> = page
                .nodes
                .into_iter()
                .filter_map(|n| sequence(&n.path).map(|s| (s, n)))
                .collect();
            nodes.sort_by_key(|(s, _)| *s);
            Ok((
                nodes.into_iter().map(|(_, n)| n).collect(),
                page.header.revision,
            ))
        }
        Err(Error::NotFound { .. }) => Ok((Vec::new(), 0)),
        Err(e) => Err(e),
    }
}

/// Waits for the first event of `kinds` on `path` (`scope` as in the options) from
/// `revision + 1` on: the caller read the state at `revision` and waits for it to
/// change.
pub(crate) async fn wait_change(
    client: &Client,
    path: &str,
    options: WatchOptions,
    kinds: &[EventType],
    revision: i64,
) -> Result<()> {
    let mut options = options.start_revision(revision + 1);
    for kind in [EventType::Created, EventType::Updated, EventType::Deleted] {
        if !kinds.contains(&kind) {
            options = options.exclude(kind);
        }
    }
    let mut watcher = client.watch(path, options).await?;
    match watcher.next().await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e),
        None => Err(Error::Transport {
            message: format!("the watch on {path} ended"),
        }),
    }
}

/// Runs `wait` until it finishes, `timeout` passes ([`Error::WaitTimeout`]) or the
/// session is lost ([`Error::SessionLost`]).
pub(crate) async fn bounded<T>(
    session: &Session,
    timeout: Option<Duration>,
    wait: impl Future<Output = Result<T>>,
) -> Result<T> {
    let guarded = async {
        tokio::select! {
            result = wait => result.map_err(|e| lease_error(session, e)),
            lost = session.lost() => Err(lost),
        }
    };
    match timeout {
        Some(timeout) => {
            tokio::time::timeout(timeout, guarded)
                .await
                .map_err(|_| Error::WaitTimeout {
                    message: format!("gave up waiting after {timeout:?}"),
                })?
        }
        None => guarded.await,
    }
}

/// Deletes `path`, ignoring a znode already gone; errors are dropped when this runs
/// in the background on a guard's drop.
pub(crate) async fn remove(client: &Client, path: &str) -> Result<()> {
    match client.delete(path, None).await {
        Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes `path` in the background (from a guard's `drop`), if a runtime is there.
pub(crate) fn remove_later(client: &Client, path: String) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let client = client.clone();
        runtime.spawn(async move {
            let _ = remove(&client, &path).await;
        });
    }
}

/// A znode deleted when the guard is dropped (in the background) unless released
/// first: keeps a cancelled or failed acquire from leaving its entry behind.
#[derive(Debug)]
pub(crate) struct KeyGuard {
    client: Client,
    key: String,
}

impl KeyGuard {
    pub(crate) fn new(client: &Client, key: String) -> KeyGuard {
        KeyGuard {
            client: client.clone(),
            key,
        }
    }

    /// Deletes the znode now.
    pub(crate) async fn release(mut self) -> Result<()> {
        let key = std::mem::take(&mut self.key);
        remove(&self.client, &key).await
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if !self.key.is_empty() {
            remove_later(&self.client, std::mem::take(&mut self.key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_come_from_the_ten_digit_suffix() {
        assert_eq!(sequence("/l/read-0000000042"), Some(42));
        assert_eq!(sequence("/q/0000000007"), Some(7));
        assert_eq!(sequence("/l/read-00042"), None);
        assert_eq!(sequence("/ready"), None);
    }

    #[test]
    fn join_and_name_handle_the_root() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/x", "a"), "/x/a");
        assert_eq!(name("/x/a"), "a");
    }
}
