//! [`Mutex`]: an exclusive, fair lock across processes, held by a [`Session`], on the
//! server's Lock service (FIFO queue, each waiter watching only its predecessor).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::Mutex, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let mutex = Mutex::new(&session, "/locks/reindex");
//! let guard = mutex.lock().await?;
//! // Pass the token to the protected resource: it refuses older holders.
//! println!("holding with fencing token {}", guard.fencing_token());
//! guard.unlock().await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::{bounded, lease_error};
use crate::{Client, Error, LockOptions, Result, Session};

/// An exclusive lock named by a path (e.g. `/locks/reindex`), taken in FIFO order.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Mutex {
    session: Session,
    name: String,
}

impl Mutex {
    /// The lock `name` (an absolute path other than `/`), taken with `session`'s lease.
    pub fn new(session: &Session, name: impl Into<String>) -> Mutex {
        Mutex {
            session: session.clone(),
            name: name.into(),
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until this session holds the lock. Fails with [`Error::SessionLost`] if
    /// the session is lost first.
    pub async fn lock(&self) -> Result<MutexGuard> {
        self.acquire(LockOptions::new()).await
    }

    /// Waits at most `wait` for the lock, else fails with [`Error::WaitTimeout`] and
    /// leaves no place in the queue.
    pub async fn lock_timeout(&self, wait: Duration) -> Result<MutexGuard> {
        self.acquire(LockOptions::new().wait_timeout(wait)).await
    }

    async fn acquire(&self, options: LockOptions) -> Result<MutexGuard> {
        self.session.check()?;
        let client = self.session.client();
        let held = bounded(
            &self.session,
            None,
            client.lock(&self.name, self.session.lease_id(), options),
        )
        .await
        .map_err(|e| lease_error(&self.session, e))?;
        Ok(MutexGuard {
            client: client.clone(),
            session: self.session.clone(),
            key: held.key,
            fencing_token: held.fencing_token,
            released: false,
        })
    }
}

/// A held [`Mutex`]; released by [`unlock`](Self::unlock), on drop (in the
/// background), or when the session ends.
#[derive(Debug)]
pub struct MutexGuard {
    client: Client,
    session: Session,
    key: String,
    fencing_token: i64,
    released: bool,
}

impl MutexGuard {
    /// The holder's queue znode.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Strictly increasing for each new holder of this lock: hand it to the protected
    /// resource, which refuses requests with a lower token than one it has seen.
    pub fn fencing_token(&self) -> i64 {
        self.fencing_token
    }

    /// Whether the lock may still be held: false once the session is lost.
    pub fn is_held(&self) -> bool {
        !self.session.is_lost()
    }

    /// Resolves when the session is lost, and with it the lock.
    pub async fn lost(&self) -> Error {
        self.session.lost().await
    }

    /// Releases the lock.
    pub async fn unlock(mut self) -> Result<()> {
        self.released = true;
        self.client
            .unlock(&self.key, self.session.lease_id())
            .await
            .map(drop)
    }
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        if !self.released {
            super::remove_later(&self.client, std::mem::take(&mut self.key));
        }
    }
}
