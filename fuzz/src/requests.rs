//! Target `request`: a protobuf body decoded as one `corral.v1` request type (chosen by
//! the first byte), then the server's own validation for it (`api::validate`,
//! `api::watch::parse_create`, `api::lock::check_*`, the request-id header).
//!
//! Properties: decoding and validation never panic; a refusal is INVALID_ARGUMENT with a
//! bounded message and details; an accepted request obeys the rules validation promises,
//! its command survives the Raft log's bincode encoding unchanged, and applying it (or
//! running the read) over a small in-memory tree gives a result, never a storage error.

use corral_proto::v1 as pb;
use corral_server::api::errors::{to_status, ApiError};
use corral_server::api::validate::{self, Limits, MAX_LIST_LIMIT, MAX_TXN_OPS};
use corral_server::api::{lock, watch, with_request_id};
use corral_server::store::apply::{apply_command, SEQUENCE_DIGITS};
use corral_server::store::command::{Batch, Command, TxnOp};
use corral_server::store::overlay::Overlay;
use corral_server::store::{path, read};
use prost::Message;

use crate::mem::MemTree;

/// Largest status message a refused request may produce. The message travels in the
/// `grpc-message` header, so it must not grow with the request.
pub const MAX_STATUS_MESSAGE_BYTES: usize = corral_server::api::errors::MAX_MESSAGE_BYTES;
/// Largest encoded status details (`grpc-status-details-bin`, the ErrorInfo): a reason
/// and at most a few bounded metadata values.
pub const MAX_STATUS_DETAILS_BYTES: usize = 4096;

/// Data limit validation runs with: small, so fuzzed inputs hit both sides of it.
const LIMITS: Limits = Limits { max_data_bytes: 64 };

/// The request types, in selector order (first input byte modulo the count).
pub const KINDS: [&str; 28] = [
    "Create",
    "Put",
    "Get",
    "List",
    "Delete",
    "Txn",
    "Watch",
    "LeaseGrant",
    "LeaseRevoke",
    "LeaseKeepAlive",
    "LeaseTimeToLive",
    "LeaseList",
    "Lock",
    "Unlock",
    "Campaign",
    "Proclaim",
    "Leader",
    "Observe",
    "Resign",
    "MemberList",
    "MemberAdd",
    "MemberPromote",
    "MemberRemove",
    "TransferLeader",
    "Status",
    "Compact",
    "Snapshot",
    "RequestId",
];

/// Fuzz entry point: `data[0]` picks the request type, the rest is its encoding.
pub fn request(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match KINDS[selector as usize % KINDS.len()] {
        "Create" => {
            if let Some(r) = decode::<pb::CreateRequest>(body) {
                create(&r);
            }
        }
        "Put" => {
            if let Some(r) = decode::<pb::PutRequest>(body) {
                put(&r);
            }
        }
        "Get" => {
            if let Some(r) = decode::<pb::GetRequest>(body) {
                get(&r);
            }
        }
        "List" => {
            if let Some(r) = decode::<pb::ListRequest>(body) {
                list(&r);
            }
        }
        "Delete" => {
            if let Some(r) = decode::<pb::DeleteRequest>(body) {
                delete(&r);
            }
        }
        "Txn" => {
            if let Some(r) = decode::<pb::TxnRequest>(body) {
                txn(&r);
            }
        }
        "Watch" => {
            if let Some(pb::WatchRequest {
                request: Some(pb::watch_request::Request::Create(c)),
            }) = decode::<pb::WatchRequest>(body)
            {
                watch_create(&c);
            }
        }
        "LeaseGrant" => drop(decode::<pb::LeaseGrantRequest>(body)),
        "LeaseRevoke" => drop(decode::<pb::LeaseRevokeRequest>(body)),
        "LeaseKeepAlive" => drop(decode::<pb::LeaseKeepAliveRequest>(body)),
        "LeaseTimeToLive" => drop(decode::<pb::LeaseTimeToLiveRequest>(body)),
        "LeaseList" => drop(decode::<pb::LeaseListRequest>(body)),
        "Lock" => {
            if let Some(r) = decode::<pb::LockRequest>(body) {
                let checked = lock::check_name("name", &r.name)
                    .and_then(|()| lock::check_lease_and_wait(r.lease_id, r.wait_timeout_ms));
                if outcome(checked).is_some() {
                    name_rules(&r.name);
                    assert!(r.lease_id > 0 && r.wait_timeout_ms >= 0);
                }
            }
        }
        "Campaign" => {
            if let Some(r) = decode::<pb::CampaignRequest>(body) {
                let checked = lock::check_name("name", &r.name)
                    .and_then(|()| lock::check_lease_and_wait(r.lease_id, r.wait_timeout_ms));
                if outcome(checked).is_some() {
                    name_rules(&r.name);
                }
            }
        }
        "Unlock" => name_request(decode::<pb::UnlockRequest>(body).map(|r| r.key)),
        "Proclaim" => name_request(decode::<pb::ProclaimRequest>(body).map(|r| r.key)),
        "Leader" => name_request(decode::<pb::LeaderRequest>(body).map(|r| r.name)),
        "Observe" => name_request(decode::<pb::ObserveRequest>(body).map(|r| r.name)),
        "Resign" => name_request(decode::<pb::ResignRequest>(body).map(|r| r.key)),
        "MemberList" => drop(decode::<pb::MemberListRequest>(body)),
        "MemberAdd" => drop(decode::<pb::MemberAddRequest>(body)),
        "MemberPromote" => drop(decode::<pb::MemberPromoteRequest>(body)),
        "MemberRemove" => drop(decode::<pb::MemberRemoveRequest>(body)),
        "TransferLeader" => drop(decode::<pb::TransferLeaderRequest>(body)),
        "Status" => drop(decode::<pb::StatusRequest>(body)),
        "Compact" => drop(decode::<pb::CompactRequest>(body)),
        "Snapshot" => drop(decode::<pb::SnapshotRequest>(body)),
        _ => request_id(body),
    }
}

