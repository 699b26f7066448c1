//! Put: set a znode's data, optionally compare-and-set on its version.

use super::create::{link_child, new_record};
use super::{check_version, ApplyError, Cx};
use crate::acl::Perms;
use crate::store::command::{KvError, OpOutput, PutCmd};
use crate::store::overlay::Backing;
use crate::znode::{Event, EventKind, Node, NodeKind};

pub(crate) fn put<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &PutCmd,
) -> Result<OpOutput, ApplyError> {
    let Some(mut rec) = cx.tree.node(&c.path)? else {
        if c.create_if_missing && c.expected_version.is_none() {
            let rec = new_record(cx, c.data.clone(), NodeKind::Persistent, 0, 0);
            let stat = rec.stat;
            link_child(cx, &c.path, rec, None)?;
            return Ok(OpOutput::Put { stat, prev: None });
        }
        return Err(KvError::NodeNotFound {
            path: c.path.clone(),
        }
        .into());
    };
    // Before the version check: a mismatch would tell the current version.
    cx.require(&c.path, Perms::WRITE)?;
    if c.prev_node {
        cx.require(&c.path, Perms::READ)?;
    }
    check_version(&c.path, c.expected_version, rec.stat.version)?;
    let before = rec.clone();
    let prev = c.prev_node.then(|| Node {
        path: c.path.clone(),
        record: rec.clone(),
    });
    rec.data = c.data.clone();
    rec.stat.data_length = rec.data.len() as i64;
    rec.stat.version += 1;
    rec.stat.mod_revision = cx.rev;
    rec.stat.mtime_ms = cx.now_ms;
    let stat = rec.stat;
    cx.tree.emit(Event {
        revision: cx.rev,
        kind: EventKind::Updated,
        path: c.path.clone(),
        node: rec.clone(),
        prev: Some(before),
        ts_ms: cx.now_ms,
        acl: cx.tree.acl(&c.path)?,
    });
    cx.tree.update_node(&c.path, rec);
    cx.wrote = true;
    Ok(OpOutput::Put { stat, prev })
}
