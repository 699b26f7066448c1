//! SetAcl: replace a znode's ACL, optionally compare-and-set on its `acl_version`.

use super::{ApplyError, Cx};
use crate::acl::Perms;
use crate::store::command::{KvError, Output, SetAclCmd};
use crate::store::overlay::Backing;

pub(crate) fn set_acl<B: Backing + ?Sized>(
    cx: &mut Cx<'_, '_, B>,
    c: &SetAclCmd,
) -> Result<Output, ApplyError> {
    let Some(mut rec) = cx.tree.node(&c.path)? else {
        return Err(KvError::NodeNotFound {
            path: c.path.clone(),
        }
        .into());
    };
    cx.require(&c.path, Perms::ADMIN)?;
    if let Some(expected) = c.expected_acl_version {
        if expected != rec.stat.acl_version {
            return Err(KvError::AclVersionMismatch {
                path: c.path.clone(),
                expected,
                current: rec.stat.acl_version,
            }
            .into());
        }
    }
    rec.stat.acl_version += 1;
    let stat = rec.stat;
    cx.tree.update_node(&c.path, rec);
    cx.tree.set_acl(&c.path, Some(c.acl.clone()));
    // A new acl_version is a change to the znode (a new revision), but not to its data
    // or children: no watch event, as in ZooKeeper.
    cx.wrote = true;
    Ok(Output::Stat(stat))
}
