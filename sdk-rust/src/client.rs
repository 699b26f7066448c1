//! The [`Client`]: a cheap-to-clone handle on gRPC channels to the members, with
//! the KV calls, failover between members, a per-call timeout, and the credentials
//! every call carries (`token.rs`). The Cluster, Auth and other calls are in their own
//! modules, on the same machinery.

use std::error::Error as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_proto::v1::kv_client::KvClient;
use tokio::time::Instant;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::endpoint::parse_endpoint;
use crate::error::{describe, Error, Result};
use crate::options::{CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions};
use crate::retry::{after_failure, renew_and_retry, Backoff, Next, Retry};
use crate::tls::{Pem, TlsSettings};
use crate::token::{Credentials, Secret, Stamp, Tokens};
use crate::txn::{Txn, TxnResponse};
use crate::types::FromWire;
use crate::types::{CreateResponse, DeleteResponse, GetResponse, ListResponse, PutResponse};

/// Default time a call may take before it fails with [`Error::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time to wait for a TCP connection to a member.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Metadata header carrying a write's request id, `<client-id>/<sequence>`.
pub use corral_proto::REQUEST_ID_HEADER;

/// How often an idle connection is probed (HTTP/2 PING), so that a member that died
/// or froze without closing its sockets is noticed by streams and long waits.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// How long a PING may go unanswered before the connection is deemed dead.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts of a call that has no timeout (with a timeout, attempts go on until it).
const MAX_ATTEMPTS_WITHOUT_TIMEOUT: u32 = 20;

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
    pub(crate) members: Arc<Members>,
    timeout: Option<Duration>,
}

/// What every stub of the client sends through: a member's channel behind the
/// interceptor that adds the client's token ([`Stamp`]), so that no call or stream
/// can go out without it.
pub(crate) type Transport = InterceptedService<Channel, Stamp>;

/// One channel per endpoint, the one calls go to, the request ids of writes and the
/// credentials.
#[derive(Debug)]
pub(crate) struct Members {
    channels: Vec<Channel>,
    /// The endpoints as `host:port`, in the order of `channels`.
    addrs: Vec<String>,
    /// Index into `channels` of the member calls go to; moves on when it cannot be reached.
    current: AtomicUsize,
    /// Request ids for writes, or `None` when exactly-once writes are turned off.
    lanes: Option<Lanes>,
    /// The credentials and the current token, stamped on every request.
    pub(crate) tokens: Arc<Tokens>,
}

impl Members {
    /// The member calls go to now: its index and channel (with the token stamp).
    pub(crate) fn current(&self) -> (usize, Transport) {
        let index = self.current.load(Ordering::Relaxed) % self.channels.len();
        let channel = self.channels[index].clone();
        (
            index,
            InterceptedService::new(channel, Stamp(self.tokens.clone())),
        )
    }

    /// Moves off member `failed` (unless another call already did).
    pub(crate) fn skip(&self, failed: usize) {
        let next = (failed + 1) % self.channels.len();
        let _ = self
            .current
            .compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// How many endpoints the client has.
    pub(crate) fn len(&self) -> usize {
        self.channels.len()
    }
}

/// Request ids for exactly-once writes.
///
/// A write takes a *lane* (a client id of its own with a sequence counter) for its
/// whole life, retries included, and gives it back when done; concurrent writes take
/// different lanes. So each lane has at most one write in flight, and a retry always
/// carries the newest sequence of its lane: the server, which keeps each client id's
/// last 256 results, can never have forgotten it (`REQUEST_TOO_OLD`), however many
/// writes the process runs at once.
#[derive(Debug)]
struct Lanes {
    /// Random per client: `rs-<16 hex digits>`.
    prefix: String,
    /// Idle lanes: (lane number, last sequence used).
    free: Mutex<Vec<(u64, u64)>>,
    /// Lanes made so far.
    made: AtomicUsize,
}

impl Lanes {
    fn new() -> Lanes {
        Lanes {
            prefix: format!("rs-{:016x}", random_u64()),
            free: Mutex::new(Vec::new()),
            made: AtomicUsize::new(0),
        }
    }

