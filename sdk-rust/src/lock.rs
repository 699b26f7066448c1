//! The Lock calls on [`Client`]: fair (FIFO) locks held by a lease, with fencing
//! tokens, served by the server's Lock service. [`recipes::Mutex`](crate::recipes::Mutex)
//! wraps them in a guard bound to a [`Session`](crate::Session).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client, lease_id: i64) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::LockOptions;
//! let held = client.lock("/locks/db", lease_id, LockOptions::new().wait_timeout(Duration::from_secs(5))).await?;
//! // ... pass held.fencing_token to the protected resource ...
//! client.unlock(&held.key, lease_id).await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use corral_proto::v1 as pb;
use corral_proto::v1::lock_client::LockClient;

use crate::client::{Client, Transport};
use crate::error::Result;
use crate::lease::millis;
use crate::retry::Retry;
use crate::types::Header;
use crate::types::{wire_header, FromWire};

/// Options of [`Client::lock`] and [`Client::campaign`](crate::Client::campaign).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockOptions {
    wait_timeout: Option<Duration>,
}

impl LockOptions {
    /// Defaults: wait as long as it takes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives up after waiting `wait` with [`Error::WaitTimeout`], leaving no entry in
    /// the queue.
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.wait_timeout = Some(wait);
        self
    }

    /// The wait in milliseconds for the wire (0: no limit of its own).
    pub(crate) fn wait_ms(&self) -> i64 {
        self.wait_timeout.map_or(0, |w| millis(w).max(1))
    }

    /// The whole call's time limit: the wait plus the client's timeout for the rest
    /// (`None`, no limit, when there is no wait timeout).
    pub(crate) fn call_timeout(&self, client: &Client) -> Option<Duration> {
        let wait = self.wait_timeout?;
        Some(wait + client.timeout().unwrap_or(crate::DEFAULT_TIMEOUT))
    }
}

/// A held lock, from [`Client::lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockResponse {
    /// Header of the answer.
    pub header: Header,
    /// The holder's znode (a sequential ephemeral child of the lock); pass it to
    /// [`Client::unlock`].
    pub key: String,
    /// Strictly increasing for each new holder of this lock (the key's create
    /// revision): a protected resource rejects requests with a lower token than one it
    /// has seen.
    pub fencing_token: i64,
}

impl FromWire<pb::LockResponse> for LockResponse {
    fn from_wire(r: pb::LockResponse) -> Result<Self> {
        Ok(LockResponse {
            header: wire_header(r.header)?,
            key: r.key,
            fencing_token: r.fencing_token,
        })
    }
}

/// Result of [`Client::unlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnlockResponse {
    /// Header of the answer.
    pub header: Header,
}

impl FromWire<pb::UnlockResponse> for UnlockResponse {
    fn from_wire(r: pb::UnlockResponse) -> Result<Self> {
        Ok(UnlockResponse {
            header: wire_header(r.header)?,
        })
    }
}

fn lock_stub(channel: Transport) -> LockClient<Transport> {
    LockClient::new(channel)
}

impl Client {
    /// Waits until lease `lease_id` holds lock `name` (an absolute path other than
    /// `/`; created as a container znode if absent) and returns its key and fencing
    /// token. Waiters are served in FIFO order. The lock is released by
    /// [`Client::unlock`] or when the lease ends.
    ///
    /// A lease has one place per lock, so the call is sent again after a broken
    /// connection or an unavailable member: the retry finds the same place. Without a
    /// wait timeout the call has no time limit. Fails with [`Error::WaitTimeout`],
    /// [`Error::LeaseNotFound`], [`Error::EntryGone`] (the lease ended while waiting),
    /// [`Error::InvalidArgument`].
    pub async fn lock(
        &self,
        name: impl Into<String>,
        lease_id: i64,
        options: impl Into<Option<LockOptions>>,
    ) -> Result<LockResponse> {
        let name = name.into();
        let options = options.into().unwrap_or_default();
        let request = pb::LockRequest {
            name: name.clone(),
            lease_id,
            wait_timeout_ms: options.wait_ms(),
        };
        self.call_with(
            options.call_timeout(self),
            &name,
            Retry::Safe,
            request,
            |channel, r| async move { lock_stub(channel).lock(r).await },
        )
        .await
    }

    /// Releases a held lock (or gives up a place in its queue) by its key and the lease
    /// given to [`Client::lock`]. Releasing a key that is already gone succeeds; a key
    /// that is not a lock's queue entry, or is another lease's, is refused
    /// ([`Error::FailedPrecondition`] with reason `NOT_QUEUE_ENTRY` / `NOT_ENTRY_OWNER`)
    /// and left alone.
    pub async fn unlock(&self, key: impl Into<String>, lease_id: i64) -> Result<UnlockResponse> {
        let key = key.into();
        let request = pb::UnlockRequest {
            key: key.clone(),
            lease_id,
        };
        self.call(&key, Retry::Safe, request, |channel, r| async move {
            lock_stub(channel).unlock(r).await
        })
        .await
    }
}
