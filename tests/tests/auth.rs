//! Authentication and ACLs against real servers, over the wire exactly as grpcurl or
//! another SDK would send it (`authorization: Bearer <token>` metadata): every public
//! RPC refuses a caller without a token (UNAUTHENTICATED) and one lacking the
//! permission (PERMISSION_DENIED), changing nothing, and serves the right one; watches
//! never show what the watcher may not read; and the holes etcd shipped stay closed.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use common::wire;
use corral_proto::v1 as pb;
use corral_proto::v1::auth_client::AuthClient;
use corral_proto::v1::cluster_client::ClusterClient;
use corral_proto::v1::election_client::ElectionClient;
use corral_proto::v1::kv_client::KvClient;
use corral_proto::v1::lease_client::LeaseClient;
use corral_proto::v1::lock_client::LockClient;
use corral_proto::v1::maintenance_client::MaintenanceClient;
use corral_proto::v1::watch_client::WatchClient;
use corral_tests::Cluster;
use corral_tests::{NodeConfig, Server};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// A request carrying `token` as a bearer token, if any.
fn req<T>(msg: T, token: Option<&str>) -> Request<T> {
    let mut r = Request::new(msg);
    if let Some(t) = token {
        let value = format!("Bearer {t}").parse().expect("ascii token");
        r.metadata_mut().insert("authorization", value);
    }
    r
}

fn entry(principal: &str, perms: &[pb::Permission]) -> pb::AclEntry {
    pb::AclEntry {
        principal: principal.to_string(),
        permissions: perms.iter().map(|p| *p as i32).collect(),
    }
}

use pb::Permission::{Admin, Create, Delete, Read, Write};
const ALL: [pb::Permission; 5] = [Read, Write, Create, Delete, Admin];

async fn authenticate(ch: &Channel, name: &str, password: &str) -> Result<String> {
    let r = AuthClient::new(ch.clone())
        .authenticate(pb::AuthenticateRequest {
            name: name.into(),
            password: password.into(),
        })
        .await
        .with_context(|| format!("authenticate {name}"))?;
    Ok(r.into_inner().token)
}

/// Adds users root, alice and bob (bob in role team-a) while auth is off, then enables
/// it. Returns the tokens of root, alice and bob.
async fn enable_auth(ch: &Channel) -> Result<[String; 3]> {
    let mut auth = AuthClient::new(ch.clone());
    for (name, pw) in [("root", "rootpw"), ("alice", "alicepw"), ("bob", "bobpw")] {
        auth.user_add(pb::AuthUserAddRequest {
            name: name.into(),
            password: pw.into(),
        })
        .await?;
    }
    auth.role_add(pb::AuthRoleAddRequest {
        name: "team-a".into(),
    })
    .await?;
    auth.user_grant_role(pb::AuthUserGrantRoleRequest {
        name: "bob".into(),
        role: "team-a".into(),
    })
    .await?;
    auth.enable(pb::AuthEnableRequest {}).await?;
    Ok([
        authenticate(ch, "root", "rootpw").await?,
        authenticate(ch, "alice", "alicepw").await?,
        authenticate(ch, "bob", "bobpw").await?,
    ])
}

async fn create(ch: &Channel, token: &str, path: &str, acl: Vec<pb::AclEntry>) -> Result<()> {
    KvClient::new(ch.clone())
        .create(req(
            pb::CreateRequest {
                path: path.into(),
                data: b"v".to_vec(),
                acl,
                ..Default::default()
            },
            Some(token),
        ))
        .await
        .with_context(|| format!("create {path}"))?;
    Ok(())
}

/// The tree of the tests: `/` only root may touch; `/team-a` is role team-a's (bob),
/// `/team-b` is alice's; `/team-a/lock` and `/team-a/election` are queues.
async fn grow_tree(ch: &Channel, root: &str) -> Result<()> {
    let team_a = vec![entry("role:team-a", &[Read, Write, Create, Delete])];
    create(ch, root, "/team-a", team_a.clone()).await?;
    create(ch, root, "/team-a/x", vec![]).await?;
    create(ch, root, "/team-a/lock", vec![]).await?;
    create(ch, root, "/team-a/election", vec![]).await?;
    create(ch, root, "/team-b", vec![entry("user:alice", &ALL)]).await?;
    create(ch, root, "/team-b/secret", vec![]).await?;
    KvClient::new(ch.clone())
        .set_acl(req(
            pb::SetAclRequest {
                path: "/".into(),
                acl: vec![entry("user:root", &ALL)],
                expected_acl_version: None,
            },
            Some(root),
        ))
        .await?;
    Ok(())
}

