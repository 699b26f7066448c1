//! Corral driver: the generated `corral.v1` gRPC clients over one tonic channel (one
//! HTTP/2 connection) per [`Conn`].

use anyhow::{bail, Context, Result};
use corral_proto::v1 as pb;
use corral_proto::v1::kv_client::KvClient;
use corral_proto::v1::lease_client::LeaseClient;
use corral_proto::v1::lock_client::LockClient;
use corral_proto::v1::watch_client::WatchClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::Code;

use crate::args::{Consistency, Security};

/// Stamps every call with the connection's bearer token, if it has one.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A channel whose calls carry the token.
type Svc = InterceptedService<Channel, Bearer>;

/// Responses may carry a value up to the server's 1 MiB limit plus framing.
const MAX_MESSAGE: usize = 64 << 20;

/// One connection to one member.
#[derive(Clone)]
pub struct Conn {
    channel: Svc,
}

impl Conn {
    /// Connects (over TLS when `security` has a CA) and, with credentials,
    /// authenticates once: the token outlives any run (5 minutes by default).
    pub async fn connect(endpoint: &str, security: &Security) -> Result<Conn> {
        let scheme = if security.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        let mut ep = Channel::from_shared(format!("{scheme}://{endpoint}"))?;
        if let Some(ca) = &security.ca_pem {
            ep = ep.tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))?;
        }
        let channel = ep
            .connect()
            .await
            .with_context(|| format!("connecting to corral at {endpoint}"))?;
        let token = match &security.credentials {
            Some((name, password)) => {
                let r = corral_proto::v1::auth_client::AuthClient::new(channel.clone())
                    .authenticate(pb::AuthenticateRequest {
                        name: name.clone(),
                        password: password.clone(),
                    })
                    .await
                    .with_context(|| format!("authenticating as {name} at {endpoint}"))?;
                Some(format!("Bearer {}", r.into_inner().token).parse()?)
            }
            None => None,
        };
        Ok(Conn {
            channel: InterceptedService::new(channel, Bearer(token)),
        })
    }

    // Clients are a channel handle plus settings: made per call, as cheap as a clone.
    fn kv(&self) -> KvClient<Svc> {
        KvClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    fn watch_client(&self) -> WatchClient<Svc> {
        WatchClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    fn lease(&self) -> LeaseClient<Svc> {
        LeaseClient::new(self.channel.clone())
    }

    fn lock_client(&self) -> LockClient<Svc> {
        LockClient::new(self.channel.clone())
    }

    /// Creates `path` and its ancestors as persistent znodes if absent.
    pub async fn ensure_dir(&self, path: &str) -> Result<()> {
        let request = pb::CreateRequest {
            path: path.to_string(),
            create_parents: true,
            ..Default::default()
        };
        match self.kv().create(request).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::AlreadyExists => Ok(()),
            Err(s) => Err(s.into()),
        }
    }

    /// Sets `key` to `value`, creating it if absent (one request).
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        let request = pb::PutRequest {
            path: key.to_string(),
            data: value,
            create_if_missing: true,
            ..Default::default()
        };
        self.kv().put(request).await?;
        Ok(())
    }

    /// Creates `key` (fails if it exists).
    pub async fn create(&self, key: &str, value: Vec<u8>) -> Result<()> {
        let request = pb::CreateRequest {
            path: key.to_string(),
            data: value,
            ..Default::default()
        };
        self.kv().create(request).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str, consistency: Consistency) -> Result<()> {
        let consistency = match consistency {
            Consistency::Linearizable => pb::Consistency::Linearizable,
            Consistency::Serializable => pb::Consistency::Serializable,
        };
        let request = pb::GetRequest {
            path: key.to_string(),
            consistency: consistency as i32,
            stat_only: false,
        };
        let node = self.kv().get(request).await?.into_inner().node;
        if node.is_none() {
            bail!("get {key}: no node in the answer");
        }
        Ok(())
    }

    /// The token a compare-and-set compares: the znode's version.
    pub async fn cas_token(&self, key: &str) -> Result<i64> {
        let request = pb::GetRequest {
            path: key.to_string(),
            stat_only: true,
            ..Default::default()
        };
        let node = self.kv().get(request).await?.into_inner().node;
        Ok(node.and_then(|n| n.stat).map(|s| s.version).unwrap_or(0))
    }

    /// One Txn: if `key`'s version is `token`, put `value`. Returns the new token, or
    /// `None` when the compare failed.
    pub async fn cas(&self, key: &str, token: i64, value: Vec<u8>) -> Result<Option<i64>> {
        let request = pb::TxnRequest {
            compares: vec![pb::Compare {
                path: key.to_string(),
                result: pb::compare::Result::Equal as i32,
                target: Some(pb::compare::Target::Version(token)),
            }],
            success: vec![pb::Op {
                op: Some(pb::op::Op::Put(pb::PutRequest {
                    path: key.to_string(),
                    data: value,
                    ..Default::default()
                })),
            }],
            failure: vec![],
        };
        let answer = self.kv().txn(request).await?.into_inner();
        if !answer.succeeded {
            return Ok(None);
        }
        match answer.results.first().and_then(|r| r.result.as_ref()) {
            Some(pb::op_result::Result::Put(put)) => Ok(Some(
                put.stat.as_ref().map(|s| s.version).unwrap_or(token + 1),
            )),
            _ => bail!("txn on {key}: no put result"),
        }
    }

    /// Opens a stream with one SUBTREE watch on `dir`, registered when this returns.
    pub async fn watch(&self, dir: &str) -> Result<Watch> {
        let (tx, rx) = mpsc::channel(4);
        tx.send(pb::WatchRequest {
            request: Some(pb::watch_request::Request::Create(pb::WatchCreateRequest {
                path: dir.to_string(),
                scope: pb::watch_create_request::Scope::Subtree as i32,
                ..Default::default()
            })),
        })
        .await?;
        let mut stream = self
            .watch_client()
            .watch(ReceiverStream::new(rx))
            .await?
            .into_inner();
        loop {
            match stream.message().await? {
                Some(m) if m.created => break,
                Some(m) if m.canceled => bail!("watch on {dir} refused: {}", m.cancel_reason),
                Some(_) => continue,
                None => bail!("watch stream on {dir} ended before the watch was created"),
            }
        }
        Ok(Watch {
            _requests: tx,
            stream,
        })
    }

    pub async fn grant(&self, ttl_ms: u64) -> Result<i64> {
        let request = pb::LeaseGrantRequest {
            ttl_ms: ttl_ms as i64,
            lease_id: 0,
        };
        Ok(self.lease().grant(request).await?.into_inner().lease_id)
    }

    pub async fn revoke(&self, lease_id: i64) -> Result<()> {
        self.lease()
            .revoke(pb::LeaseRevokeRequest { lease_id })
            .await?;
        Ok(())
    }

    /// Opens a KeepAlive stream, refreshes the lease once and waits for the answer.
    pub async fn keep_alive_once(&self, lease_id: i64) -> Result<()> {
        let (tx, rx) = mpsc::channel(1);
        tx.send(pb::LeaseKeepAliveRequest { lease_id }).await?;
        let mut answers = self
            .lease()
            .keep_alive(ReceiverStream::new(rx))
            .await?
            .into_inner();
        match answers.message().await? {
            Some(a) if a.ttl_ms > 0 => Ok(()),
            Some(_) => bail!("keepalive of lease {lease_id}: lease gone"),
            None => bail!("keepalive of lease {lease_id}: stream ended"),
        }
    }

    pub async fn create_ephemeral(&self, key: &str, value: Vec<u8>, lease_id: i64) -> Result<()> {
        let request = pb::CreateRequest {
            path: key.to_string(),
            data: value,
            ephemeral: true,
            lease_id,
            ..Default::default()
        };
        self.kv().create(request).await?;
        Ok(())
    }

    /// Takes lock `name` for `lease_id` (corral.v1.Lock/Lock); returns the key to unlock.
    pub async fn lock(&self, name: &str, lease_id: i64) -> Result<String> {
        let request = pb::LockRequest {
            name: name.to_string(),
            lease_id,
            wait_timeout_ms: 0,
        };
        Ok(self.lock_client().lock(request).await?.into_inner().key)
    }

    pub async fn unlock(&self, key: String, lease_id: i64) -> Result<()> {
        self.lock_client()
            .unlock(pb::UnlockRequest { key, lease_id })
            .await?;
        Ok(())
    }

    /// Number of children of `dir` (linearizable).
    pub async fn children(&self, dir: &str) -> Result<u64> {
        let request = pb::GetRequest {
            path: dir.to_string(),
            stat_only: true,
            ..Default::default()
        };
        let node = self.kv().get(request).await?.into_inner().node;
        Ok(node
            .and_then(|n| n.stat)
            .map(|s| s.num_children)
            .unwrap_or(0) as u64)
    }
}

/// A watch stream with its single watch.
pub struct Watch {
    // Kept so the stream stays open: dropping it half-closes our side.
    _requests: mpsc::Sender<pb::WatchRequest>,
    stream: tonic::Streaming<pb::WatchResponse>,
}

impl Watch {
    /// Paths of the znodes created in the next message; `None` when the stream ended.
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
                .filter(|e| e.r#type == pb::EventType::Created as i32)
                .filter_map(|e| e.node.map(|n| n.path))
                .collect(),
        ))
    }
}
