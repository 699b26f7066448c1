//! Reap: the leader's cleanup of TTL znodes not modified for their TTL and of container
//! znodes whose last child is gone. The leader decides *when* from its clock; apply only
//! re-checks the conditions that make the delete still right, so a znode modified (or a
//! container refilled) after the leader looked is left alone.

use super::delete::remove_subtree;
use super::{ApplyError, Cx};
use crate::store::command::Output;
use crate::store::overlay::Backing;
use crate::znode::NodeKind;

pub(crate) fn reap<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    path: &str,
    mod_revision: i64,
) -> Result<Output, ApplyError> {
    let Some(rec) = cx.tree.node(path)? else {
        return Ok(Output::Deleted { deleted: 0 });
    };
    let due = match rec.stat.kind {
        // Like ZooKeeper, a TTL znode with children is kept.
        NodeKind::Ttl => rec.stat.mod_revision == mod_revision && rec.stat.num_children == 0,
        // A container that never had a child is not reaped.
        NodeKind::Container => rec.stat.num_children == 0 && rec.stat.children_version > 0,
        NodeKind::Persistent | NodeKind::Ephemeral => false,
    };
    if !due {
        return Ok(Output::Deleted { deleted: 0 });
    }
    let deleted = remove_subtree(cx, path, rec)?;
    Ok(Output::Deleted { deleted })
}