/// Decodes `body` as `M`; a decoded message must re-encode and decode to itself.
fn decode<M: Message + Default + PartialEq>(body: &[u8]) -> Option<M> {
    let m = M::decode(body).ok()?;
    let again = M::decode(m.encode_to_vec().as_slice()).expect("re-encoded message decodes");
    assert!(again == m, "message changed across encode/decode");
    Some(m)
}

/// Checks a refusal's status and returns the accepted value, if any.
fn outcome<T>(r: Result<T, ApiError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            refusal(e);
            None
        }
    }
}

/// A validation refusal is the caller's fault: INVALID_ARGUMENT, with a message a person
/// can read and headers whose size does not grow with the request.
fn refusal(e: ApiError) {
    let status = to_status(e);
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "validation refused with {status:?}"
    );
    assert!(!status.message().is_empty());
    assert!(
        status.message().len() <= MAX_STATUS_MESSAGE_BYTES,
        "status message of {} bytes",
        status.message().len()
    );
    assert!(
        status.details().len() <= MAX_STATUS_DETAILS_BYTES,
        "status details of {} bytes",
        status.details().len()
    );
}

fn name_request(name: Option<String>) {
    if let Some(name) = name {
        if outcome(lock::check_name("name", &name)).is_some() {
            name_rules(&name);
        }
    }
}

/// What an accepted lock or election name promises.
fn name_rules(name: &str) {
    assert_eq!(path::validate(name), Ok(()));
    assert_ne!(name, "/");
}

fn create(r: &pb::CreateRequest) {
    if let Some(cmd) = outcome(validate::create(r, LIMITS)) {
        let full = if cmd.sequential {
            format!("{}{}", cmd.path, "0".repeat(SEQUENCE_DIGITS))
        } else {
            cmd.path.clone()
        };
        assert_eq!(path::validate(&full), Ok(()), "accepted create of {full:?}");
        assert_ne!(full, "/");
        assert!(cmd.data.len() <= LIMITS.max_data_bytes);
        assert!(cmd.ttl_ms >= 0);
        assert_eq!(cmd.lease_id != 0, r.ephemeral);
        command(Command::Create(cmd));
    }
}

fn put(r: &pb::PutRequest) {
    if let Some(cmd) = outcome(validate::put(r, LIMITS)) {
        assert_eq!(path::validate(&cmd.path), Ok(()));
        assert!(cmd.data.len() <= LIMITS.max_data_bytes);
        assert!(cmd.expected_version.is_none_or(|v| v >= 0));
        command(Command::Put(cmd));
    }
}

fn delete(r: &pb::DeleteRequest) {
    if let Some(cmd) = outcome(validate::delete(r)) {
        assert_eq!(path::validate(&cmd.path), Ok(()));
        assert_ne!(cmd.path, "/");
        command(Command::Delete(cmd));
    }
}

