//! The API messages behind the client's results. `corral-client` hands corralctl its
//! own types (it never exposes the generated ones); `-o json` prints the protobuf
//! message each result came from, so it is rebuilt here field for field and then
//! rendered by [`crate::protojson`] from the descriptors.
//!
//! What the client does not pass on cannot be rebuilt: the header of a keep-alive, a
//! lock or a leader observation, and the page token of a list inside a txn.

use std::time::Duration;

use corral_client as sdk;
use corral_proto::v1 as pb;

pub fn header(h: &sdk::Header) -> pb::ResponseHeader {
    pb::ResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    }
}

/// The protobuf kind of a znode; `None` for a kind this corralctl does not know,
/// which then keeps the field's default rather than a wrong kind.
fn kind(k: sdk::NodeKind) -> Option<pb::NodeKind> {
    match k {
        sdk::NodeKind::Persistent => Some(pb::NodeKind::Persistent),
        sdk::NodeKind::Ephemeral => Some(pb::NodeKind::Ephemeral),
        sdk::NodeKind::Container => Some(pb::NodeKind::Container),
        sdk::NodeKind::Ttl => Some(pb::NodeKind::Ttl),
        _ => None,
    }
}

pub fn stat(s: &sdk::Stat) -> pb::Stat {
    let mut stat = pb::Stat {
        create_revision: s.create_revision,
        mod_revision: s.mod_revision,
        version: s.version,
        children_version: s.children_version,
        acl_version: s.acl_version,
        children_revision: s.children_revision,
        lease_id: s.lease_id,
        data_length: s.data_length,
        num_children: s.num_children,
        ctime_ms: s.ctime_ms,
        mtime_ms: s.mtime_ms,
        kind: Default::default(),
        ttl_ms: s.ttl_ms,
    };
    if let Some(kind) = kind(s.kind) {
        stat.set_kind(kind);
    }
    stat
}

pub fn node(n: &sdk::Node) -> pb::Node {
    pb::Node {
        path: n.path.clone(),
        data: n.data.clone(),
        stat: Some(stat(&n.stat)),
    }
}

pub fn create(r: &sdk::CreateResponse) -> pb::CreateResponse {
    pb::CreateResponse {
        header: Some(header(&r.header)),
        path: r.path.clone(),
        stat: Some(stat(&r.stat)),
    }
}

pub fn put(r: &sdk::PutResponse) -> pb::PutResponse {
    pb::PutResponse {
        header: Some(header(&r.header)),
        stat: Some(stat(&r.stat)),
        prev_node: r.prev_node.as_ref().map(node),
    }
}

pub fn get(r: &sdk::GetResponse) -> pb::GetResponse {
    pb::GetResponse {
        header: Some(header(&r.header)),
        node: Some(node(&r.node)),
    }
}

/// A listing; corralctl follows every page, so there is no next page to name.
pub fn list(r: &sdk::ListResponse) -> pb::ListResponse {
    pb::ListResponse {
        header: Some(header(&r.header)),
        nodes: r.nodes.iter().map(node).collect(),
        next_page_token: r.next_page_token.clone().unwrap_or_default(),
    }
}

pub fn delete(r: &sdk::DeleteResponse) -> pb::DeleteResponse {
    pb::DeleteResponse {
        header: Some(header(&r.header)),
        deleted: r.deleted,
    }
}

fn event_type(t: sdk::EventType) -> pb::EventType {
    match t {
        sdk::EventType::Created => pb::EventType::Created,
        sdk::EventType::Updated => pb::EventType::Updated,
        sdk::EventType::Deleted => pb::EventType::Deleted,
    }
}

pub fn event(e: &sdk::Event) -> pb::Event {
    let mut event = pb::Event {
        r#type: Default::default(),
        node: Some(node(&e.node)),
        prev_node: e.prev_node.as_ref().map(node),
        revision: e.revision,
    };
    event.set_type(event_type(e.kind));
    event
}

