//! The peer protocol's envelope, shared by the client (`network`) and the server
//! (`peer_service`): every `corral.raft.v1.RaftMessage` carries a bincode payload (an
//! openraft message or a forwarded request, and their answers) and its sender's id and
//! client address, which every member keeps in its [`ClientAddrs`] book: followers hear
//! from the leader at every heartbeat, so they can tell clients where it serves them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use corral_proto::raft::RaftMessage;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Peer messages may carry snapshot chunks and entry batches up to this size.
pub const MAX_PEER_MESSAGE: usize = 64 << 20;

/// Wraps `value` for sending from the member whose book `from` is.
pub(super) fn encode<T: Serialize>(
    value: &T,
    from: &ClientAddrs,
) -> Result<RaftMessage, bincode::Error> {
    Ok(RaftMessage {
        payload: bincode::serialize(value)?,
        sender_id: from.own_id,
        sender_client_addr: from.own.clone().unwrap_or_default(),
    })
}

/// Unwraps a received message, noting its sender's client address in `book`. Never
/// panics on malformed bytes.
pub(super) fn decode<T: DeserializeOwned>(
    msg: &RaftMessage,
    book: &ClientAddrs,
) -> Result<T, bincode::Error> {
    book.learn(msg.sender_id, &msg.sender_client_addr);
    bincode::deserialize(&msg.payload)
}

/// Members' client addresses (their `--client-addr`), as they advertise them in the
/// peer messages they send; this member's own is set at start. Clones share the book.
#[derive(Debug, Clone, Default)]
pub struct ClientAddrs {
    own_id: u64,
    own: Option<String>,
    learnt: Arc<Mutex<HashMap<u64, String>>>,
}

impl ClientAddrs {
    /// The book of member `own_id`, which serves clients at `own` (`None`: it does not
    /// advertise an address, e.g. it listens on 0.0.0.0).
    pub fn new(own_id: u64, own: Option<String>) -> Self {
        Self {
            own_id,
            own,
            learnt: Arc::default(),
        }
    }

    /// Member `id`'s client address, if known.
    pub fn get(&self, id: u64) -> Option<String> {
        if id == self.own_id {
            return self.own.clone();
        }
        self.lock().get(&id).cloned()
    }

    /// Records that member `id` serves clients at `addr` (forgets it if empty).
    pub fn learn(&self, id: u64, addr: &str) {
        if id == 0 || id == self.own_id {
            return;
        }
        let mut book = self.lock();
        if addr.is_empty() {
            book.remove(&id);
        } else if book.get(&id).map(String::as_str) != Some(addr) {
            book.insert(id, addr.to_string());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, String>> {
        self.learnt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_tells_the_receiver_its_senders_client_address() {
        let leader = ClientAddrs::new(1, Some("10.0.0.1:2479".into()));
        let follower = ClientAddrs::new(2, Some("10.0.0.2:2479".into()));
        let heartbeat = encode(&7u32, &leader).expect("encode");
        let value: u32 = decode(&heartbeat, &follower).expect("decode");
        assert_eq!(value, 7);
        assert_eq!(follower.get(1).as_deref(), Some("10.0.0.1:2479"));
        assert_eq!(follower.get(2).as_deref(), Some("10.0.0.2:2479"));
        assert_eq!(follower.get(3), None);
        // A member with nothing to advertise makes the others forget the old address.
        let unadvertised = ClientAddrs::new(1, None);
        let _: u32 =
            decode(&encode(&7u32, &unadvertised).expect("encode"), &follower).expect("decode");
        assert_eq!(follower.get(1), None);
    }
}
