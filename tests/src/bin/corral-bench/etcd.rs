//! etcd driver: etcd's v3 gRPC API (see [`crate::etcdpb`]) over one tonic channel (one
//! HTTP/2 connection) per [`Conn`]. Keys are the same path strings the other drivers use.

use anyhow::{bail, Context, Result};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::args::Consistency;
use crate::etcdpb as pb;

/// One connection to one member.
#[derive(Clone)]
pub struct Conn {
    rpc: pb::Rpc,
}

impl Conn {
    pub async fn connect(endpoint: &str) -> Result<Conn> {
        let channel = Channel::from_shared(format!("http://{endpoint}"))?
            .connect()
            .await
            .with_context(|| format!("connecting to etcd at {endpoint}"))?;
        Ok(Conn {
            rpc: pb::Rpc::new(channel),
        })
    }

    fn rpc(&self) -> pb::Rpc {
        self.rpc.clone()
    }

    /// Sets `key` to `value` (etcd's put creates or replaces).
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.put_with_lease(key, value, 0).await
    }

    async fn put_with_lease(&self, key: &str, value: Vec<u8>, lease: i64) -> Result<()> {
        let request = pb::PutRequest {
            key: key.into(),
            value,
            lease,
        };
        self.rpc().put(request).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str, consistency: Consistency) -> Result<()> {
        let request = pb::RangeRequest {
            key: key.into(),
            serializable: consistency == Consistency::Serializable,
            ..Default::default()
        };
        if self.rpc().range(request).await?.kvs.is_empty() {
            bail!("get {key}: not found");
        }
        Ok(())
    }

    /// The token a compare-and-set compares: the key's mod revision.
    pub async fn cas_token(&self, key: &str) -> Result<i64> {
        let request = pb::RangeRequest {
            key: key.into(),
            ..Default::default()
        };
        let answer = self.rpc().range(request).await?;
        Ok(answer.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0))
    }

    /// One Txn: if `key`'s mod revision is `token`, put `value`. Returns the new token
    /// (the Txn's revision), or `None` when the compare failed.
    pub async fn cas(&self, key: &str, token: i64, value: Vec<u8>) -> Result<Option<i64>> {
        let request = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: pb::COMPARE_EQUAL,
                target: pb::COMPARE_TARGET_MOD,
                key: key.into(),
                target_union: Some(pb::compare::TargetUnion::ModRevision(token)),
            }],
            success: vec![pb::RequestOp {
                request: Some(pb::request_op::Request::RequestPut(pb::PutRequest {
                    key: key.into(),
                    value,
                    lease: 0,
                })),
            }],
            failure: vec![],
        };
        let answer = self.rpc().txn(request).await?;
        if !answer.succeeded {
            return Ok(None);
        }
        match answer.header {
            Some(h) => Ok(Some(h.revision)),
            None => bail!("txn on {key}: no header"),
        }
    }

    /// Opens a watch stream with one prefix watch on `dir/`, registered when this returns.
    pub async fn watch(&self, dir: &str) -> Result<Watch> {
        let prefix = format!("{dir}/").into_bytes();
        let (tx, rx) = mpsc::channel(4);
        tx.send(pb::WatchRequest {
            request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
                pb::WatchCreateRequest {
                    range_end: pb::prefix_end(&prefix),
                    key: prefix,
                },
            )),
        })
        .await?;
        let mut stream = self.rpc().watch(ReceiverStream::new(rx)).await?;
        loop {
            match stream.message().await? {
                Some(m) if m.created => break,
                Some(m) if m.canceled => bail!("watch on {dir}/ refused: {}", m.cancel_reason),
                Some(_) => continue,
                None => bail!("watch stream on {dir}/ ended before the watch was created"),
            }
        }
        Ok(Watch {
            _requests: tx,
            stream,
        })
    }

    /// Grants a lease; etcd's TTLs are whole seconds (rounded up).
    pub async fn grant(&self, ttl_ms: u64) -> Result<i64> {
        let request = pb::LeaseGrantRequest {
            ttl: ttl_ms.div_ceil(1000) as i64,
            id: 0,
        };
        let answer = self.rpc().lease_grant(request).await?;
        if !answer.error.is_empty() {
            bail!("lease grant: {}", answer.error);
        }
        Ok(answer.id)
    }

    pub async fn revoke(&self, lease_id: i64) -> Result<()> {
        self.rpc()
            .lease_revoke(pb::LeaseRevokeRequest { id: lease_id })
            .await?;
        Ok(())
    }

    /// Opens a KeepAlive stream, refreshes the lease once and waits for the answer.
    pub async fn keep_alive_once(&self, lease_id: i64) -> Result<()> {
        let (tx, rx) = mpsc::channel(1);
        tx.send(pb::LeaseKeepAliveRequest { id: lease_id }).await?;
        let mut answers = self.rpc().lease_keep_alive(ReceiverStream::new(rx)).await?;
        match answers.message().await? {
            Some(a) if a.ttl > 0 => Ok(()),
            Some(_) => bail!("keepalive of lease {lease_id}: lease gone"),
            None => bail!("keepalive of lease {lease_id}: stream ended"),
        }
    }

    pub async fn create_ephemeral(&self, key: &str, value: Vec<u8>, lease_id: i64) -> Result<()> {
        self.put_with_lease(key, value, lease_id).await
    }

    /// Takes lock `name` for `lease_id` (etcd's v3lock service); returns the key to unlock.
    pub async fn lock(&self, name: &str, lease_id: i64) -> Result<Vec<u8>> {
        let request = pb::LockRequest {
            name: name.into(),
            lease: lease_id,
        };
        Ok(self.rpc().lock(request).await?.key)
    }

    pub async fn unlock(&self, key: Vec<u8>) -> Result<()> {
        self.rpc().unlock(pb::UnlockRequest { key }).await?;
        Ok(())
    }

    /// Number of keys under `dir/`.
    pub async fn children(&self, dir: &str) -> Result<u64> {
        let prefix = format!("{dir}/").into_bytes();
        let request = pb::RangeRequest {
            range_end: pb::prefix_end(&prefix),
            key: prefix,
            count_only: true,
            ..Default::default()
        };
        Ok(self.rpc().range(request).await?.count.max(0) as u64)
    }
}

/// A watch stream with its single watch.
pub struct Watch {
    // Kept so the stream stays open: dropping it half-closes our side.
    _requests: mpsc::Sender<pb::WatchRequest>,
    stream: tonic::Streaming<pb::WatchResponse>,
}

impl Watch {
    /// Keys created (first version) in the next message; `None` when the stream ended.
    pub async fn next(&mut self) -> Result<Option<Vec<String>>> {
        let Some(m) = self.stream.message().await? else {
            return Ok(None);
        };
        if m.canceled {
            bail!("watch canceled: {}", m.cancel_reason);
        }
        Ok(Some(
            m.events
                .into_iter()
                .filter(|e| e.r#type == pb::EVENT_PUT)
                .filter_map(|e| e.kv)
                .filter(|kv| kv.version == 1)
                .filter_map(|kv| String::from_utf8(kv.key).ok())
                .collect(),
        ))
    }
}
