//! [`Session`]: a lease kept alive in the background, and the way to learn that it
//! was lost. Everything a process holds in the cluster (ephemeral znodes, locks,
//! leaderships, the recipes' queue entries) is bound to its session's lease.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{CreateOptions, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! client.create("/workers/w1", "", CreateOptions::new().ephemeral(session.lease_id())).await?;
//! tokio::select! {
//!     _ = session.lost() => eprintln!("session lost: /workers/w1 is gone"),
//!     _ = tokio::time::sleep(Duration::from_secs(60)) => {}
//! }
//! session.close().await?; // revokes the lease: /workers/w1 goes at once
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};

/// Default time to live of a session's lease.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(10);

/// A lease kept alive by a background task every TTL/3, on whichever member answers.
///
/// The session is *lost* when the server says the lease has ended, or when no
/// keepalive has succeeded for a whole TTL (the lease may have expired: whatever was
/// bound to it must be presumed gone). [`lost`](Self::lost) resolves then, and
/// [`is_lost`](Self::is_lost) turns true; a lost session stays lost (make a new one).
///
/// Cloning is cheap; clones share the lease. [`close`](Self::close) revokes the
/// lease. Dropping the last clone stops the keepalives and revokes the lease in the
/// background; [`orphan`](Self::orphan) stops the keepalives and leaves the lease to
/// expire, as a crash would.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    lease_id: i64,
    ttl: Duration,
    lost: watch::Receiver<bool>,
    /// The keepalive task; `None` once closed or orphaned.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    /// Stops the keepalives; returns whether they were running.
    fn stop(&self) -> bool {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        match task {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }
}

impl Session {
    /// Grants a lease of `ttl` (at least 1 s) and starts keeping it alive.
    pub async fn new(client: &Client, ttl: Duration) -> Result<Session> {
        let grant = client.lease_grant(ttl).await?;
        Ok(Self::keep(client, grant.lease_id, grant.ttl))
    }

    /// Keeps an existing lease of `ttl` alive as a session (e.g. one granted by
    /// another process that hands it over).
    pub fn from_lease(client: &Client, lease_id: i64, ttl: Duration) -> Session {
        Self::keep(client, lease_id, ttl)
    }

    fn keep(client: &Client, lease_id: i64, ttl: Duration) -> Session {
        let (lost_tx, lost) = watch::channel(false);
        let task = tokio::spawn(keep_alive(client.clone(), lease_id, ttl, lost_tx));
        Session {
            inner: Arc::new(Inner {
                client: client.clone(),
                lease_id,
                ttl,
                lost,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// The session's lease: bind ephemeral znodes, locks and campaigns to it.
    pub fn lease_id(&self) -> i64 {
        self.inner.lease_id
    }

    /// The lease's time to live.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// The client the session was made with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Whether the session is lost. A closed or orphaned session is not lost (its
    /// owner gave it up), but nothing should be bound to it any more.
    pub fn is_lost(&self) -> bool {
        *self.inner.lost.borrow()
    }

    /// Resolves once the session is lost (at once if it already is), with
    /// [`Error::SessionLost`]. Never resolves after [`close`](Self::close) or
    /// [`orphan`](Self::orphan).
    pub async fn lost(&self) -> Error {
        let mut lost = self.inner.lost.clone();
        if lost.wait_for(|&lost| lost).await.is_err() {
            // The keepalives were stopped on purpose: nothing will be lost any more.
            std::future::pending::<()>().await;
        }
        Error::SessionLost {
            lease_id: self.inner.lease_id,
        }
    }

    /// A receiver whose value turns `true` when the session is lost, for `select!`
    /// loops or to hand to other tasks.
    pub fn lost_receiver(&self) -> watch::Receiver<bool> {
        self.inner.lost.clone()
    }

    /// Fails with [`Error::SessionLost`] if the session is lost.
    pub fn check(&self) -> Result<()> {
        if self.is_lost() {
            return Err(Error::SessionLost {
                lease_id: self.inner.lease_id,
            });
        }
        Ok(())
    }

    /// Stops the keepalives and revokes the lease: its ephemeral znodes are deleted,
    /// its locks and leaderships released, at once. A lease that already ended is
    /// not an error.
    pub async fn close(&self) -> Result<()> {
        self.inner.stop();
        match self.inner.client.lease_revoke(self.inner.lease_id).await {
            Ok(_) | Err(Error::LeaseNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops the keepalives without revoking the lease, and returns its id: what is
    /// bound to it lasts until the TTL runs out, as if this process had crashed.
    pub fn orphan(&self) -> i64 {
        self.inner.stop();
        self.inner.lease_id
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.stop() {
            return;
        }
        // Release what the session holds now rather than a TTL later, if a runtime is
        // there to do it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            let lease_id = self.lease_id;
            runtime.spawn(async move {
                let _ = client.lease_revoke(lease_id).await;
            });
        }
    }
}

/// Refreshes the lease every `ttl / 3` until it is lost; then says so on `lost`.
async fn keep_alive(client: Client, lease_id: i64, ttl: Duration, lost: watch::Sender<bool>) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    // Each keepalive may take at most until the next one is due; a failed one is
    // retried (on the next member) until a whole TTL passed without success.
    let mut keeper = client.with_timeout(Some(every)).lease_keep_alive(lease_id);
    let mut last_ok = Instant::now();
    loop {
        match keeper.keep_alive().await {
            Ok(_) => {
                last_ok = Instant::now();
                tokio::time::sleep_until(last_ok + every).await;
            }
            Err(Error::LeaseNotFound { .. }) => break,
            Err(_) if last_ok.elapsed() >= ttl => {
                // Presumed expired; make sure it is, so nothing bound to it outlives
                // what its holders now believe.
                let _ = client.lease_revoke(lease_id).await;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let _ = lost.send(true);
}