fn get(r: &pb::GetRequest) {
    if let Some(q) = outcome(validate::get(r)) {
        assert_eq!(path::validate(&q.path), Ok(()));
        let tree_base = MemTree::sample();
        let tree = Overlay::new(&tree_base);
        read::get(&tree, &q.path, q.stat_only).expect("a valid get reads without error");
    }
}

fn list(r: &pb::ListRequest) {
    if let Some(q) = outcome(validate::list(r)) {
        assert_eq!(path::validate(&q.path), Ok(()));
        assert!((1..=MAX_LIST_LIMIT).contains(&q.limit));
        let tree_base = MemTree::sample();
        let tree = Overlay::new(&tree_base);
        // A missing znode is a KvError (NOT_FOUND), which is fine; storage errors are not.
        if let Err(corral_server::store::read::ListError::Store(e)) = read::list(&tree, &q) {
            panic!("a valid list failed in storage: {e}");
        }
    }
}

fn txn(r: &pb::TxnRequest) {
    if let Some(cmd) = outcome(validate::txn(r, LIMITS)) {
        assert!(cmd.compares.len() <= MAX_TXN_OPS);
        assert!(cmd.success.len() <= MAX_TXN_OPS && cmd.failure.len() <= MAX_TXN_OPS);
        for c in &cmd.compares {
            assert_eq!(path::validate(&c.path), Ok(()));
        }
        for op in cmd.success.iter().chain(&cmd.failure) {
            let p = match op {
                TxnOp::Create(c) | TxnOp::CreateWithAcl(c, _) if c.sequential => {
                    format!("{}{}", c.path, "0".repeat(SEQUENCE_DIGITS))
                }
                TxnOp::Create(c) | TxnOp::CreateWithAcl(c, _) => c.path.clone(),
                TxnOp::Put(c) => c.path.clone(),
                TxnOp::Delete(c) => c.path.clone(),
                TxnOp::Get(q) => q.path.clone(),
                TxnOp::List(q) => {
                    assert!(q.after.is_empty(), "Txn list with a page token");
                    q.path.clone()
                }
            };
            assert_eq!(path::validate(&p), Ok(()), "accepted txn op on {p:?}");
        }
        command(Command::Txn(cmd));
    }
}

fn watch_create(c: &pb::WatchCreateRequest) {
    if let Some(opts) = outcome(watch::parse_create(c)) {
        assert_eq!(path::validate(&opts.spec.path), Ok(()));
        assert!(opts.start_revision >= 0);
        assert!(opts.spec.exclude.len() == c.filters.len());
    }
}

/// The `corral-request-id` header, from the bytes as its value.
fn request_id(body: &[u8]) {
    let Ok(value) = tonic::metadata::MetadataValue::try_from(body) else {
        return;
    };
    let mut req = tonic::Request::new(());
    req.metadata_mut()
        .insert(corral_server::api::REQUEST_ID_HEADER, value);
    let inner = Command::Compact { revision: 1 };
    match outcome(with_request_id(&req, None, inner.clone())) {
        Some(Command::Once {
            client_id,
            seq,
            command: wrapped,
        }) => {
            assert!((1..=128).contains(&client_id.len()));
            assert!(client_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')));
            assert!(seq >= 1);
            assert_eq!(*wrapped, inner);
            command(Command::Once {
                client_id,
                seq,
                command: wrapped,
            });
        }
        Some(other) => panic!("a request id header gave {other:?}"),
        None => {}
    }
}

/// An accepted command goes into the Raft log (bincode) and comes back unchanged, alone
/// and in a batch, and applies over a healthy tree without a storage error or a panic.
fn command(cmd: Command) {
    let bytes = bincode::serialize(&cmd).expect("a command encodes");
    let back: Command = bincode::deserialize(&bytes).expect("an encoded command decodes");
    assert_eq!(back, cmd, "command changed across the log encoding");
    let batch = Batch {
        now_ms: 1_700_000_000_000,
        commands: vec![cmd.clone(), cmd.clone()],
    };
    let bytes = bincode::serialize(&batch).expect("a batch encodes");
    let back: Batch = bincode::deserialize(&bytes).expect("an encoded batch decodes");
    assert_eq!(back, batch);
    let _ = cmd.approx_size();

    let base = MemTree::sample();
    let mut tree = Overlay::new(&base);
    // Twice, so the second run meets the first one's writes (exists, version moved, ...).
    for c in &batch.commands {
        if let Err(e) = apply_command(&mut tree, batch.now_ms, c) {
            panic!("a validated command failed in storage: {e}\n{c:?}");
        }
    }
}
