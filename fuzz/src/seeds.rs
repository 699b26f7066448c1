//! The seed corpus: a few dozen valid (and some deliberately broken) inputs per target,
//! built from the real types so they stay current when an encoding changes.
//! `tests/corpus_replay.rs` checks `fuzz/corpus/` matches them, and writes them with
//! `CORRAL_FUZZ_BLESS=1`.

use std::collections::{BTreeMap, BTreeSet};

use corral_proto::v1 as pb;
use corral_server::raft::forward_wire::{AdminOp, ForwardRequest, ForwardResponse, ForwardResult};
use corral_server::raft::{RaftNodeError, TypeConfig};
use corral_server::store::apply::apply_command;
use corral_server::store::command::{
    Batch, BatchResult, CmpOp, CmpTarget, Command, CommandResult, Compare, CreateCmd, DeleteCmd,
    GetQuery, KvError, ListQuery, OpOutput, Output, PutCmd, TxnCmd, TxnOp,
};
use corral_server::store::db::{Db, Sync};
use corral_server::store::lease::LeaseRecord;
use corral_server::store::overlay::Overlay;
use corral_server::store::session::SessionRecord;
use corral_server::znode::{Event, EventKind, NodeKind, NodeRecord, Stat};
use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{
    AnyError, BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership, Vote,
};
use prost::Message;
use serde::Serialize;

/// One seed: a file name (without directory) and its bytes.
pub type Seed = (String, Vec<u8>);

/// Seeds of `target` ("path", "request" or "record").
pub fn seeds(target: &str) -> Vec<Seed> {
    match target {
        "path" => paths(),
        "request" => requests(),
        "record" => records(),
        other => panic!("no target {other:?}"),
    }
}

fn paths() -> Vec<Seed> {
    let long_segment = "s".repeat(255);
    let cases: Vec<(&str, String)> = vec![
        ("root", "/".into()),
        ("one", "/a".into()),
        ("two", "/a/b".into()),
        ("sequential", "/services/api/host-0000000007".into()),
        ("unicode", "/ünï/çødé/日本".into()),
        ("emoji", "/🦀/🐄".into()),
        ("space", "/a b/c d".into()),
        ("dots-inside", "/a.b/..c/.d/e..".into()),
        ("zero-width", "/a\u{200b}b".into()),
        ("segment-255", format!("/{long_segment}")),
        ("segment-256", format!("/{long_segment}s")),
        ("path-4096", format!("/{}", "a/".repeat(2047) + "a")),
        ("path-4097", format!("/{}", "a/".repeat(2047) + "ab")),
        ("deep", "/a".repeat(1000)),
        ("empty", String::new()),
        ("relative", "a/b".into()),
        ("trailing", "/a/".into()),
        ("double-slash", "/a//b".into()),
        ("only-slashes", "//".into()),
        ("dot", "/a/./b".into()),
        ("dotdot", "/a/../b".into()),
        ("dotdot-end", "/a/..".into()),
        ("nul", "/a\0b".into()),
        ("newline", "/a\nb".into()),
        ("del", "/a\u{7f}".into()),
        ("c1-control", "/a\u{85}".into()),
        ("tab-first", "\t/a".into()),
    ];
    let mut out: Vec<Seed> = cases
        .into_iter()
        .map(|(name, p)| (name.to_string(), p.into_bytes()))
        .collect();
    out.push(("invalid-utf8".into(), b"/a\xff\xfe/b".to_vec()));
    out.push(("overlong-utf8".into(), b"/\xc0\xaf".to_vec()));
    out
}

/// A request seed: selector byte of `kind` in [`crate::requests::KINDS`], then the body.
fn req(name: &str, kind: &str, body: Vec<u8>) -> Seed {
    let selector = crate::requests::KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_else(|| panic!("no request kind {kind}"));
    let mut bytes = vec![selector as u8];
    bytes.extend(body);
    (format!("{}-{name}", kind.to_lowercase()), bytes)
}

