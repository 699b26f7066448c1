//! Internal results → generated proto types. Generated types stay at this edge.

use corral_proto::v1 as pb;

use crate::store::command::{ListPage, OpOutput};
use crate::znode::{Node, NodeKind, Stat};

/// Stat → proto.
pub fn stat(s: &Stat) -> pb::Stat {
    pb::Stat {
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
        kind: kind(s.kind) as i32,
        ttl_ms: s.ttl_ms,
    }
}

fn kind(k: NodeKind) -> pb::NodeKind {
    match k {
        NodeKind::Persistent => pb::NodeKind::Persistent,
        NodeKind::Ephemeral => pb::NodeKind::Ephemeral,
        NodeKind::Container => pb::NodeKind::Container,
        NodeKind::Ttl => pb::NodeKind::Ttl,
    }
}

/// Node → proto.
pub fn node(n: Node) -> pb::Node {
    pb::Node {
        stat: Some(stat(&n.record.stat)),
        path: n.path,
        data: n.record.data,
    }
}

/// A listing page → proto (header filled by the caller).
pub fn list_page(page: ListPage) -> pb::ListResponse {
    pb::ListResponse {
        header: None,
        nodes: page.nodes.into_iter().map(node).collect(),
        next_page_token: page.next_after,
    }
}

/// One Txn op result → proto (inner headers are left unset; the Txn's header applies).
pub fn op_result(out: OpOutput) -> pb::OpResult {
    use pb::op_result::Result as R;
    let result = match out {
        OpOutput::Create { path, stat: s } => R::Create(pb::CreateResponse {
            header: None,
            path,
            stat: Some(stat(&s)),
        }),
        OpOutput::Put { stat: s, prev } => R::Put(pb::PutResponse {
            header: None,
            stat: Some(stat(&s)),
            prev_node: prev.map(node),
        }),
        OpOutput::Delete { deleted } => R::Delete(pb::DeleteResponse {
            header: None,
            deleted,
        }),
        OpOutput::Get(n) => R::Get(pb::GetResponse {
            header: None,
            node: n.map(node),
        }),
        OpOutput::List(page) => R::List(list_page(page)),
    };
    pb::OpResult {
        result: Some(result),
    }
}

/// An ACL as sent to clients.
pub fn acl(acl: &crate::acl::Acl) -> Vec<pb::AclEntry> {
    use crate::acl::Perms;
    acl.iter()
        .map(|e| pb::AclEntry {
            principal: e.principal.to_string(),
            permissions: [
                (Perms::READ, pb::Permission::Read),
                (Perms::WRITE, pb::Permission::Write),
                (Perms::CREATE, pb::Permission::Create),
                (Perms::DELETE, pb::Permission::Delete),
                (Perms::ADMIN, pb::Permission::Admin),
            ]
            .into_iter()
            .filter(|(bit, _)| e.perms.contains(*bit))
            .map(|(_, p)| p as i32)
            .collect(),
        })
        .collect()
}
