//! The keeper task. It runs on every member but acts only while this member leads.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::raft::RaftNode;
use crate::store::command::{Command, Output};
use crate::store::overlay::ReapKind;

/// How often the keeper does each job.
#[derive(Debug, Clone)]
pub struct KeeperConfig {
    /// Granularity of lease expiry.
    pub tick: Duration,
    /// How often leases' remaining times are committed.
    pub checkpoint_every: Duration,
    /// How often TTL and container znodes are checked.
    pub reap_every: Duration,
    /// How often history retention is enforced.
    pub retention_every: Duration,
    /// Keep at most this many revisions of history.
    pub retain_revisions: i64,
    /// Keep history at most this old.
    pub retain_age: Duration,
    /// Forget a client's request results after this long without requests.
    pub request_id_window: Duration,
    /// How often idle clients' request results are forgotten.
    pub sessions_every: Duration,
}

impl Default for KeeperConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(100),
            checkpoint_every: Duration::from_secs(5),
            reap_every: Duration::from_millis(500),
            retention_every: Duration::from_secs(5),
            retain_revisions: 100_000,
            retain_age: Duration::from_secs(3600),
            request_id_window: Duration::from_secs(600),
            sessions_every: Duration::from_secs(60),
        }
    }
}

/// How often the leader re-reads the stored leases to start timing new ones and forget
/// revoked ones (a grant also starts its clock at once through a keepalive).
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Reaps proposed at once: the proposer batches them into few log entries.
const REAP_BATCH: usize = 256;

/// Runs until the process ends: the lease clock on one task, and the housekeeping
/// (reaping TTL and container znodes, forgetting idle clients, compacting history) on
/// another, so many due TTL znodes never delay a lease's expiry.
pub async fn run(node: Arc<RaftNode>, cfg: KeeperConfig) {
    let housekeeping = tokio::spawn(housekeeping(node.clone(), cfg.clone()));
    leases(node, cfg).await;
    housekeeping.abort();
}

/// Every stored lease, read off the async workers (there may be 100k of them).
async fn stored_leases(node: &Arc<RaftNode>) -> Option<Vec<crate::store::lease::LeaseRecord>> {
    let db = node.db().clone();
    match tokio::task::spawn_blocking(move || db.leases()).await {
        Ok(Ok(l)) => Some(l),
        Ok(Err(e)) => {
            tracing::error!("keeper: reading leases: {e}");
            None
        }
        Err(e) => {
            tracing::error!("keeper: lease reading task failed: {e}");
            None
        }
    }
}

/// The lease clock: expiry every tick, from memory; the stored set re-read every
/// [`SYNC_EVERY`]; remaining times committed every `checkpoint_every`.
async fn leases(node: Arc<RaftNode>, cfg: KeeperConfig) {
    let mut leading = false;
    let mut last_checkpoint = Instant::now();
    let mut last_sync = Instant::now();
    loop {
        tokio::time::sleep(cfg.tick).await;
        if !node.is_leader() {
            if leading {
                node.lease_clock().clear();
                leading = false;
            }
            continue;
        }
        if !leading {
            let Some(stored) = stored_leases(&node).await else {
                continue;
            };
            node.lease_clock()
                .take_over(&stored, node.election_timeout_max());
            leading = true;
            last_checkpoint = Instant::now();
            last_sync = Instant::now();
        } else if last_sync.elapsed() >= SYNC_EVERY {
            last_sync = Instant::now();
            if let Some(stored) = stored_leases(&node).await {
                node.lease_clock().sync(&stored);
            }
        }
        expire_leases(&node).await;
        if last_checkpoint.elapsed() >= cfg.checkpoint_every {
            last_checkpoint = Instant::now();
            let remaining = node.lease_clock().snapshot();
            if !remaining.is_empty() {
                propose(&node, Command::LeaseCheckpoint { remaining }).await;
            }
        }
    }
}

