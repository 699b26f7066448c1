//! Reads: a linearizable read waits for a ReadIndex round (batched across concurrent
//! readers by the read barrier), then reads one RocksDB snapshot of the local state; a
//! serializable read only does the second part. The revision a read reports comes from
//! the same snapshot as its data.

use crate::raft::error::RaftNodeError;
use crate::raft::forward_wire::{ForwardRequest, ForwardResponse};
use crate::raft::leader_link::{map_check_error, LeaderLink};
use crate::raft::retry::{self, Repeat};
use crate::store::db::DbReader;
use crate::store::overlay::Overlay;
use crate::store::StoreError;

use super::RaftNode;

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Sees every write acknowledged before the read started, on any member.
    Linearizable,
    /// This member's applied state as it is: may lag the leader, never goes back.
    Serializable,
}

/// The local state a read sees: one consistent snapshot.
pub type ReadView<'a> = Overlay<'a, DbReader<'a>>;

impl RaftNode {
    /// Reads local state with `consistency`: `f` gets one consistent snapshot of it, and
    /// the result comes with that snapshot's revision (for the response header). `f`
    /// runs on the calling task, so it must be quick; see [`RaftNode::read_scan`].
    pub async fn read<T, E, F>(&self, consistency: Consistency, f: F) -> Result<(T, i64), E>
    where
        F: FnOnce(&ReadView<'_>) -> Result<T, E>,
        E: From<RaftNodeError> + From<StoreError>,
    {
        if consistency == Consistency::Linearizable {
            self.read_barrier().await?;
        }
        snapshot_read(&self.db, f)
    }

    /// As [`RaftNode::read`], with `f` on a blocking thread: for scans that may be long
    /// (a large list page) and must not hold up an async worker.
    pub async fn read_scan<T, E, F>(&self, consistency: Consistency, f: F) -> Result<(T, i64), E>
    where
        F: FnOnce(&ReadView<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<RaftNodeError> + From<StoreError> + Send + 'static,
    {
        if consistency == Consistency::Linearizable {
            self.read_barrier().await?;
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || snapshot_read(&db, f))
            .await
            .map_err(|e| E::from(RaftNodeError::Stopped(format!("read task failed: {e}"))))?
    }

    /// Waits until a read of local state is linearizable (ReadIndex, batched).
    pub async fn read_barrier(&self) -> Result<(), RaftNodeError> {
        self.reads.wait().await
    }
}

fn snapshot_read<T, E, F>(db: &crate::store::db::Db, f: F) -> Result<(T, i64), E>
where
    F: FnOnce(&ReadView<'_>) -> Result<T, E>,
    E: From<StoreError>,
{
    let reader = db.reader();
    let tree = Overlay::new(&reader);
    let revision = tree.revision()?;
    let value = f(&tree)?;
    Ok((value, revision))
}

/// One linearizable-read round: the read index from the leader (confirmed with a
/// quorum), then waiting for this member to apply up to it. Reads change nothing, so
/// any failure short of a final one is retried until the leader wait runs out.
pub(in crate::raft) async fn read_round(link: &LeaderLink) -> Result<(), RaftNodeError> {
    let deadline = link.deadline();
    let index = retry::on_leader(link, Repeat::Harmless, deadline, |leader| async move {
        if leader.id == link.id {
            let (read_log_id, _) = link
                .raft
                .get_read_log_id()
                .await
                .map_err(|e| map_check_error(e, &link.client_addrs))?;
            return Ok(read_log_id.map(|l| l.index).unwrap_or(0));
        }
        match link.forward(&leader, ForwardRequest::ReadIndex).await? {
            ForwardResponse::ReadIndex(index) => Ok(index),
            other => Err(RaftNodeError::Stopped(format!(
                "unexpected reply {other:?}"
            ))),
        }
    })
    .await?;
    let remaining = deadline.saturating_duration_since(std::time::Instant::now());
    link.raft
        .wait(Some(remaining))
        .applied_index_at_least(Some(index), "linearizable read")
        .await
        .map(|_| ())
        .map_err(|e| {
            RaftNodeError::Unavailable(format!(
                "this member did not apply up to index {index} in time: {e}"
            ))
        })
}
