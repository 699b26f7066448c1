//! [`ConfigWatcher`]: the latest value of one configuration znode, kept fresh in the
//! background by a resuming watch, for code that reads its config often and must react
//! when it changes.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::recipes::ConfigWatcher;
//! let mut config = ConfigWatcher::start(&client, "/config/rate-limit").await?;
//! loop {
//!     let limit = config.current().map(|n| String::from_utf8_lossy(&n.data).into_owned());
//!     println!("rate limit is now {limit:?}");
//!     config.changed().await?;
//! }
//! # }
//! ```

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Client, Error, EventType, GetOptions, Node, Result, WatchOptions, Watcher};

/// The latest value of a znode (`None` while it does not exist). Dropping it stops
/// the updates.
#[derive(Debug)]
pub struct ConfigWatcher {
    value: watch::Receiver<Option<Node>>,
    task: JoinHandle<()>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads `path` and returns its node and a watcher of every change after that read.
async fn load(client: &Client, path: &str) -> Result<(Option<Node>, Watcher)> {
    let (node, revision) = match client.get(path, None).await {
        Ok(got) => (Some(got.node), got.header.revision),
        Err(Error::NotFound { .. }) => (
            None,
            client
                .get("/", GetOptions::new().stat_only())
                .await?
                .header
                .revision,
        ),
        Err(e) => return Err(e),
    };
    let watcher = client
        .watch(path, WatchOptions::new().start_revision(revision + 1))
        .await?;
    Ok((node, watcher))
}

impl ConfigWatcher {
    /// Reads `path` (which need not exist) and follows it.
    pub async fn start(client: &Client, path: impl Into<String>) -> Result<ConfigWatcher> {
        let path = path.into();
        let (node, watcher) = load(client, &path).await?;
        let (tx, value) = watch::channel(node);
        let task = tokio::spawn(follow(client.clone(), path, watcher, tx));
        Ok(ConfigWatcher { value, task })
    }

    /// The value now.
    pub fn current(&self) -> Option<Node> {
        self.value.borrow().clone()
    }

    /// Waits for the next change and returns the new value (`None`: deleted).
    pub async fn changed(&mut self) -> Result<Option<Node>> {
        self.value.changed().await.map_err(|_| Error::Transport {
            message: "the config watcher stopped".into(),
        })?;
        Ok(self.value.borrow_and_update().clone())
    }

    /// A receiver of the value, to hand to other tasks.
    pub fn subscribe(&self) -> watch::Receiver<Option<Node>> {
        self.value.clone()
    }
}

async fn follow(
    client: Client,
    path: String,
    mut watcher: Watcher,
    value: watch::Sender<Option<Node>>,
) {
    loop {
        let event = tokio::select! {
            event = watcher.next() => event,
            _ = value.closed() => return,
        };
        match event {
            Some(Ok(event)) => {
                let node = match event.kind {
                    EventType::Created | EventType::Updated => Some(event.node),
                    EventType::Deleted => None,
                };
                value.send_replace(node);
            }
            Some(Err(Error::Compacted { .. })) => loop {
                match load(&client, &path).await {
                    Ok((node, fresh)) => {
                        watcher = fresh;
                        value.send_if_modified(|v| {
                            let changed = *v != node;
                            *v = node;
                            changed
                        });
                        break;
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                }
            },
            Some(Err(_)) | None => return,
        }
    }
}