/// Reaping, idle clients and history retention, each at its own interval, while
/// this member leads.
async fn housekeeping(node: Arc<RaftNode>, cfg: KeeperConfig) {
    let mut last_reap = Instant::now();
    let mut last_retention = Instant::now();
    let mut last_sessions = Instant::now();
    loop {
        tokio::time::sleep(cfg.tick).await;
        if !node.is_leader() {
            continue;
        }
        if last_reap.elapsed() >= cfg.reap_every {
            reap(&node).await;
            last_reap = Instant::now();
        }
        if last_sessions.elapsed() >= cfg.sessions_every {
            last_sessions = Instant::now();
            let before_ms = now_ms() - cfg.request_id_window.as_millis() as i64;
            propose(&node, Command::ExpireSessions { before_ms }).await;
        }
        if last_retention.elapsed() >= cfg.retention_every {
            last_retention = Instant::now();
            enforce_retention(&node, &cfg).await;
        }
    }
}

async fn propose(node: &RaftNode, cmd: Command) -> Option<Output> {
    match node.propose(cmd).await {
        Ok(r) => r.result.ok(),
        Err(e) => {
            tracing::debug!("keeper: proposal not committed: {e}");
            None
        }
    }
}

async fn expire_leases(node: &RaftNode) {
    let expired = node.lease_clock().expired();
    if expired.is_empty() {
        return;
    }
    let proposals = expired.iter().map(|id| {
        tracing::info!(lease = id, "lease expired; revoking");
        propose(node, Command::LeaseRevoke { id: *id })
    });
    futures::future::join_all(proposals).await;
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Proposes a reap of every TTL znode past its TTL and every emptied container. The
/// index is read and checked off the async workers, and the reaps are proposed many at
/// a time (not one commit after another).
async fn reap(node: &Arc<RaftNode>) {
    let db = node.db().clone();
    let now = now_ms();
    let due =
        tokio::task::spawn_blocking(move || -> Result<Vec<Command>, crate::store::StoreError> {
            let mut due = Vec::new();
            let reader = db.reader();
            for (path, kind) in db.reap_candidates()? {
                let Some(rec) = crate::store::overlay::Backing::node(&reader, &path)? else {
                    continue;
                };
                let is_due = match kind {
                    ReapKind::Ttl => {
                        rec.stat.num_children == 0
                            && now.saturating_sub(rec.stat.mtime_ms) >= rec.stat.ttl_ms
                    }
                    ReapKind::Container => {
                        rec.stat.num_children == 0 && rec.stat.children_version > 0
                    }
                };
                if is_due {
                    // Apply re-checks these conditions, so a late or stale reap deletes nothing.
                    due.push(Command::Reap {
                        path,
                        mod_revision: rec.stat.mod_revision,
                    });
                }
            }
            Ok(due)
        })
        .await;
    let due = match due {
        Ok(Ok(due)) => due,
        Ok(Err(e)) => {
            tracing::error!("keeper: reading the reap index: {e}");
            return;
        }
        Err(e) => {
            tracing::error!("keeper: reap scan task failed: {e}");
            return;
        }
    };
    let mut due = due.into_iter().peekable();
    while due.peek().is_some() {
        let batch: Vec<Command> = due.by_ref().take(REAP_BATCH).collect();
        futures::future::join_all(batch.into_iter().map(|cmd| propose(node, cmd))).await;
        if !node.is_leader() {
            return;
        }
    }
}

async fn enforce_retention(node: &RaftNode, cfg: &KeeperConfig) {
    let applied = node.applied_revision();
    let by_count = applied - cfg.retain_revisions;
    let cutoff = now_ms() - cfg.retain_age.as_millis() as i64;
    let by_age = match node.db().first_revision_since(cutoff) {
        Ok(Some(rev)) => rev - 1,
        Ok(None) => applied,
        Err(e) => {
            tracing::error!("keeper: reading history: {e}");
            return;
        }
    };
    let target = by_count.max(by_age).min(applied);
    let compacted = node.db().compact_revision().unwrap_or(0);
    if target > compacted {
        propose(node, Command::Compact { revision: target }).await;
    }
}
