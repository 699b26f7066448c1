//! Delete: one znode, or a whole subtree with `recursive`.

use super::{ApplyError, Cx};
use crate::store::command::{DeleteCmd, KvError, OpOutput};
use crate::store::overlay::Backing;
use crate::store::path;

pub(crate) fn delete<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &DeleteCmd,
) -> Result<OpOutput, ApplyError> {
    let parent_path = path::parent(&c.path)
        .ok_or_else(|| KvError::Invalid("the root znode \"/\" cannot be deleted".into()))?;
    let rec = cx
        .tree
        .node(&c.path)?
        .ok_or_else(|| KvError::NodeNotFound {
            path: c.path.clone(),
        })?;
    if let Some(expected) = c.expected_version {
        if expected != rec.stat.version {
            return Err(KvError::VersionMismatch {
                path: c.path.clone(),
                expected,
                current: rec.stat.version,
            }
            .into());
        }
    }
    if rec.stat.num_children > 0 && !c.recursive {
        return Err(KvError::NotEmpty {
            path: c.path.clone(),
            num_children: rec.stat.num_children,
        }
        .into());
    }
    let mut deleted = 1;
    if rec.stat.num_children > 0 {
        let descendants = cx
            .tree
            .scan_nodes(&path::descendant_prefix(&c.path), "", usize::MAX)?;
        for (p, _) in descendants {
            cx.tree.remove_node(&p);
            deleted += 1;
        }
    }
    cx.tree.remove_node(&c.path);
    let mut parent = cx
        .tree
        .node(parent_path)?
        .ok_or_else(|| KvError::NodeNotFound {
            path: parent_path.to_string(),
        })?;
    parent.stat.children_version += 1;
    parent.stat.num_children -= 1;
    parent.stat.children_revision = cx.rev;
    cx.tree.update_node(parent_path, parent);
    cx.wrote = true;
    Ok(OpOutput::Delete { deleted })
}
