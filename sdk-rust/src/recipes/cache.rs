//! [`Cache`]: a local mirror of a subtree (a znode and all its descendants) kept fresh
//! by a [`Watcher`] (Curator's `TreeCache`). Reads are local and instant; the mirror
//! follows the cluster in revision order, and survives member failures because the
//! watcher resumes where it stopped. If the watcher falls behind the server's
//! history, the cache loads the subtree again.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::recipes::Cache;
//! let cache = Cache::start(&client, "/config").await?;
//! if let Some(node) = cache.get("/config/feature-x") {
//!     println!("feature-x = {:?}", node.data);
//! }
//! let write = client.put("/config/feature-x", "on", None).await?;
//! cache.wait_for_revision(write.header.revision).await?; // the mirror has it now
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::{
    Client, Error, EventType, GetOptions, ListOptions, Node, Result, WatchOptions, Watcher,
};

/// The mirrored znodes by path.
type Tree = BTreeMap<String, Node>;

/// A local mirror of the subtree at a path. Dropping it stops the updates.
#[derive(Debug)]
pub struct Cache {
    client: Client,
    path: String,
    tree: Arc<RwLock<Tree>>,
    revision: watch::Receiver<i64>,
    sync_tx: mpsc::Sender<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Loads the subtree at `path` into `tree` (replacing it), then returns a watcher of
/// every change after the first read, and the revision of the last read.
async fn load(client: &Client, path: &str, tree: &RwLock<Tree>) -> Result<(Watcher, i64)> {
    let mut loaded = Tree::new();
    // The first read fixes where the watch starts; later reads may already include
    // some of the changes it replays, which `apply` recognises by revision.
    let (first, root) = match client.get(path, None).await {
        Ok(got) => (got.header.revision, Some(got.node)),
        Err(Error::NotFound { .. }) => (
            client
                .get("/", GetOptions::new().stat_only())
                .await?
                .header
                .revision,
            None,
        ),
        Err(e) => return Err(e),
    };
    let mut last = first;
    if let Some(root) = root {
        if root.stat.num_children > 0 {
            match client
                .list_all(path, ListOptions::new().recursive().with_data())
                .await
            {
                Ok(all) => {
                    last = all.header.revision;
                    loaded.extend(all.nodes.into_iter().map(|n| (n.path.clone(), n)));
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        loaded.insert(root.path.clone(), root);
    }
    let watcher = client
        .watch(
            path,
            WatchOptions::new().subtree().start_revision(first + 1),
        )
        .await?;
    *tree.write().unwrap_or_else(|e| e.into_inner()) = loaded;
    Ok((watcher, last))
}

/// Applies one event unless the mirror already has that state or a later one.
fn apply(tree: &mut Tree, event: crate::Event) {
    let known = tree.get(&event.node.path).map(|n| n.stat.mod_revision);
    match event.kind {
        EventType::Created | EventType::Updated => {
            if known.is_none_or(|m| m < event.node.stat.mod_revision) {
                tree.insert(event.node.path.clone(), event.node);
            }
        }
        EventType::Deleted => {
            // A znode deleted and created again since has a newer mod revision.
            if known.is_some_and(|m| m < event.revision) {
                tree.remove(&event.node.path);
            }
        }
    }
}

impl Cache {
    /// Loads the subtree at `path` (which need not exist) and starts following it;
    /// returns once the mirror is complete.
    pub async fn start(client: &Client, path: impl Into<String>) -> Result<Cache> {
        let path = path.into();
        let tree = Arc::new(RwLock::new(Tree::new()));
        let (mut watcher, last) = load(client, &path, &tree).await?;
        // Catch up with the reads: until then the mirror may mix revisions.
        while watcher.revision() < last {
            let progress = watcher.progress().await?;
            while watcher.revision() < progress.min(last) {
                match watcher.next().await {
                    Some(Ok(event)) => {
                        apply(&mut tree.write().unwrap_or_else(|e| e.into_inner()), event)
                    }
                    Some(Err(e)) => return Err(e),
                    None => break,
                }
            }
        }
        let (revision_tx, revision) = watch::channel(watcher.revision().max(last));
        let (sync_tx, sync_rx) = mpsc::channel(16);
        let task = tokio::spawn(follow(
            client.clone(),
            path.clone(),
            tree.clone(),
            watcher,
            revision_tx,
            sync_rx,
        ));
        Ok(Cache {
            client: client.clone(),
            path,
            tree,
            revision,
            sync_tx,
            task,
        })
    }

    /// The root of the mirrored subtree.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The mirrored znode at `path`, if it exists.
    pub fn get(&self, path: &str) -> Option<Node> {
        self.read().get(path).cloned()
    }

    /// The direct children of `path`, in path order.
    pub fn children(&self, path: &str) -> Vec<Node> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.read()
            .range::<str, _>((Bound::Excluded(prefix.as_str()), Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Every mirrored znode, by path.
    pub fn nodes(&self) -> BTreeMap<String, Node> {
        self.read().clone()
    }

    /// How many znodes are mirrored.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether nothing is mirrored (the subtree does not exist).
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The revision the mirror reflects: every change up to it is applied.
    pub fn revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// A receiver of [`revision`](Self::revision), which changes after each applied
    /// change: `changed().await` on it to react to updates.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.revision.clone()
    }

    /// Waits until the mirror reflects every change up to `revision` (e.g. the
    /// revision of a write just made).
    pub async fn wait_for_revision(&self, revision: i64) -> Result<()> {
        let mut seen = self.revision.clone();
        loop {
            if *seen.borrow_and_update() >= revision {
                return Ok(());
            }
            // Changes elsewhere in the cluster move the revision without an event
            // here: ask the watcher how far it has got.
            let (done_tx, done_rx) = oneshot::channel();
            if self.sync_tx.send(done_tx).await.is_err() {
                return Err(stopped());
            }
            tokio::select! {
                changed = seen.changed() => changed.map_err(|_| stopped())?,
                done = done_rx => done.map_err(|_| stopped())?,
            }
        }
    }

    /// Waits until the mirror reflects every change acknowledged before the call.
    pub async fn sync(&self) -> Result<()> {
        let now = self
            .client
            .get("/", GetOptions::new().stat_only())
            .await?
            .header
            .revision;
        self.wait_for_revision(now).await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn stopped() -> Error {
    Error::Transport {
        message: "the cache stopped following its subtree".into(),
    }
}

/// Applies the watcher's events to `tree` and publishes the revision after each; on
/// compaction, loads the subtree again.
async fn follow(
    client: Client,
    path: String,
    tree: Arc<RwLock<Tree>>,
    mut watcher: Watcher,
    revision: watch::Sender<i64>,
    mut sync_rx: mpsc::Receiver<oneshot::Sender<()>>,
) {
    loop {
        tokio::select! {
            event = watcher.next() => match event {
                Some(Ok(event)) => {
                    apply(&mut tree.write().unwrap_or_else(|e| e.into_inner()), event);
                }
                Some(Err(Error::Compacted { .. })) => {
                    // Fell behind the history: start over from the current state.
                    loop {
                        match load(&client, &path, &tree).await {
                            Ok((fresh, last)) => {
                                watcher = fresh;
                                revision.send_modify(|r| *r = (*r).max(last));
                                break;
                            }
                            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                        }
                    }
                    continue;
                }
                // The watch cannot go on (it resumes by itself from anything else).
                Some(Err(_)) | None => return,
            },
            asked = sync_rx.recv() => {
                let Some(done) = asked else { return };
                if watcher.progress().await.is_err() {
                    return;
                }
                let _ = done.send(());
            },
            _ = revision.closed() => return,
        }
        let through = watcher.revision();
        revision.send_if_modified(|r| {
            let moved = through > *r;
            if moved {
                *r = through;
            }
            moved
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Stat};

    fn node(path: &str, create: i64, modified: i64) -> Node {
        Node {
            path: path.into(),
            data: modified.to_string().into_bytes(),
            stat: Stat {
                create_revision: create,
                mod_revision: modified,
                ..Stat::default()
            },
        }
    }

    fn event(kind: EventType, node: Node, revision: i64) -> Event {
        Event {
            kind,
            node,
            prev_node: None,
            revision,
        }
    }

    #[test]
    fn replayed_events_never_undo_a_newer_read() {
        let mut tree = Tree::new();
        // Read at revision 7: /a was updated at 7, /b recreated at 6.
        tree.insert("/a".into(), node("/a", 2, 7));
        tree.insert("/b".into(), node("/b", 6, 6));
        // Replay from revision 3: older changes leave the newer state alone.
        apply(&mut tree, event(EventType::Updated, node("/a", 2, 3), 3));
        apply(&mut tree, event(EventType::Deleted, node("/b", 1, 1), 4));
        assert_eq!(tree["/a"].stat.mod_revision, 7);
        assert_eq!(tree["/b"].stat.create_revision, 6);
        // Newer changes apply.
        apply(&mut tree, event(EventType::Updated, node("/a", 2, 8), 8));
        apply(&mut tree, event(EventType::Deleted, node("/b", 6, 6), 9));
        apply(&mut tree, event(EventType::Created, node("/c", 10, 10), 10));
        assert_eq!(tree["/a"].stat.mod_revision, 8);
        assert!(!tree.contains_key("/b"));
        assert!(tree.contains_key("/c"));
    }
}
