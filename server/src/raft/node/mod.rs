//! One Corral member's Raft node: openraft plus the proposer, the forward batcher and
//! the read barrier, started from configuration and bootstrapped from the static
//! initial member list. This file holds the handle and its start; each other job is in
//! a file of its own: `write` (proposals), `read` (linearizable and serializable reads),
//! `leases` (lease calls answered by the leader's clock), `membership` (membership
//! changes and leadership transfer), `forwarded` (answering other members' forwarded
//! requests) and `status`.
//!
//! Any member accepts any request: when this member is not the leader, writes, read
//! index requests and membership changes are forwarded to the leader over the peer
//! protocol, so clients need no leader logic.

mod forwarded;
mod leases;
mod membership;
mod read;
mod status;
#[cfg(test)]
pub(crate) mod tests;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openraft::{BasicNode, Raft, SnapshotPolicy};
use tokio::sync::watch;

use super::forward_batcher::ForwardBatcher;
use super::leader_link::LeaderLink;
use super::lease_clock::LeaseClock;
use super::log_store::LogStore;
use super::network::PeerNetwork;
use super::peer_wire::ClientAddrs;
use super::proposer::Proposer;
use super::read_barrier::ReadBarrier;
use super::state_machine::StateMachine;
use super::types::TypeConfig;
use crate::store::db::SharedDb;
use crate::store::StoreError;
use crate::watch::Hub;

pub use membership::MemberInfo;
pub use read::{Consistency, ReadView};
pub use status::NodeStatus;

/// What the Raft node needs from the configuration.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    /// This member's id.
    pub node_id: u64,
    /// Initial members: id → peer address.
    pub initial_members: BTreeMap<u64, String>,
    /// Join an existing cluster (wait to be added) instead of bootstrapping one.
    pub join: bool,
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
    /// Applied batches kept in memory for live watchers (older ones replay from history).
    pub watch_ring_batches: usize,
    /// Addresses to dial for some members instead of the membership's (`--peer-routes`).
    pub peer_routes: BTreeMap<u64, String>,
    /// Largest snapshot accepted from a leader, in bytes.
    pub max_snapshot_bytes: u64,
    /// The address this member serves clients on, as other members should tell clients
    /// (`None` if it has none to advertise, e.g. it listens on 0.0.0.0).
    pub client_addr: Option<String>,
    /// Mutual TLS for every connection to another member (`--peer-tls-*`); `None`:
    /// plaintext.
    pub peer_tls: Option<Arc<crate::tls::PeerTls>>,
}

/// A running Raft member.
pub struct RaftNode {
    link: Arc<LeaderLink>,
    db: SharedDb,
    proposer: Proposer,
    forwarder: ForwardBatcher,
    reads: ReadBarrier,
    revision: watch::Receiver<i64>,
    /// Shared with the state machine, which sets it (see `StateMachine::cluster_id_cell`).
    cluster_id: Arc<OnceLock<u64>>,
    snapshot_installs: Arc<std::sync::atomic::AtomicU64>,
    hub: Arc<Hub>,
    leases: LeaseClock,
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
    /// Opens storage, starts openraft and, on a pristine member that is not joining,
    /// bootstraps the cluster from the initial member list (every initial member does
    /// the same with the same list, which openraft allows).
    pub async fn start(settings: RaftSettings, db: SharedDb) -> Result<Arc<Self>, StartError> {
        let config = openraft::Config {
            cluster_name: "corral".into(),
            heartbeat_interval: settings.heartbeat_interval.as_millis() as u64,
            election_timeout_min: settings.election_timeout_min.as_millis() as u64,
            election_timeout_max: settings.election_timeout_max.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_logs_since_last),
            max_in_snapshot_log_to_keep: settings.logs_to_keep,
            // Chunks stay well under the peer message cap.
            snapshot_max_chunk_size: 2 << 20,
            // Covers sending a chunk and, for the last one, installing the whole snapshot
            // on the receiver; openraft's 200 ms default restarts large transfers forever.
            install_snapshot_timeout: 30_000,
            // With batches of up to MAX_BATCH_BYTES per entry this bounds an AppendEntries
            // message well under the peer message cap.
            max_payload_entries: 16,
            ..Default::default()
        }
        .validate()?;
        let log_store = LogStore::new(db.clone()).map_err(StoreError::from)?;
        let applied = {
            let reader = db.reader();
            crate::store::overlay::Backing::revision(&reader)?
        };
        let hub = Arc::new(Hub::new(db.clone(), applied, settings.watch_ring_batches));
        let sm = StateMachine::new(db.clone(), settings.snapshot_dir.clone(), hub.clone())?
            .with_max_snapshot_bytes(settings.max_snapshot_bytes);
        let revision = sm.revision_watch();
        let snapshot_installs = sm.install_counter();
        let cluster_id = sm.cluster_id_cell();
        let client_addrs = ClientAddrs::new(settings.node_id, settings.client_addr.clone());
        let network = PeerNetwork::new(
            settings.peer_routes.clone(),
            client_addrs.clone(),
            settings.peer_tls.clone(),
        );
        let raft = Raft::new(
            settings.node_id,
            Arc::new(config),
            network.clone(),
            log_store,
            sm,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        if !initialized && !settings.join {
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
        let link = Arc::new(LeaderLink {
            id: settings.node_id,
            raft: raft.clone(),
            network,
            client_addrs,
            // Long enough for an election after a leader failure, with room to spare.
            leader_wait: settings.election_timeout_max * 3 + Duration::from_secs(1),
            election_timeout_max: settings.election_timeout_max,
        });
        let proposer = Proposer::spawn(raft.clone(), settings.max_batch);
        let forwarder = ForwardBatcher::spawn(link.clone(), settings.max_batch);
        let reads = {
            let link = link.clone();
            ReadBarrier::spawn(move || {
                let link = link.clone();
                async move { read::read_round(&link).await }
            })
        };
        Ok(Arc::new(Self {
            link,
            db,
            proposer,
            forwarder,
            reads,
            revision,
            cluster_id,
            snapshot_installs,
            hub,
            leases: LeaseClock::default(),
        }))
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.link.id
    }

    /// The cluster's id, derived from the bootstrap membership by apply (0 until the
    /// first membership entry is applied here). Read from storage once, at start (an
    /// unreadable one fails the start), then kept up to date by the state machine.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id.get().copied().unwrap_or(0)
    }

    /// The current Raft term as this member knows it.
    pub fn term(&self) -> u64 {
        self.link.raft.metrics().borrow().current_term
    }

    /// The leader this member currently follows, if any.
    pub fn leader(&self) -> Option<u64> {
        self.link.raft.metrics().borrow().current_leader
    }

    /// The local store, for reads.
    pub fn db(&self) -> &SharedDb {
        &self.db
    }

    /// The watch hub fed by this member's state machine.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Whether this member is the leader right now.
    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.link.id)
    }

    /// The openraft handle.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.link.raft
    }

    /// Revision after the last applied batch.
    pub fn applied_revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// The leader's lease deadlines (empty on followers).
    pub fn lease_clock(&self) -> &LeaseClock {
        &self.leases
    }

    /// Longest election timeout: the grace a new leader gives every lease.
    pub fn election_timeout_max(&self) -> Duration {
        self.link.election_timeout_max
    }

    /// Members' client addresses as this member knows them.
    pub(in crate::raft) fn client_addrs(&self) -> &ClientAddrs {
        &self.link.client_addrs
    }

    /// Stops openraft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.link.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}
