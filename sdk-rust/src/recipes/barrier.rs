//! [`Barrier`]: processes wait until a controller lifts it (Curator's
//! `DistributedBarrier`). The barrier is up while its znode exists; waiters watch that
//! znode for its deletion.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::recipes::Barrier;
//! let barrier = Barrier::new(&client, "/barriers/deploy");
//! barrier.set().await?;     // the controller raises it
//! // workers: barrier.wait().await? returns once it is lifted
//! barrier.remove().await?;  // the controller lifts it
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::wait_change;
use crate::{Client, CreateOptions, Error, EventType, GetOptions, Result, Session, WatchOptions};

/// A barrier at a path. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// The barrier at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Barrier {
        Barrier {
            client: client.clone(),
            path: path.into(),
        }
    }

    /// Raises the barrier until [`remove`](Self::remove) (a persistent znode; missing
    /// parents are created). Raising a raised barrier changes nothing.
    pub async fn set(&self) -> Result<()> {
        self.raise(CreateOptions::new().create_parents()).await
    }

    /// Raises the barrier until [`remove`](Self::remove) or until `session` ends: if
    /// the controller dies, the barrier lifts by itself once its lease expires.
    pub async fn set_with_session(&self, session: &Session) -> Result<()> {
        self.raise(
            CreateOptions::new()
                .create_parents()
                .ephemeral(session.lease_id()),
        )
        .await
    }

    async fn raise(&self, options: CreateOptions) -> Result<()> {
        match self.client.create(&self.path, "", options).await {
            Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lifts the barrier: every waiter goes on. Lifting a lifted barrier changes nothing.
    pub async fn remove(&self) -> Result<()> {
        super::remove(&self.client, &self.path).await
    }

    /// Whether the barrier is up now.
    pub async fn is_set(&self) -> Result<bool> {
        match self
            .client
            .get(&self.path, GetOptions::new().stat_only())
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until the barrier is lifted (returns at once if it is not up).
    pub async fn wait(&self) -> Result<()> {
        loop {
            let revision = match self
                .client
                .get(&self.path, GetOptions::new().stat_only())
                .await
            {
                Ok(node) => node.header.revision,
                Err(Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            wait_change(
                &self.client,
                &self.path,
                WatchOptions::new(),
                &[EventType::Deleted],
                revision,
            )
            .await?;
        }
    }

    /// Waits at most `wait` for the barrier to lift, else fails with
    /// [`Error::WaitTimeout`].
    pub async fn wait_timeout(&self, wait: Duration) -> Result<()> {
        tokio::time::timeout(wait, self.wait())
            .await
            .map_err(|_| Error::WaitTimeout {
                message: format!("barrier {} still up after {wait:?}", self.path),
            })?
    }
}
