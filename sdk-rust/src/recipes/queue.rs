//! [`Queue`]: a distributed work queue (ZooKeeper's queue recipe). Producers add
//! persistent sequential znodes `q-<priority>-<seq>` under the queue's path; a
//! consumer takes the first one in name order by deleting it: exactly one consumer's
//! delete succeeds, so each item is taken once. Items of equal priority come out in
//! the order they were put (FIFO); a higher priority comes out first.
//!
//! Deletes carry a request id, so a consumer whose delete is cut off by a failover
//! learns that it did take the item rather than losing it.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::recipes::Queue;
//! let queue = Queue::new(&client, "/queues/jobs");
//! queue.put("job 1").await?;
//! queue.put_with_priority("urgent", 10).await?;
//! assert_eq!(queue.take().await?, b"urgent");
//! assert_eq!(queue.take().await?, b"job 1");
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::{name, wait_change};
use crate::{Client, CreateOptions, Error, EventType, ListOptions, Node, Result, WatchOptions};

/// Items read per listing when looking for one to take.
const PAGE: i32 = 100;

/// A queue at a path. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    path: String,
}

/// `q-<5 digits>-`: higher priorities get smaller digits, so they sort first.
fn prefix(priority: i16) -> String {
    format!("q-{:05}-", i32::from(i16::MAX) - i32::from(priority))
}

impl Queue {
    /// The queue at `path` (a persistent znode, created with its parents on first use).
    pub fn new(client: &Client, path: impl Into<String>) -> Queue {
        Queue {
            client: client.clone(),
            path: path.into(),
        }
    }

    /// Adds an item at priority 0; returns its znode.
    pub async fn put(&self, item: impl Into<Vec<u8>>) -> Result<String> {
        self.put_with_priority(item, 0).await
    }

    /// Adds an item: higher `priority` items are taken first; equal ones in FIFO order.
    pub async fn put_with_priority(
        &self,
        item: impl Into<Vec<u8>>,
        priority: i16,
    ) -> Result<String> {
        let path = super::join(&self.path, &prefix(priority));
        let options = CreateOptions::new().sequential().create_parents();
        Ok(self.client.create(path, item, options).await?.path)
    }

    /// The first items (at most `PAGE`) in the order they will be taken, and the
    /// revision of the read; none if the queue was never used.
    async fn head(&self) -> Result<(Vec<Node>, i64)> {
        let options = ListOptions::new().with_data().limit(PAGE);
        match self.client.list(&self.path, options).await {
            Ok(page) => {
                let items = page
                    .nodes
                    .into_iter()
                    .filter(|n| name(&n.path).starts_with("q-"))
                    .collect();
                Ok((items, page.header.revision))
            }
            Err(Error::NotFound { .. }) => {
                // Make the queue's znode so that consumers have something to watch.
                let options = CreateOptions::new().create_parents();
                match self.client.create(&self.path, "", options).await {
                    Ok(made) => Ok((Vec::new(), made.header.revision)),
                    Err(Error::AlreadyExists { .. }) => Box::pin(self.head()).await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Takes the first item if there is one.
    pub async fn try_take(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.take_one().await?.0)
    }

    /// Takes the first item of a listing (deleting it), or returns the revision the
    /// queue was empty at.
    async fn take_one(&self) -> Result<(Option<Vec<u8>>, i64)> {
        loop {
            let (items, revision) = self.head().await?;
            if items.is_empty() {
                return Ok((None, revision));
            }
            for item in items {
                match self.client.delete(&item.path, None).await {
                    Ok(_) => return Ok((Some(item.data), revision)),
                    // Another consumer took it.
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Takes the first item, waiting for one if the queue is empty.
    ///
    /// Do not cancel this future (e.g. with `tokio::time::timeout`): a take whose delete
    /// already reached the server has removed the item, and a cancelled one loses it.
    /// [`Queue::take_timeout`] bounds only the waiting.
    pub async fn take(&self) -> Result<Vec<u8>> {
        loop {
            let (item, revision) = self.take_one().await?;
            if let Some(item) = item {
                return Ok(item);
            }
            wait_change(
                &self.client,
                &self.path,
                WatchOptions::new().children(),
                &[EventType::Created],
                revision,
            )
            .await?;
        }
    }

    /// Takes the first item, waiting at most `wait` for one to arrive (`None` if none
    /// came). Only the waiting is bounded: a take in progress always finishes, since
    /// cutting it short after its delete reached the server would lose the item.
    pub async fn take_timeout(&self, wait: Duration) -> Result<Option<Vec<u8>>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (item, revision) = self.take_one().await?;
            if item.is_some() {
                return Ok(item);
            }
            let change = wait_change(
                &self.client,
                &self.path,
                WatchOptions::new().children(),
                &[EventType::Created],
                revision,
            );
            match tokio::time::timeout_at(deadline, change).await {
                Ok(changed) => changed?,
                Err(_) => return Ok(None),
            }
        }
    }

    /// How many items are in the queue now.
    pub async fn len(&self) -> Result<usize> {
        match self.client.list_all(&self.path, None).await {
            Ok(all) => Ok(all
                .nodes
                .iter()
                .filter(|n| name(&n.path).starts_with("q-"))
                .count()),
            Err(Error::NotFound { .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Whether the queue is empty now.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix;

    #[test]
    fn higher_priorities_sort_first_and_every_priority_fits() {
        assert!(prefix(10) < prefix(0));
        assert!(prefix(0) < prefix(-10));
        assert!(prefix(i16::MAX) < prefix(i16::MIN));
        assert_eq!(prefix(i16::MAX), "q-00000-");
        assert_eq!(prefix(i16::MIN), "q-65535-");
    }
}
