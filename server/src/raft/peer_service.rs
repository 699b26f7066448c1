//! The peer server: `corral.raft.v1.Raft` on the peer port. Hands openraft's messages
//! to the local openraft and forwarded requests to the local node. The calling side is
//! `network`; openraft's gRPC example keeps the two apart the same way.

use std::sync::Arc;

use corral_proto::raft::raft_server::{Raft as RaftService, RaftServer};
use corral_proto::raft::RaftMessage;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use openraft::Raft;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::forward_wire::{ForwardRequest, ForwardResult};
use super::node::RaftNode;
use super::peer_wire::{self, ClientAddrs, WireError, MAX_PEER_MESSAGE};
use super::types::TypeConfig;

/// Server side of the peer protocol for one node.
pub struct PeerService {
    raft: Raft<TypeConfig>,
    node: Arc<RaftNode>,
    /// Stamps replies with this member's identity; learns the senders' addresses.
    client_addrs: ClientAddrs,
}

impl PeerService {
    /// Service for `node`.
    pub fn new(node: Arc<RaftNode>) -> Self {
        Self {
            raft: node.raft().clone(),
            client_addrs: node.client_addrs().clone(),
            node,
        }
    }

    /// The tonic service, with the peer message size limits.
    pub fn into_server(self) -> RaftServer<Self> {
        RaftServer::new(self)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE)
    }
}

impl PeerService {
    fn decode<T: DeserializeOwned>(&self, req: Request<RaftMessage>) -> Result<T, Status> {
        peer_wire::decode(&req.into_inner(), &self.client_addrs).map_err(|e| match e {
            WireError::NewerMajor { .. } => Status::failed_precondition(e.to_string()),
            WireError::Payload(_) => Status::invalid_argument(e.to_string()),
        })
    }

    fn encode<T: Serialize>(&self, value: &T) -> Result<Response<RaftMessage>, Status> {
        peer_wire::encode(value, &self.client_addrs)
            .map(Response::new)
            .map_err(|e| Status::internal(format!("encode peer reply: {e}")))
    }
}

#[tonic::async_trait]
impl RaftService for PeerService {
    async fn vote(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: VoteRequest<u64> = self.decode(req)?;
        self.encode(&self.raft.vote(rpc).await)
    }

    async fn append_entries(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = self.decode(req)?;
        self.encode(&self.raft.append_entries(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = self.decode(req)?;
        self.encode(&self.raft.install_snapshot(rpc).await)
    }

    async fn forward(&self, req: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: ForwardRequest = self.decode(req)?;
        let result: ForwardResult = self.node.serve_forwarded(rpc).await;
        self.encode(&result)
    }
}