/// Everything a refused call could have changed, read as root: the whole tree with
/// data and stats (acl_version included), its revision, users, roles and leases.
async fn fingerprint(ch: &Channel, root: &str) -> Result<String> {
    let list = KvClient::new(ch.clone())
        .list(req(
            pb::ListRequest {
                path: "/".into(),
                recursive: true,
                with_data: true,
                limit: 10_000,
                ..Default::default()
            },
            Some(root),
        ))
        .await?
        .into_inner();
    let mut auth = AuthClient::new(ch.clone());
    let users = auth
        .user_list(req(pb::AuthUserListRequest {}, Some(root)))
        .await?
        .into_inner()
        .users;
    let roles = auth
        .role_list(req(pb::AuthRoleListRequest {}, Some(root)))
        .await?
        .into_inner()
        .roles;
    let leases = LeaseClient::new(ch.clone())
        .list(req(pb::LeaseListRequest {}, Some(root)))
        .await?
        .into_inner()
        .leases;
    let status = AuthClient::new(ch.clone())
        .status(req(pb::AuthStatusRequest {}, Some(root)))
        .await?
        .into_inner();
    let mut acls = Vec::new();
    for n in &list.nodes {
        acls.push(
            KvClient::new(ch.clone())
                .get_acl(req(
                    pb::GetAclRequest {
                        path: n.path.clone(),
                        consistency: 0,
                    },
                    Some(root),
                ))
                .await?
                .into_inner()
                .acl,
        );
    }
    let revision = list.header.map(|h| h.revision).unwrap_or_default();
    Ok(format!(
        "rev {revision}\n{:?}\n{acls:?}\n{users:?}\n{roles:?}\n{leases:?}\nenabled {}",
        list.nodes, status.enabled
    ))
}

type CallFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

/// One public RPC made as a caller: the channel, the caller's token, and the ids the
/// call needs (a lease of the caller's own, and one of another user's).
type Call = Box<dyn Fn(Channel, Option<String>, Ids) -> CallFuture>;

#[derive(Clone, Copy, Debug)]
struct Ids {
    /// The lease the caller passes as theirs: their own for the allowed caller, root's
    /// for the refused one.
    own_lease: i64,
    /// A lease the call may end: a fresh one of the allowed caller's, root's for the
    /// refused one.
    spare_lease: i64,
}

fn call<F, Fut>(f: F) -> Call
where
    F: Fn(Channel, Option<String>, Ids) -> Fut + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    Box::new(move |ch, t, ids| Box::pin(f(ch, t, ids)))
}

/// Expected result of the allowed caller's call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Allowed {
    /// Succeeds.
    Ok,
    /// Gets past the permission checks: any answer but UNAUTHENTICATED or
    /// PERMISSION_DENIED (e.g. MemberRemove of a member that does not exist).
    PastChecks,
}

/// Who is refused with PERMISSION_DENIED and who is allowed.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// alice is refused; bob (role team-a) is allowed.
    AliceDeniedBobAllowed,
    /// alice is refused; root is allowed.
    AliceDeniedRootAllowed,
    /// Any user is allowed (only anonymous callers are refused).
    AnyUser,
}

struct Case {
    rpc: &'static str,
    who: Who,
    allowed: Allowed,
    call: Call,
}

fn kv(ch: Channel) -> KvClient<Channel> {
    KvClient::new(ch)
}

