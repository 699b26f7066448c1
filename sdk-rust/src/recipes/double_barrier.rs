//! [`DoubleBarrier`]: a fixed number of participants enter a computation together and
//! leave it together (ZooKeeper's double barrier, as in etcd's recipe). Under the
//! barrier's path each participant holds an ephemeral `p-<seq>` znode; the last to
//! enter creates `ready`, which releases everyone waiting to enter; leaving waits
//! until every participant's znode is gone, and the last one out deletes `ready`.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::DoubleBarrier, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let barrier = DoubleBarrier::new(&session, "/barriers/round-1", 3);
//! barrier.enter().await?; // returns once 3 participants have entered
//! // ... compute ...
//! barrier.leave().await?; // returns once all 3 have left
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{bounded, create_entry, join, name, remove, wait_change};
use crate::{CreateOptions, Error, EventType, ListOptions, Node, Result, Session, WatchOptions};

const READY: &str = "ready";

/// A double barrier for `count` participants at a path; one value per participant
/// (it remembers its own entry). Clones share the entry.
#[derive(Debug, Clone)]
pub struct DoubleBarrier {
    session: Session,
    path: String,
    count: usize,
    entry: Arc<Mutex<Option<String>>>,
}

impl DoubleBarrier {
    /// The barrier at `path` for `count` participants, entered with `session`'s
    /// lease: a participant whose session ends counts as having left.
    pub fn new(session: &Session, path: impl Into<String>, count: usize) -> DoubleBarrier {
        DoubleBarrier {
            session: session.clone(),
            path: path.into(),
            count: count.max(1),
            entry: Arc::new(Mutex::new(None)),
        }
    }

    /// The barrier's children and the revision they were read at; none if absent.
    async fn children(&self) -> Result<(Vec<Node>, i64)> {
        let client = self.session.client();
        match client.list(&self.path, ListOptions::new()).await {
            Ok(page) => Ok((page.nodes, page.header.revision)),
            Err(Error::NotFound { .. }) => Ok((Vec::new(), 0)),
            Err(e) => Err(e),
        }
    }

    /// Enters, and waits until `count` participants have.
    pub async fn enter(&self) -> Result<()> {
        self.enter_with(None).await
    }

    /// As [`enter`](Self::enter), giving up after `wait` with [`Error::WaitTimeout`]
    /// (the entry stays until [`leave`](Self::leave)).
    pub async fn enter_timeout(&self, wait: Duration) -> Result<()> {
        self.enter_with(Some(wait)).await
    }

    async fn enter_with(&self, wait: Option<Duration>) -> Result<()> {
        self.session.check()?;
        let existing = self.entry.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if existing.is_none() {
            let (key, _) = create_entry(&self.session, &self.path, "p-", Vec::new()).await?;
            *self.entry.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
        }
        bounded(&self.session, wait, self.wait_ready()).await
    }

    async fn wait_ready(&self) -> Result<()> {
        let client = self.session.client();
        loop {
            let (children, revision) = self.children().await?;
            if children.iter().any(|n| name(&n.path) == READY) {
                return Ok(());
            }
            if children.len() >= self.count {
                let ready = join(&self.path, READY);
                return match client.create(ready, "", CreateOptions::new()).await {
                    Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
                    Err(e) => Err(e),
                };
            }
            wait_change(
                client,
                &self.path,
                WatchOptions::new().children(),
                &[EventType::Created],
                revision,
            )
            .await?;
        }
    }

    /// Leaves, and waits until every participant has left (or lost its session).
    pub async fn leave(&self) -> Result<()> {
        self.leave_with(None).await
    }

    /// As [`leave`](Self::leave), giving up after `wait` with [`Error::WaitTimeout`].
    pub async fn leave_timeout(&self, wait: Duration) -> Result<()> {
        self.leave_with(Some(wait)).await
    }

    async fn leave_with(&self, wait: Option<Duration>) -> Result<()> {
        let client = self.session.client();
        let entry = self.entry.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(entry) = entry {
            remove(client, &entry).await?;
        }
        let wait_all = async {
            loop {
                let (children, revision) = self.children().await?;
                let left = children.iter().filter(|n| name(&n.path) != READY).count();
                if left == 0 {
                    return remove(client, &join(&self.path, READY)).await;
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
        };
        match wait {
            Some(wait) => {
                tokio::time::timeout(wait, wait_all)
                    .await
                    .map_err(|_| Error::WaitTimeout {
                        message: format!("participants still in {} after {wait:?}", self.path),
                    })?
            }
            None => wait_all.await,
        }
    }
}