fn requests() -> Vec<Seed> {
    let create = |path: &str| pb::CreateRequest {
        path: path.into(),
        data: b"v".to_vec(),
        ..Default::default()
    };
    let put = pb::PutRequest {
        path: "/a".into(),
        data: b"new".to_vec(),
        expected_version: Some(0),
        ..Default::default()
    };
    let op = |op: pb::op::Op| pb::Op { op: Some(op) };
    let txn = pb::TxnRequest {
        compares: vec![
            pb::Compare {
                path: "/a".into(),
                result: pb::compare::Result::Equal as i32,
                target: Some(pb::compare::Target::Version(0)),
            },
            pb::Compare {
                path: "/e".into(),
                result: pb::compare::Result::NotEqual as i32,
                target: Some(pb::compare::Target::Exists(false)),
            },
            pb::Compare {
                path: "/a/b".into(),
                result: pb::compare::Result::Greater as i32,
                target: Some(pb::compare::Target::Data(b"w".to_vec())),
            },
        ],
        success: vec![
            op(pb::op::Op::Create(create("/a/c"))),
            op(pb::op::Op::Put(put.clone())),
            op(pb::op::Op::Get(pb::GetRequest {
                path: "/a".into(),
                ..Default::default()
            })),
            op(pb::op::Op::List(pb::ListRequest {
                path: "/".into(),
                recursive: true,
                ..Default::default()
            })),
        ],
        failure: vec![op(pb::op::Op::Delete(pb::DeleteRequest {
            path: "/a/b".into(),
            recursive: true,
            ..Default::default()
        }))],
    };
    let watch = |c: pb::WatchCreateRequest| pb::WatchRequest {
        request: Some(pb::watch_request::Request::Create(c)),
    };
    let e = |m: &dyn Fn() -> Vec<u8>| m();
    vec![
        req("plain", "Create", create("/a/new").encode_to_vec()),
        req(
            "sequential-ephemeral",
            "Create",
            pb::CreateRequest {
                path: "/a/q-".into(),
                ephemeral: true,
                lease_id: 7,
                sequential: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "sequential-prefix-slash",
            "Create",
            pb::CreateRequest {
                path: "/a/".into(),
                sequential: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "ttl-parents",
            "Create",
            pb::CreateRequest {
                path: "/x/y/z".into(),
                ttl_ms: 5000,
                create_parents: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "container",
            "Create",
            pb::CreateRequest {
                path: "/c".into(),
                container: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req("root", "Create", create("/").encode_to_vec()),
        req(
            "kinds-clash",
            "Create",
            pb::CreateRequest {
                path: "/k".into(),
                container: true,
                ttl_ms: 1,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "too-large",
            "Create",
            pb::CreateRequest {
                path: "/big".into(),
                data: vec![7; 100],
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req("cas", "Put", put.encode_to_vec()),
        req(
            "upsert",
            "Put",
            pb::PutRequest {
                path: "/n".into(),
                create_if_missing: true,
                prev_node: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "negative-version",
            "Put",
            pb::PutRequest {
                path: "/a".into(),
                expected_version: Some(-1),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "serializable",
            "Get",
            pb::GetRequest {
                path: "/a/b".into(),
                consistency: pb::Consistency::Serializable as i32,
                stat_only: true,
            }
            .encode_to_vec(),
        ),
        req(
            "unknown-consistency",
            "Get",
            pb::GetRequest {
                path: "/a".into(),
                consistency: 99,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "page",
            "List",
            pb::ListRequest {
                path: "/a".into(),
                with_data: true,
                limit: 1,
                page_token: "/a/b".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "foreign-token",
            "List",
            pb::ListRequest {
                path: "/a".into(),
                page_token: "/zz".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        req(
            "recursive",
            "Delete",
            pb::DeleteRequest {
                path: "/a".into(),
                recursive: true,
                expected_version: Some(0),
            }
            .encode_to_vec(),
        ),
        req("branches", "Txn", txn.encode_to_vec()),
        req(
            "subtree",
            "Watch",
            watch(pb::WatchCreateRequest {
                path: "/".into(),
                scope: 2,
                start_revision: 1,
                prev_node: true,
                filters: vec![1],
                progress_notify: true,
                watch_id: 5,
            })
            .encode_to_vec(),
        ),
        req(
            "unknown-scope",
            "Watch",
            watch(pb::WatchCreateRequest {
                path: "/a".into(),
                scope: 7,
                filters: vec![9],
                ..Default::default()
            })
            .encode_to_vec(),
        ),
        req(
            "cancel",
            "Watch",
            pb::WatchRequest {
                request: Some(pb::watch_request::Request::Cancel(pb::WatchCancelRequest {
                    watch_id: 1,
                })),
            }
            .encode_to_vec(),
        ),
        req(
            "ttl",
            "LeaseGrant",
            pb::LeaseGrantRequest {
                ttl_ms: 5000,
                lease_id: 0,
            }
            .encode_to_vec(),
        ),
        req(
            "id",
            "LeaseKeepAlive",
            pb::LeaseKeepAliveRequest { lease_id: 7 }.encode_to_vec(),
        ),
        req(
            "with-nodes",
            "LeaseTimeToLive",
            pb::LeaseTimeToLiveRequest {
                lease_id: 7,
                with_nodes: true,
            }
            .encode_to_vec(),
        ),
        req(
            "wait",
            "Lock",
            pb::LockRequest {
                name: "/locks/db".into(),
                lease_id: 7,
                wait_timeout_ms: 100,
            }
            .encode_to_vec(),
        ),
        req(
            "key",
            "Unlock",
            pb::UnlockRequest {
                key: "/locks/db/lock-0000000001".into(),
                lease_id: 7,
            }
            .encode_to_vec(),
        ),
        req(
            "value",
            "Campaign",
            pb::CampaignRequest {
                name: "/elections/web".into(),
                lease_id: 7,
                value: b"host-1".to_vec(),
                wait_timeout_ms: 0,
            }
            .encode_to_vec(),
        ),
        req(
            "name",
            "Observe",
            pb::ObserveRequest {
                name: "/elections/web".into(),
            }
            .encode_to_vec(),
        ),
        req(
            "learner",
            "MemberAdd",
            pb::MemberAddRequest {
                member_id: 4,
                peer_addr: "127.0.0.1:2510".into(),
            }
            .encode_to_vec(),
        ),
        req(
            "revision",
            "Compact",
            pb::CompactRequest { revision: 3 }.encode_to_vec(),
        ),
        req("empty", "Status", e(&|| Vec::new())),
        req("valid", "RequestId", b"client-1/42".to_vec()),
        req("zero-seq", "RequestId", b"client-1/0".to_vec()),
        req("no-slash", "RequestId", b"client-1".to_vec()),
    ]
}

/// A record seed: selector byte of `kind` in [`crate::records::KINDS`], then the value
/// bincode-encoded as the server stores or sends it.
fn rec<T: Serialize>(name: &str, kind: &str, value: &T) -> Seed {
    raw(name, kind, bincode::serialize(value).expect("seed encodes"))
}

fn raw(name: &str, kind: &str, body: Vec<u8>) -> Seed {
    let selector = crate::records::KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_else(|| panic!("no record kind {kind}"));
    let mut bytes = vec![selector as u8];
    bytes.extend(body);
    (format!("{}-{name}", kind.to_lowercase()), bytes)
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn membership() -> Membership<u64, BasicNode> {
    let nodes: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|id| (id, BasicNode::new(format!("127.0.0.1:{}", 2470 + 10 * id))))
        .collect();
    Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes)
}

fn sample_commands() -> Vec<Command> {
    let create = CreateCmd {
        path: "/a/q-".into(),
        data: b"v".to_vec(),
        kind: NodeKind::Ephemeral,
        lease_id: 7,
        sequential: true,
        ttl_ms: 0,
        create_parents: false,
    };
    vec![
        Command::Create(create.clone()),
        Command::Put(PutCmd {
            path: "/a".into(),
            data: b"w".to_vec(),
            expected_version: Some(1),
            create_if_missing: false,
            prev_node: true,
        }),
        Command::Delete(DeleteCmd {
            path: "/a".into(),
            expected_version: None,
            recursive: true,
        }),
        Command::Txn(TxnCmd {
            compares: vec![Compare {
                path: "/a".into(),
                op: CmpOp::Greater,
                target: CmpTarget::ModRevision(2),
            }],
            success: vec![
                TxnOp::Create(create),
                TxnOp::Get(GetQuery {
                    path: "/a".into(),
                    stat_only: false,
                }),
            ],
            failure: vec![TxnOp::List(ListQuery {
                path: "/".into(),
                recursive: true,
                with_data: false,
                limit: 10,
                after: String::new(),
            })],
        }),
        Command::LeaseGrant {
            id: 0,
            ttl_ms: 5000,
        },
        Command::LeaseRevoke { id: 7 },
        Command::LeaseCheckpoint {
            remaining: vec![(7, 4000), (8, 100)],
        },
        Command::Reap {
            path: "/t".into(),
            mod_revision: 4,
        },
        Command::Compact { revision: 2 },
        Command::Once {
            client_id: "client-1".into(),
            seq: 9,
            command: Box::new(Command::Compact { revision: 1 }),
        },
        Command::ExpireSessions { before_ms: 1000 },
        Command::As {
            user: Some("alice".into()),
            command: Box::new(Command::SetAcl(corral_server::store::command::SetAclCmd {
                path: "/a".into(),
                acl: vec![corral_server::acl::AclEntry {
                    principal: corral_server::acl::Principal::Anyone,
                    perms: corral_server::acl::Perms::ALL,
                }],
                expected_acl_version: Some(0),
            })),
        },
        Command::As {
            user: None,
            command: Box::new(Command::Auth(
                corral_server::store::command::AuthCmd::UserAdd {
                    name: "bob".into(),
                    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                },
            )),
        },
    ]
}

fn record_sample() -> NodeRecord {
    NodeRecord {
        data: b"hello".to_vec(),
        stat: Stat {
            create_revision: 2,
            mod_revision: 5,
            version: 3,
            data_length: 5,
            kind: NodeKind::Ttl,
            ttl_ms: 60_000,
            ..Stat::default()
        },
    }
}

fn command_result() -> CommandResult {
    CommandResult {
        revision: 6,
        result: Ok(Output::Txn {
            succeeded: true,
            results: vec![
                OpOutput::Create {
                    path: "/a/q-0000000001".into(),
                    stat: record_sample().stat,
                },
                OpOutput::Delete { deleted: 2 },
            ],
        }),
    }
}

/// A real state dump: a scratch database with a few znodes and a lease, exported.
fn state_dump() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::open(dir.path(), Sync::Never).expect("a scratch RocksDB");
    let reader = db.reader();
    let mut tree = Overlay::new(&reader);
    let commands = [
        Command::LeaseGrant {
            id: 7,
            ttl_ms: 5000,
        },
        Command::Create(CreateCmd {
            path: "/a".into(),
            data: b"x".to_vec(),
            kind: NodeKind::Persistent,
            lease_id: 0,
            sequential: false,
            ttl_ms: 0,
            create_parents: false,
        }),
        Command::Create(CreateCmd {
            path: "/a/e-".into(),
            data: Vec::new(),
            kind: NodeKind::Ephemeral,
            lease_id: 7,
            sequential: true,
            ttl_ms: 0,
            create_parents: false,
        }),
        Command::Once {
            client_id: "c".into(),
            seq: 1,
            command: Box::new(Command::Create(CreateCmd {
                path: "/t".into(),
                data: b"ttl".to_vec(),
                kind: NodeKind::Ttl,
                lease_id: 0,
                sequential: false,
                ttl_ms: 1000,
                create_parents: false,
            })),
        },
    ];
    for c in &commands {
        apply_command(&mut tree, 1_700_000_000_000, c).expect("seed command applies");
    }
    let layer = tree.into_layer();
    drop(reader);
    db.commit_applied(layer, &[("last_applied", b"x".to_vec())])
        .expect("seed state commits");
    db.export_state(&[]).expect("seed state exports").0
}

fn records() -> Vec<Seed> {
    let mut out = vec![
        rec("default", "NodeRecord", &NodeRecord::default()),
        rec("ttl", "NodeRecord", &record_sample()),
        rec(
            "lease",
            "LeaseRecord",
            &LeaseRecord {
                id: 7,
                ttl_ms: 5000,
                remaining_ms: 1200,
                owner: Some("alice".into()),
            },
        ),
        rec(
            "results",
            "SessionRecord",
            &SessionRecord {
                last_ms: 5,
                floor: 2,
                results: BTreeMap::from([(3, command_result())]),
            },
        ),
        rec(
            "updated",
            "Event",
            &Event {
                revision: 5,
                kind: EventKind::Updated,
                path: "/a".into(),
                node: record_sample(),
                prev: Some(NodeRecord::default()),
                ts_ms: 1_700_000_000_000,
                acl: Some(vec![corral_server::acl::AclEntry {
                    principal: corral_server::acl::Principal::Role("team-a".into()),
                    perms: corral_server::acl::Perms::READ,
                }]),
            },
        ),
        rec(
            "all-commands",
            "Batch",
            &Batch {
                now_ms: 1_700_000_000_000,
                commands: sample_commands(),
            },
        ),
        rec(
            "results",
            "BatchResult",
            &BatchResult {
                results: vec![
                    command_result(),
                    CommandResult {
                        revision: 6,
                        result: Err(KvError::VersionMismatch {
                            path: "/a".into(),
                            expected: 1,
                            current: 2,
                        }),
                    },
                ],
            },
        ),
        rec(
            "blank",
            "Entry",
            &Entry::<TypeConfig> {
                log_id: log_id(1, 1),
                payload: EntryPayload::Blank,
            },
        ),
        rec(
            "membership",
            "Entry",
            &Entry::<TypeConfig> {
                log_id: log_id(1, 2),
                payload: EntryPayload::Membership(membership()),
            },
        ),
        rec(
            "normal",
            "Entry",
            &Entry::<TypeConfig> {
                log_id: log_id(2, 3),
                payload: EntryPayload::Normal(Batch {
                    now_ms: 1,
                    commands: sample_commands(),
                }),
            },
        ),
        rec("none", "LogId", &None::<LogId<u64>>),
        rec("some", "LogId", &Some(log_id(3, 17))),
        rec("committed", "Vote", &Vote::new_committed(3, 2u64)),
        rec(
            "three",
            "StoredMembership",
            &StoredMembership::new(Some(log_id(1, 2)), membership()),
        ),
        rec(
            "vote",
            "VoteRequest",
            &VoteRequest::new(Vote::new(4, 2u64), Some(log_id(3, 17))),
        ),
        rec(
            "entries",
            "AppendEntriesRequest",
            &AppendEntriesRequest::<TypeConfig> {
                vote: Vote::new_committed(2, 1),
                prev_log_id: Some(log_id(1, 2)),
                entries: vec![Entry {
                    log_id: log_id(2, 3),
                    payload: EntryPayload::Normal(Batch {
                        now_ms: 1,
                        commands: sample_commands(),
                    }),
                }],
                leader_commit: Some(log_id(1, 2)),
            },
        ),
        rec(
            "heartbeat",
            "AppendEntriesRequest",
            &AppendEntriesRequest::<TypeConfig> {
                vote: Vote::new_committed(2, 1),
                prev_log_id: None,
                entries: Vec::new(),
                leader_commit: None,
            },
        ),
        rec(
            "propose",
            "ForwardRequest",
            &ForwardRequest::Propose(sample_commands()[3].clone()),
        ),
        rec("read-index", "ForwardRequest", &ForwardRequest::ReadIndex),
        rec(
            "admin",
            "ForwardRequest",
            &ForwardRequest::Admin(AdminOp::AddLearner {
                id: 4,
                addr: "127.0.0.1:2510".into(),
            }),
        ),
        rec("keepalive", "ForwardRequest", &ForwardRequest::KeepAlive(7)),
        rec(
            "proposed",
            "ForwardResult",
            &typed::<ForwardResult>(Ok(ForwardResponse::Proposed(command_result()))),
        ),
        rec(
            "not-leader",
            "ForwardResult",
            &typed::<ForwardResult>(Err(RaftNodeError::NotLeader {
                leader_id: Some(2),
                leader_addr: Some("127.0.0.1:2490".into()),
            })),
        ),
        rec(
            "granted",
            "VoteReply",
            &typed::<Result<VoteResponse<u64>, RaftError<u64>>>(Ok(VoteResponse::new(
                Vote::new(4, 2u64),
                Some(log_id(3, 17)),
                true,
            ))),
        ),
        rec(
            "storage-error",
            "VoteReply",
            &typed::<Result<VoteResponse<u64>, RaftError<u64>>>(Err(RaftError::Fatal(
                Fatal::StorageError(StorageError::from(StorageIOError::read(AnyError::error(
                    "disk",
                )))),
            ))),
        ),
        rec(
            "success",
            "AppendEntriesReply",
            &typed::<Result<AppendEntriesResponse<u64>, RaftError<u64>>>(Ok(
                AppendEntriesResponse::Success,
            )),
        ),
        rec(
            "conflict",
            "AppendEntriesReply",
            &typed::<Result<AppendEntriesResponse<u64>, RaftError<u64>>>(Ok(
                AppendEntriesResponse::Conflict,
            )),
        ),
        rec(
            "vote",
            "InstallSnapshotReply",
            &typed::<Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>>(
                Ok(InstallSnapshotResponse {
                    vote: Vote::new_committed(2, 1),
                }),
            ),
        ),
        rec(
            "mismatch",
            "InstallSnapshotReply",
            &typed::<Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>>(
                Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
                    SnapshotMismatch {
                        expect: openraft::SnapshotSegmentId {
                            id: "a".into(),
                            offset: 0,
                        },
                        got: openraft::SnapshotSegmentId {
                            id: "b".into(),
                            offset: 9,
                        },
                    },
                ))),
            ),
        ),
    ];
    for (i, c) in sample_commands().into_iter().enumerate() {
        out.push(rec(&format!("{i:02}"), "Command", &c));
    }
    let dump = state_dump();
    let meta = SnapshotMeta::<u64, BasicNode> {
        last_log_id: Some(log_id(2, 9)),
        last_membership: StoredMembership::new(Some(log_id(1, 2)), membership()),
        snapshot_id: "2-9-1".into(),
    };
    out.push(rec(
        "chunk",
        "InstallSnapshotRequest",
        &InstallSnapshotRequest::<TypeConfig> {
            vote: Vote::new_committed(2, 1),
            meta: meta.clone(),
            offset: 0,
            data: dump.clone(),
            done: true,
        },
    ));
    // The snapshot file is bincode of (meta, dump), as `StoredSnapshot` encodes.
    out.push(rec("three-nodes", "SnapshotFile", &(meta, dump.clone())));
    out.push(raw("three-nodes", "StateDump", dump.clone()));
    let mut wrong_format = dump.clone();
    wrong_format[0] = 2;
    out.push(raw("format-2", "StateDump", wrong_format));
    out.push(raw(
        "truncated",
        "StateDump",
        dump[..dump.len() / 2].to_vec(),
    ));
    out
}

/// Pins a seed value's type where inference cannot.
fn typed<T>(value: T) -> T {
    value
}
