//! `-o json`: the proto3 JSON mapping of the API's messages, as the HTTP gateway and
//! grpcurl speak it: lowerCamelCase names, 64-bit integers as strings (so `jq` does not
//! round a `clusterId`), bytes in base64, enums by name. It is derived from the
//! descriptors compiled into `corral-proto`, never written by hand, so a field added
//! or renamed in the protos shows up here as it is.
//!
//! Fields at their default value are printed too (`"version": "0"`, `"succeeded":
//! false`), which the mapping allows as an option: a script reading `.node.stat.version`
//! then gets a value, not `null`. Unset message fields (no `prevNode`) stay out.

use std::sync::LazyLock;

use corral_proto::v1 as pb;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
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
    Node,
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
);

/// The standard mapping, plus fields at their default value.
const OPTIONS: SerializeOptions = SerializeOptions::new().skip_default_fields(false);

/// The descriptors of `corral.v1`, decoded once.
static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(corral_proto::V1_FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("cannot load the API's descriptors: {e}"))
});

/// The JSON mapping of `message`: encoded, decoded again as a dynamic message of the
/// same name, and serialized from its descriptor.
///
/// Fails only on a mismatch between the generated code and the descriptors, a bug.
pub fn to_json<M: ApiMessage>(message: &M) -> Result<Value, String> {
    transcode(M::NAME, &message.encode_to_vec())
}

/// The JSON mapping of the encoded message `bytes` of type `name`.
pub fn transcode(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let pool = POOL.as_ref().map_err(Clone::clone)?;
    let descriptor = pool
        .get_message_by_name(name)
        .ok_or_else(|| format!("{name} is not in the API's descriptors"))?;
    let message = DynamicMessage::decode(descriptor, bytes)
        .map_err(|e| format!("cannot decode a {name}: {e}"))?;
    message
        .serialize_with_options(serde_json::value::Serializer, &OPTIONS)
        .map_err(|e| format!("cannot write a {name} as JSON: {e}"))
}