/// A txn's results. The results of the ops carry no header of their own (the txn's
/// is the one), and a list's page token is not passed on by the client.
pub fn txn(r: &sdk::TxnResponse) -> pb::TxnResponse {
    use pb::op_result::Result as R;
    let result = |result: &sdk::OpResult| {
        let result = match result {
            sdk::OpResult::Create { path, stat: s } => R::Create(pb::CreateResponse {
                header: None,
                path: path.clone(),
                stat: Some(stat(s)),
            }),
            sdk::OpResult::Put { stat: s, prev_node } => R::Put(pb::PutResponse {
                header: None,
                stat: Some(stat(s)),
                prev_node: prev_node.as_ref().map(node),
            }),
            sdk::OpResult::Delete { deleted } => R::Delete(pb::DeleteResponse {
                header: None,
                deleted: *deleted,
            }),
            sdk::OpResult::Get { node: n } => R::Get(pb::GetResponse {
                header: None,
                node: n.as_ref().map(node),
            }),
            sdk::OpResult::List { nodes, .. } => R::List(pb::ListResponse {
                header: None,
                nodes: nodes.iter().map(node).collect(),
                next_page_token: String::new(),
            }),
            // A result kind newer than this corralctl: an empty result keeps the
            // positions of the others right.
            _ => return pb::OpResult { result: None },
        };
        pb::OpResult {
            result: Some(result),
        }
    };
    pb::TxnResponse {
        header: Some(header(&r.header)),
        succeeded: r.succeeded,
        results: r.results.iter().map(result).collect(),
    }
}

/// Milliseconds of a duration, as the API counts them.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub fn lease_grant(r: &sdk::LeaseGrantResponse) -> pb::LeaseGrantResponse {
    pb::LeaseGrantResponse {
        header: Some(header(&r.header)),
        lease_id: r.lease_id,
        ttl_ms: millis(r.ttl),
    }
}

/// One refresh; the client returns the new TTL only.
pub fn lease_keep_alive(lease_id: i64, ttl: Duration) -> pb::LeaseKeepAliveResponse {
    pb::LeaseKeepAliveResponse {
        header: None,
        lease_id,
        ttl_ms: millis(ttl),
    }
}

pub fn lease_revoke(r: &sdk::LeaseRevokeResponse) -> pb::LeaseRevokeResponse {
    pb::LeaseRevokeResponse {
        header: Some(header(&r.header)),
        deleted: r.deleted,
    }
}

pub fn lease_ttl(r: &sdk::LeaseTimeToLive) -> pb::LeaseTimeToLiveResponse {
    pb::LeaseTimeToLiveResponse {
        header: Some(header(&r.header)),
        lease_id: r.lease_id,
        ttl_ms: millis(r.ttl),
        remaining_ms: millis(r.remaining),
        nodes: r.nodes.clone(),
    }
}

pub fn lease_list(r: &sdk::LeaseListResponse) -> pb::LeaseListResponse {
    pb::LeaseListResponse {
        header: Some(header(&r.header)),
        leases: r
            .leases
            .iter()
            .map(|l| pb::LeaseStatus {
                lease_id: l.lease_id,
                ttl_ms: millis(l.ttl),
            })
            .collect(),
    }
}

/// A held lock, as the lock recipe reports it (without a header).
pub fn lock(key: &str, fencing_token: i64) -> pb::LockResponse {
    pb::LockResponse {
        header: None,
        key: key.into(),
        fencing_token,
    }
}

pub fn leader_key(l: &sdk::LeaderKey) -> pb::LeaderKey {
    pb::LeaderKey {
        name: l.name.clone(),
        key: l.key.clone(),
        value: l.value.clone(),
        create_revision: l.create_revision,
        lease_id: l.lease_id,
    }
}

/// An election's leader (or none) as observed; the client passes no header on.
pub fn leader(l: Option<&sdk::LeaderKey>) -> pb::LeaderResponse {
    pb::LeaderResponse {
        header: None,
        leader: l.map(leader_key),
    }
}

/// Leadership won by `elect NAME VALUE`.
pub fn campaign(l: &sdk::LeaderKey) -> pb::CampaignResponse {
    pb::CampaignResponse {
        header: None,
        leader: Some(leader_key(l)),
    }
}

