//! The peer protocol's envelope, shared by the client (`network`) and the server
//! (`peer_service`): every `corral.raft.v1.RaftMessage` carries a bincode payload (an
//! openraft message or a forwarded request, and their answers).

use corral_proto::raft::RaftMessage;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Peer messages may carry snapshot chunks and entry batches up to this size.
pub const MAX_PEER_MESSAGE: usize = 64 << 20;

/// Wraps `value` for sending.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<RaftMessage, bincode::Error> {
    Ok(RaftMessage {
        payload: bincode::serialize(value)?,
    })
}

/// Unwraps a received message. Never panics on malformed bytes.
pub(super) fn decode<T: DeserializeOwned>(msg: &RaftMessage) -> Result<T, bincode::Error> {
    bincode::deserialize(&msg.payload)
}
