//! The client's own data types (znodes, stats, headers and call results), converted
//! from the generated protobuf types so users never need `corral-proto`.

use corral_proto::v1 as pb;

use crate::error::{Error, Result};

/// Carried by every response: who answered and at which point of the cluster's history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// Identifier of the cluster that answered.
    pub cluster_id: u64,
    /// Raft node id of the member that answered.
    pub member_id: u64,
    /// Cluster revision of a write, or the applied revision a read saw.
    pub revision: i64,
    /// Raft term the answering member was in.
    pub raft_term: u64,
}

/// What kind of znode it is; fixed at creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeKind {
    /// Lives until deleted.
    #[default]
    Persistent,
    /// Bound to a lease; deleted when the lease ends; cannot have children.
    Ephemeral,
    /// Deleted by the server once its last child is deleted.
    Container,
    /// Persistent, but deleted once not modified for `ttl_ms`.
    Ttl,
}

impl NodeKind {
    /// The kind's name as the API spells it: `PERSISTENT`, `EPHEMERAL`, `CONTAINER`, `TTL`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Persistent => "PERSISTENT",
            NodeKind::Ephemeral => "EPHEMERAL",
            NodeKind::Container => "CONTAINER",
            NodeKind::Ttl => "TTL",
        }
    }
}

/// How a read is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// Confirmed with a quorum: sees every write acknowledged before the read began.
    #[default]
    Linearizable,
    /// Served from the answering member's local state without a quorum round; may be stale.
    Serializable,
}

/// Metadata of a znode (ZooKeeper's Stat, with etcd-style revisions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// Revision of the write that created the znode.
    pub create_revision: i64,
    /// Revision of the last write that changed the data (`create_revision` until then).
    pub mod_revision: i64,
    /// Number of changes to the data since creation; 0 for a new znode.
    pub version: i64,
    /// Number of changes to the child list.
    pub children_version: i64,
    /// Number of changes to the ACL.
    pub acl_version: i64,
    /// Revision of the last change to the child list (`create_revision` until then).
    pub children_revision: i64,
    /// Lease the znode is bound to; 0 unless ephemeral.
    pub lease_id: i64,
    /// Length of the data in bytes.
    pub data_length: i64,
    /// Number of direct children.
    pub num_children: i64,
    /// Creation time, milliseconds since the Unix epoch, stamped by the leader.
    pub ctime_ms: i64,
    /// Last data change time, milliseconds since the Unix epoch, stamped by the leader.
    pub mtime_ms: i64,
    /// Kind of the znode.
    pub kind: NodeKind,
    /// For TTL znodes, milliseconds without modification before deletion; else 0.
    pub ttl_ms: i64,
}

/// A znode: its path, data and stat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Node {
    /// Absolute path, e.g. `/services/api/host-0000000007`.
    pub path: String,
    /// Data (empty when only the stat was asked for).
    pub data: Vec<u8>,
    /// Metadata.
    pub stat: Stat,
}

/// Result of [`Client::create`](crate::Client::create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResponse {
    /// Header; `revision` is the revision of the create.
    pub header: Header,
    /// Path actually created (differs from the request for sequential znodes).
    pub path: String,
    /// Stat of the new znode.
    pub stat: Stat,
}

/// Result of [`Client::put`](crate::Client::put).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResponse {
    /// Header; `revision` is the revision of the put.
    pub header: Header,
    /// Stat after the put.
    pub stat: Stat,
    /// The znode before the put, when asked for and it existed.
    pub prev_node: Option<Node>,
}

/// Result of [`Client::get`](crate::Client::get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetResponse {
    /// Header; `revision` is the applied revision the read saw.
    pub header: Header,
    /// The znode.
    pub node: Node,
}

/// One page of [`Client::list`](crate::Client::list), or a whole listing from
/// [`Client::list_all`](crate::Client::list_all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResponse {
    /// Header; `revision` is the applied revision the (last) page saw.
    pub header: Header,
    /// Znodes in path order (byte order of the full path).
    pub nodes: Vec<Node>,
    /// Token for the next page; `None` when this page is the last.
    pub next_page_token: Option<String>,
}

/// Result of [`Client::delete`](crate::Client::delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteResponse {
    /// Header; `revision` is the revision of the delete.
    pub header: Header,
    /// Number of znodes deleted (1 unless recursive).
    pub deleted: i64,
}

