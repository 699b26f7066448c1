//! The Election calls on [`Client`]: campaign, proclaim, leader, observe, resign,
//! served by the server's Election service. [`recipes::LeaderElection`](crate::recipes::LeaderElection)
//! wraps them around a [`Session`](crate::Session).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client, lease_id: i64) -> corral_client::Result<()> {
//! let leader = client.campaign("/elections/scheduler", lease_id, "10.0.0.7:9000", None).await?;
//! client.proclaim(&leader.key, lease_id, "10.0.0.7:9001").await?;
//! client.resign(&leader.key, lease_id).await?;
//! # Ok(())
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use corral_proto::v1 as pb;
use corral_proto::v1::election_client::ElectionClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::Stream;

use crate::client::{Client, Transport};
use crate::error::{Error, Result};
use crate::lock::LockOptions;
use crate::retry::{renew_and_retry, reopens, Backoff, Retry};
use crate::types::{required, Header};
use crate::types::{wire_header, FromWire};

/// The leader of an election.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaderKey {
    /// Election name.
    pub name: String,
    /// The leader's znode.
    pub key: String,
    /// The value it published.
    pub value: Vec<u8>,
    /// Revision at which its key was created: strictly increases with each new leader.
    pub create_revision: i64,
    /// Lease its leadership is bound to.
    pub lease_id: i64,
}

impl LeaderKey {
    /// The client's leader key for the generated one.
    pub(crate) fn from_pb(l: pb::LeaderKey) -> Self {
        LeaderKey {
            name: l.name,
            key: l.key,
            value: l.value,
            create_revision: l.create_revision,
            lease_id: l.lease_id,
        }
    }
}

/// A `CampaignResponse`'s leader key.
struct Campaigned(LeaderKey);

impl FromWire<pb::CampaignResponse> for Campaigned {
    fn from_wire(r: pb::CampaignResponse) -> Result<Self> {
        Ok(Campaigned(LeaderKey::from_pb(required(
            r.leader, "leader",
        )?)))
    }
}

/// The answer of Leader, or `None` when there is none.
struct Led(Option<LeaderKey>);

impl FromWire<pb::LeaderResponse> for Led {
    fn from_wire(r: pb::LeaderResponse) -> Result<Self> {
        Ok(Led(r.leader.map(LeaderKey::from_pb)))
    }
}

/// The header of a Proclaim or Resign.
struct Done(Header);

impl FromWire<pb::ProclaimResponse> for Done {
    fn from_wire(r: pb::ProclaimResponse) -> Result<Self> {
        Ok(Done(wire_header(r.header)?))
    }
}

impl FromWire<pb::ResignResponse> for Done {
    fn from_wire(r: pb::ResignResponse) -> Result<Self> {
        Ok(Done(wire_header(r.header)?))
    }
}

fn election(channel: Transport) -> ElectionClient<Transport> {
    ElectionClient::new(channel)
}

impl Client {
    /// Waits until lease `lease_id` leads election `name` (an absolute path other than
    /// `/`), publishing `value`, and returns its leader key. Campaigners are served in
    /// order; leadership ends with [`Client::resign`] or the lease.
    ///
    /// Like [`Client::lock`], safe to send again (a lease has one place per election),
    /// and without a wait timeout the call has no time limit. Fails with
    /// [`Error::WaitTimeout`], [`Error::LeaseNotFound`], [`Error::EntryGone`].
    pub async fn campaign(
        &self,
        name: impl Into<String>,
        lease_id: i64,
        value: impl Into<Vec<u8>>,
        options: impl Into<Option<LockOptions>>,
    ) -> Result<LeaderKey> {
        let name = name.into();
        let options = options.into().unwrap_or_default();
        let request = pb::CampaignRequest {
            name: name.clone(),
            lease_id,
            value: value.into(),
            wait_timeout_ms: options.wait_ms(),
        };
        let Campaigned(leader) = self
            .call_with(
                options.call_timeout(self),
                &name,
                Retry::Safe,
                request,
                |channel, r| async move { election(channel).campaign(r).await },
            )
            .await?;
        Ok(leader)
    }

    /// Publishes a new value for the leader `key` held by `lease_id` (the lease given to
    /// [`Client::campaign`]), only while it still leads (else
    /// [`Error::NotElectionLeader`]). Returns the revision of the change.
    pub async fn proclaim(
        &self,
        key: impl Into<String>,
        lease_id: i64,
        value: impl Into<Vec<u8>>,
    ) -> Result<i64> {
        let key = key.into();
        let request = pb::ProclaimRequest {
            key: key.clone(),
            value: value.into(),
            lease_id,
        };
        // Setting the same value again changes nothing that matters.
        let Done(header) = self
            .call(&key, Retry::Safe, request, |channel, r| async move {
                election(channel).proclaim(r).await
            })
            .await?;
        Ok(header.revision)
    }

