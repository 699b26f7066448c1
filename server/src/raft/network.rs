//! The peer client: openraft's messages and forwarded requests sent to other members
//! over gRPC (`corral.raft.v1.Raft`), one cached tonic `Channel` per peer, over mutual
//! TLS when `--peer-tls-*` is set (`crate::tls::PeerConnector`). The serving side is
//! `peer_service`; the envelope both use is `peer_wire`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use corral_proto::raft::raft_client::RaftClient;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use super::forward_wire::{ForwardRequest, ForwardResult};
use super::peer_failure_log::{PeerFailureLog, Report, LOG_INTERVAL};
use super::peer_wire::{self, ClientAddrs, MAX_PEER_MESSAGE};
use super::types::TypeConfig;
use crate::tls::{PeerConnector, PeerTls};

/// Why no channel to a peer could be made (nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer address is not a valid URI.
    #[error("peer address {addr}: {error}")]
    Address {
        /// The address as the membership or `--peer-routes` gives it.
        addr: String,
        /// Why it is not a URI (in the message, not a separate cause: printed once).
        error: tonic::transport::Error,
    },
    /// The peer address cannot be checked against a TLS certificate.
    #[error(transparent)]
    Tls(#[from] crate::tls::ConnectError),
}

/// Creates (and caches) gRPC clients to peers.
#[derive(Clone, Default)]
pub struct PeerNetwork {
    channels: Arc<Mutex<HashMap<(u64, String), Channel>>>,
    /// Mutual TLS to every peer (`--peer-tls-*`), or plaintext.
    tls: Option<Arc<PeerTls>>,
    /// Member id → address dialled instead of the membership's (`--peer-routes`).
    routes: Arc<BTreeMap<u64, String>>,
    /// Which peers are failing, so each outage is logged a few times, not per call.
    failures: Arc<Mutex<PeerFailureLog>>,
    /// This member's identity for the messages it sends, and what it learns from replies.
    client_addrs: ClientAddrs,
}

impl PeerNetwork {
    /// A network that dials members at their membership addresses, except those in
    /// `routes`, sending as (and learning into) `client_addrs`, over `tls` if given.
    pub fn new(
        routes: BTreeMap<u64, String>,
        client_addrs: ClientAddrs,
        tls: Option<Arc<PeerTls>>,
    ) -> Self {
        Self {
            channels: Arc::default(),
            tls,
            routes: Arc::new(routes),
            failures: Arc::default(),
            client_addrs,
        }
    }

    /// The channel to member `target`, whose membership address is `member_addr`.
    fn channel(&self, target: u64, member_addr: &str) -> Result<Channel, ChannelError> {
        let addr = self.routes.get(&target).map_or(member_addr, String::as_str);
        let key = (target, addr.to_string());
        let mut map = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ch) = map.get(&key) {
            return Ok(ch.clone());
        }
        let host_port = addr
            .strip_prefix("http://")
            .or_else(|| addr.strip_prefix("https://"))
            .unwrap_or(addr);
        let address_error = |error| ChannelError::Address {
            addr: addr.to_string(),
            error,
        };
        let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
            .map_err(address_error)?
            // Covers the TLS handshake too when the connector below makes one.
            .connect_timeout(std::time::Duration::from_secs(1))
            .tcp_nodelay(true);
        let ch = match &self.tls {
            None => endpoint.connect_lazy(),
            Some(tls) => {
                // The connector makes the TLS connection itself, with the certificates
                // current at each (re)connect; tonic's own TLS would fix them when the
                // channel is made, and refuses an https:// URI without it. So the
                // endpoint dials as http:// and the requests say https (the origin).
                let origin = Endpoint::from_shared(format!("https://{host_port}"))
                    .map_err(address_error)?
                    .uri()
                    .clone();
                let connector = PeerConnector::new(tls.clone(), member_addr)?;
                endpoint
                    .origin(origin)
                    .connect_with_connector_lazy(connector)
            }
        };
        map.insert(key, ch.clone());
        Ok(ch)
    }
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Self::Network {
        PeerClient {
            target,
            node: node.clone(),
            channel: self.channel(target, &node.addr),
            failures: self.failures.clone(),
            client_addrs: self.client_addrs.clone(),
        }
    }
}

/// A connection to one peer.
pub struct PeerClient {
    target: u64,
    node: BasicNode,
    channel: Result<Channel, ChannelError>,
    failures: Arc<Mutex<PeerFailureLog>>,
    client_addrs: ClientAddrs,
}

impl PeerClient {
    /// Logs a failed call to this peer, if the rate limit allows (see `peer_failure_log`).
    fn log_failure(&self, method: &Method, why: &dyn std::fmt::Display) {
        let report = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .failed(self.target, std::time::Instant::now());
        let (target, addr) = (self.target, &self.node.addr);
        match report {
            Report::First => tracing::warn!(
                "member {target} at {addr} did not answer {}: {}; while it stays \
                 unreachable this is logged every {:?}",
                method.name(),
                short(why),
                LOG_INTERVAL
            ),
            Report::Again { failures, down_for } => tracing::warn!(
                "member {target} at {addr} still unreachable: {failures} failed calls \
                 since the last report, down for {down_for:.0?}; last: {}",
                short(why)
            ),
            Report::Quiet | Report::Back { .. } => {}
        }
    }

    /// Notes that this peer answered; logs its return after failures.
    fn log_success(&self) {
        let back = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .succeeded(self.target, std::time::Instant::now());
        if let Some(Report::Back { failures, down_for }) = back {
            tracing::info!(
                "member {} at {} answers again, after {failures} failed calls over {down_for:.0?}",
                self.target,
                self.node.addr
            );
        }
    }

