//! `-o json`: the proto3 JSON mapping of the API's messages, as grpcurl prints them
//! and as DESIGN.md has the HTTP gateway speak them: lowerCamelCase names, 64-bit integers as strings (so `jq` does not
//! round a `clusterId`), bytes in base64, enums by name. It is derived from the
//! descriptors compiled into `corral-proto`, never written by hand, so a field added
//! or renamed in the protos shows up here as it is.
//!
//! Fields at their default value are printed too (`"version": "0"`, `"succeeded":
//! false`), which the mapping allows as an option: a script reading `.node.stat.version`
//! then gets a value, not `null`. Unset message fields (no `prevNode`) stay out.
//! Fields come in the protos' order (`header` first), as grpcurl prints them: messages
//! are serialized straight from their descriptors into the output, never through a
//! `serde_json::Value`, whose objects sort their keys.

use std::sync::LazyLock;

use corral_proto::v1 as pb;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
#[cfg(test)]
use serde_json::Value;

/// A generated message of package `corral.v1`, with its full protobuf name (the
/// generated code does not carry it).
pub trait ApiMessage: prost::Message + Sized {
    /// `corral.v1.<Name>`.
    const NAME: &'static str;
}

/// Names each message type after itself; a unit test checks every name resolves.
macro_rules! api_messages {
    ($($message:ident),* $(,)?) => {
        $(impl ApiMessage for pb::$message {
            const NAME: &'static str = concat!("corral.v1.", stringify!($message));
        })*
        /// Every message corralctl prints, for the test that they all resolve.
        #[cfg(test)]
        pub const PRINTED: &[&str] = &[$(<pb::$message as ApiMessage>::NAME),*];
    };
}

api_messages!(
    ResponseHeader,
    Event,
    CreateResponse,
    PutResponse,
    GetResponse,
    ListResponse,
    DeleteResponse,
    TxnResponse,
    LeaseGrantResponse,
    LeaseRevokeResponse,
    LeaseKeepAliveResponse,
    LeaseTimeToLiveResponse,
    LeaseListResponse,
    LockResponse,
    CampaignResponse,
    LeaderResponse,
    MemberListResponse,
    MemberAddResponse,
    MemberPromoteResponse,
    MemberRemoveResponse,
    TransferLeaderResponse,
    StatusResponse,
    CompactResponse,
    AuthEnableResponse,
    AuthDisableResponse,
    AuthStatusResponse,
    AuthUserAddResponse,
    AuthUserDeleteResponse,
    AuthUserListResponse,
    AuthUserChangePasswordResponse,
    AuthUserGrantRoleResponse,
    AuthUserRevokeRoleResponse,
    AuthRoleAddResponse,
    AuthRoleDeleteResponse,
    AuthRoleListResponse,
    GetAclResponse,
    SetAclResponse,
);

/// The standard mapping, plus fields at their default value.
const OPTIONS: SerializeOptions = SerializeOptions::new().skip_default_fields(false);

/// The descriptors of `corral.v1`, decoded once.
static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(corral_proto::V1_FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("cannot load the API's descriptors: {e}"))
});

/// A JSON document made of API messages: one message, or a few of them in an object
/// or a list (`status` prints one `{endpoint, status}` per member).
pub enum Doc {
    /// An API message, printed as its mapping.
    Message(DynamicMessage),
    /// An object whose keys keep the order given.
    Object(Vec<(&'static str, Doc)>),
    /// A list.
    List(Vec<Doc>),
    /// A string.
    Text(String),
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Message(message) => message.serialize_with_options(serializer, &OPTIONS),
            Doc::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Doc::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Doc::Text(text) => serializer.serialize_str(text),
        }
    }
}

/// `message` as a [`Doc`].
pub fn message<M: ApiMessage>(message: &M) -> Result<Doc, String> {
    decode(M::NAME, &message.encode_to_vec())
}

/// The encoded message `bytes` of type `name` (a `corral.v1` message), decoded again as
/// a dynamic message of that name, which serializes from its descriptor.
///
/// Fails only on a mismatch between the generated code and the descriptors, a bug.
pub fn decode(name: &str, bytes: &[u8]) -> Result<Doc, String> {
    let pool = POOL.as_ref().map_err(Clone::clone)?;
    let descriptor = pool
        .get_message_by_name(name)
        .ok_or_else(|| format!("{name} is not in the API's descriptors"))?;
    let message = DynamicMessage::decode(descriptor, bytes)
        .map_err(|e| format!("cannot decode a {name}: {e}"))?;
    Ok(Doc::Message(message))
}

/// The JSON mapping of `message` as a value (keys sorted), for tests.
#[cfg(test)]
pub fn to_json<M: ApiMessage>(message: &M) -> Result<Value, String> {
    to_value(&self::message(message)?)
}

/// A [`Doc`] as a value (keys sorted), for tests.
#[cfg(test)]
pub fn to_value(doc: &Doc) -> Result<Value, String> {
    serde_json::to_value(doc).map_err(|e| format!("cannot write JSON: {e}"))
}