    /// The current leader of election `name`, or `None` if it has none.
    pub async fn leader(&self, name: impl Into<String>) -> Result<Option<LeaderKey>> {
        let name = name.into();
        let request = pb::LeaderRequest { name: name.clone() };
        let result: Result<Led> = self
            .call(&name, Retry::Safe, request, |channel, r| async move {
                election(channel).leader(r).await
            })
            .await;
        match result {
            Ok(Led(leader)) => Ok(leader),
            Err(Error::NoLeader { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Gives up leadership (or a place in the queue) by the key from
    /// [`Client::campaign`] and the lease given to it. A key already gone is not an
    /// error; a key that is not an election's queue entry, or is another lease's, is
    /// refused and left alone.
    pub async fn resign(&self, key: impl Into<String>, lease_id: i64) -> Result<()> {
        let key = key.into();
        let request = pb::ResignRequest {
            key: key.clone(),
            lease_id,
        };
        self.call(&key, Retry::Safe, request, |channel, r| async move {
            election(channel).resign(r).await
        })
        .await
        .map(|Done(_)| ())
    }

    /// Follows election `name`: an [`Observer`] yields its leader now (`None` if there
    /// is none) and after every change of leader or value.
    pub async fn observe(&self, name: impl Into<String>) -> Result<Observer> {
        let name = name.into();
        let (tx, rx) = mpsc::channel(16);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(observe(self.clone(), name, tx, ready_tx));
        let ready = async {
            ready_rx.await.unwrap_or_else(|_| {
                Err(Error::Transport {
                    message: "the observe task ended before it started".into(),
                })
            })
        };
        match self.timeout() {
            Some(timeout) => {
                tokio::time::timeout(timeout, ready)
                    .await
                    .map_err(|_| Error::Timeout {
                        message: format!("no member started observing within {timeout:?}"),
                    })??
            }
            None => ready.await?,
        }
        Ok(Observer { rx, task })
    }
}

/// The leaders of an election, from [`Client::observe`]; also a [`Stream`].
///
/// Yields the leader when observing starts and after every change, in order. When
/// the stream breaks it is reopened on the next member, which reports the leader
/// again; an unchanged leader is not repeated, and changes made while it was broken
/// may arrive as one (the latest). Dropping the observer stops it.
#[derive(Debug)]
pub struct Observer {
    rx: mpsc::Receiver<Result<Option<LeaderKey>>>,
    task: JoinHandle<()>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Observer {
    /// The next leader (`Some(None)` when the election has no leader); `None` once
    /// observing has ended after an error.
    pub async fn next(&mut self) -> Option<Result<Option<LeaderKey>>> {
        self.rx.recv().await
    }
}

impl Stream for Observer {
    type Item = Result<Option<LeaderKey>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// Reports an observation that failed for good: to `observe()` if it still waits for
/// the first answer, else to the stream.
async fn fail(
    ready: &mut Option<tokio::sync::oneshot::Sender<Result<()>>>,
    tx: &mpsc::Sender<Result<Option<LeaderKey>>>,
    error: Error,
) {
    match ready.take() {
        Some(ready) => {
            let _ = ready.send(Err(error));
        }
        None => {
            let _ = tx.send(Err(error)).await;
        }
    }
}

/// Follows `name` on the current member, reopening on the next one when the stream
/// breaks, until the observer is dropped or an error that retrying cannot fix.
async fn observe(
    client: Client,
    name: String,
    tx: mpsc::Sender<Result<Option<LeaderKey>>>,
    ready: tokio::sync::oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    let mut last: Option<Option<LeaderKey>> = None;
    let mut backoff = Backoff::new();
    // Whether the token was renewed since the stream last got through.
    let mut renewed = false;
    loop {
        let generation = match client.stream_token().await {
            Ok(generation) => generation,
            Err(error) if reopens(&error) && !tx.is_closed() => {
                backoff.pause().await;
                continue;
            }
            Err(error) => return fail(&mut ready, &tx, error).await,
        };
        let (index, channel) = client.members.current();
        let outcome = async {
            let mut stream = election(channel)
                .observe(pb::ObserveRequest { name: name.clone() })
                .await
                .map_err(|s| Error::from_status(&s, &name))?
                .into_inner();
            loop {
                let message = tokio::select! {
                    m = stream.message() => m,
                    _ = tx.closed() => return Ok(()),
                };
                let response = match message {
                    Ok(Some(response)) => response,
                    Ok(None) => {
                        return Err(Error::Unavailable {
                            leader_id: None,
                            leader_addr: None,
                            message: "the member ended the observe stream".into(),
                        })
                    }
                    Err(status) => return Err(Error::from_status(&status, &name)),
                };
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
                backoff.reset();
                renewed = false;
                let leader = response.leader.map(LeaderKey::from_pb);
                if last.as_ref() == Some(&leader) {
                    continue;
                }
                last = Some(leader.clone());
                if tx.send(Ok(leader)).await.is_err() {
                    return Ok(());
                }
            }
        }
        .await;
        let error = match outcome {
            Ok(()) => return,
            Err(e) => e,
        };
        // The token expired or was revoked: reopened at once with a new one.
        if renew_and_retry(&error, client.members.tokens.can_renew(), renewed) {
            renewed = true;
            client.members.tokens.reject(generation);
            continue;
        }
        if !reopens(&error) {
            return fail(&mut ready, &tx, error).await;
        }
        client.members.skip(index);
        backoff.pause().await;
    }
}
