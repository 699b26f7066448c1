//! The [`Client`]: a cheap-to-clone handle on gRPC channels to the members, with
//! the KV calls, failover between members and a per-call timeout. The Cluster calls
//! are in `cluster.rs`, on the same machinery.

use std::error::Error as _;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral_proto::v1::kv_client::KvClient;
use tonic::transport::{Channel, Endpoint};

use crate::endpoint::parse_endpoint;
use crate::error::{describe, retry_elsewhere, Error, Result};
use crate::options::{CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions};
use crate::txn::{Txn, TxnResponse};
use crate::types::{CreateResponse, DeleteResponse, GetResponse, ListResponse, PutResponse};

/// Default time a call may take before it fails with [`Error::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time to wait for a TCP connection to a member.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response the client accepts: a page of a listing with data can be far
/// above tonic's 4 MiB default (znodes hold up to 1 MiB each by default).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// A connection to a Corral cluster. Cloning is cheap and clones share the connection;
/// every member accepts every call, so no leader handling is needed.
///
/// ```no_run
/// # async fn example() -> corral_client::Result<()> {
/// use corral_client::{Client, CreateOptions};
/// let client = Client::connect(["127.0.0.1:2479"]).await?;
/// let created = client.create("/jobs/job-", "payload", CreateOptions::new().sequential()).await?;
/// let node = client.get(&created.path, None).await?.node;
/// assert_eq!(node.data, b"payload");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    members: Arc<Members>,
    timeout: Option<Duration>,
}

/// One channel per endpoint, and the one calls go to.
#[derive(Debug)]
struct Members {
    channels: Vec<Channel>,
    /// Index into `channels` of the member calls go to; moves on when it cannot be reached.
    current: AtomicUsize,
}

impl Members {
    /// Moves off member `failed` (unless another call already did).
    fn skip(&self, failed: usize) {
        let next = (failed + 1) % self.channels.len();
        let _ = self
            .current
            .compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Configures and connects a [`Client`]; from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoints: Vec<String>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// Fails each call that takes longer than `timeout` with [`Error::Timeout`]
    /// (and tells the server the deadline). Default [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets calls take as long as they take.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// How long to wait for a TCP connection to a member. Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects to the first endpoint that accepts a connection. Fails with
    /// [`Error::InvalidEndpoint`] if an endpoint cannot be parsed, and with
    /// [`Error::Transport`] if none accepts a connection.
    ///
    /// Calls go to one member at a time. A call that cannot reach it is sent to the
    /// next endpoint (it was never sent, so this cannot apply it twice), as is a read
    /// whose connection breaks mid-way. A write whose connection breaks mid-way fails
    /// with [`Error::Transport`] (it may or may not have been applied), and the next
    /// call goes to the next endpoint.
    pub async fn connect(self) -> Result<Client> {
        if self.endpoints.is_empty() {
            return Err(Error::InvalidEndpoint {
                endpoint: String::new(),
                message: "no endpoints given".into(),
            });
        }
        let endpoints = self
            .endpoints
            .iter()
            .map(|e| {
                Ok(Endpoint::from(parse_endpoint(e)?)
                    .connect_timeout(self.connect_timeout)
                    .tcp_nodelay(true))
            })
            .collect::<Result<Vec<_>>>()?;
        let (current, channels) = connect_first(&endpoints).await?;
        Ok(Client {
            members: Arc::new(Members {
                channels,
                current: AtomicUsize::new(current),
            }),
            timeout: self.timeout,
        })
    }
}

/// Connects to the first endpoint that answers; the others get channels that connect
/// on first use. Returns the index of the connected one and a channel per endpoint.
async fn connect_first(endpoints: &[Endpoint]) -> Result<(usize, Vec<Channel>)> {
    let mut failures = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        match endpoint.connect().await {
            Ok(connected) => {
                let channels = endpoints
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        if j == i {
                            connected.clone()
                        } else {
                            e.connect_lazy()
                        }
                    })
                    .collect();
                return Ok((i, channels));
            }
            Err(e) => {
                // tonic's own text is just "transport error"; the cause says what failed.
                let cause = e.source().map_or_else(|| e.to_string(), describe);
                let uri = endpoint.uri();
                let addr = uri
                    .authority()
                    .map_or_else(|| uri.to_string(), |a| a.to_string());
                failures.push(format!("{addr}: {cause}"));
            }
        }
    }
    Err(Error::Transport {
        message: format!("cannot connect to any endpoint ({})", failures.join("; ")),
    })
}

impl Client {
    /// Connects to the cluster with default settings. Each endpoint is `host:port` or
    /// `http://host:port` (port 2479 if omitted), e.g. `["127.0.0.1:2479"]`.
    pub async fn connect<S: AsRef<str>>(endpoints: impl IntoIterator<Item = S>) -> Result<Client> {
        Self::builder(endpoints).connect().await
    }

    /// A builder to set timeouts before connecting.
    pub fn builder<S: AsRef<str>>(endpoints: impl IntoIterator<Item = S>) -> ClientBuilder {
        ClientBuilder {
            endpoints: endpoints
                .into_iter()
                .map(|e| e.as_ref().to_string())
                .collect(),
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// A clone sharing the connection whose calls use `timeout` (`None`: no limit).
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            members: self.members.clone(),
            timeout,
        }
    }

    /// Creates a znode holding `data`. For sequential znodes, `path` is the prefix the
    /// server appends the counter to; the response has the actual path.
    ///
    /// Fails with [`Error::AlreadyExists`], [`Error::ParentNotFound`] (unless
    /// `create_parents`), [`Error::InvalidArgument`], [`Error::EphemeralParent`].
    pub async fn create(
        &self,
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: impl Into<Option<CreateOptions>>,
    ) -> Result<CreateResponse> {
        let path = path.into();
        let request = options
            .into()
            .unwrap_or_default()
            .request(path.clone(), data.into());
        self.call(&path, false, request, |channel, r| async move {
            kv(channel).create(r).await
        })
        .await
    }

