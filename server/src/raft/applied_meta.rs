//! The state machine's own metadata in `sm_meta`: the last applied log id, the
//! membership as of it and the cluster id. Apply writes them with every batch; the
//! snapshot store reads them to describe a checkpoint, `corral restore` writes them for
//! a new member. Kept apart from both so neither has to import the other.

use openraft::{BasicNode, LogId, Membership, StoredMembership};

use crate::store::db::Db;
use crate::store::StoreError;

/// Last applied log id and the membership as of it.
pub(super) type AppliedState = (Option<LogId<u64>>, StoredMembership<u64, BasicNode>);

pub(super) const KEY_LAST_APPLIED: &str = "last_applied";
pub(super) const KEY_MEMBERSHIP: &str = "membership";
pub(super) const KEY_CLUSTER_ID: &str = "cluster_id";

/// The cluster id, once the bootstrap membership has been applied here.
pub fn cluster_id(db: &Db) -> Result<Option<u64>, StoreError> {
    match db.sm_meta(KEY_CLUSTER_ID)? {
        Some(bytes) => Ok(Some(bincode::deserialize(&bytes)?)),
        None => Ok(None),
    }
}

/// A stable id for a cluster: FNV-1a over its first membership's `id=addr` list, so
/// every member (and every later joiner, via the log or a snapshot) derives the same one.
pub(super) fn derive_cluster_id(m: &Membership<u64, BasicNode>) -> u64 {
    let canonical = m
        .nodes()
        .map(|(id, n)| format!("{id}={}", n.addr))
        .collect::<Vec<_>>()
        .join(",");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The `sm_meta` values that record a state as applied up to `last_applied` with
/// `membership`, encoded as apply writes them (for `corral restore`).
pub(super) fn applied_meta_values(
    last_applied: Option<LogId<u64>>,
    membership: &StoredMembership<u64, BasicNode>,
    cluster_id: u64,
) -> Result<Vec<(&'static str, Vec<u8>)>, StoreError> {
    Ok(vec![
        (KEY_LAST_APPLIED, bincode::serialize(&last_applied)?),
        (KEY_MEMBERSHIP, bincode::serialize(membership)?),
        (KEY_CLUSTER_ID, bincode::serialize(&cluster_id)?),
    ])
}

/// The last applied log id and the membership as of it, as recorded in `db`.
pub(super) fn applied_state(db: &Db) -> Result<AppliedState, StoreError> {
    let last_applied = match db.sm_meta(KEY_LAST_APPLIED)? {
        Some(b) => bincode::deserialize(&b)?,
        None => None,
    };
    let membership = match db.sm_meta(KEY_MEMBERSHIP)? {
        Some(b) => bincode::deserialize(&b)?,
        None => StoredMembership::default(),
    };
    Ok((last_applied, membership))
}
