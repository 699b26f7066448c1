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

/// Runs until the process ends.
pub async fn run(node: Arc<RaftNode>, cfg: KeeperConfig) {
    let mut leading = false;
    let mut last_checkpoint = Instant::now();
    let mut last_reap = Instant::now();
    let mut last_retention = Instant::now();
    let mut last_sessions = Instant::now();
    loop {
        tokio::time::sleep(cfg.tick).await;
        if !node.is_leader() {
            if leading {
                node.lease_clock().clear();
                leading = false;
            }
            continue;
        }
        let leases = match node.db().leases() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("keeper: reading leases: {e}");
                continue;
            }
        };
        if !leading {
            node.lease_clock()
                .take_over(&leases, node.election_timeout_max());
            leading = true;
            last_checkpoint = Instant::now();
        } else {
            node.lease_clock().sync(&leases);
        }
        expire_leases(&node).await;
        if last_checkpoint.elapsed() >= cfg.checkpoint_every && !leases.is_empty() {
            last_checkpoint = Instant::now();
            let remaining = node.lease_clock().snapshot();
            propose(&node, Command::LeaseCheckpoint { remaining }).await;
        }
        if last_reap.elapsed() >= cfg.reap_every {
            last_reap = Instant::now();
            reap(&node).await;
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

async fn reap(node: &RaftNode) {
    let candidates = match node.db().reap_candidates() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("keeper: reading the reap index: {e}");
            return;
        }
    };
    let now = now_ms();
    for (path, kind) in candidates {
        let reader = node.db().reader();
        let rec = match crate::store::overlay::Backing::node(&reader, &path) {
            Ok(Some(rec)) => rec,
            _ => continue,
        };
        drop(reader);
        let due = match kind {
            ReapKind::Ttl => {
                rec.stat.num_children == 0
                    && now.saturating_sub(rec.stat.mtime_ms) >= rec.stat.ttl_ms
            }
            ReapKind::Container => rec.stat.num_children == 0 && rec.stat.children_version > 0,
        };
        if due {
            // Apply re-checks these conditions, so a late or stale reap deletes nothing.
            propose(
                node,
                Command::Reap {
                    path,
                    mod_revision: rec.stat.mod_revision,
                },
            )
            .await;
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
