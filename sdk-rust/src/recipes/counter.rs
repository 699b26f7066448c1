//! [`Counter`]: a shared integer in one znode (decimal text), changed by
//! compare-and-set: read the value and its version, write the new value only at that
//! version, retry on a conflict. Writes carry a request id, so an add whose answer is
//! lost to a failover is not applied twice.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::recipes::Counter;
//! let visits = Counter::new(&client, "/counters/visits");
//! let now = visits.add(1).await?;
//! println!("visit number {now}");
//! # Ok(())
//! # }
//! ```

use crate::{Client, CreateOptions, Error, PutOptions, Result};

/// A counter at a path; absent counts as 0. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Counter {
    client: Client,
    path: String,
}

impl Counter {
    /// The counter at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Counter {
        Counter {
            client: client.clone(),
            path: path.into(),
        }
    }

    /// The value and the znode's version (`None` if absent).
    async fn read(&self) -> Result<(i64, Option<i64>)> {
        match self.client.get(&self.path, None).await {
            Ok(got) => {
                let text = String::from_utf8_lossy(&got.node.data);
                let value = text
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| Error::FailedPrecondition {
                        reason: Some("NOT_A_NUMBER".into()),
                        path: Some(self.path.clone()),
                        message: format!("{} holds {text:?}, not an integer", self.path),
                    })?;
                Ok((value, Some(got.node.stat.version)))
            }
            Err(Error::NotFound { .. }) => Ok((0, None)),
            Err(e) => Err(e),
        }
    }

    /// The current value (0 if the counter was never set).
    pub async fn get(&self) -> Result<i64> {
        Ok(self.read().await?.0)
    }

    /// Adds `delta` atomically and returns the new value. Fails with
    /// [`Error::InvalidArgument`] on overflow.
    pub async fn add(&self, delta: i64) -> Result<i64> {
        loop {
            let (value, version) = self.read().await?;
            let new = value
                .checked_add(delta)
                .ok_or_else(|| Error::InvalidArgument {
                    reason: crate::InvalidReason::InvalidArgument,
                    path: Some(self.path.clone()),
                    message: format!("{value} + {delta} overflows"),
                })?;
            let written = match version {
                None => self
                    .client
                    .create(
                        &self.path,
                        new.to_string(),
                        CreateOptions::new().create_parents(),
                    )
                    .await
                    .map(drop),
                Some(version) => self
                    .client
                    .put(
                        &self.path,
                        new.to_string(),
                        PutOptions::new().expected_version(version),
                    )
                    .await
                    .map(drop),
            };
            match written {
                Ok(()) => return Ok(new),
                // Someone else changed it first: read again.
                Err(
                    Error::VersionMismatch { .. }
                    | Error::AlreadyExists { .. }
                    | Error::NotFound { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Adds one; returns the new value.
    pub async fn increment(&self) -> Result<i64> {
        self.add(1).await
    }

    /// Subtracts one; returns the new value.
    pub async fn decrement(&self) -> Result<i64> {
        self.add(-1).await
    }

    /// Sets the value, whatever it was.
    pub async fn set(&self, value: i64) -> Result<()> {
        let options = PutOptions::new().create_if_missing();
        match self
            .client
            .put(&self.path, value.to_string(), options)
            .await
        {
            Ok(_) => Ok(()),
            // create_if_missing needs the parent.
            Err(Error::ParentNotFound { .. }) => self
                .client
                .create(
                    &self.path,
                    value.to_string(),
                    CreateOptions::new().create_parents(),
                )
                .await
                .map(drop),
            Err(e) => Err(e),
        }
    }
}