/// Unwraps a message field the API promises is always set.
pub(crate) fn required<T>(field: Option<T>, what: &str) -> Result<T> {
    field.ok_or_else(|| Error::InvalidResponse {
        message: format!("missing {what}"),
    })
}

/// Conversion from a generated (wire) message. Crate-private on purpose: the generated
/// types stay out of the client's public API, so a proto change cannot break users
/// through a trait impl they never asked for.
/// The header of a response, which the server always sends.
pub(crate) fn wire_header(h: Option<pb::ResponseHeader>) -> Result<Header> {
    required(h, "response header").map(Header::from_pb)
}

pub(crate) trait FromWire<P>: Sized {
    /// The client's type for `p`, or [`Error::InvalidResponse`] when `p` lacks a part the
    /// server always sends.
    fn from_wire(p: P) -> Result<Self>;
}

impl Header {
    /// The client's header for the generated one.
    pub(crate) fn from_pb(h: pb::ResponseHeader) -> Self {
        Header {
            cluster_id: h.cluster_id,
            member_id: h.member_id,
            revision: h.revision,
            raft_term: h.raft_term,
        }
    }
}

impl Consistency {
    /// The generated enum for this consistency.
    pub(crate) fn to_pb(self) -> pb::Consistency {
        match self {
            Consistency::Linearizable => pb::Consistency::Linearizable,
            Consistency::Serializable => pb::Consistency::Serializable,
        }
    }
}

impl FromWire<pb::Stat> for Stat {
    fn from_wire(s: pb::Stat) -> Result<Self> {
        let kind = match pb::NodeKind::try_from(s.kind) {
            Ok(pb::NodeKind::Persistent) => NodeKind::Persistent,
            Ok(pb::NodeKind::Ephemeral) => NodeKind::Ephemeral,
            Ok(pb::NodeKind::Container) => NodeKind::Container,
            Ok(pb::NodeKind::Ttl) => NodeKind::Ttl,
            Ok(pb::NodeKind::Unspecified) | Err(_) => {
                return Err(Error::InvalidResponse {
                    message: format!("unknown node kind {}", s.kind),
                })
            }
        };
        Ok(Stat {
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
            kind,
            ttl_ms: s.ttl_ms,
        })
    }
}

impl FromWire<pb::Node> for Node {
    fn from_wire(n: pb::Node) -> Result<Self> {
        Ok(Node {
            stat: Stat::from_wire(required(n.stat, "node stat")?)?,
            path: n.path,
            data: n.data,
        })
    }
}

/// Converts every node of a listing.
pub(crate) fn nodes(nodes: Vec<pb::Node>) -> Result<Vec<Node>> {
    nodes.into_iter().map(Node::from_wire).collect()
}

/// A page token, or `None` for the empty string the wire uses for "last page".
pub(crate) fn page_token(token: String) -> Option<String> {
    (!token.is_empty()).then_some(token)
}

impl FromWire<pb::CreateResponse> for CreateResponse {
    fn from_wire(r: pb::CreateResponse) -> Result<Self> {
        Ok(CreateResponse {
            header: wire_header(r.header)?,
            path: r.path,
            stat: Stat::from_wire(required(r.stat, "stat")?)?,
        })
    }
}

impl FromWire<pb::PutResponse> for PutResponse {
    fn from_wire(r: pb::PutResponse) -> Result<Self> {
        Ok(PutResponse {
            header: wire_header(r.header)?,
            stat: Stat::from_wire(required(r.stat, "stat")?)?,
            prev_node: r.prev_node.map(Node::from_wire).transpose()?,
        })
    }
}

impl FromWire<pb::GetResponse> for GetResponse {
    fn from_wire(r: pb::GetResponse) -> Result<Self> {
        Ok(GetResponse {
            header: wire_header(r.header)?,
            node: Node::from_wire(required(r.node, "node")?)?,
        })
    }
}

impl FromWire<pb::ListResponse> for ListResponse {
    fn from_wire(r: pb::ListResponse) -> Result<Self> {
        Ok(ListResponse {
            header: wire_header(r.header)?,
            nodes: nodes(r.nodes)?,
            next_page_token: page_token(r.next_page_token),
        })
    }
}

impl FromWire<pb::DeleteResponse> for DeleteResponse {
    fn from_wire(r: pb::DeleteResponse) -> Result<Self> {
        Ok(DeleteResponse {
            header: wire_header(r.header)?,
            deleted: r.deleted,
        })
    }
}
