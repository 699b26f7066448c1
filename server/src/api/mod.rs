//! The gRPC API. Handlers are thin: validate, build a command or a read, call one
//! function of the Raft node or the store, map the error, fill the header.

pub mod cluster;
pub mod convert;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod status;
pub mod validate;
pub mod watch;

use std::sync::Arc;

use corral_proto::v1::ResponseHeader;

use crate::raft::RaftNode;

/// What every service needs: the Raft node and request limits.
#[derive(Clone)]
pub struct ApiContext {
    /// The local member.
    pub node: Arc<RaftNode>,
    /// Largest znode data accepted.
    pub max_data_bytes: usize,
}

impl ApiContext {
    /// A response header at `revision`.
    pub fn header(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.node.cluster_id(),
            member_id: self.node.id(),
            revision,
            raft_term: self.node.term(),
        })
    }
}