    /// Takes an idle lane (or makes one) and returns its next request id.
    fn take(&self) -> LaneGuard<'_> {
        let idle = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (lane, last) =
            idle.unwrap_or_else(|| (self.made.fetch_add(1, Ordering::Relaxed) as u64, 0));
        LaneGuard {
            lanes: self,
            lane,
            seq: last + 1,
        }
    }
}

/// A lane in use by one write; given back (with its sequence) when dropped.
struct LaneGuard<'a> {
    lanes: &'a Lanes,
    lane: u64,
    seq: u64,
}

impl LaneGuard<'_> {
    /// `<client-id>/<sequence>`.
    fn request_id(&self) -> String {
        format!("{}-{}/{}", self.lanes.prefix, self.lane, self.seq)
    }
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        self.lanes
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.lane, self.seq));
    }
}

/// 64 random bits without a random-number crate: std's `RandomState` is seeded from
/// the OS for each process; the time, the process id and a counter make each call
/// differ within a process too.
pub(crate) fn random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut hasher = RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.write_usize(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Configures and connects a [`Client`]; from [`Client::builder`]. Its `Debug`
/// output leaves passwords, tokens and keys out.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoints: Vec<String>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    exactly_once: bool,
    tls: TlsSettings,
    credentials: Credentials,
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

    /// Whether writes carry a request id (`corral-request-id`), so that a write whose
    /// outcome is unknown (connection cut, leader lost) is sent again and applied once.
    /// Default true. Without it such a write fails with [`Error::Transport`] or
    /// [`Error::OutcomeUnknown`] and may or may not have been applied.
    pub fn exactly_once(mut self, on: bool) -> Self {
        self.exactly_once = on;
        self
    }

    /// Trusts the CA certificates in `pem` (PEM text) to verify the members, and
    /// dials every endpoint over TLS (`host:port` means `https://host:port`). The client
    /// trusts no other roots.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// As [`tls_ca_pem`](Self::tls_ca_pem), reading the PEM file at `path` when
    /// connecting ([`Error::TlsConfig`] names it if it cannot be read).
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca = Some(Pem::File(path.into()));
        self
    }

    /// Presents this client certificate and private key (PEM) to the members (mTLS).
    /// A member verifying client certificates takes the certificate's CN as the user,
    /// so no password is needed. Needs a CA ([`tls_ca_pem`](Self::tls_ca_pem)).
    pub fn tls_identity(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity = Some((Pem::Bytes(cert_pem.into()), Pem::Bytes(key_pem.into())));
        self
    }

    /// As [`tls_identity`](Self::tls_identity), reading the PEM files when connecting.
    pub fn tls_identity_files(
        mut self,
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Self {
        self.tls.identity = Some((Pem::File(cert_path.into()), Pem::File(key_path.into())));
        self
    }

    /// Verifies the members' certificates against `name` instead of each endpoint's
    /// host (e.g. endpoints given as IP addresses, certificates issued for a DNS name).
    pub fn tls_domain(mut self, name: impl Into<String>) -> Self {
        self.tls.domain = Some(name.into());
        self
    }

    /// Authenticates as `user` with `password` (when auth is enabled on the cluster):
    /// the client asks for a token before its first call, renews it before it expires,
    /// and, when the server rejects it (expired, or revoked by a password change), asks
    /// for a new one once and sends the call again. Replaces [`token`](Self::token).
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Credentials::Password {
            user: user.into(),
            password: Secret::new(password),
        };
        self
    }

    /// Sends `token` (from [`Client::authenticate`], e.g. handed over by another
    /// process) on every call. It cannot be renewed: once it expires calls fail with
    /// [`Error::Unauthenticated`]. Replaces [`credentials`](Self::credentials).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Credentials::Token(Secret::new(token));
        self
    }

    /// Connects to the first endpoint that accepts a connection (over TLS when a
    /// `tls_*` option was given). Fails with [`Error::InvalidEndpoint`] if an endpoint
    /// cannot be parsed, [`Error::TlsConfig`] if the TLS files cannot be used, and
    /// [`Error::Transport`] if none accepts a connection (or a TLS handshake fails).
    /// Credentials are checked on the first call, not here.
    ///
    /// Calls go to one member at a time, and move to the next endpoint when it cannot
    /// be reached or cannot serve them (`UNAVAILABLE`: no leader, shutting down), with
    /// a growing pause between rounds, until the call's timeout. Reads are always sent
    /// again; so are writes, which carry a request id (see
    /// [`exactly_once`](Self::exactly_once)): the server applies each once and a retry
    /// gets the first result.
    pub async fn connect(self) -> Result<Client> {
        if self.endpoints.is_empty() {
            return Err(Error::InvalidEndpoint {
                endpoint: String::new(),
                message: "no endpoints given".into(),
            });
        }
        let tls = self.tls.enabled();
        // Every endpoint is checked before the TLS files are read, so a typo in an
        // endpoint is reported as such.
        let uris = self
            .endpoints
            .iter()
            .map(|e| parse_endpoint(e, tls))
            .collect::<Result<Vec<_>>>()?;
        let tls_config = tls.then(|| self.tls.config()).transpose()?;
        let tokens = Arc::new(Tokens::new(self.credentials)?);
        let endpoints = uris
            .into_iter()
            .map(|uri| {
                let endpoint = Endpoint::from(uri)
                    .connect_timeout(self.connect_timeout)
                    .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
                    .keep_alive_timeout(KEEPALIVE_TIMEOUT)
                    .keep_alive_while_idle(true)
                    .tcp_nodelay(true);
                match &tls_config {
                    Some(config) => {
                        endpoint
                            .tls_config(config.clone())
                            .map_err(|e| Error::TlsConfig {
                                message: e.source().map_or_else(|| e.to_string(), describe),
                            })
                    }
                    None => Ok(endpoint),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let addrs = endpoints
            .iter()
            .map(|e| {
                let uri = e.uri();
                uri.authority()
                    .map_or_else(|| uri.to_string(), |a| a.to_string())
            })
            .collect();
        let (current, channels) = connect_first(&endpoints).await?;
        Ok(Client {
            members: Arc::new(Members {
                channels,
                addrs,
                current: AtomicUsize::new(current),
                lanes: self.exactly_once.then(Lanes::new),
                tokens,
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
    /// `http://host:port` (port 2479 if omitted), e.g. `["127.0.0.1:2479"]`. For TLS or
    /// credentials, use [`Client::builder`].
    pub async fn connect<S: AsRef<str>>(endpoints: impl IntoIterator<Item = S>) -> Result<Client> {
        Self::builder(endpoints).connect().await
    }

    /// A builder to set timeouts, TLS and credentials before connecting.
    pub fn builder<S: AsRef<str>>(endpoints: impl IntoIterator<Item = S>) -> ClientBuilder {
        ClientBuilder {
            endpoints: endpoints
                .into_iter()
                .map(|e| e.as_ref().to_string())
                .collect(),
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            exactly_once: true,
            tls: TlsSettings::default(),
            credentials: Credentials::None,
        }
    }

    /// The user this client authenticates as with a password, if it does.
    pub fn user(&self) -> Option<String> {
        self.members.tokens.user()
    }

    /// Authenticates as `user` with `password` from now on, for this client and all its
    /// clones: the next call asks for a token with them. Use it after the user's password
    /// was changed elsewhere (calls then fail with [`Error::Unauthenticated`], reason
    /// `BadCredentials`, as the old token is revoked and the old password refused).
    pub fn set_credentials(&self, user: impl Into<String>, password: impl Into<String>) {
        // A password never fails the header check that a fixed token may.
        let _ = self.members.tokens.set_credentials(Credentials::Password {
            user: user.into(),
            password: Secret::new(password),
        });
    }

    /// The per-call timeout of this client (`None`: no limit).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The endpoints, as `host:port`, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.members.addrs
    }

    /// The endpoint (`host:port`) calls go to now; it moves on when that member cannot
    /// be reached or cannot serve.
    pub fn current_endpoint(&self) -> &str {
        &self.members.addrs[self.members.current().0]
    }

    /// The client id prefix of this client's request ids (`rs-<16 hex digits>`), or
    /// `None` when exactly-once writes are off. Each concurrent write uses
    /// `<prefix>-<lane>/<sequence>`.
    pub fn client_id(&self) -> Option<&str> {
        self.members.lanes.as_ref().map(|l| l.prefix.as_str())
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
        self.call(
            &path,
            Retry::WithRequestId,
            request,
            |channel, r| async move { kv(channel).create(r).await },
        )
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
        self.call(
            &path,
            Retry::WithRequestId,
            request,
            |channel, r| async move { kv(channel).put(r).await },
        )
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
        self.call(&path, Retry::Safe, request, |channel, r| async move {
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
        self.call(&path, Retry::Safe, request, |channel, r| async move {
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
        self.call(
            &path,
            Retry::WithRequestId,
            request,
            |channel, r| async move { kv(channel).delete(r).await },
        )
        .await
    }

    /// Runs a transaction atomically at one revision. A failing compare is not an
    /// error (`succeeded` is false); a failing op fails the whole Txn with its error
    /// and applies nothing.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.call(
            "",
            Retry::WithRequestId,
            txn.request(),
            |channel, r| async move { kv(channel).txn(r).await },
        )
        .await
    }

    /// Sends `message` with `rpc` under the client's timeout; see [`Client::call_with`].
    pub(crate) async fn call<Q, P, R, F, Fut>(
        &self,
        path: &str,
        retry: Retry,
        message: Q,
        rpc: F,
    ) -> Result<R>
    where
        Q: Clone,
        F: Fn(Transport, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<P>, tonic::Status>>,
        R: FromWire<P>,
    {
        self.call_with(self.timeout, path, retry, message, rpc)
            .await
    }

    /// Sends `message` with `rpc` to the current member, and again (to the next member,
    /// after a pause once every member was tried) while [`after_failure`] allows, until
    /// `timeout` passes; maps a failure status to a typed error and the response to the
    /// client's own type. A [`Retry::WithRequestId`] call carries one request id for
    /// all its attempts (unless exactly-once writes are off, when it is
    /// [`Retry::Unsafe`]).
    ///
    /// With a user and password, the call first makes sure of a fresh token, and when
    /// the server rejects the token it renews it once and sends the call again (the
    /// server checks credentials before anything else, so the call was not applied).
    pub(crate) async fn call_with<Q, P, R, F, Fut>(
        &self,
        timeout: Option<Duration>,
        path: &str,
        retry: Retry,
        message: Q,
        rpc: F,
    ) -> Result<R>
    where
        Q: Clone,
        F: Fn(Transport, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<P>, tonic::Status>>,
        R: FromWire<P>,
    {
        let members = &self.members;
        let lane = match (retry, &members.lanes) {
            (Retry::WithRequestId, Some(lanes)) => Some(lanes.take()),
            _ => None,
        };
        let retry = match (retry, &lane) {
            (Retry::WithRequestId, None) => Retry::Unsafe,
            (retry, _) => retry,
        };
        let request_id = lane
            .as_ref()
            .map(|lane| lane.request_id())
            .map(|id| MetadataValue::try_from(id.as_str()))
            .transpose()
            .map_err(|e| Error::InvalidArgument {
                reason: crate::InvalidReason::InvalidArgument,
                path: None,
                message: format!("request id is not valid metadata: {e}"),
            })?;
        let deadline = timeout.map(|t| Instant::now() + t);
        // The member of the attempt under way, to move off it if time runs out.
        let trying = AtomicUsize::new(usize::MAX);
        let work = async {
            let mut renewed = false;
            loop {
                let generation = self.fresh_token(deadline, &trying).await?;
                let attempt = Attempt {
                    deadline,
                    path,
                    retry,
                    request_id: request_id.as_ref(),
                    trying: &trying,
                };
                let result = self.attempts(attempt, message.clone(), &rpc).await;
                match result {
                    Err(error) if renew_and_retry(&error, members.tokens.can_renew(), renewed) => {
                        renewed = true;
                        members.tokens.reject(generation);
                    }
                    result => return result,
                }
            }
        };
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, work).await.map_err(|_| {
                // A member that does not answer in time (frozen, cut off) is
                // skipped by the next call.
                let index = trying.load(Ordering::Relaxed);
                if index != usize::MAX {
                    members.skip(index);
                }
                Error::Timeout {
                    message: format!("no answer within {:?}", timeout.unwrap_or_default()),
                }
            })?,
            None => work.await,
        };
        drop(lane);
        result
    }

    /// The attempts of one call (see [`Client::call_with`]), without the credentials'
    /// care: sends `message` with `rpc` to the current member, and on to the next while
    /// [`after_failure`] allows, until `deadline` (or [`MAX_ATTEMPTS_WITHOUT_TIMEOUT`]).
    /// The caller bounds it by `deadline`; it does not stop by itself when it passes.
    pub(crate) async fn attempts<Q, P, R, F, Fut>(
        &self,
        how: Attempt<'_>,
        message: Q,
        rpc: F,
    ) -> Result<R>
    where
        Q: Clone,
        F: Fn(Transport, tonic::Request<Q>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<P>, tonic::Status>>,
        R: FromWire<P>,
    {
        let Attempt {
            deadline,
            path,
            retry,
            request_id,
            trying,
        } = how;
        let members = &self.members;
        let mut backoff = Backoff::new();
        let mut attempt = 0u32;
        let mut left_in_round = members.len();
        loop {
            attempt += 1;
            let (index, channel) = members.current();
            trying.store(index, Ordering::Relaxed);
            let mut request = tonic::Request::new(message.clone());
            if let Some(deadline) = deadline {
                // The server sees the deadline too.
                request.set_timeout(deadline.saturating_duration_since(Instant::now()));
            }
            if let Some(id) = request_id {
                request.metadata_mut().insert(REQUEST_ID_HEADER, id.clone());
            }
            let status = match rpc(channel, request).await {
                Ok(response) => return R::from_wire(response.into_inner()),
                Err(status) => status,
            };
            let error = Error::from_status(&status, path);
            if after_failure(&status, &error, retry) == Next::Fail {
                // The call's own deadline passed on this member (frozen, cut off):
                // the next call goes elsewhere.
                if matches!(error, Error::Timeout { .. }) && status.source().is_some() {
                    members.skip(index);
                }
                return Err(error);
            }
            members.skip(index);
            let out_of_attempts = match deadline {
                Some(deadline) => Instant::now() + backoff.current() >= deadline,
                None => attempt >= MAX_ATTEMPTS_WITHOUT_TIMEOUT,
            };
            if out_of_attempts {
                return Err(error);
            }
            // Every member once without a pause, then wait between rounds.
            left_in_round -= 1;
            if left_in_round == 0 {
                left_in_round = members.len();
                backoff.pause().await;
            }
        }
    }
}

/// How [`Client::attempts`] sends a call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// When the call must be done by, if ever.
    pub(crate) deadline: Option<Instant>,
    /// The path the call is about, for its errors ("" if none).
    pub(crate) path: &'a str,
    /// Whether and when it may be sent again.
    pub(crate) retry: Retry,
    /// The write's request id, sent with every attempt.
    pub(crate) request_id: Option<&'a MetadataValue<Ascii>>,
    /// Set to the member of each attempt, for the caller to skip it on a timeout.
    pub(crate) trying: &'a AtomicUsize,
}

/// A KV stub on `channel`; cheap (the channel is shared).
pub(crate) fn kv(channel: Transport) -> KvClient<Transport> {
    KvClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES)
}
