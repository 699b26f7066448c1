//! The Raft half of `corral restore` (the command itself is `crate::restore_cmd`): turns
//! a backup (the state dump that `Maintenance/Snapshot` streams) into the database and
//! snapshot of one member of a new cluster.
//!
//! The restored state machine keeps everything the backup holds — znodes, leases,
//! sessions, the event history and the revision counter — and gets a new membership
//! (the `--initial-cluster` of the new cluster) as if applied at [`RESTORED_AT`]. The
//! Raft log is empty: on start openraft sees that the state machine is ahead of the log
//! and purges the log up to it, so the member counts as initialized, does not bootstrap
//! a cluster of its own, and elects a leader with the other restored members. A
//! snapshot at the same position is written too, so a member that starts without the
//! restore is sent the restored state instead of the log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, CommittedLeaderId, LogId, Membership, RaftSnapshotBuilder, StoredMembership,
};

use super::applied_meta;
use super::state_machine::StateMachine;
use crate::store::db::Db;
use crate::store::overlay::Backing;
use crate::store::StoreError;
use crate::watch::Hub;

/// Where the restored state sits in the new cluster's log: index 1 of term 0, just after
/// the membership entry (index 0) that a member bootstrapping an empty cluster writes.
/// A member started empty by mistake therefore never has a different entry at the same
/// position: it is behind, and is sent the restored snapshot.
pub const RESTORED_AT: LogId<u64> = LogId {
    leader_id: CommittedLeaderId {
        term: 0,
        node_id: 0,
    },
    index: 1,
};

/// What a restore produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The revision the backup was taken at; the new cluster's next write gets the next.
    pub revision: i64,
    /// The new cluster's id, derived from its members as at any bootstrap.
    pub cluster_id: u64,
}

/// Writes `backup` into `db` (a new, empty database) as the state of a member of the
/// cluster `members` (id → peer address), and its snapshot under `snapshot_dir`.
pub async fn restore(
    db: Arc<Db>,
    snapshot_dir: &Path,
    backup: &[u8],
    members: &BTreeMap<u64, String>,
) -> Result<Restored, StoreError> {
    let voters: BTreeSet<u64> = members.keys().copied().collect();
    let nodes: BTreeMap<u64, BasicNode> = members
        .iter()
        .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
        .collect();
    let membership = Membership::new(vec![voters], nodes);
    let cluster_id = applied_meta::derive_cluster_id(&membership);
    let stored = StoredMembership::new(Some(RESTORED_AT), membership);
    let meta = applied_meta::applied_meta_values(Some(RESTORED_AT), &stored, cluster_id)?;
    let meta: Vec<(&str, Vec<u8>)> = meta.iter().map(|(k, v)| (*k, v.clone())).collect();
    db.import_state(backup, &meta)?;

    let revision = Backing::revision(&db.reader())?;
    let hub = Arc::new(Hub::new(db.clone(), revision, 1));
    let mut sm = StateMachine::new(db.clone(), snapshot_dir.to_path_buf(), hub)?;
    let mut builder = sm.get_snapshot_builder().await;
    builder
        .build_snapshot()
        .await
        .map_err(|e| StoreError::Corrupt(format!("cannot write the restored snapshot: {e}")))?;
    Ok(Restored {
        revision,
        cluster_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::snapshot_store::SnapshotStore;
    use crate::store::db::Sync;

    fn members() -> BTreeMap<u64, String> {
        BTreeMap::from([
            (1, "127.0.0.1:1".to_string()),
            (2, "127.0.0.1:2".to_string()),
        ])
    }

    #[tokio::test]
    async fn a_backup_that_is_not_one_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Arc::new(Db::open(&dir.path().join("db"), Sync::Never).expect("open"));
        let before = Backing::revision(&db.reader()).expect("revision");
        let err = restore(
            db.clone(),
            &dir.path().join("snap"),
            b"not a backup",
            &members(),
        )
        .await
        .expect_err("garbage is not a backup");
        assert!(!err.to_string().is_empty());
        assert_eq!(Backing::revision(&db.reader()).expect("revision"), before);
        assert!(applied_meta::cluster_id(&db).expect("meta").is_none());
    }

    #[tokio::test]
    async fn a_restored_state_keeps_the_revision_and_gets_the_new_membership() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = Db::open(&dir.path().join("source"), Sync::Never).expect("open");
        let (backup, _) = source.export_state(&[]).expect("export");
        let db = Arc::new(Db::open(&dir.path().join("db"), Sync::Never).expect("open"));
        let restored = restore(db.clone(), &dir.path().join("snap"), &backup, &members())
            .await
            .expect("restore");
        assert_eq!(restored.revision, 0);
        assert_eq!(
            applied_meta::cluster_id(&db).expect("meta"),
            Some(restored.cluster_id)
        );
        let (meta, data) = SnapshotStore::open(dir.path().join("snap"))
            .expect("open")
            .load()
            .expect("load")
            .expect("a snapshot was taken");
        assert!(!data.is_empty());
        assert_eq!(meta.last_log_id, Some(RESTORED_AT));
        let ids: Vec<u64> = meta.last_membership.membership().voter_ids().collect();
        assert_eq!(ids, vec![1, 2]);
    }
}
