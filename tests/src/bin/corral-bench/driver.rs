//! One interface over the three drivers: the operations the workloads need, each mapped
//! to the target's own API (see each driver for how).

use std::time::Duration;

use anyhow::Result;

use crate::args::{Consistency, LeaseEnd, Security, Target};
use crate::{corral, etcd, zk};

/// A connection to one member of the target.
#[derive(Clone)]
pub enum Conn {
    Corral(corral::Conn),
    Etcd(etcd::Conn),
    Zk(zk::Conn),
}

impl Conn {
    pub async fn connect(target: Target, endpoint: &str, security: &Security) -> Result<Conn> {
        Ok(match target {
            Target::Corral => Conn::Corral(corral::Conn::connect(endpoint, security).await?),
            Target::Etcd => Conn::Etcd(etcd::Conn::connect(endpoint).await?),
            Target::Zookeeper => Conn::Zk(zk::Conn::connect(endpoint).await?),
        })
    }

    /// Makes sure `dir` exists as a parent of keys (etcd has no parents: nothing to do).
    pub async fn ensure_dir(&self, dir: &str) -> Result<()> {
        match self {
            Conn::Corral(c) => c.ensure_dir(dir).await,
            Conn::Etcd(_) => Ok(()),
            Conn::Zk(c) => c.ensure_dir(dir).await,
        }
    }

    /// Writes `key`, creating it if needed; `fresh` tells that it probably does not exist
    /// yet (only ZooKeeper, which has no upsert, uses the hint).
    pub async fn put(&self, key: &str, value: Vec<u8>, fresh: bool) -> Result<()> {
        match self {
            Conn::Corral(c) => c.put(key, value).await,
            Conn::Etcd(c) => c.put(key, value).await,
            Conn::Zk(c) => c.put(key, value, fresh).await,
        }
    }

    /// Creates a new key (etcd: a put).
    pub async fn create(&self, key: &str, value: Vec<u8>) -> Result<()> {
        match self {
            Conn::Corral(c) => c.create(key, value).await,
            Conn::Etcd(c) => c.put(key, value).await,
            Conn::Zk(c) => c.create(key, value).await,
        }
    }

    pub async fn get(&self, key: &str, consistency: Consistency) -> Result<()> {
        match self {
            Conn::Corral(c) => c.get(key, consistency).await,
            Conn::Etcd(c) => c.get(key, consistency).await,
            Conn::Zk(c) => c.get(key, consistency).await,
        }
    }

    pub async fn cas_token(&self, key: &str) -> Result<i64> {
        match self {
            Conn::Corral(c) => c.cas_token(key).await,
            Conn::Etcd(c) => c.cas_token(key).await,
            Conn::Zk(c) => c.cas_token(key).await,
        }
    }

    pub async fn cas(&self, key: &str, token: i64, value: Vec<u8>) -> Result<Option<i64>> {
        match self {
            Conn::Corral(c) => c.cas(key, token, value).await,
            Conn::Etcd(c) => c.cas(key, token, value).await,
            Conn::Zk(c) => c.cas(key, token, value).await,
        }
    }

    /// Watches every key created under `dir`.
    pub async fn watch(&self, dir: &str) -> Result<Watch> {
        Ok(match self {
            Conn::Corral(c) => Watch::Corral(c.watch(dir).await?),
            Conn::Etcd(c) => Watch::Etcd(c.watch(dir).await?),
            Conn::Zk(c) => Watch::Zk(c.watch(dir).await?),
        })
    }

    /// Number of keys directly under `dir`.
    pub async fn children(&self, dir: &str) -> Result<u64> {
        match self {
            Conn::Corral(c) => c.children(dir).await,
            Conn::Etcd(c) => c.children(dir).await,
            Conn::Zk(c) => c.children(dir).await,
        }
    }
}

/// A registered watch on a subtree.
pub enum Watch {
    Corral(corral::Watch),
    Etcd(etcd::Watch),
    Zk(zk::Watch),
}

impl Watch {
    /// Keys created, from the next message; `None` once the stream ended.
    pub async fn next(&mut self) -> Result<Option<Vec<String>>> {
        match self {
            Watch::Corral(w) => w.next().await,
            Watch::Etcd(w) => w.next().await,
            Watch::Zk(w) => w.next().await,
        }
    }
}

/// One lock contender: a lease of its own (Corral, etcd) or a session of its own
/// (ZooKeeper), so each is a distinct owner in the lock's queue.
pub enum Contender {
    Corral(corral::Conn, i64),
    Etcd(etcd::Conn, i64),
    Zk(zk::Conn),
}

impl Contender {
    /// `lease_ms` must outlast the run: the contenders' leases are not kept alive.
    pub async fn new(conn: &Conn, endpoint: &str, lease_ms: u64) -> Result<Contender> {
        Ok(match conn {
            Conn::Corral(c) => Contender::Corral(c.clone(), c.grant(lease_ms).await?),
            Conn::Etcd(c) => Contender::Etcd(c.clone(), c.grant(lease_ms).await?),
            Conn::Zk(_) => Contender::Zk(zk::Conn::connect(endpoint).await?),
        })
    }

    /// Takes lock `name` (blocking behind the others), then releases it.
    pub async fn lock_unlock(&self, name: &str) -> Result<()> {
        match self {
            Contender::Corral(c, lease) => {
                let key = c.lock(name, *lease).await?;
                c.unlock(key, *lease).await
            }
            Contender::Etcd(c, lease) => {
                let key = c.lock(name, *lease).await?;
                c.unlock(key).await
            }
            Contender::Zk(session) => {
                let key = session.lock(name).await?;
                session.unlock(key).await
            }
        }
    }

    /// Ends the contender's lease or session.
    pub async fn close(self) -> Result<()> {
        match self {
            Contender::Corral(c, lease) => c.revoke(lease).await,
            Contender::Etcd(c, lease) => c.revoke(lease).await,
            Contender::Zk(session) => session.close().await,
        }
    }
}

/// One lease cycle: grant a lease (ZooKeeper: open a session), create the ephemeral `key`
/// on it, keep it alive once (ZooKeeper: any request on the session), then end it:
/// revoke (ZooKeeper: close the session) or abandon it to expire.
pub async fn lease_cycle(
    conn: &Conn,
    endpoint: &str,
    key: &str,
    value: Vec<u8>,
    ttl_ms: u64,
    end: LeaseEnd,
) -> Result<()> {
    match conn {
        Conn::Corral(c) => {
            let lease = c.grant(ttl_ms).await?;
            c.create_ephemeral(key, value, lease).await?;
            c.keep_alive_once(lease).await?;
            if end == LeaseEnd::Revoke {
                c.revoke(lease).await?;
            }
        }
        Conn::Etcd(c) => {
            let lease = c.grant(ttl_ms).await?;
            c.create_ephemeral(key, value, lease).await?;
            c.keep_alive_once(lease).await?;
            if end == LeaseEnd::Revoke {
                c.revoke(lease).await?;
            }
        }
        Conn::Zk(_) => {
            let detached = end == LeaseEnd::Expire;
            let session =
                zk::Conn::connect_with(endpoint, Duration::from_millis(ttl_ms), detached).await?;
            session.create_ephemeral(key, value).await?;
            session.touch(key).await?;
            if end == LeaseEnd::Revoke {
                session.close().await?;
            }
        }
    }
    Ok(())
}