fn cases() -> Vec<Case> {
    use Allowed::{Ok as Yes, PastChecks};
    use Who::{AliceDeniedBobAllowed as Bob, AliceDeniedRootAllowed as Root, AnyUser};
    let mut v = Vec::new();
    let mut add = |rpc, who, allowed, call| {
        v.push(Case {
            rpc,
            who,
            allowed,
            call,
        })
    };
    add(
        "KV/Create",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::CreateRequest {
                path: "/team-a/new-".into(),
                sequential: true,
                ..Default::default()
            };
            kv(ch).create(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/Put",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::PutRequest {
                path: "/team-a/x".into(),
                data: b"w".to_vec(),
                ..Default::default()
            };
            kv(ch).put(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/Get",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::GetRequest {
                path: "/team-a/x".into(),
                ..Default::default()
            };
            kv(ch).get(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/List",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::ListRequest {
                path: "/team-a".into(),
                ..Default::default()
            };
            kv(ch).list(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/Delete",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            // Bob creates it first, so each allowed run has one to delete.
            let token = t.clone();
            if token.as_deref().is_some() {
                let _ = kv(ch.clone())
                    .create(req(
                        pb::CreateRequest {
                            path: "/team-a/doomed".into(),
                            ..Default::default()
                        },
                        token.as_deref(),
                    ))
                    .await;
            }
            let r = pb::DeleteRequest {
                path: "/team-a/doomed".into(),
                ..Default::default()
            };
            kv(ch).delete(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/Txn",
        Bob,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::TxnRequest {
                compares: vec![pb::Compare {
                    path: "/team-a/x".into(),
                    target: Some(pb::compare::Target::Exists(true)),
                    ..Default::default()
                }],
                success: vec![pb::Op {
                    op: Some(pb::op::Op::Get(pb::GetRequest {
                        path: "/team-a/x".into(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            };
            kv(ch).txn(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/GetAcl",
        Root,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::GetAclRequest {
                path: "/team-a".into(),
                consistency: 0,
            };
            kv(ch).get_acl(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "KV/SetAcl",
        Root,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::SetAclRequest {
                path: "/team-a/x".into(),
                acl: vec![entry("role:team-a", &[Read, Write, Create, Delete])],
                expected_acl_version: None,
            };
            kv(ch).set_acl(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "Lease/Grant",
        AnyUser,
        Yes,
        call(|ch, t, _| async move {
            let r = pb::LeaseGrantRequest {
                ttl_ms: 60_000,
                lease_id: 0,
            };
            LeaseClient::new(ch)
                .grant(req(r, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Lease/TimeToLive",
        Bob,
        Yes,
        call(|ch, t, ids| async move {
            let r = pb::LeaseTimeToLiveRequest {
                lease_id: ids.own_lease,
                with_nodes: true,
            };
            LeaseClient::new(ch)
                .time_to_live(req(r, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Lease/KeepAlive",
        Bob,
        Yes,
        call(|ch, t, ids| async move {
            let id = ids.own_lease;
            let out = tokio_stream::iter(vec![pb::LeaseKeepAliveRequest { lease_id: id }]);
            let mut s = LeaseClient::new(ch)
                .keep_alive(req(out, t.as_deref()))
                .await?
                .into_inner();
            match s.next().await {
                Some(r) => r.map(drop),
                None => Err(Status::unknown("keep-alive stream ended without an answer")),
            }
        }),
    );
    add(
        "Lease/Revoke",
        Bob,
        Yes,
        call(|ch, t, ids| async move {
            let r = pb::LeaseRevokeRequest {
                lease_id: ids.spare_lease,
            };
            LeaseClient::new(ch)
                .revoke(req(r, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Lease/List",
        AnyUser,
        Yes,
        call(|ch, t, _| async move {
            LeaseClient::new(ch)
                .list(req(pb::LeaseListRequest {}, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Lock/Lock",
        Bob,
        Yes,
        call(|ch, t, ids| async move {
            let r = pb::LockRequest {
                name: "/team-a/lock".into(),
                lease_id: ids.own_lease,
                wait_timeout_ms: 5000,
            };
            let key = LockClient::new(ch.clone())
                .lock(req(r, t.as_deref()))
                .await?
                .into_inner()
                .key;
            let r = pb::UnlockRequest {
                key,
                lease_id: ids.own_lease,
            };
            LockClient::new(ch)
                .unlock(req(r, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Election/Campaign+Proclaim+Resign",
        Bob,
        Yes,
        call(|ch, t, ids| async move {
            let mut e = ElectionClient::new(ch);
            let r = pb::CampaignRequest {
                name: "/team-a/election".into(),
                lease_id: ids.own_lease,
                value: b"me".to_vec(),
                wait_timeout_ms: 5000,
            };
            let leader = e.campaign(req(r, t.as_deref())).await?.into_inner().leader;
            let key = leader.map(|l| l.key).unwrap_or_default();
            let r = pb::ProclaimRequest {
                key: key.clone(),
                value: b"still me".to_vec(),
                lease_id: ids.own_lease,
            };
            e.proclaim(req(r, t.as_deref())).await?;
            let r = pb::ResignRequest {
                key,
                lease_id: ids.own_lease,
            };
            e.resign(req(r, t.as_deref())).await.map(drop)
        }),
    );
    add(
        "Election/Leader",
        Bob,
        PastChecks,
        call(|ch, t, _| async move {
            let r = pb::LeaderRequest {
                name: "/team-a/election".into(),
            };
            ElectionClient::new(ch)
                .leader(req(r, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Election/Observe",
        Bob,
        PastChecks,
        call(|ch, t, _| async move {
            let r = pb::ObserveRequest {
                name: "/team-a/election".into(),
            };
            let mut s = ElectionClient::new(ch)
                .observe(req(r, t.as_deref()))
                .await?
                .into_inner();
            match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
                Ok(Some(r)) => r.map(drop),
                Ok(None) => Err(Status::unknown("observe ended without an answer")),
                Err(_) => Err(Status::unknown("observe sent nothing in 5 s")),
            }
        }),
    );
    add(
        "Watch/Watch",
        AnyUser,
        Yes,
        call(|ch, t, _| async move {
            let create = pb::WatchRequest {
                request: Some(pb::watch_request::Request::Create(wire::create(
                    "/",
                    pb::watch_create_request::Scope::Subtree,
                ))),
            };
            let out = tokio_stream::iter(vec![create]).chain(tokio_stream::pending());
            let mut s = WatchClient::new(ch)
                .watch(req(out, t.as_deref()))
                .await?
                .into_inner();
            match s.next().await {
                Some(r) => r.map(drop),
                None => Err(Status::unknown("watch ended without an answer")),
            }
        }),
    );
    for (rpc, allowed) in [
        ("Cluster/MemberList", Yes),
        ("Cluster/Status", Yes),
        ("Cluster/MemberRemove", PastChecks),
        ("Cluster/MemberPromote", PastChecks),
        ("Cluster/MemberAdd", PastChecks),
        ("Cluster/TransferLeader", PastChecks),
    ] {
        add(
            rpc,
            Root,
            allowed,
            call(move |ch, t, _| async move {
                let mut c = ClusterClient::new(ch);
                let t = t.as_deref();
                match rpc {
                    "Cluster/MemberList" => c
                        .member_list(req(pb::MemberListRequest {}, t))
                        .await
                        .map(drop),
                    "Cluster/Status" => c.status(req(pb::StatusRequest {}, t)).await.map(drop),
                    "Cluster/MemberRemove" => c
                        .member_remove(req(pb::MemberRemoveRequest { member_id: 99 }, t))
                        .await
                        .map(drop),
                    "Cluster/MemberPromote" => c
                        .member_promote(req(pb::MemberPromoteRequest { member_id: 99 }, t))
                        .await
                        .map(drop),
                    "Cluster/MemberAdd" => c
                        .member_add(req(
                            pb::MemberAddRequest {
                                member_id: 0,
                                peer_addr: String::new(),
                            },
                            t,
                        ))
                        .await
                        .map(drop),
                    _ => c
                        .transfer_leader(req(pb::TransferLeaderRequest { member_id: 99 }, t))
                        .await
                        .map(drop),
                }
            }),
        );
    }
    add(
        "Maintenance/Compact",
        Root,
        Yes,
        call(|ch, t, _| async move {
            MaintenanceClient::new(ch)
                .compact(req(pb::CompactRequest { revision: 1 }, t.as_deref()))
                .await
                .map(drop)
        }),
    );
    add(
        "Maintenance/Snapshot",
        Root,
        Yes,
        call(|ch, t, _| async move {
            let mut s = MaintenanceClient::new(ch)
                .snapshot(req(pb::SnapshotRequest {}, t.as_deref()))
                .await?
                .into_inner();
            match s.next().await {
                Some(r) => r.map(drop),
                None => Err(Status::unknown("snapshot sent nothing")),
            }
        }),
    );
    macro_rules! auth_case {
        ($rpc:literal, $allowed:expr, $method:ident, $msg:expr) => {
            add(
                $rpc,
                Root,
                $allowed,
                call(|ch, t, _| async move {
                    AuthClient::new(ch)
                        .$method(req($msg, t.as_deref()))
                        .await
                        .map(drop)
                }),
            );
        };
    }
    auth_case!("Auth/Enable", Yes, enable, pb::AuthEnableRequest {});
    auth_case!("Auth/UserList", Yes, user_list, pb::AuthUserListRequest {});
    auth_case!("Auth/RoleList", Yes, role_list, pb::AuthRoleListRequest {});
    auth_case!(
        "Auth/UserAdd",
        PastChecks,
        user_add,
        pb::AuthUserAddRequest {
            name: "bob".into(),
            password: "x".into(),
        }
    );
    auth_case!(
        "Auth/UserDelete",
        PastChecks,
        user_delete,
        pb::AuthUserDeleteRequest {
            name: "nobody".into(),
        }
    );
    auth_case!(
        "Auth/UserChangePassword",
        Yes,
        user_change_password,
        pb::AuthUserChangePasswordRequest {
            name: "carol".into(),
            password: "carolpw".into(),
        }
    );
    auth_case!(
        "Auth/UserGrantRole",
        Yes,
        user_grant_role,
        pb::AuthUserGrantRoleRequest {
            name: "bob".into(),
            role: "team-a".into(),
        }
    );
    auth_case!(
        "Auth/UserRevokeRole",
        Yes,
        user_revoke_role,
        pb::AuthUserRevokeRoleRequest {
            name: "carol".into(),
            role: "team-a".into(),
        }
    );
    auth_case!(
        "Auth/RoleAdd",
        PastChecks,
        role_add,
        pb::AuthRoleAddRequest {
            name: "team-a".into(),
        }
    );
    auth_case!(
        "Auth/RoleDelete",
        PastChecks,
        role_delete,
        pb::AuthRoleDeleteRequest {
            name: "no-such-role".into(),
        }
    );
    auth_case!("Auth/Disable", Yes, disable, pb::AuthDisableRequest {});
    v
}

/// The public RPCs the matrix must cover: every method of every corral.v1 service in
/// the descriptors, but Auth/Authenticate and Auth/Status (open to anyone by design).
fn public_rpcs() -> Result<Vec<String>> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(corral_proto::V1_FILE_DESCRIPTOR_SET)?;
    let mut out = Vec::new();
    for file in &set.file {
        for svc in &file.service {
            for m in &svc.method {
                let name = format!("{}/{}", svc.name(), m.name());
                if name != "Auth/Authenticate" && name != "Auth/Status" {
                    out.push(name);
                }
            }
        }
    }
    Ok(out)
}

fn code_and_reason(r: &Result<(), Status>) -> String {
    match r {
        Ok(()) => "OK".into(),
        Err(s) => format!(
            "{:?}/{} ({})",
            s.code(),
            wire::reason(s).unwrap_or_default(),
            s.message()
        ),
    }
}

#[tokio::test]
async fn every_rpc_refuses_anonymous_and_unpermitted_callers_and_changes_nothing() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, bob] = enable_auth(&ch).await?;
    grow_tree(&ch, &root).await?;
    // carol exists so that root may change her password and revoke her role.
    AuthClient::new(ch.clone())
        .user_add(req(
            pb::AuthUserAddRequest {
                name: "carol".into(),
                password: "carolpw".into(),
            },
            Some(&root),
        ))
        .await?;
    let grant = |token: String| {
        let ch = ch.clone();
        async move {
            let r = LeaseClient::new(ch)
                .grant(req(
                    pb::LeaseGrantRequest {
                        ttl_ms: 600_000,
                        lease_id: 0,
                    },
                    Some(&token),
                ))
                .await?;
            Ok::<_, anyhow::Error>(r.into_inner().lease_id)
        }
    };
    let root_lease = grant(root.clone()).await?;
    let bob_lease = grant(bob.clone()).await?;

    let cases = cases();
    let covered: std::collections::BTreeSet<String> = cases
        .iter()
        .flat_map(|c| {
            let (svc, methods) = c.rpc.split_once('/').unwrap_or((c.rpc, ""));
            methods
                .split('+')
                .map(|m| format!("{svc}/{m}"))
                .collect::<Vec<_>>()
        })
        .collect();
    for rpc in public_rpcs()? {
        let rpc = if rpc == "Lock/Unlock" {
            "Lock/Lock".to_string()
        } else {
            rpc
        };
        ensure!(covered.contains(&rpc), "the matrix misses {rpc}");
    }

    let mut failures = Vec::new();
    for case in &cases {
        // Auth/Disable last but one, Enable after it: each case starts with auth on.
        let spare = grant(bob.clone()).await?;
        let ids_for = |own| Ids {
            own_lease: own,
            spare_lease: if own == root_lease { root_lease } else { spare },
        };
        let before = fingerprint(&ch, &root).await?;
        let anon = (case.call)(ch.clone(), None, ids_for(bob_lease)).await;
        let after = fingerprint(&ch, &root).await?;
        if !matches!(&anon, Err(s) if s.code() == Code::Unauthenticated) {
            failures.push(format!(
                "{}: anonymous got {}",
                case.rpc,
                code_and_reason(&anon)
            ));
        }
        if before != after {
            failures.push(format!(
                "{}: the anonymous call changed the state",
                case.rpc
            ));
        }
        if !matches!(case.who, Who::AnyUser) {
            let before = after;
            // alice is handed root's lease as if it were hers.
            let denied = (case.call)(ch.clone(), Some(alice.clone()), ids_for(root_lease)).await;
            let after = fingerprint(&ch, &root).await?;
            if !matches!(&denied, Err(s) if s.code() == Code::PermissionDenied
                && wire::reason(s).as_deref() == Some("PERMISSION_DENIED"))
            {
                failures.push(format!(
                    "{}: alice got {}",
                    case.rpc,
                    code_and_reason(&denied)
                ));
            }
            if before != after {
                failures.push(format!(
                    "{}: alice's refused call changed the state",
                    case.rpc
                ));
            }
        }
        let (token, own) = match case.who {
            Who::AliceDeniedBobAllowed | Who::AnyUser => (bob.clone(), bob_lease),
            Who::AliceDeniedRootAllowed => (root.clone(), root_lease),
        };
        let ok = (case.call)(ch.clone(), Some(token), ids_for(own)).await;
        let passed = match case.allowed {
            Allowed::Ok => ok.is_ok(),
            Allowed::PastChecks => !matches!(&ok, Err(s)
                if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied)),
        };
        if !passed {
            failures.push(format!(
                "{}: the allowed caller got {}",
                case.rpc,
                code_and_reason(&ok)
            ));
        }
        if case.rpc == "Auth/Disable" {
            AuthClient::new(ch.clone())
                .enable(req(pb::AuthEnableRequest {}, Some(&root)))
                .await?;
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Opens a watch on `/`'s subtree as `token`.
async fn watch_all(ch: &Channel, token: &str) -> Result<tonic::Streaming<pb::WatchResponse>> {
    let create = pb::WatchRequest {
        request: Some(pb::watch_request::Request::Create(wire::create(
            "/",
            pb::watch_create_request::Scope::Subtree,
        ))),
    };
    let out = tokio_stream::iter(vec![create]).chain(tokio_stream::pending());
    let mut s = WatchClient::new(ch.clone())
        .watch(req(out, Some(token)))
        .await?
        .into_inner();
    let created = s.next().await.ok_or_else(|| anyhow!("watch ended"))??;
    ensure!(
        created.created,
        "first answer is not 'created': {created:?}"
    );
    Ok(s)
}

#[tokio::test]
async fn a_watch_on_the_root_shows_only_what_its_user_may_read() -> Result<()> {
    // GHSA-xg4h-6gfc-h4m8: etcd sent events of a watch whose range ran past what the
    // user may read.
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, bob] = enable_auth(&ch).await?;
    grow_tree(&ch, &root).await?;
    let mut bobs = watch_all(&ch, &bob).await?;
    // Others write all over the tree: creates, updates, deletes, a recursive delete.
    for i in 0..20 {
        create(&ch, &alice, &format!("/team-b/a{i}"), vec![]).await?;
        create(&ch, &root, &format!("/r{i}"), vec![]).await?;
        create(&ch, &root, &format!("/team-a/t{i}"), vec![]).await?;
        // A znode inside team-a that team-a may not read.
        if i % 5 == 0 {
            create(
                &ch,
                &root,
                &format!("/team-a/hidden{i}"),
                vec![entry("user:root", &ALL)],
            )
            .await?;
        }
    }
    kv(ch.clone())
        .delete(req(
            pb::DeleteRequest {
                path: "/team-b".into(),
                recursive: true,
                ..Default::default()
            },
            Some(&root),
        ))
        .await?;
    create(&ch, &root, "/team-a/last", vec![]).await?;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|p: &String| p == "/team-a/last") {
        let msg = tokio::time::timeout_at(deadline, bobs.next())
            .await
            .context("bob's watch did not deliver /team-a/last in 10 s")?
            .ok_or_else(|| anyhow!("bob's watch ended"))??;
        seen.extend(
            msg.events
                .into_iter()
                .filter_map(|e| e.node.map(|n| n.path)),
        );
    }
    let leaked: Vec<_> = seen
        .iter()
        .filter(|p| !p.starts_with("/team-a/") || p.starts_with("/team-a/hidden"))
        .collect();
    ensure!(
        leaked.is_empty(),
        "bob saw events he may not read: {leaked:?}"
    );
    ensure!(
        seen.len() == 21,
        "bob should see his 21 creates, saw {seen:?}"
    );
    Ok(())
}

#[tokio::test]
async fn txn_prev_node_and_leases_cannot_get_around_acls() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, bob] = enable_auth(&ch).await?;
    grow_tree(&ch, &root).await?;
    let denied = |r: Result<tonic::Response<pb::TxnResponse>, Status>, what: &str| -> Result<()> {
        match r {
            Err(s) if s.code() == Code::PermissionDenied => Ok(()),
            other => bail!("{what}: expected PERMISSION_DENIED, got {other:?}"),
        }
    };
    let op_put = |path: &str| pb::Op {
        op: Some(pb::op::Op::Put(pb::PutRequest {
            path: path.into(),
            data: b"stolen".to_vec(),
            ..Default::default()
        })),
    };
    // GHSA-rfx7-8w68-q57q: ops and compares of every branch are checked, taken or not.
    let in_failure = pb::TxnRequest {
        compares: vec![pb::Compare {
            path: "/team-a/x".into(),
            target: Some(pb::compare::Target::Exists(false)),
            ..Default::default()
        }],
        success: vec![],
        failure: vec![op_put("/team-b/secret")],
    };
    denied(
        kv(ch.clone()).txn(req(in_failure, Some(&bob))).await,
        "put in the failure branch",
    )?;
    let compare_unreadable = pb::TxnRequest {
        compares: vec![pb::Compare {
            path: "/team-b/secret".into(),
            target: Some(pb::compare::Target::Data(b"v".to_vec())),
            ..Default::default()
        }],
        success: vec![op_put("/team-a/x")],
        failure: vec![],
    };
    denied(
        kv(ch.clone())
            .txn(req(compare_unreadable, Some(&bob)))
            .await,
        "compare on a znode bob may not read",
    )?;
    // GHSA-x35m-3gp4-4fh5: prev_node would show data of a znode the user may write but
    // not read.
    create(
        &ch,
        &root,
        "/team-a/write-only",
        vec![entry("role:team-a", &[Write])],
    )
    .await?;
    let prev = pb::TxnRequest {
        compares: vec![],
        success: vec![pb::Op {
            op: Some(pb::op::Op::Put(pb::PutRequest {
                path: "/team-a/write-only".into(),
                data: b"new".to_vec(),
                prev_node: true,
                ..Default::default()
            })),
        }],
        failure: vec![],
    };
    denied(
        kv(ch.clone()).txn(req(prev, Some(&bob))).await,
        "put with prev_node",
    )?;
    // A plain put there is fine: bob may write it.
    kv(ch.clone())
        .put(req(
            pb::PutRequest {
                path: "/team-a/write-only".into(),
                data: b"new".to_vec(),
                ..Default::default()
            },
            Some(&bob),
        ))
        .await?;
    // Lease attachment: bob may not bind a znode to alice's lease, inside a Txn or not.
    let alice_lease = LeaseClient::new(ch.clone())
        .grant(req(
            pb::LeaseGrantRequest {
                ttl_ms: 60_000,
                lease_id: 0,
            },
            Some(&alice),
        ))
        .await?
        .into_inner()
        .lease_id;
    let on_alices_lease = pb::TxnRequest {
        compares: vec![],
        success: vec![pb::Op {
            op: Some(pb::op::Op::Create(pb::CreateRequest {
                path: "/team-a/eph".into(),
                ephemeral: true,
                lease_id: alice_lease,
                ..Default::default()
            })),
        }],
        failure: vec![],
    };
    denied(
        kv(ch.clone()).txn(req(on_alices_lease, Some(&bob))).await,
        "create bound to another user's lease",
    )?;
    // Nothing of it happened.
    let data = kv(ch.clone())
        .get(req(
            pb::GetRequest {
                path: "/team-b/secret".into(),
                ..Default::default()
            },
            Some(&root),
        ))
        .await?
        .into_inner()
        .node
        .map(|n| n.data);
    ensure!(
        data == Some(b"v".to_vec()),
        "/team-b/secret changed: {data:?}"
    );
    // CVE-2023-32082: TimeToLive with_nodes listed paths the user may not read. Bob's
    // own lease holds a znode bob may read and one only root may.
    let bob_lease = LeaseClient::new(ch.clone())
        .grant(req(
            pb::LeaseGrantRequest {
                ttl_ms: 60_000,
                lease_id: 0,
            },
            Some(&bob),
        ))
        .await?
        .into_inner()
        .lease_id;
    kv(ch.clone())
        .create(req(
            pb::CreateRequest {
                path: "/team-a/mine".into(),
                ephemeral: true,
                lease_id: bob_lease,
                ..Default::default()
            },
            Some(&bob),
        ))
        .await?;
    kv(ch.clone())
        .create(req(
            pb::CreateRequest {
                path: "/team-a/hidden".into(),
                ephemeral: true,
                lease_id: bob_lease,
                acl: vec![entry("user:root", &ALL), entry("role:team-a", &[Delete])],
                ..Default::default()
            },
            Some(&bob),
        ))
        .await?;
    let nodes = LeaseClient::new(ch.clone())
        .time_to_live(req(
            pb::LeaseTimeToLiveRequest {
                lease_id: bob_lease,
                with_nodes: true,
            },
            Some(&bob),
        ))
        .await?
        .into_inner()
        .nodes;
    ensure!(
        nodes == vec!["/team-a/mine".to_string()],
        "bob's TimeToLive listed {nodes:?}"
    );
    let all = LeaseClient::new(ch.clone())
        .time_to_live(req(
            pb::LeaseTimeToLiveRequest {
                lease_id: bob_lease,
                with_nodes: true,
            },
            Some(&root),
        ))
        .await?
        .into_inner()
        .nodes;
    ensure!(all.len() == 2, "root's TimeToLive listed {all:?}");
    Ok(())
}

#[tokio::test]
async fn garbage_authorization_headers_and_tokens_are_unauthenticated() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, ..] = enable_auth(&ch).await?;
    // Deterministic pseudo-random bytes (xorshift), so a failure replays.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut values: Vec<String> = vec![
        String::new(),
        "Bearer".into(),
        "Bearer ".into(),
        "Basic cm9vdDpyb290cHc=".into(),
        format!("Bearer {root}x"),
        format!("Bearer {}", &root[..root.len() - 2]),
        format!("Bearer {}", root.replace('.', "")),
        format!("bearer {}", "v1.".repeat(400)),
        format!("Bearer v1.{}.{}", "A".repeat(40), "B".repeat(43)),
    ];
    // The token with one character changed at many places.
    for i in (0..root.len()).step_by(3) {
        let mut t = root.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        values.push(format!("Bearer {}", String::from_utf8_lossy(&t)));
    }
    for _ in 0..200 {
        let len = (next() % 120) as usize;
        let s: String = (0..len)
            .map(|_| {
                let c = (next() % 95 + 32) as u8;
                c as char
            })
            .collect();
        values.push(format!("Bearer {s}"));
        values.push(s);
    }
    for v in &values {
        let Ok(value) = v.parse() else {
            continue; // not a valid header value: never reaches the server
        };
        let mut r = Request::new(pb::GetRequest {
            path: "/".into(),
            ..Default::default()
        });
        r.metadata_mut().insert("authorization", value);
        match kv(ch.clone()).get(r).await {
            Err(s) if s.code() == Code::Unauthenticated => {}
            other => bail!("authorization {v:?} got {other:?}"),
        }
    }
    // The server is still there and serves the right token.
    kv(ch.clone())
        .get(req(
            pb::GetRequest {
                path: "/".into(),
                ..Default::default()
            },
            Some(&root),
        ))
        .await?;
    Ok(())
}

#[tokio::test]
async fn tokens_expire_and_are_revoked_by_credential_changes() -> Result<()> {
    let mut cfg = NodeConfig::single()?;
    cfg.extra_args = vec!["--auth-token-ttl-ms".into(), "1500".into()];
    let mut server = Server::spawn(cfg)?;
    server.wait_ready().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, _bob] = enable_auth(&ch).await?;
    let get = |token: String| {
        let ch = ch.clone();
        async move {
            kv(ch)
                .get(req(
                    pb::GetRequest {
                        path: "/".into(),
                        ..Default::default()
                    },
                    Some(&token),
                ))
                .await
        }
    };
    get(alice.clone()).await?;
    // Password change: alice's token is revoked at once, a new one works.
    AuthClient::new(ch.clone())
        .user_change_password(req(
            pb::AuthUserChangePasswordRequest {
                name: "alice".into(),
                password: "new-pw".into(),
            },
            Some(&root),
        ))
        .await?;
    let err = get(alice.clone()).await.expect_err("revoked token");
    ensure!(
        wire::reason(&err).as_deref() == Some("TOKEN_REVOKED"),
        "after a password change: {err:?}"
    );
    let bad = authenticate(&ch, "alice", "alicepw").await;
    ensure!(bad.is_err(), "the old password still authenticates");
    let alice2 = authenticate(&ch, "alice", "new-pw").await?;
    get(alice2.clone()).await?;
    // Expiry.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let err = get(alice2).await.expect_err("expired token");
    ensure!(
        wire::reason(&err).as_deref() == Some("TOKEN_EXPIRED"),
        "after the ttl: {err:?}"
    );
    // Deleting a user revokes their tokens, even if a user of that name comes back.
    let carol_pw = "carolpw";
    let mut auth = AuthClient::new(ch.clone());
    auth.user_add(req(
        pb::AuthUserAddRequest {
            name: "carol".into(),
            password: carol_pw.into(),
        },
        Some(&authenticate(&ch, "root", "rootpw").await?),
    ))
    .await?;
    let carol = authenticate(&ch, "carol", carol_pw).await?;
    let root = authenticate(&ch, "root", "rootpw").await?;
    auth.user_delete(req(
        pb::AuthUserDeleteRequest {
            name: "carol".into(),
        },
        Some(&root),
    ))
    .await?;
    auth.user_add(req(
        pb::AuthUserAddRequest {
            name: "carol".into(),
            password: carol_pw.into(),
        },
        Some(&root),
    ))
    .await?;
    let err = get(carol).await.expect_err("token of a deleted user");
    ensure!(
        wire::reason(&err).as_deref() == Some("TOKEN_REVOKED"),
        "{err:?}"
    );
    drop(root);
    Ok(())
}

#[tokio::test]
async fn a_token_works_on_every_member_and_after_a_failover() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let leader = cluster.wait_leader().await?;
    let lch = wire::channel(&cluster.member(leader).endpoint()).await?;
    let [root, ..] = enable_auth(&lch).await?;
    // A user added on the leader, authenticated there, and used at once on every
    // member (some may not have applied the user yet).
    AuthClient::new(lch.clone())
        .user_add(req(
            pb::AuthUserAddRequest {
                name: "dave".into(),
                password: "davepw".into(),
            },
            Some(&root),
        ))
        .await?;
    let dave = authenticate(&lch, "dave", "davepw").await?;
    for id in cluster.ids() {
        let ch = wire::channel(&cluster.member(id).endpoint()).await?;
        kv(ch)
            .create(req(
                pb::CreateRequest {
                    path: format!("/dave-{id}"),
                    ..Default::default()
                },
                Some(&dave),
            ))
            .await
            .with_context(|| format!("dave's token on member {id}"))?;
    }
    cluster.kill9(leader)?;
    // The harness's leader wait reads Cluster/Status anonymously; with auth on it needs
    // root's token.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut leaders = std::collections::BTreeSet::new();
        for id in cluster.live_ids() {
            let ch = wire::channel(&cluster.member(id).endpoint()).await?;
            if let Ok(s) = ClusterClient::new(ch)
                .status(req(pb::StatusRequest {}, Some(&root)))
                .await
            {
                leaders.insert(s.into_inner().leader_id);
            }
        }
        if leaders.len() == 1 && !leaders.contains(&0) && !leaders.contains(&leader) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no new leader within 30 s: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in cluster.live_ids() {
        let ch = wire::channel(&cluster.member(id).endpoint()).await?;
        kv(ch)
            .put(req(
                pb::PutRequest {
                    path: format!("/dave-{id}"),
                    data: b"after failover".to_vec(),
                    ..Default::default()
                },
                Some(&dave),
            ))
            .await
            .with_context(|| format!("dave's token on member {id} after the failover"))?;
    }
    Ok(())
}

#[tokio::test]
async fn request_ids_are_per_user_so_a_replay_never_shows_another_users_result() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, bob] = enable_auth(&ch).await?;
    grow_tree(&ch, &root).await?;
    let create_with_id = |token: String, path: &'static str| {
        let ch = ch.clone();
        async move {
            let mut r = req(
                pb::CreateRequest {
                    path: path.into(),
                    data: b"private".to_vec(),
                    ..Default::default()
                },
                Some(&token),
            );
            r.metadata_mut().insert(
                "corral-request-id",
                "shared-client/1".parse().expect("ascii"),
            );
            kv(ch).create(r).await
        }
    };
    let first = create_with_id(alice, "/team-b/alices").await?.into_inner();
    ensure!(first.path == "/team-b/alices");
    // Bob sends the same request id: he must get his own create, not alice's result.
    let second = create_with_id(bob, "/team-a/bobs").await?.into_inner();
    ensure!(
        second.path == "/team-a/bobs",
        "bob was answered with another user's remembered result: {second:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_watch_ends_when_its_token_is_revoked() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, _bob] = enable_auth(&ch).await?;
    grow_tree(&ch, &root).await?;
    let mut watch = watch_all(&ch, &alice).await?;
    create(&ch, &root, "/team-b/before", vec![]).await?;
    let first = watch.next().await.ok_or_else(|| anyhow!("watch ended"))??;
    ensure!(first.events.len() == 1, "expected the create: {first:?}");
    AuthClient::new(ch.clone())
        .user_change_password(req(
            pb::AuthUserChangePasswordRequest {
                name: "alice".into(),
                password: "changed".into(),
            },
            Some(&root),
        ))
        .await?;
    create(&ch, &root, "/team-b/after", vec![]).await?;
    let msg = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .context("no answer within 10 s")?
        .ok_or_else(|| anyhow!("watch ended without a cancel"))??;
    ensure!(
        msg.canceled && msg.events.is_empty() && msg.cancel_reason.contains("revoked"),
        "expected a cancel for the revoked token, got {msg:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_keep_alive_stream_stops_keeping_leases_once_its_token_is_revoked() -> Result<()> {
    let server = Server::start().await?;
    let ch = wire::channel(&server.endpoint()).await?;
    let [root, alice, _bob] = enable_auth(&ch).await?;
    let lease = LeaseClient::new(ch.clone())
        .grant(req(
            pb::LeaseGrantRequest {
                ttl_ms: 60_000,
                lease_id: 0,
            },
            Some(&alice),
        ))
        .await?
        .into_inner()
        .lease_id;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let out = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut answers = LeaseClient::new(ch.clone())
        .keep_alive(req(out, Some(&alice)))
        .await?
        .into_inner();
    tx.send(pb::LeaseKeepAliveRequest { lease_id: lease })
        .await?;
    answers
        .next()
        .await
        .ok_or_else(|| anyhow!("stream ended"))??;
    AuthClient::new(ch.clone())
        .user_change_password(req(
            pb::AuthUserChangePasswordRequest {
                name: "alice".into(),
                password: "changed".into(),
            },
            Some(&root),
        ))
        .await?;
    tx.send(pb::LeaseKeepAliveRequest { lease_id: lease })
        .await?;
    match answers.next().await {
        Some(Err(s)) if wire::reason(&s).as_deref() == Some("TOKEN_REVOKED") => Ok(()),
        other => bail!("a keep-alive after the revocation got {other:?}"),
    }
}