    /// Sets a znode's data. Fails with [`Error::NotFound`] (unless `create_if_missing`)
    /// and, when an expected version is given and differs, [`Error::VersionMismatch`].
    pub async fn put(
        &self,
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: impl Into<Option<PutOptions>>,
    ) -> Result<PutResponse> {
        let path = path.into();
        let request = options
            .into()
            .unwrap_or_default()
            .request(path.clone(), data.into());
        self.call(&path, false, request, |channel, r| async move {
            kv(channel).put(r).await
        })
        .await
    }

    /// Reads one znode. Fails with [`Error::NotFound`] if it is absent.
    pub async fn get(
        &self,
        path: impl Into<String>,
        options: impl Into<Option<GetOptions>>,
    ) -> Result<GetResponse> {
        let path = path.into();
        let request = options.into().unwrap_or_default().request(path.clone());
        self.call(&path, true, request, |channel, r| async move {
            kv(channel).get(r).await
        })
        .await
    }

    /// Reads one page of a znode's children (or, `recursive`, of its subtree) in path
    /// order. Pass the page's `next_page_token` back in the options for the next page.
    pub async fn list(
        &self,
        path: impl Into<String>,
        options: impl Into<Option<ListOptions>>,
    ) -> Result<ListResponse> {
        let path = path.into();
        let request = options.into().unwrap_or_default().request(path.clone());
        self.call(&path, true, request, |channel, r| async move {
            kv(channel).list(r).await
        })
        .await
    }

    /// Reads every page of a listing, following `next_page_token`, and returns all the
    /// znodes with the last page's header. Each page is a separate read, so writes
    /// between pages may show in later pages only; use a [`Txn`] with one list op
    /// for a listing at a single revision (first page only).
    pub async fn list_all(
        &self,
        path: impl Into<String>,
        options: impl Into<Option<ListOptions>>,
    ) -> Result<ListResponse> {
        let path = path.into();
        let options = options.into().unwrap_or_default();
        let mut page = self.list(path.clone(), options.clone()).await?;
        let mut nodes = std::mem::take(&mut page.nodes);
        while let Some(token) = page.next_page_token.take() {
            page = self
                .list(path.clone(), options.clone().page_token(token))
                .await?;
            nodes.append(&mut page.nodes);
        }
        page.nodes = nodes;
        Ok(page)
    }

    /// Deletes a znode (and, `recursive`, its subtree). Fails with [`Error::NotFound`],
    /// [`Error::NotEmpty`] (children without `recursive`), [`Error::VersionMismatch`].
    pub async fn delete(
        &self,
        path: impl Into<String>,
        options: impl Into<Option<DeleteOptions>>,
    ) -> Result<DeleteResponse> {
        let path = path.into();
        let request = options.into().unwrap_or_default().request(path.clone());
        self.call(&path, false, request, |channel, r| async move {
            kv(channel).delete(r).await
        })
        .await
    }

    /// Runs a transaction atomically at one revision. A failing compare is not an
    /// error (`succeeded` is false); a failing op fails the whole Txn with its error
    /// and applies nothing.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.call("", false, txn.request(), |channel, r| async move {
            kv(channel).txn(r).await
        })
        .await
    }

    /// Sends `message` with `rpc` under the timeout to the current member, and to the
    /// next ones while the request could not be sent or, for a `read_only` call, while
    /// the connection failed; maps a failure status to a typed error and the response
    /// to the client's own type.
    pub(crate) async fn call<Q, P, R, F, Fut>(
        &self,
        path: &str,
        read_only: bool,
        message: Q,
        rpc: F,
    ) -> Result<R>
    where
        Q: Clone,
        F: Fn(Channel, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<P>, tonic::Status>>,
        R: TryFrom<P, Error = Error>,
    {
        let attempts = async {
            let members = &self.members;
            let count = members.channels.len();
            let first = members.current.load(Ordering::Relaxed);
            let mut message = Some(message);
            let mut last_error = None;
            for attempt in 0..count {
                // Copy the message only while another member is left to retry on.
                let body = if attempt + 1 < count {
                    message.clone()
                } else {
                    message.take()
                };
                let Some(body) = body else { break };
                let index = (first + attempt) % count;
                let mut request = tonic::Request::new(body);
                if let Some(timeout) = self.timeout {
                    // The server sees the deadline too.
                    request.set_timeout(timeout);
                }
                let status = match rpc(members.channels[index].clone(), request).await {
                    Ok(response) => return R::try_from(response.into_inner()),
                    Err(status) => status,
                };
                let error = Error::from_status(&status, path);
                if matches!(error, Error::Transport { .. }) {
                    members.skip(index);
                }
                if !retry_elsewhere(&status, read_only) {
                    return Err(error);
                }
                last_error = Some(error);
            }
            Err(last_error.unwrap_or_else(|| Error::Transport {
                message: "no member to send the request to".into(),
            }))
        };
        match self.timeout {
            Some(timeout) => {
                tokio::time::timeout(timeout, attempts)
                    .await
                    .map_err(|_| Error::Timeout {
                        message: format!("no answer within {timeout:?}"),
                    })?
            }
            None => attempts.await,
        }
    }
}

/// A KV stub on `channel`; cheap (the channel is shared).
fn kv(channel: Channel) -> KvClient<Channel> {
    KvClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES)
}
