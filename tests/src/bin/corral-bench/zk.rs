//! ZooKeeper driver: the `zookeeper-client` crate (native protocol). A [`Conn`] is one
//! session (one TCP connection to one server). ZooKeeper keeps one watch per path per
//! session and ties ephemeral znodes and lock entries to the session, so the watch,
//! lock and lease workloads give each watcher / contender / lease a session of its own.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use zookeeper_client::{
    Acls, AddWatchMode, Client, CreateMode, CreateOptions, Error as ZkError, EventType,
    MultiWriteError, SessionState,
};

use crate::args::Consistency;

/// Session timeout of the sessions that are not leases.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn ephemeral() -> CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all())
}

/// One session with one server.
#[derive(Clone)]
pub struct Conn {
    client: Client,
}

impl Conn {
    pub async fn connect(endpoint: &str) -> Result<Conn> {
        Self::connect_with(endpoint, SESSION_TIMEOUT, false).await
    }

    /// Opens a session; a `detached` one is not closed when dropped (it expires).
    pub async fn connect_with(endpoint: &str, timeout: Duration, detached: bool) -> Result<Conn> {
        let mut connector = Client::connector().with_session_timeout(timeout);
        if detached {
            connector = connector.with_detached();
        }
        let client = connector
            .connect(endpoint)
            .await
            .with_context(|| format!("connecting to zookeeper at {endpoint}"))?;
        Ok(Conn { client })
    }

    /// Closes the session and waits until the server confirmed (its ephemerals are gone).
    pub async fn close(self) -> Result<()> {
        let mut states = self.client.state_watcher();
        drop(self.client);
        loop {
            match states.changed().await {
                SessionState::Closed => return Ok(()),
                s if s.is_terminated() => bail!("session ended as {s:?} while closing"),
                _ => continue,
            }
        }
    }

    /// Creates `path` and its ancestors as persistent znodes if absent.
    pub async fn ensure_dir(&self, path: &str) -> Result<()> {
        self.client.mkdir(path, &persistent()).await?;
        Ok(())
    }

    /// Sets `key` to `value`, creating it if absent. ZooKeeper has no upsert: a key the
    /// caller believes `fresh` is created first (one request when it is indeed absent),
    /// any other is set first; the other request follows only when the guess was wrong.
    pub async fn put(&self, key: &str, value: Vec<u8>, fresh: bool) -> Result<()> {
        if fresh {
            match self.client.create(key, &value, &persistent()).await {
                Err(ZkError::NodeExists) => {}
                other => return other.map(|_| ()).map_err(Into::into),
            }
            self.client.set_data(key, &value, None).await?;
        } else {
            match self.client.set_data(key, &value, None).await {
                Err(ZkError::NoNode) => {}
                other => return other.map(|_| ()).map_err(Into::into),
            }
            match self.client.create(key, &value, &persistent()).await {
                Err(ZkError::NodeExists) => {
                    self.client.set_data(key, &value, None).await?;
                }
                other => other.map(|_| ())?,
            }
        }
        Ok(())
    }

    /// Creates `key` (fails if it exists).
    pub async fn create(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.client.create(key, &value, &persistent()).await?;
        Ok(())
    }

    /// Reads `key`. ZooKeeper reads are served by the connected server; `linearizable`
    /// pipelines a `sync` before the read (ZooKeeper's way to read the latest write).
    pub async fn get(&self, key: &str, consistency: Consistency) -> Result<()> {
        match consistency {
            Consistency::Serializable => {
                self.client.get_data(key).await?;
            }
            Consistency::Linearizable => {
                // Both are sent now, in order; the server answers the read after the sync.
                let sync = self.client.sync(key);
                let read = self.client.get_data(key);
                sync.await?;
                read.await?;
            }
        }
        Ok(())
    }

    /// The token a compare-and-set compares: the znode's version.
    pub async fn cas_token(&self, key: &str) -> Result<i64> {
        let stat = self.client.check_stat(key).await?;
        Ok(stat.map(|s| s.version as i64).unwrap_or(0))
    }

    /// One multi: check `key`'s version is `token`, set `value`. Returns the new token, or
    /// `None` when the check failed.
    pub async fn cas(&self, key: &str, token: i64, value: Vec<u8>) -> Result<Option<i64>> {
        let mut writer = self.client.new_multi_writer();
        writer.add_check_version(key, token as i32)?;
        writer.add_set_data(key, &value, None)?;
        match writer.commit().await {
            Ok(_) => Ok(Some(token + 1)),
            Err(MultiWriteError::OperationFailed {
                index: 0,
                source: ZkError::BadVersion,
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds a persistent recursive watch on `dir` (ZooKeeper 3.6+) to this session.
    pub async fn watch(&self, dir: &str) -> Result<Watch> {
        let watcher = self
            .client
            .watch(dir, AddWatchMode::PersistentRecursive)
            .await?;
        Ok(Watch {
            watcher,
            _session: self.client.clone(),
        })
    }

    pub async fn create_ephemeral(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.client.create(key, &value, &ephemeral()).await?;
        Ok(())
    }

    /// A request that only refreshes the session (any request does): a stat of `key`.
    pub async fn touch(&self, key: &str) -> Result<()> {
        self.client.check_stat(key).await?;
        Ok(())
    }

    /// Takes the lock `dir` with ZooKeeper's recipe: an ephemeral sequential child, then
    /// wait for the deletion of the next lower child (no herd effect). Returns the
    /// child's path, to delete on release.
    pub async fn lock(&self, dir: &str) -> Result<String> {
        let prefix = format!("{dir}/lock-");
        let mode = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
        let (_, sequence) = self.client.create(&prefix, &[], &mode).await?;
        let mine = format!("lock-{sequence}");
        loop {
            let mut children = self.client.list_children(dir).await?;
            children.retain(|c| c.starts_with("lock-"));
            // Names share the prefix and a fixed-width counter: byte order is queue order.
            children.sort_unstable();
            let position = children
                .iter()
                .position(|c| *c == mine)
                .ok_or_else(|| anyhow!("lock entry {dir}/{mine} vanished (session lost?)"))?;
            if position == 0 {
                return Ok(format!("{dir}/{mine}"));
            }
            let predecessor = format!("{dir}/{}", children[position - 1]);
            let (stat, watcher) = self.client.check_and_watch_stat(&predecessor).await?;
            if stat.is_some() {
                let event = watcher.changed().await;
                if event.event_type == EventType::Session {
                    bail!(
                        "session event while waiting for {predecessor}: {:?}",
                        event.session_state
                    );
                }
            }
        }
    }

    pub async fn unlock(&self, key: String) -> Result<()> {
        self.client.delete(&key, None).await?;
        Ok(())
    }

    /// Number of children of `dir`.
    pub async fn children(&self, dir: &str) -> Result<u64> {
        let stat = self.client.check_stat(dir).await?;
        Ok(stat.map(|s| s.num_children.max(0) as u64).unwrap_or(0))
    }
}

/// A persistent recursive watch and the session it lives on.
pub struct Watch {
    watcher: zookeeper_client::PersistentWatcher,
    _session: Client,
}

impl Watch {
    /// Path of the next created znode (ZooKeeper delivers one event at a time); `None`
    /// when the session ended.
    pub async fn next(&mut self) -> Result<Option<Vec<String>>> {
        let event = self.watcher.changed().await;
        match event.event_type {
            EventType::NodeCreated => Ok(Some(vec![event.path])),
            EventType::Session if event.session_state.is_terminated() => Ok(None),
            _ => Ok(Some(Vec::new())),
        }
    }
}
