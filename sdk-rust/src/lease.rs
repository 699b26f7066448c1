//! The Lease calls on [`Client`]: grant, revoke, keep alive, time to live, list. A lease
//! is ZooKeeper's session: ephemeral znodes, locks and leaderships bound to it end
//! with it. [`Session`](crate::Session) keeps one alive in the background.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::CreateOptions;
//! let lease = client.lease_grant(Duration::from_secs(10)).await?;
//! client.create("/workers/w1", "", CreateOptions::new().ephemeral(lease.lease_id)).await?;
//! client.lease_keep_alive_once(lease.lease_id).await?; // at least every TTL/3
//! client.lease_revoke(lease.lease_id).await?; // deletes /workers/w1
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use corral_proto::v1 as pb;
use corral_proto::v1::lease_client::LeaseClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::client::{Client, Transport};
use crate::error::{Error, Result};
use crate::retry::{renew_and_retry, reopens, Backoff, Retry};
use crate::types::Header;
use crate::types::{wire_header, FromWire};

/// Result of [`Client::lease_grant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrantResponse {
    /// Header of the grant.
    pub header: Header,
    /// Id of the lease.
    pub lease_id: i64,
    /// Granted time to live.
    pub ttl: Duration,
}

/// Result of [`Client::lease_revoke`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRevokeResponse {
    /// Header; `revision` is the revision of the deletes (unchanged if none).
    pub header: Header,
    /// Ephemeral znodes deleted with the lease.
    pub deleted: i64,
}

/// Result of [`Client::lease_time_to_live`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTimeToLive {
    /// Header of the answer.
    pub header: Header,
    /// The lease.
    pub lease_id: i64,
    /// Its granted time to live.
    pub ttl: Duration,
    /// Time left before it expires unless kept alive.
    pub remaining: Duration,
    /// Paths of its ephemeral znodes, when asked for.
    pub nodes: Vec<String>,
}

/// One lease of [`Client::lease_list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseInfo {
    /// The lease.
    pub lease_id: i64,
    /// Its granted time to live.
    pub ttl: Duration,
}

/// Result of [`Client::lease_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseListResponse {
    /// Header of the answer.
    pub header: Header,
    /// Every lease, by id.
    pub leases: Vec<LeaseInfo>,
}

/// Milliseconds of a duration, for the wire (saturating).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration from the wire's milliseconds (negative counts as zero).
pub(crate) fn from_millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl FromWire<pb::LeaseGrantResponse> for LeaseGrantResponse {
    fn from_wire(r: pb::LeaseGrantResponse) -> Result<Self> {
        Ok(LeaseGrantResponse {
            header: wire_header(r.header)?,
            lease_id: r.lease_id,
            ttl: from_millis(r.ttl_ms),
        })
    }
}

impl FromWire<pb::LeaseRevokeResponse> for LeaseRevokeResponse {
    fn from_wire(r: pb::LeaseRevokeResponse) -> Result<Self> {
        Ok(LeaseRevokeResponse {
            header: wire_header(r.header)?,
            deleted: r.deleted,
        })
    }
}

impl FromWire<pb::LeaseTimeToLiveResponse> for LeaseTimeToLive {
    fn from_wire(r: pb::LeaseTimeToLiveResponse) -> Result<Self> {
        Ok(LeaseTimeToLive {
            header: wire_header(r.header)?,
            lease_id: r.lease_id,
            ttl: from_millis(r.ttl_ms),
            remaining: from_millis(r.remaining_ms),
            nodes: r.nodes,
        })
    }
}

impl FromWire<pb::LeaseListResponse> for LeaseListResponse {
    fn from_wire(r: pb::LeaseListResponse) -> Result<Self> {
        Ok(LeaseListResponse {
            header: wire_header(r.header)?,
            leases: r
                .leases
                .into_iter()
                .map(|l| LeaseInfo {
                    lease_id: l.lease_id,
                    ttl: from_millis(l.ttl_ms),
                })
                .collect(),
        })
    }
}

/// A Lease stub on `channel`.
fn lease(channel: Transport) -> LeaseClient<Transport> {
    LeaseClient::new(channel)
}

impl Client {
    /// Grants a lease that expires `ttl` (1 s to 1 day, whole milliseconds) after its
    /// last keepalive; the server picks its id.
    pub async fn lease_grant(&self, ttl: Duration) -> Result<LeaseGrantResponse> {
        self.lease_grant_with_id(0, ttl).await
    }

    /// Grants a lease with id `lease_id` (0: the server picks). Fails with
    /// [`Error::LeaseExists`] if the id is in use.
    pub async fn lease_grant_with_id(
        &self,
        lease_id: i64,
        ttl: Duration,
    ) -> Result<LeaseGrantResponse> {
        let request = pb::LeaseGrantRequest {
            ttl_ms: millis(ttl),
            lease_id,
        };
        self.call("", Retry::WithRequestId, request, |channel, r| async move {
            lease(channel).grant(r).await
        })
        .await
    }

    /// Revokes a lease, deleting its ephemeral znodes in one revision. Fails with
    /// [`Error::LeaseNotFound`] if it does not exist (any more).
    pub async fn lease_revoke(&self, lease_id: i64) -> Result<LeaseRevokeResponse> {
        let request = pb::LeaseRevokeRequest { lease_id };
        self.call("", Retry::WithRequestId, request, |channel, r| async move {
            lease(channel).revoke(r).await
        })
        .await
    }

    /// Refreshes a lease once and returns its TTL, restarted. Fails with
    /// [`Error::LeaseNotFound`] if it has ended. To keep a lease alive for long, use a
    /// [`Session`](crate::Session) or [`Client::lease_keep_alive`].
    pub async fn lease_keep_alive_once(&self, lease_id: i64) -> Result<Duration> {
        self.lease_keep_alive(lease_id).keep_alive().await
    }

