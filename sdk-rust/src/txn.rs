//! Atomic transactions: `if all compares hold { success ops } else { failure ops }`,
//! applied at one revision (etcd's Txn, ZooKeeper's multi).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::{Compare, Op, Txn};
//! let txn = Txn::new()
//!     .when([Compare::version("/config").eq(3)])
//!     .and_then([Op::put("/config", "v4", None), Op::delete("/config/draft", None)])
//!     .or_else([Op::get("/config", None)]);
//! let response = client.txn(txn).await?;
//! println!("succeeded: {}", response.succeeded);
//! # Ok(())
//! # }
//! ```

use corral_proto::v1 as pb;

use crate::error::Result;
use crate::options::{CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions};
use crate::types::{self, required, Header, Node, Stat};
use crate::types::{wire_header, FromWire};

/// A transaction: compares, then the ops of the branch they select.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Txn {
    compares: Vec<pb::Compare>,
    success: Vec<pb::Op>,
    failure: Vec<pb::Op>,
}

impl Txn {
    /// An empty transaction (no compares: the success branch runs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds conditions; the success branch runs only if every one holds.
    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Self {
        self.compares.extend(compares.into_iter().map(|c| c.0));
        self
    }

    /// Adds ops applied, in order, when every compare holds.
    pub fn and_then(mut self, ops: impl IntoIterator<Item = Op>) -> Self {
        self.success.extend(ops.into_iter().map(|op| op.0));
        self
    }

    /// Adds ops applied, in order, when any compare fails.
    pub fn or_else(mut self, ops: impl IntoIterator<Item = Op>) -> Self {
        self.failure.extend(ops.into_iter().map(|op| op.0));
        self
    }

    pub(crate) fn request(self) -> pb::TxnRequest {
        pb::TxnRequest {
            compares: self.compares,
            success: self.success,
            failure: self.failure,
        }
    }
}

/// A condition on one znode. Every comparison but [`Compare::not_exists`] is false
/// on an absent znode.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare(pb::Compare);

impl Compare {
    /// Holds if the znode exists.
    pub fn exists(path: impl Into<String>) -> Compare {
        CompareOn::new(path, pb::compare::Target::Exists).eq(true)
    }

    /// Holds if the znode does not exist.
    pub fn not_exists(path: impl Into<String>) -> Compare {
        CompareOn::new(path, pb::compare::Target::Exists).ne(true)
    }

    /// Compares the znode's `stat.version`.
    pub fn version(path: impl Into<String>) -> CompareOn<i64> {
        CompareOn::new(path, pb::compare::Target::Version)
    }

    /// Compares the znode's `stat.mod_revision`.
    pub fn mod_revision(path: impl Into<String>) -> CompareOn<i64> {
        CompareOn::new(path, pb::compare::Target::ModRevision)
    }

    /// Compares the znode's `stat.create_revision`.
    pub fn create_revision(path: impl Into<String>) -> CompareOn<i64> {
        CompareOn::new(path, pb::compare::Target::CreateRevision)
    }

    /// Compares the znode's `stat.num_children`.
    pub fn num_children(path: impl Into<String>) -> CompareOn<i64> {
        CompareOn::new(path, pb::compare::Target::NumChildren)
    }

    /// Compares the znode's data, bytewise.
    pub fn data(path: impl Into<String>) -> CompareOn<Vec<u8>> {
        CompareOn::new(path, pb::compare::Target::Data)
    }
}

/// The first half of a [`Compare`]: a znode and what of it is compared. Finish it
/// with [`eq`](Self::eq), [`ne`](Self::ne), [`gt`](Self::gt) or [`lt`](Self::lt)
/// (the znode's value on the left: `Compare::version(p).gt(3)` is `version > 3`).
#[derive(Debug, Clone)]
pub struct CompareOn<V> {
    path: String,
    target: fn(V) -> pb::compare::Target,
}

impl<V> CompareOn<V> {
    fn new(path: impl Into<String>, target: fn(V) -> pb::compare::Target) -> Self {
        CompareOn {
            path: path.into(),
            target,
        }
    }

    fn finish(self, result: pb::compare::Result, value: V) -> Compare {
        Compare(pb::Compare {
            path: self.path,
            result: result.into(),
            target: Some((self.target)(value)),
        })
    }

    /// Holds if the znode's value equals `value`.
    pub fn eq(self, value: impl Into<V>) -> Compare {
        self.finish(pb::compare::Result::Equal, value.into())
    }

    /// Holds if the znode exists and its value differs from `value`.
    pub fn ne(self, value: impl Into<V>) -> Compare {
        self.finish(pb::compare::Result::NotEqual, value.into())
    }

    /// Holds if the znode's value is greater than `value`.
    pub fn gt(self, value: impl Into<V>) -> Compare {
        self.finish(pb::compare::Result::Greater, value.into())
    }

    /// Holds if the znode's value is less than `value`.
    pub fn lt(self, value: impl Into<V>) -> Compare {
        self.finish(pb::compare::Result::Less, value.into())
    }
}

/// One operation of a [`Txn`].
#[derive(Debug, Clone, PartialEq)]
pub struct Op(pb::Op);

impl Op {
    fn of(op: pb::op::Op) -> Op {
        Op(pb::Op { op: Some(op) })
    }

