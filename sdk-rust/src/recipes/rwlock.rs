//! [`RwLock`]: many readers or one writer across processes, in FIFO order, from
//! sequential ephemeral znodes (ZooKeeper's shared-lock recipe): each waiter watches
//! one znode only, so a release wakes one waiter (or the run of readers behind it).
//!
//! Under the lock's path, a reader creates `read-<seq>` and holds the lock once no
//! `write-` entry precedes it (it waits for the last preceding writer to go); a writer
//! creates `write-<seq>` and holds it once it is first (it waits for its predecessor).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::RwLock, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let lock = RwLock::new(&session, "/locks/catalog");
//! let read = lock.read().await?;   // shared with other readers
//! read.unlock().await?;
//! let write = lock.write().await?; // alone
//! write.unlock().await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::{bounded, create_entry, entries, name, remove, wait_change};
use crate::{Client, Error, EventType, Result, Session, WatchOptions};

const READ: &str = "read-";
const WRITE: &str = "write-";

/// Whether a guard holds the lock shared or exclusively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RwLockMode {
    /// Shared with other readers.
    Read,
    /// Exclusive.
    Write,
}

/// A readers-writer lock named by a path (e.g. `/locks/catalog`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct RwLock {
    session: Session,
    path: String,
}

impl RwLock {
    /// The lock at `path` (a container znode, made on first use), held with
    /// `session`'s lease.
    pub fn new(session: &Session, path: impl Into<String>) -> RwLock {
        RwLock {
            session: session.clone(),
            path: path.into(),
        }
    }

    /// Waits for a shared hold.
    pub async fn read(&self) -> Result<RwLockGuard> {
        self.acquire(RwLockMode::Read, None).await
    }

    /// Waits for an exclusive hold.
    pub async fn write(&self) -> Result<RwLockGuard> {
        self.acquire(RwLockMode::Write, None).await
    }

    /// Waits at most `wait` for a hold in `mode`, else fails with
    /// [`Error::WaitTimeout`] and leaves no entry behind.
    pub async fn acquire_timeout(&self, mode: RwLockMode, wait: Duration) -> Result<RwLockGuard> {
        self.acquire(mode, Some(wait)).await
    }

    async fn acquire(&self, mode: RwLockMode, wait: Option<Duration>) -> Result<RwLockGuard> {
        self.session.check()?;
        let client = self.session.client();
        let prefix = match mode {
            RwLockMode::Read => READ,
            RwLockMode::Write => WRITE,
        };
        let (key, _) = create_entry(&self.session, &self.path, prefix, Vec::new()).await?;
        // From here on the entry must not outlive a failure.
        let guard = RwLockGuard {
            client: client.clone(),
            key,
            mode,
            released: false,
        };
        match bounded(&self.session, wait, self.wait_turn(&guard.key, mode)).await {
            Ok(()) => Ok(guard),
            Err(e) => {
                // Give the place up now, so that nobody queues behind a leaver.
                let _ = guard.unlock().await;
                Err(e)
            }
        }
    }

    /// Waits until the entry `key` may hold the lock in `mode`.
    async fn wait_turn(&self, key: &str, mode: RwLockMode) -> Result<()> {
        let client = self.session.client();
        loop {
            let (entries, revision) = entries(client, &self.path).await?;
            let Some(position) = entries.iter().position(|n| n.path == key) else {
                return Err(Error::SessionLost {
                    lease_id: self.session.lease_id(),
                });
            };
            let before = &entries[..position];
            let blocker = match mode {
                RwLockMode::Read => before
                    .iter()
                    .rev()
                    .find(|n| name(&n.path).starts_with(WRITE)),
                RwLockMode::Write => before.last(),
            };
            let Some(blocker) = blocker else {
                return Ok(());
            };
            wait_change(
                client,
                &blocker.path,
                WatchOptions::new(),
                &[EventType::Deleted],
                revision,
            )
            .await?;
        }
    }
}

/// A hold on an [`RwLock`]; released by [`unlock`](Self::unlock), on drop (in the
/// background), or when the session ends.
#[derive(Debug)]
pub struct RwLockGuard {
    client: Client,
    key: String,
    mode: RwLockMode,
    released: bool,
}

impl RwLockGuard {
    /// The hold's znode.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Shared or exclusive.
    pub fn mode(&self) -> RwLockMode {
        self.mode
    }

    /// Releases the hold.
    pub async fn unlock(mut self) -> Result<()> {
        self.released = true;
        remove(&self.client, &self.key).await
    }
}

impl Drop for RwLockGuard {
    fn drop(&mut self) {
        if !self.released {
            super::remove_later(&self.client, std::mem::take(&mut self.key));
        }
    }
}
