//! Txn: compares, then one branch of ops, all at one revision or not at all.

use super::{create, delete, put, ApplyError, Cx};
use crate::acl::Perms;
use crate::store::command::{CmpOp, CmpTarget, Compare, OpOutput, Output, TxnCmd, TxnOp};
use crate::store::overlay::Backing;
use crate::store::read;
use crate::znode::NodeRecord;

pub(crate) fn txn<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    t: &TxnCmd,
) -> Result<Output, ApplyError> {
    // Every compare reveals something of its znode, whichever way it goes.
    for cmp in &t.compares {
        cx.require(&cmp.path, Perms::READ)?;
    }
    let mut succeeded = true;
    for cmp in &t.compares {
        if !holds(cmp, cx.tree.node(&cmp.path)?.as_ref()) {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded { &t.success } else { &t.failure };
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        // Each op sees the writes of the ops before it; all share `cx.rev`.
        let out = match op {
            TxnOp::Create(c) => create::create(cx, c, None)?,
            TxnOp::CreateWithAcl(c, acl) => create::create(cx, c, Some(acl))?,
            TxnOp::Put(c) => put::put(cx, c)?,
            TxnOp::Delete(c) => delete::delete(cx, c)?,
            TxnOp::Get(q) => {
                cx.require(&q.path, Perms::READ)?;
                OpOutput::Get(read::get(cx.tree, &q.path, q.stat_only)?)
            }
            TxnOp::List(q) => {
                cx.require(&q.path, Perms::READ)?;
                let mut page = read::list(cx.tree, q)?;
                if let Some(caller) = &cx.caller {
                    let mut kept = Vec::with_capacity(page.nodes.len());
                    for n in page.nodes {
                        if caller.may(cx.tree.acl(&n.path)?.as_ref(), Perms::READ) {
                            kept.push(n);
                        }
                    }
                    page.nodes = kept;
                }
                OpOutput::List(page)
            }
        };
        results.push(out);
    }
    Ok(Output::Txn { succeeded, results })
}

/// Whether a compare holds. On an absent znode only `Exists` can hold.
pub(crate) fn holds(cmp: &Compare, node: Option<&NodeRecord>) -> bool {
    use std::cmp::Ordering;
    let ord = match (&cmp.target, node) {
        (CmpTarget::Exists(want), n) => {
            let eq = n.is_some() == *want;
            return match cmp.op {
                CmpOp::Equal => eq,
                CmpOp::NotEqual => !eq,
                CmpOp::Greater | CmpOp::Less => false,
            };
        }
        (_, None) => return false,
        (CmpTarget::Version(v), Some(n)) => n.stat.version.cmp(v),
        (CmpTarget::ModRevision(v), Some(n)) => n.stat.mod_revision.cmp(v),
        (CmpTarget::CreateRevision(v), Some(n)) => n.stat.create_revision.cmp(v),
        (CmpTarget::NumChildren(v), Some(n)) => n.stat.num_children.cmp(v),
        (CmpTarget::Data(d), Some(n)) => n.data.as_slice().cmp(d.as_slice()),
    };
    match cmp.op {
        CmpOp::Equal => ord == Ordering::Equal,
        CmpOp::NotEqual => ord != Ordering::Equal,
        CmpOp::Greater => ord == Ordering::Greater,
        CmpOp::Less => ord == Ordering::Less,
    }
}
