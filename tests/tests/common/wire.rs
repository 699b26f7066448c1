//! Raw gRPC helpers for services the Rust SDK does not wrap yet (Watch, Lease): the
//! tests speak the wire protocol exactly as grpcurl or another SDK would.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use corral_proto::v1 as pb;
use corral_proto::v1::lease_client::LeaseClient;
use corral_proto::v1::watch_client::WatchClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Streaming;

/// A gRPC channel to one member.
pub async fn channel(endpoint: &str) -> Result<Channel> {
    Channel::from_shared(endpoint.to_string())?
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))
}

/// One open Watch stream.
pub struct WatchStream {
    pub tx: mpsc::Sender<pb::WatchRequest>,
    pub rx: Streaming<pb::WatchResponse>,
}

impl WatchStream {
    /// Opens a stream.
    pub async fn open(endpoint: &str) -> Result<WatchStream> {
        let mut client = WatchClient::new(channel(endpoint).await?);
        let (tx, rx) = mpsc::channel(16);
        let rx = client.watch(ReceiverStream::new(rx)).await?.into_inner();
        Ok(WatchStream { tx, rx })
    }

    /// Sends a create request.
    pub async fn create(&self, create: pb::WatchCreateRequest) -> Result<()> {
        self.tx
            .send(pb::WatchRequest {
                request: Some(pb::watch_request::Request::Create(create)),
            })
            .await
            .map_err(|_| anyhow!("watch stream closed"))
    }

    /// Creates a watch and returns its id once the server confirms it.
    pub async fn watch(&mut self, create: pb::WatchCreateRequest) -> Result<i64> {
        self.create(create).await?;
        let resp = self.next().await?;
        if !resp.created {
            bail!("expected a created response, got {resp:?}");
        }
        Ok(resp.watch_id)
    }

    /// The next message (fails after 20 s or if the stream ends).
    pub async fn next(&mut self) -> Result<pb::WatchResponse> {
        match tokio::time::timeout(Duration::from_secs(20), self.rx.message()).await {
            Err(_) => bail!("no watch message within 20 s"),
            Ok(Err(status)) => Err(status.into()),
            Ok(Ok(None)) => bail!("watch stream ended"),
            Ok(Ok(Some(resp))) => Ok(resp),
        }
    }

    /// Reads messages until `want` events have arrived (skipping notices).
    pub async fn events(&mut self, want: usize) -> Result<Vec<pb::Event>> {
        let mut out = Vec::new();
        while out.len() < want {
            let resp = self.next().await?;
            if resp.canceled {
                bail!("watch canceled: {}", resp.cancel_reason);
            }
            out.extend(resp.events);
        }
        Ok(out)
    }
}

/// A watch request on `path`.
pub fn create(path: &str, scope: pb::watch_create_request::Scope) -> pb::WatchCreateRequest {
    pb::WatchCreateRequest {
        path: path.into(),
        scope: scope as i32,
        ..Default::default()
    }
}

/// Grants a lease; returns its id.
pub async fn grant(endpoint: &str, ttl_ms: i64) -> Result<i64> {
    let mut c = LeaseClient::new(channel(endpoint).await?);
    let resp = c
        .grant(pb::LeaseGrantRequest {
            ttl_ms,
            lease_id: 0,
        })
        .await?
        .into_inner();
    Ok(resp.lease_id)
}

/// Keeps `lease_id` alive every `every` until the returned sender is dropped; the
/// task ends with the error that stopped it, if any.
pub async fn keep_alive(
    endpoint: &str,
    lease_id: i64,
    every: Duration,
) -> Result<(mpsc::Sender<()>, tokio::task::JoinHandle<Result<()>>)> {
    let mut c = LeaseClient::new(channel(endpoint).await?);
    let (req_tx, req_rx) = mpsc::channel(4);
    let (stop_tx, mut stop_rx) = mpsc::channel::<()>(1);
    let mut responses = c
        .keep_alive(ReceiverStream::new(req_rx))
        .await?
        .into_inner();
    let task = tokio::spawn(async move {
        loop {
            if req_tx
                .send(pb::LeaseKeepAliveRequest { lease_id })
                .await
                .is_err()
            {
                bail!("keepalive stream closed");
            }
            match responses.message().await? {
                Some(r) if r.lease_id == lease_id => {}
                other => bail!("unexpected keepalive answer {other:?}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop_rx.recv() => return Ok(()),
            }
        }
    });
    Ok((stop_tx, task))
}

/// The ErrorInfo reason of a status, if any.
pub fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_details_error_info().map(|i| i.reason)
}

/// GETs `path` from a member's HTTP port (plain HTTP/1.0, loopback only).
pub async fn http_get(http_addr: &str, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(http_addr).await?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: {http_addr}\r\n\r\n").as_bytes())
        .await?;
    let mut body = String::new();
    conn.read_to_string(&mut body).await?;
    Ok(body)
}

/// The value of a Prometheus sample in a member's `/metrics`.
pub async fn metric(http_addr: &str, name: &str) -> Result<f64> {
    let text = http_get(http_addr, "/metrics").await?;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix(name).and_then(|r| r.strip_prefix(' ')) {
            return Ok(v.trim().parse()?);
        }
    }
    bail!("metric {name} not found")
}

/// A lock client on a fresh channel.
pub async fn lock_client(
    endpoint: &str,
) -> Result<corral_proto::v1::lock_client::LockClient<Channel>> {
    Ok(corral_proto::v1::lock_client::LockClient::new(
        channel(endpoint).await?,
    ))
}

/// An election client on a fresh channel.
pub async fn election_client(
    endpoint: &str,
) -> Result<corral_proto::v1::election_client::ElectionClient<Channel>> {
    Ok(corral_proto::v1::election_client::ElectionClient::new(
        channel(endpoint).await?,
    ))
}

/// Revokes a lease.
pub async fn revoke(endpoint: &str, lease_id: i64) -> Result<()> {
    LeaseClient::new(channel(endpoint).await?)
        .revoke(pb::LeaseRevokeRequest { lease_id })
        .await?;
    Ok(())
}
