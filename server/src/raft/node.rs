//! One Corral member's Raft node: openraft plus the proposer and read barrier, started
//! from configuration and bootstrapped from the static initial member list.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Raft, SnapshotPolicy};
use tokio::sync::watch;

use super::log_store::LogStore;
use super::network::PeerNetwork;
use super::proposer::Proposer;
use super::read_barrier::ReadBarrier;
use super::state_machine::StateMachine;
use super::{RaftNodeError, TypeConfig};
use crate::store::command::{Command, CommandResult};
use crate::store::db::SharedDb;
use crate::store::StoreError;

/// What the Raft node needs from the configuration.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    /// This member's id.
    pub node_id: u64,
    /// Initial members: id → peer address.
    pub initial_members: BTreeMap<u64, String>,
    /// Leader heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Election timeout range.
    pub election_timeout_min: Duration,
    /// Election timeout range.
    pub election_timeout_max: Duration,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Log entries kept behind the latest snapshot (for followers that lag a little).
    pub logs_to_keep: u64,
    /// Most client commands in one log entry.
    pub max_batch: usize,
    /// Where snapshot files live.
    pub snapshot_dir: PathBuf,
}

/// A running Raft member.
pub struct RaftNode {
    id: u64,
    cluster_id: u64,
    raft: Raft<TypeConfig>,
    db: SharedDb,
    proposer: Proposer,
    reads: ReadBarrier,
    revision: watch::Receiver<i64>,
}

/// Errors starting the node.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad Raft configuration.
    #[error("raft configuration: {0}")]
    Config(#[from] openraft::ConfigError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// openraft failed to start.
    #[error("raft start: {0}")]
    Raft(String),
}

impl RaftNode {
    /// Opens storage, starts openraft and, on a pristine member, bootstraps the cluster
    /// from the initial member list (every initial member does the same with the same
    /// list, which openraft allows).
    pub async fn start(settings: RaftSettings, db: SharedDb) -> Result<Arc<Self>, StartError> {
        let config = openraft::Config {
            cluster_name: "corral".into(),
            heartbeat_interval: settings.heartbeat_interval.as_millis() as u64,
            election_timeout_min: settings.election_timeout_min.as_millis() as u64,
            election_timeout_max: settings.election_timeout_max.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_logs_since_last),
            max_in_snapshot_log_to_keep: settings.logs_to_keep,
            // Chunks stay well under the 4 MiB gRPC default.
            snapshot_max_chunk_size: 2 << 20,
            ..Default::default()
        }
        .validate()?;
        let log_store = LogStore::new(db.clone());
        let sm = StateMachine::new(db.clone(), settings.snapshot_dir.clone())?;
        let revision = sm.revision_watch();
        let raft = Raft::new(
            settings.node_id,
            Arc::new(config),
            PeerNetwork::default(),
            log_store,
            sm,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

        let cluster_id = cluster_id(&db, &settings.initial_members)?;
        if !raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?
        {
            let members: BTreeMap<u64, BasicNode> = settings
                .initial_members
                .iter()
                .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
                .collect();
            if let Err(e) = raft.initialize(members).await {
                // NotAllowed means another initial member already formed the cluster.
                tracing::info!("initialize: {e}");
            }
        }
        let proposer = Proposer::spawn(raft.clone(), settings.max_batch);
        let reads = ReadBarrier::spawn(raft.clone());
        Ok(Arc::new(Self {
            id: settings.node_id,
            cluster_id,
            raft,
            db,
            proposer,
            reads,
            revision,
        }))
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The cluster's id (fixed when the cluster was first formed).
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// The current Raft term as this member knows it.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// The leader this member currently follows, if any.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// The local store, for reads.
    pub fn db(&self) -> &SharedDb {
        &self.db
    }

    /// The openraft handle (for the peer service and cluster operations).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// Revision after the last applied batch.
    pub fn applied_revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// Proposes a command and waits until it is committed by a quorum and applied here.
    pub async fn propose(&self, command: Command) -> Result<CommandResult, RaftNodeError> {
        self.proposer.propose(command).await
    }

    /// Waits until a read of local state is linearizable (ReadIndex, batched).
    pub async fn read_barrier(&self) -> Result<(), RaftNodeError> {
        self.reads.wait().await
    }

    /// Stops openraft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}

/// The cluster id is a hash of the initial member list, stored on first start so it
/// survives membership changes. FNV-1a: stable across builds and platforms.
fn cluster_id(db: &SharedDb, members: &BTreeMap<u64, String>) -> Result<u64, StoreError> {
    const KEY: &str = "cluster_id";
    if let Some(bytes) = db.raft_meta(KEY)? {
        let arr: [u8; 8] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("cluster_id is not 8 bytes".into()))?;
        return Ok(u64::from_be_bytes(arr));
    }
    let canonical = members
        .iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    db.set_raft_meta(KEY, &hash.to_be_bytes(), true)?;
    Ok(hash)
}
