//! Create: new znodes (sequential, ephemeral, container, TTL), optionally with parents.

use super::{ApplyError, Cx};
use crate::acl::{Acl, Perms};
use crate::store::command::{CreateCmd, KvError, OpOutput};
use crate::store::overlay::{Backing, ReapKind};
use crate::store::path;
use crate::znode::{Event, EventKind, NodeKind, NodeRecord, Stat};

/// Width of the sequential suffix, as in ZooKeeper.
pub const SEQUENCE_DIGITS: usize = 10;

/// Creates `c.path`; `acl` is the new znode's ACL, or `None` to copy its parent's.
pub(crate) fn create<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &CreateCmd,
    acl: Option<&Acl>,
) -> Result<OpOutput, ApplyError> {
    // For sequential znodes the parent is that of the path with its suffix appended, so
    // "/queue/" names the children of "/queue".
    let probe = if c.sequential {
        format!("{}{}", c.path, "0".repeat(SEQUENCE_DIGITS))
    } else {
        c.path.clone()
    };
    let parent_path = path::parent(&probe)
        .ok_or_else(|| KvError::Invalid("the root znode \"/\" always exists".into()))?
        .to_string();

    if c.create_parents {
        for ancestor in path::ancestors(&probe) {
            match cx.tree.node(ancestor)? {
                Some(rec) if rec.stat.kind == NodeKind::Ephemeral => {
                    return Err(KvError::EphemeralParent {
                        path: probe.clone(),
                        parent: ancestor.to_string(),
                    }
                    .into())
                }
                Some(_) => {}
                None => {
                    let rec = new_record(cx, Vec::new(), NodeKind::Persistent, 0, 0);
                    link_child(cx, ancestor, rec, None)?;
                }
            }
        }
    }

    let parent = cx
        .tree
        .node(&parent_path)?
        .ok_or_else(|| KvError::ParentNotFound {
            path: probe.clone(),
            parent: parent_path.clone(),
        })?;
    if parent.stat.kind == NodeKind::Ephemeral {
        return Err(KvError::EphemeralParent {
            path: probe,
            parent: parent_path,
        }
        .into());
    }
    let actual = if c.sequential {
        // ZooKeeper takes the counter from the parent's child-list version, which only grows.
        format!(
            "{}{:0width$}",
            c.path,
            parent.stat.children_version,
            width = SEQUENCE_DIGITS
        )
    } else {
        c.path.clone()
    };
    if cx.tree.node(&actual)?.is_some() {
        return Err(KvError::NodeExists { path: actual }.into());
    }
    if c.kind == NodeKind::Ephemeral {
        let Some(lease) = cx.tree.lease(c.lease_id)? else {
            return Err(KvError::LeaseNotFound {
                lease_id: c.lease_id,
            }
            .into());
        };
        cx.require_lease_owner(&lease)?;
    }
    let lease_id = if c.kind == NodeKind::Ephemeral {
        c.lease_id
    } else {
        0
    };
    let ttl_ms = if c.kind == NodeKind::Ttl { c.ttl_ms } else { 0 };
    let rec = new_record(cx, c.data.clone(), c.kind, lease_id, ttl_ms);
    let stat = rec.stat;
    link_child(cx, &actual, rec, acl)?;
    match c.kind {
        NodeKind::Ephemeral => cx.tree.set_lease_node(lease_id, &actual, true),
        NodeKind::Ttl => cx.tree.set_reap(&actual, Some(ReapKind::Ttl)),
        NodeKind::Container => cx.tree.set_reap(&actual, Some(ReapKind::Container)),
        NodeKind::Persistent => {}
    }
    Ok(OpOutput::Create { path: actual, stat })
}

/// A fresh record created at this command's revision and time.
pub(super) fn new_record<B: Backing + ?Sized>(
    cx: &Cx<'_, '_, B>,
    data: Vec<u8>,
    kind: NodeKind,
    lease_id: i64,
    ttl_ms: i64,
) -> NodeRecord {
    NodeRecord {
        stat: Stat {
            create_revision: cx.rev,
            mod_revision: cx.rev,
            version: 0,
            children_version: 0,
            acl_version: 0,
            children_revision: cx.rev,
            lease_id,
            data_length: data.len() as i64,
            num_children: 0,
            ctime_ms: cx.now_ms,
            mtime_ms: cx.now_ms,
            kind,
            ttl_ms,
        },
        data,
    }
}

/// Stores a new znode and records the change in its (existing) parent's stat. Every way
/// of creating a znode comes through here, so this is where the caller's create
/// permission on the parent is checked and where the new znode gets its ACL: `acl`, or
/// else a copy of the parent's.
pub(super) fn link_child<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    node_path: &str,
    rec: NodeRecord,
    acl: Option<&Acl>,
) -> Result<(), ApplyError> {
    let parent_path = path::parent(node_path)
        .ok_or_else(|| KvError::Invalid("the root znode \"/\" always exists".into()))?;
    cx.require(parent_path, Perms::CREATE)?;
    let mut parent = cx
        .tree
        .node(parent_path)?
        .ok_or_else(|| KvError::ParentNotFound {
            path: node_path.to_string(),
            parent: parent_path.to_string(),
        })?;
    // Every way of creating a znode (create, put with create_if_missing, parents)
    // comes through here, so this is where "ephemerals have no children" holds.
    if parent.stat.kind == NodeKind::Ephemeral {
        return Err(KvError::EphemeralParent {
            path: node_path.to_string(),
            parent: parent_path.to_string(),
        }
        .into());
    }
    parent.stat.children_version += 1;
    parent.stat.num_children += 1;
    parent.stat.children_revision = cx.rev;
    let acl = match acl {
        Some(acl) => Some(acl.clone()),
        None => cx.tree.acl(parent_path)?,
    };
    cx.tree.update_node(parent_path, parent);
    if acl.is_some() {
        cx.tree.set_acl(node_path, acl.clone());
    }
    cx.tree.emit(Event {
        revision: cx.rev,
        kind: EventKind::Created,
        path: node_path.to_string(),
        node: rec.clone(),
        prev: None,
        ts_ms: cx.now_ms,
        acl,
    });
    cx.tree.insert_node(node_path, rec);
    cx.wrote = true;
    Ok(())
}
