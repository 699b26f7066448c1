//! This member's view of the cluster, for `Cluster/Status` and the metrics endpoint.

use super::RaftNode;
use crate::raft::log_store;
use crate::store::StoreError;

/// This member's view of the cluster.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    /// This member.
    pub member_id: u64,
    /// Leader it follows, 0 if none.
    pub leader_id: u64,
    /// Current term.
    pub term: u64,
    /// Last committed index known here.
    pub commit_index: u64,
    /// Last applied index.
    pub applied_index: u64,
    /// Last log index.
    pub last_log_index: u64,
    /// Revision after the last applied write.
    pub revision: i64,
    /// Approximate database size in bytes.
    pub db_size_bytes: u64,
    /// Whether this member is a learner.
    pub is_learner: bool,
    /// Last log index covered by this member's latest snapshot.
    pub snapshot_index: u64,
    /// Snapshots received from a leader and installed since this process started.
    pub snapshot_installs: u64,
}

impl RaftNode {
    /// This member's status; fails if the commit index cannot be read from storage.
    pub fn status(&self) -> Result<NodeStatus, StoreError> {
        let m = self.link.raft.metrics().borrow().clone();
        let is_learner = !m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == self.link.id);
        Ok(NodeStatus {
            member_id: self.link.id,
            leader_id: m.current_leader.unwrap_or(0),
            term: m.current_term,
            commit_index: log_store::committed_index(&self.db)?,
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            last_log_index: m.last_log_index.unwrap_or(0),
            revision: self.applied_revision(),
            db_size_bytes: self.db.size_bytes(),
            is_learner,
            snapshot_index: m.snapshot.map(|l| l.index).unwrap_or(0),
            snapshot_installs: self
                .snapshot_installs
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }
}
