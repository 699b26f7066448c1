//! [`Semaphore`]: at most N holders at a time across processes (Curator's
//! `InterProcessSemaphoreV2`). Acquirers queue, in FIFO order, on a lock (the server's
//! Lock service, at `<path>.lock`); only the one at the head of that queue adds its
//! ephemeral permit under `<path>` and, while N permits are out, watches their
//! deletions. So a release wakes one waiter, never a herd.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::Semaphore, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let downloads = Semaphore::new(&session, "/semaphores/downloads", 3);
//! let permit = downloads.acquire().await?; // one of at most 3
//! // ... download ...
//! permit.release().await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::{bounded, create_entry, entries, remove, wait_change};
use crate::{Client, Error, EventType, LockOptions, Result, Session, WatchOptions};

/// A counting semaphore named by a path. Every user of one path must give it the same
/// number of permits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Semaphore {
    session: Session,
    path: String,
    permits: usize,
}

impl Semaphore {
    /// The semaphore at `path` with `permits` permits (at least 1), taken with
    /// `session`'s lease.
    pub fn new(session: &Session, path: impl Into<String>, permits: usize) -> Semaphore {
        Semaphore {
            session: session.clone(),
            path: path.into(),
            permits: permits.max(1),
        }
    }

    /// How many permits there are.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// How many permits are out now.
    pub async fn held(&self) -> Result<usize> {
        Ok(entries(self.session.client(), &self.path).await?.0.len())
    }

    /// Waits for a permit.
    pub async fn acquire(&self) -> Result<SemaphorePermit> {
        self.acquire_with(None).await
    }

    /// Waits at most `wait` for a permit, else fails with [`Error::WaitTimeout`] and
    /// leaves nothing behind.
    pub async fn acquire_timeout(&self, wait: Duration) -> Result<SemaphorePermit> {
        self.acquire_with(Some(wait)).await
    }

    async fn acquire_with(&self, wait: Option<Duration>) -> Result<SemaphorePermit> {
        self.session.check()?;
        let client = self.session.client();
        let lock_name = format!("{}.lock", self.path);
        let mut options = LockOptions::new();
        if let Some(wait) = wait {
            options = options.wait_timeout(wait);
        }
        let started = tokio::time::Instant::now();
        let lock = bounded(
            &self.session,
            None,
            client.lock(&lock_name, self.session.lease_id(), options),
        )
        .await?;
        let lock = super::KeyGuard::new(client, lock.key);
        let result = async {
            let (key, _) = create_entry(&self.session, &self.path, "permit-", Vec::new()).await?;
            let permit = SemaphorePermit {
                client: client.clone(),
                key,
                released: false,
            };
            let left = wait.map(|w| w.saturating_sub(started.elapsed()));
            match bounded(&self.session, left, self.wait_for_room(&permit.key)).await {
                Ok(()) => Ok(permit),
                Err(e) => {
                    let _ = permit.release().await;
                    Err(e)
                }
            }
        }
        .await;
        // The next acquirer may go on, whether this one got a permit or gave up.
        let _ = lock.release().await;
        result
    }

    /// Waits until at most `permits` entries (this one among them) are out.
    async fn wait_for_room(&self, key: &str) -> Result<()> {
        let client = self.session.client();
        loop {
            let (entries, revision) = entries(client, &self.path).await?;
            if !entries.iter().any(|n| n.path == key) {
                return Err(Error::SessionLost {
                    lease_id: self.session.lease_id(),
                });
            }
            if entries.len() <= self.permits {
                return Ok(());
            }
            wait_change(
                client,
                &self.path,
                WatchOptions::new().children(),
                &[EventType::Deleted],
                revision,
            )
            .await?;
        }
    }
}

/// A permit of a [`Semaphore`]; given back by [`release`](Self::release), on drop (in
/// the background), or when the session ends.
#[derive(Debug)]
pub struct SemaphorePermit {
    client: Client,
    key: String,
    released: bool,
}

impl SemaphorePermit {
    /// The permit's znode.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the permit back.
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        remove(&self.client, &self.key).await
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if !self.released {
            super::remove_later(&self.client, std::mem::take(&mut self.key));
        }
    }
}