    /// Creates a znode, as [`Client::create`](crate::Client::create).
    pub fn create(
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: impl Into<Option<CreateOptions>>,
    ) -> Op {
        let options = options.into().unwrap_or_default();
        Op::of(pb::op::Op::Create(
            options.request(path.into(), data.into()),
        ))
    }

    /// Sets a znode's data, as [`Client::put`](crate::Client::put).
    pub fn put(
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: impl Into<Option<PutOptions>>,
    ) -> Op {
        let options = options.into().unwrap_or_default();
        Op::of(pb::op::Op::Put(options.request(path.into(), data.into())))
    }

    /// Deletes a znode, as [`Client::delete`](crate::Client::delete).
    pub fn delete(path: impl Into<String>, options: impl Into<Option<DeleteOptions>>) -> Op {
        let options = options.into().unwrap_or_default();
        Op::of(pb::op::Op::Delete(options.request(path.into())))
    }

    /// Reads a znode; an absent znode gives `OpResult::Get { node: None }`, not an error.
    pub fn get(path: impl Into<String>, options: impl Into<Option<GetOptions>>) -> Op {
        let options = options.into().unwrap_or_default();
        Op::of(pb::op::Op::Get(options.request(path.into())))
    }

    /// Lists children or a subtree (first page only; a page token is rejected).
    pub fn list(path: impl Into<String>, options: impl Into<Option<ListOptions>>) -> Op {
        let options = options.into().unwrap_or_default();
        Op::of(pb::op::Op::List(options.request(path.into())))
    }
}

/// Result of one op of the branch that ran, in the order of the ops.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpResult {
    /// A create: the path created and the new znode's stat.
    Create {
        /// Path actually created.
        path: String,
        /// Stat of the new znode.
        stat: Stat,
    },
    /// A put: the stat after it, and the previous znode when asked for.
    Put {
        /// Stat after the put.
        stat: Stat,
        /// The znode before the put.
        prev_node: Option<Node>,
    },
    /// A delete: how many znodes it removed.
    Delete {
        /// Number of znodes deleted.
        deleted: i64,
    },
    /// A get: the znode, or `None` if absent.
    Get {
        /// The znode read.
        node: Option<Node>,
    },
    /// A list: the first page.
    List {
        /// Znodes in path order.
        nodes: Vec<Node>,
        /// Whether more znodes follow this page.
        more: bool,
    },
}

/// Result of [`Client::txn`](crate::Client::txn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    /// Header; `revision` is the Txn's revision (all its writes share it).
    pub header: Header,
    /// True if every compare held and the success branch ran.
    pub succeeded: bool,
    /// Results of the branch that ran, one per op.
    pub results: Vec<OpResult>,
}

impl FromWire<pb::OpResult> for OpResult {
    fn from_wire(r: pb::OpResult) -> Result<Self> {
        use pb::op_result::Result as R;
        Ok(match required(r.result, "txn op result")? {
            R::Create(c) => OpResult::Create {
                path: c.path,
                stat: Stat::from_wire(required(c.stat, "stat")?)?,
            },
            R::Put(p) => OpResult::Put {
                stat: Stat::from_wire(required(p.stat, "stat")?)?,
                prev_node: p.prev_node.map(Node::from_wire).transpose()?,
            },
            R::Delete(d) => OpResult::Delete { deleted: d.deleted },
            R::Get(g) => OpResult::Get {
                node: g.node.map(Node::from_wire).transpose()?,
            },
            R::List(l) => OpResult::List {
                more: !l.next_page_token.is_empty(),
                nodes: types::nodes(l.nodes)?,
            },
        })
    }
}

impl FromWire<pb::TxnResponse> for TxnResponse {
    fn from_wire(r: pb::TxnResponse) -> Result<Self> {
        Ok(TxnResponse {
            header: wire_header(r.header)?,
            succeeded: r.succeeded,
            results: r
                .results
                .into_iter()
                .map(OpResult::from_wire)
                .collect::<Result<_>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_helpers_build_the_documented_conditions() {
        let c = Compare::version("/a").gt(3);
        assert_eq!(c.0.path, "/a");
        assert_eq!(c.0.result, pb::compare::Result::Greater as i32);
        assert_eq!(c.0.target, Some(pb::compare::Target::Version(3)));

        let c = Compare::not_exists("/b");
        assert_eq!(c.0.result, pb::compare::Result::NotEqual as i32);
        assert_eq!(c.0.target, Some(pb::compare::Target::Exists(true)));

        let c = Compare::data("/c").eq("x");
        assert_eq!(c.0.target, Some(pb::compare::Target::Data(b"x".to_vec())));
    }

    #[test]
    fn txn_keeps_branches_apart_and_in_order() {
        let req = Txn::new()
            .when([Compare::exists("/a")])
            .and_then([Op::put("/a", "1", None), Op::delete("/b", None)])
            .or_else([Op::get("/a", None)])
            .request();
        assert_eq!(req.compares.len(), 1);
        let kinds: Vec<_> = req.success.iter().map(|op| op.op.clone()).collect();
        assert!(matches!(kinds[0], Some(pb::op::Op::Put(ref p)) if p.data == b"1"));
        assert!(matches!(kinds[1], Some(pb::op::Op::Delete(ref d)) if d.path == "/b"));
        assert!(matches!(req.failure[0].op, Some(pb::op::Op::Get(_))));
    }
}