    async fn call<Req, Resp, E>(
        &mut self,
        method: Method,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let channel = match &self.channel {
            Ok(ch) => ch.clone(),
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(e))),
        };
        let message = peer_wire::encode(req, &self.client_addrs)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = Request::new(message);
        request.set_timeout(option.hard_ttl());
        let mut client = RaftClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        let response = match method {
            Method::Vote => client.vote(request).await,
            Method::Append => client.append_entries(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
        };
        match &response {
            Ok(_) => self.log_success(),
            Err(status) => self.log_failure(&method, &with_cause(status)),
        }
        let response = response.map_err(|status| {
            // openraft logs these errors itself in places no filter can quiet without
            // losing other errors (e.g. every linearizable read round's heartbeat to a
            // dead member): give it the code and message, not tonic's whole source chain
            // (~600 characters a line).
            let brief = openraft::AnyError::error(format!(
                "member {} at {}: {}",
                self.target,
                self.node.addr,
                short(&format_args!("{}: {}", status.code(), status.message()))
            ));
            match status.code() {
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled => RPCError::Unreachable(Unreachable::new(&brief)),
                _ => RPCError::Network(NetworkError::new(&brief)),
            }
        })?;
        let result: Result<Resp, RaftError<u64, E>> =
            peer_wire::decode(&response.into_inner(), &self.client_addrs)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

/// Why a forwarded request got no answer.
#[derive(Debug, Clone)]
pub enum ForwardFailure {
    /// The connection could not be made: the request was certainly not delivered.
    NotDelivered(String),
    /// The request may or may not have been carried out.
    Unknown(String),
}

impl PeerNetwork {
    /// Sends `req` to member `target` at `addr` and waits up to `timeout` for its answer.
    pub async fn forward(
        &self,
        target: u64,
        addr: &str,
        req: &ForwardRequest,
        timeout: std::time::Duration,
    ) -> Result<ForwardResult, ForwardFailure> {
        let channel = self
            .channel(target, addr)
            .map_err(|e| ForwardFailure::NotDelivered(e.to_string()))?;
        let message = peer_wire::encode(req, &self.client_addrs)
            .map_err(|e| ForwardFailure::NotDelivered(e.to_string()))?;
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        let mut client = RaftClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        let response = client.forward(request).await.map_err(|s| failure(&s))?;
        peer_wire::decode(&response.into_inner(), &self.client_addrs)
            .map_err(|e| ForwardFailure::Unknown(format!("undecodable reply: {e}")))
    }
}

/// What a failed forward call means for its request: nothing was sent if the call
/// failed while connecting, which tonic marks by a `ConnectError` in the status's source
/// chain (a refused connection is an `io::Error` of kind `ConnectionRefused` in it);
/// anything else may have reached the leader. Decided by the errors' types, never by
/// their text: a reworded message must not turn every forward to a dead leader into an
/// unknown outcome (nor a relayed message into "not delivered").
fn failure(status: &Status) -> ForwardFailure {
    let text = format!("{}: {}", status.code(), status.message());
    // The peer service refuses a message it cannot read (a newer protocol version, an
    // undecodable payload) before acting on it.
    if matches!(
        status.code(),
        tonic::Code::FailedPrecondition | tonic::Code::InvalidArgument
    ) {
        return ForwardFailure::NotDelivered(text);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = source {
        let refused = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused || e.is::<tonic::ConnectError>() {
            return ForwardFailure::NotDelivered(text);
        }
        source = e.source();
    }
    ForwardFailure::Unknown(text)
}

enum Method {
    Vote,
    Append,
    Snapshot,
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Vote => "a vote request",
            Method::Append => "append-entries",
            Method::Snapshot => "a snapshot chunk",
        }
    }
}

/// The status's code and message, and, for a connection that could not be made, the
/// innermost cause (tonic's message is then only "transport error"; the cause says
/// e.g. which certificate the TLS handshake refused).
fn with_cause(status: &Status) -> String {
    let mut text = format!("{}: {}", status.code(), status.message());
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    let mut innermost = None;
    while let Some(e) = source {
        innermost = Some(e);
        source = e.source();
    }
    if let Some(cause) = innermost {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// At most 200 bytes of `why`: enough to say what failed, short of a full error chain.
fn short(why: &dyn std::fmt::Display) -> String {
    let mut text = why.to_string();
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(Method::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(Method::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(Method::Vote, &rpc, &option).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status as tonic makes it when it cannot connect: the message is the OS's, the
    /// cause is in the source chain.
    fn connect_failure(message: &str) -> Status {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, message.to_string());
        Status::from_error(Box::new(tonic::ConnectError(Box::new(io))))
    }

    #[test]
    fn a_connect_failure_is_not_delivered_whatever_its_message_says() {
        for message in ["connection refused", "Verbindungsaufbau abgelehnt", ""] {
            let status = connect_failure(message);
            assert!(
                matches!(failure(&status), ForwardFailure::NotDelivered(_)),
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_failure_after_connecting_is_unknown_even_if_its_text_mentions_connecting() {
        // No connect error in the chain: e.g. a reply relayed from another member.
        let status = Status::unavailable("tcp connect error: Connection refused (os error 111)");
        assert!(matches!(failure(&status), ForwardFailure::Unknown(_)));
    }

    #[tokio::test]
    async fn forwarding_to_a_closed_port_is_not_delivered() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let network = PeerNetwork::new(BTreeMap::new(), ClientAddrs::new(1, None), None);
        let sent = network
            .forward(
                2,
                &format!("127.0.0.1:{port}"),
                &ForwardRequest::ReadIndex,
                std::time::Duration::from_secs(5),
            )
            .await;
        assert!(
            matches!(sent, Err(ForwardFailure::NotDelivered(_))),
            "{sent:?}"
        );
    }
}
