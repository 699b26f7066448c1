//! The peer protocol's envelope, shared by the client (`network`) and the server
//! (`peer_service`): every `corral.raft.v1.RaftMessage` carries a bincode payload (an
//! openraft message or a forwarded request, and their answers) and its sender's id and
//! client address, which every member keeps in its [`ClientAddrs`] book: followers hear
//! from the leader at every heartbeat, so they can tell clients where it serves them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use corral_proto::raft::{ProtocolVersion, RaftMessage};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The peer protocol's major version: members of one major read each other's messages.
/// 1: bincode payloads of openraft 0.9's types and `forward_wire`'s.
pub const PROTOCOL_MAJOR: u32 = 1;
/// The minor version: 1 added the sender's id, client address and this version.
pub const PROTOCOL_MINOR: u32 = 1;

/// Peer messages may carry snapshot chunks and entry batches up to this size.
pub const MAX_PEER_MESSAGE: usize = 64 << 20;

/// Wraps `value` for sending from the member whose book `from` is.
pub(super) fn encode<T: Serialize>(
    value: &T,
    from: &ClientAddrs,
) -> Result<RaftMessage, bincode::Error> {
    Ok(RaftMessage {
        payload: bincode::serialize(value)?,
        version: Some(ProtocolVersion {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
        }),
        sender_id: from.own_id,
        sender_client_addr: from.own.clone().unwrap_or_default(),
    })
}

/// Why a received message was not read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The sender runs a newer, incompatible peer protocol.
    #[error(
        "member {sender} speaks peer protocol {major}.{minor}, newer than this member's \
         {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}; upgrade this member (members interoperate \
         within one major version)"
    )]
    NewerMajor {
        /// The sender's member id (0 if it gave none).
        sender: u64,
        /// Its major version.
        major: u32,
        /// Its minor version.
        minor: u32,
    },
    /// The payload is not a message of this protocol version.
    #[error("undecodable peer message: {0}")]
    Payload(#[from] bincode::Error),
}

/// Unwraps a received message, noting its sender's client address in `book`. Refuses
/// a newer major version before reading anything else: its payload may mean something
/// else. Never panics on malformed bytes.
pub(super) fn decode<T: DeserializeOwned>(
    msg: &RaftMessage,
    book: &ClientAddrs,
) -> Result<T, WireError> {
    // Absent: a member from before versions, which speaks 1.0.
    let (major, minor) = msg.version.map_or((1, 0), |v| (v.major, v.minor));
    if major > PROTOCOL_MAJOR {
        return Err(WireError::NewerMajor {
            sender: msg.sender_id,
            major,
            minor,
        });
    }
    book.learn(msg.sender_id, &msg.sender_client_addr);
    Ok(bincode::deserialize(&msg.payload)?)
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

    #[test]
    fn a_message_of_a_newer_major_protocol_version_is_refused_naming_both_versions() {
        let book = ClientAddrs::new(2, None);
        let at = |major, minor| {
            let mut msg = encode(&7u32, &ClientAddrs::new(1, None)).expect("encode");
            msg.version = Some(ProtocolVersion { major, minor });
            msg
        };
        let err = decode::<u32>(&at(PROTOCOL_MAJOR + 1, 0), &book)
            .expect_err("a newer major is refused")
            .to_string();
        let theirs = format!("{}.0", PROTOCOL_MAJOR + 1);
        let ours = format!("{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}");
        assert!(
            err.contains("member 1") && err.contains(&theirs) && err.contains(&ours),
            "{err}"
        );
        // A newer minor of the same major, and a member from before versions, are read.
        assert_eq!(decode::<u32>(&at(PROTOCOL_MAJOR, 99), &book).ok(), Some(7));
        let mut old = at(PROTOCOL_MAJOR, 0);
        old.version = None;
        assert_eq!(decode::<u32>(&old, &book).ok(), Some(7));
    }
}
