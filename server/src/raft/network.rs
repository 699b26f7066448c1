//! Peer transport: openraft messages over gRPC (`corral.raft.v1.Raft`) on the peer port.
//!
//! Payloads are bincode-encoded openraft types inside an opaque protobuf `bytes` field;
//! members of one cluster run the same version. One cached tonic `Channel` per peer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use corral_proto::raft::raft_client::RaftClient;
use corral_proto::raft::raft_server::Raft as RaftService;
use corral_proto::raft::RaftMessage;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use super::forward::{ForwardRequest, ForwardResult};
use super::node::RaftNode;
use super::TypeConfig;

/// Creates (and caches) gRPC clients to peers.
#[derive(Clone, Default)]
pub struct PeerNetwork {
    channels: Arc<Mutex<HashMap<(u64, String), Channel>>>,
    /// Member id → address dialled instead of the membership's (`--peer-routes`).
    routes: Arc<BTreeMap<u64, String>>,
}

impl PeerNetwork {
    /// A network that dials members at their membership addresses, except those in
    /// `routes`.
    pub fn new(routes: BTreeMap<u64, String>) -> Self {
        Self {
            channels: Arc::default(),
            routes: Arc::new(routes),
        }
    }

    fn channel(&self, target: u64, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let addr = self.routes.get(&target).map_or(addr, String::as_str);
        let key = (target, addr.to_string());
        let mut map = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ch) = map.get(&key) {
            return Ok(ch.clone());
        }
        let uri = if addr.starts_with("http://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let ch = Endpoint::from_shared(uri)?
            .connect_timeout(std::time::Duration::from_secs(1))
            .tcp_nodelay(true)
            .connect_lazy();
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
        }
    }
}

/// A connection to one peer.
pub struct PeerClient {
    target: u64,
    node: BasicNode,
    channel: Result<Channel, tonic::transport::Error>,
}

impl PeerClient {
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
        let payload =
            bincode::serialize(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = Request::new(RaftMessage { payload });
        request.set_timeout(option.hard_ttl());
        let mut client = RaftClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        let response = match method {
            Method::Vote => client.vote(request).await,
            Method::Append => client.append_entries(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
        };
        let response = response.map_err(|status| match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                RPCError::Unreachable(Unreachable::new(&status))
            }
            _ => RPCError::Network(NetworkError::new(&status)),
        })?;
        let result: Result<Resp, RaftError<u64, E>> =
            bincode::deserialize(&response.into_inner().payload)
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
        let payload =
            bincode::serialize(req).map_err(|e| ForwardFailure::NotDelivered(e.to_string()))?;
        let mut request = Request::new(RaftMessage { payload });
        request.set_timeout(timeout);
        let mut client = RaftClient::new(channel)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE);
        let response = client.forward(request).await.map_err(|status| {
            // A refused connection means nothing was sent; anything else is ambiguous.
            let text = format!("{status}");
            if text.contains("tcp connect error") || text.contains("Connection refused") {
                ForwardFailure::NotDelivered(text)
            } else {
                ForwardFailure::Unknown(text)
            }
        })?;
        bincode::deserialize(&response.into_inner().payload)
            .map_err(|e| ForwardFailure::Unknown(format!("undecodable reply: {e}")))
    }
}

/// Peer messages may carry snapshot chunks and entry batches up to this size.
pub const MAX_PEER_MESSAGE: usize = 64 << 20;

enum Method {
    Vote,
    Append,
    Snapshot,
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

/// Server side of the peer protocol: hands each message to the local node.
pub struct PeerService {
    raft: Raft<TypeConfig>,
    node: Arc<RaftNode>,
}

impl PeerService {
    /// Service for `node`.
    pub fn new(node: Arc<RaftNode>) -> Self {
        Self {
            raft: node.raft().clone(),
            node,
        }
    }
}

fn decode<T: DeserializeOwned>(msg: RaftMessage) -> Result<T, Status> {
    bincode::deserialize(&msg.payload)
        .map_err(|e| Status::invalid_argument(format!("undecodable peer message: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Response<RaftMessage>, Status> {
    let payload = bincode::serialize(value)
        .map_err(|e| Status::internal(format!("encode peer reply: {e}")))?;
    Ok(Response::new(RaftMessage { payload }))
}

#[tonic::async_trait]
impl RaftService for PeerService {
    async fn vote(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: VoteRequest<u64> = decode(req.into_inner())?;
        encode(&self.raft.vote(rpc).await)
    }

    async fn append_entries(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = decode(req.into_inner())?;
        encode(&self.raft.append_entries(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = decode(req.into_inner())?;
        encode(&self.raft.install_snapshot(rpc).await)
    }

    async fn forward(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: ForwardRequest = decode(req.into_inner())?;
        let result: ForwardResult = self.node.serve_forwarded(rpc).await;
        encode(&result)
    }
}
