//! Delete: one znode, or a whole subtree with `recursive`.

use super::{check_version, ApplyError, Cx};
use crate::acl::Perms;
use crate::store::command::{DeleteCmd, KvError, OpOutput};
use crate::store::overlay::Backing;
use crate::store::path;
use crate::znode::{Event, EventKind, NodeKind, NodeRecord};

pub(crate) fn delete<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &DeleteCmd,
) -> Result<OpOutput, ApplyError> {
    let Some(parent) = path::parent(&c.path) else {
        return Err(KvError::Invalid("the root znode \"/\" cannot be deleted".into()).into());
    };
    // Before looking: whether the znode exists is not for a caller who may not delete it.
    cx.require(parent, Perms::DELETE)?;
    let rec = cx
        .tree
        .node(&c.path)?
        .ok_or_else(|| KvError::NodeNotFound {
            path: c.path.clone(),
        })?;
    check_version(&c.path, c.expected_version, rec.stat.version)?;
    if rec.stat.num_children > 0 && !c.recursive {
        return Err(KvError::NotEmpty {
            path: c.path.clone(),
            num_children: rec.stat.num_children,
        }
        .into());
    }
    if c.recursive && cx.caller.is_some() && rec.stat.num_children > 0 {
        // Every znode deleted needs delete on its parent, as if removed one by one
        // (ZooKeeper's deleteall): all are checked before anything is removed.
        let prefix = path::descendant_prefix(&c.path);
        for (p, r) in cx.tree.scan_nodes(&prefix, "", usize::MAX)? {
            if r.stat.num_children > 0 {
                cx.require(&p, Perms::DELETE)?;
            }
        }
        cx.require(&c.path, Perms::DELETE)?;
    }
    let deleted = remove_subtree(cx, &c.path, rec)?;
    Ok(OpOutput::Delete { deleted })
}

/// Deletes `node_path` (whose record is `rec`) and every descendant, children before
/// parents, with one DELETED event each; updates the surviving parent's stat and the
/// lease and reap indexes. Returns the number of znodes deleted.
pub(crate) fn remove_subtree<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    node_path: &str,
    rec: NodeRecord,
) -> Result<i64, ApplyError> {
    let parent_path = path::parent(node_path)
        .ok_or_else(|| KvError::Invalid("the root znode \"/\" cannot be deleted".into()))?
        .to_string();
    let mut doomed = if rec.stat.num_children > 0 {
        cx.tree
            .scan_nodes(&path::descendant_prefix(node_path), "", usize::MAX)?
    } else {
        Vec::new()
    };
    doomed.push((node_path.to_string(), rec));
    // Reverse byte order puts every descendant before its ancestors.
    doomed.sort_by(|a, b| b.0.cmp(&a.0));
    let deleted = doomed.len() as i64;
    for (p, r) in doomed {
        match r.stat.kind {
            NodeKind::Ephemeral => cx.tree.set_lease_node(r.stat.lease_id, &p, false),
            NodeKind::Ttl | NodeKind::Container => cx.tree.set_reap(&p, None),
            NodeKind::Persistent => {}
        }
        let acl = cx.tree.acl(&p)?;
        cx.tree.remove_node(&p);
        cx.tree.emit(Event {
            revision: cx.rev,
            kind: EventKind::Deleted,
            path: p,
            node: r.clone(),
            prev: Some(r),
            ts_ms: cx.now_ms,
            acl,
        });
    }
    let mut parent = cx
        .tree
        .node(&parent_path)?
        .ok_or_else(|| KvError::NodeNotFound {
            path: parent_path.clone(),
        })?;
    parent.stat.children_version += 1;
    parent.stat.num_children -= 1;
    parent.stat.children_revision = cx.rev;
    cx.tree.update_node(&parent_path, parent);
    cx.wrote = true;
    Ok(deleted)
}