    /// A [`LeaseKeepAlive`]: one KeepAlive stream for `lease_id`, opened on first use
    /// and reopened (on the next member) when it breaks.
    pub fn lease_keep_alive(&self, lease_id: i64) -> LeaseKeepAlive {
        LeaseKeepAlive {
            client: self.clone(),
            lease_id,
            stream: None,
        }
    }

    /// A lease's TTL, remaining time and, `with_nodes`, its ephemeral znodes. Fails
    /// with [`Error::LeaseNotFound`] if it has ended.
    pub async fn lease_time_to_live(
        &self,
        lease_id: i64,
        with_nodes: bool,
    ) -> Result<LeaseTimeToLive> {
        let request = pb::LeaseTimeToLiveRequest {
            lease_id,
            with_nodes,
        };
        self.call("", Retry::Safe, request, |channel, r| async move {
            lease(channel).time_to_live(r).await
        })
        .await
    }

    /// Every lease.
    pub async fn lease_list(&self) -> Result<LeaseListResponse> {
        self.call(
            "",
            Retry::Safe,
            pb::LeaseListRequest {},
            |channel, r| async move { lease(channel).list(r).await },
        )
        .await
    }
}

/// An open KeepAlive stream on one member.
#[derive(Debug)]
struct KeepAliveStream {
    member: usize,
    /// Generation of the token it was opened with.
    token: u64,
    tx: mpsc::Sender<pb::LeaseKeepAliveRequest>,
    rx: Streaming<pb::LeaseKeepAliveResponse>,
}

/// Keeps one lease alive over a KeepAlive stream, from [`Client::lease_keep_alive`].
/// Each [`keep_alive`](Self::keep_alive) refreshes the lease once; call it at least
/// every TTL/3.
#[derive(Debug)]
pub struct LeaseKeepAlive {
    client: Client,
    lease_id: i64,
    stream: Option<KeepAliveStream>,
}

impl LeaseKeepAlive {
    /// The lease kept alive.
    pub fn lease_id(&self) -> i64 {
        self.lease_id
    }

    /// Refreshes the lease and returns its TTL, restarted. A keepalive changes nothing
    /// if repeated, so one that fails on a broken stream or an unavailable member is
    /// sent again on the next member until the client's timeout. Fails with
    /// [`Error::LeaseNotFound`] once the lease has ended.
    pub async fn keep_alive(&mut self) -> Result<Duration> {
        let timeout = self.client.timeout();
        let attempts = async {
            let mut backoff = Backoff::new();
            let mut renewed = false;
            loop {
                match self.attempt().await {
                    Ok(ttl) => return Ok(ttl),
                    // The token expired or was revoked: a new stream with a new one.
                    Err((e, token))
                        if renew_and_retry(&e, self.client.members.tokens.can_renew(), renewed) =>
                    {
                        renewed = true;
                        self.client.members.tokens.reject(token);
                        self.stream = None;
                    }
                    Err((e, _)) if reopens(&e) => {
                        if let Some(stream) = self.stream.take() {
                            self.client.members.skip(stream.member);
                        }
                        backoff.pause().await;
                    }
                    Err((e, _)) => {
                        self.stream = None;
                        return Err(e);
                    }
                }
            }
        };
        match timeout {
            Some(timeout) => tokio::time::timeout(timeout, attempts).await.map_err(|_| {
                // The member did not answer (frozen, partitioned): try another next time.
                if let Some(stream) = self.stream.take() {
                    self.client.members.skip(stream.member);
                }
                Error::Timeout {
                    message: format!("lease {} not refreshed within {timeout:?}", self.lease_id),
                }
            })?,
            None => attempts.await,
        }
    }

    /// One keepalive on the open stream, opening one first if needed. A failure comes
    /// with the generation of the token the stream was (to be) opened with.
    async fn attempt(&mut self) -> Result<Duration, (Error, u64)> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                // Bounded by keep_alive's timeout, which wraps every attempt.
                let token = self
                    .client
                    .fresh_token(None, &AtomicUsize::new(usize::MAX))
                    .await
                    .map_err(|e| (e, 0))?;
                let (member, channel) = self.client.members.current();
                let (tx, rx) = mpsc::channel(4);
                let rx = lease(channel)
                    .keep_alive(ReceiverStream::new(rx))
                    .await
                    .map_err(|s| (Error::from_status(&s, ""), token))
                    .inspect_err(|(e, _)| {
                        // A refused token says nothing about the member.
                        if !e.cured_by_authenticating() {
                            self.client.members.skip(member)
                        }
                    })?
                    .into_inner();
                self.stream.insert(KeepAliveStream {
                    member,
                    token,
                    tx,
                    rx,
                })
            }
        };
        let token = stream.token;
        let closed = || Error::Transport {
            message: "keepalive stream closed".into(),
        };
        stream
            .tx
            .send(pb::LeaseKeepAliveRequest {
                lease_id: self.lease_id,
            })
            .await
            .map_err(|_| (closed(), token))?;
        match stream.rx.message().await {
            Ok(Some(response)) => Ok(from_millis(response.ttl_ms)),
            Ok(None) => Err((closed(), token)),
            Err(status) => {
                let error = Error::from_status(&status, "");
                // A stream ended by the server says so for this lease only.
                let error = match error {
                    Error::NotFound { message, .. } => Error::LeaseNotFound {
                        lease_id: Some(self.lease_id),
                        message,
                    },
                    other => other,
                };
                Err((error, token))
            }
        }
    }
}