fn members(members: &[sdk::Member]) -> Vec<pb::Member> {
    members
        .iter()
        .map(|m| pb::Member {
            member_id: m.member_id,
            peer_addr: m.peer_addr.clone(),
            is_learner: m.is_learner,
        })
        .collect()
}

pub fn member_list(r: &sdk::MemberListResponse) -> pb::MemberListResponse {
    pb::MemberListResponse {
        header: Some(header(&r.header)),
        members: members(&r.members),
        leader_id: r.leader_id.unwrap_or(0),
    }
}

/// The members after `member add|promote|remove`: the three responses have the same
/// fields, and `make` picks which one the command got.
pub fn member_change<M>(
    r: &sdk::MemberChangeResponse,
    make: fn(Option<pb::ResponseHeader>, Vec<pb::Member>) -> M,
) -> M {
    make(Some(header(&r.header)), members(&r.members))
}

pub fn transfer_leader(r: &sdk::TransferLeaderResponse) -> pb::TransferLeaderResponse {
    pb::TransferLeaderResponse {
        header: Some(header(&r.header)),
        leader_id: r.leader_id,
    }
}

pub fn status(s: &sdk::Status) -> pb::StatusResponse {
    pb::StatusResponse {
        header: Some(header(&s.header)),
        member_id: s.member_id,
        leader_id: s.leader_id.unwrap_or(0),
        raft_term: s.raft_term,
        commit_index: s.commit_index,
        applied_index: s.applied_index,
        revision: s.revision,
        db_size_bytes: s.db_size_bytes,
        version: s.version.clone(),
        last_log_index: s.last_log_index,
        is_learner: s.is_learner,
        snapshot_index: s.snapshot_index.unwrap_or(0),
        snapshot_installs: s.snapshot_installs,
    }
}

pub fn compact(r: &sdk::CompactResponse) -> pb::CompactResponse {
    pb::CompactResponse {
        header: Some(header(&r.header)),
        compact_revision: r.compact_revision,
    }
}

pub fn auth_status(s: &sdk::AuthStatus) -> pb::AuthStatusResponse {
    pb::AuthStatusResponse {
        header: Some(header(&s.header)),
        enabled: s.enabled,
        user: s.user.clone().unwrap_or_default(),
        roles: s.roles.clone(),
        token_ttl_ms: millis(s.token_ttl),
    }
}

pub fn user_list(r: &sdk::UserListResponse) -> pb::AuthUserListResponse {
    pb::AuthUserListResponse {
        header: Some(header(&r.header)),
        users: r
            .users
            .iter()
            .map(|u| pb::User {
                name: u.name.clone(),
                roles: u.roles.clone(),
            })
            .collect(),
    }
}

pub fn role_list(r: &sdk::RoleListResponse) -> pb::AuthRoleListResponse {
    pb::AuthRoleListResponse {
        header: Some(header(&r.header)),
        roles: r.roles.clone(),
    }
}

pub fn acl_entry(e: &sdk::AclEntry) -> pb::AclEntry {
    let permission = |p: sdk::Permission| match p {
        sdk::Permission::Read => pb::Permission::Read,
        sdk::Permission::Write => pb::Permission::Write,
        sdk::Permission::Create => pb::Permission::Create,
        sdk::Permission::Delete => pb::Permission::Delete,
        sdk::Permission::Admin => pb::Permission::Admin,
    };
    pb::AclEntry {
        principal: e.principal.to_string(),
        permissions: e.permissions.iter().map(|p| permission(p) as i32).collect(),
    }
}

pub fn get_acl(r: &sdk::GetAclResponse) -> pb::GetAclResponse {
    pb::GetAclResponse {
        header: Some(header(&r.header)),
        acl: r.acl.iter().map(acl_entry).collect(),
        stat: Some(stat(&r.stat)),
    }
}

pub fn set_acl(r: &sdk::SetAclResponse) -> pb::SetAclResponse {
    pb::SetAclResponse {
        header: Some(header(&r.header)),
        stat: Some(stat(&r.stat)),
    }
}
