//! One Corral member's Raft node: openraft plus the proposer and the read barrier,
//! started from configuration and bootstrapped from the static initial member list.
//!
//! Any member accepts any request: when this member is not the leader, writes, read
//! index requests and membership changes are forwarded to the leader over the peer
//! protocol, so clients need no leader logic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Raft, SnapshotPolicy};
use tokio::sync::watch;

use super::forward::{AdminOp, ForwardRequest, ForwardResponse, ForwardResult};
use super::forwarder::Forwarder;
use super::lease_clock::LeaseClock;
use super::log_store::{self, LogStore};
use super::network::{ForwardFailure, PeerNetwork};
use super::proposer::Proposer;
use super::read_barrier::ReadBarrier;
use super::state_machine::{self, StateMachine};
use super::{RaftNodeError, TypeConfig};
use crate::store::command::{Command, CommandResult};
use crate::store::db::SharedDb;
use crate::store::StoreError;
use crate::watch::Hub;

/// How long a forwarded request may take before the forwarding member gives up (it also
/// gives up as soon as another member becomes leader).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between attempts when the leader moved or is being elected.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// A learner this many entries behind the leader is not promoted.
const MAX_PROMOTE_LAG: u64 = 1000;

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
    pub peer_routes: std::collections::BTreeMap<u64, String>,
}

/// A member of the current configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Raft id.
    pub id: u64,
    /// Peer address.
    pub peer_addr: String,
    /// Learner (non-voting)?
    pub is_learner: bool,
}

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

/// The parts shared with background tasks (proposer, forwarder, read barrier).
pub(super) struct Core {
    id: u64,
    raft: Raft<TypeConfig>,
    network: PeerNetwork,
    /// How long a request waits for a leader to exist before failing UNAVAILABLE.
    leader_wait: Duration,
    election_timeout_max: Duration,
}

/// A running Raft member.
pub struct RaftNode {
    core: Arc<Core>,
    db: SharedDb,
    proposer: Proposer,
    forwarder: Forwarder,
    reads: ReadBarrier,
    revision: watch::Receiver<i64>,
    cluster_id: OnceLock<u64>,
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

/// What a forwarding attempt came to.
pub(super) enum Attempt<T> {
    Done(Result<T, RaftNodeError>),
    /// Certainly not carried out (no leader there, or never delivered): try again.
    Retry(String),
}

impl Core {
    fn leader_now(&self) -> Option<(u64, String)> {
        let m = self.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let addr = m
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
            .unwrap_or_default();
        Some((id, addr))
    }

    async fn wait_leader(&self, deadline: Instant) -> Result<(u64, String), RaftNodeError> {
        let mut rx = self.raft.metrics();
        loop {
            if let Some(l) = self.leader_now() {
                return Ok(l);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(RaftNodeError::Unavailable(format!(
                    "no leader within {:?}; a majority of members may be down or partitioned",
                    self.leader_wait
                )));
            }
            let _ = tokio::time::timeout(remaining, rx.changed()).await;
        }
    }

    /// Resolves once this member follows a leader other than `leader` (or none).
    async fn leader_moved(&self, leader: u64) {
        let mut rx = self.raft.metrics();
        loop {
            if rx.borrow_and_update().current_leader != Some(leader) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Sends `req` to `leader` and sorts out what its answer (or silence) means.
    pub(super) async fn forward(
        &self,
        leader: u64,
        addr: &str,
        req: ForwardRequest,
    ) -> Attempt<ForwardResponse> {
        // A frozen or partitioned leader never answers; for writes and read indexes,
        // stop waiting once this member sees another leader (or an election) rather
        // than at the full timeout. Membership operations (a leadership transfer moves
        // the leader on purpose) wait for their answer.
        let give_up_on_move = matches!(
            req,
            ForwardRequest::Propose(_)
                | ForwardRequest::ProposeBatch(_)
                | ForwardRequest::ReadIndex
        );
        let sent = tokio::select! {
            r = self.network.forward(leader, addr, &req, FORWARD_TIMEOUT) => r,
            _ = self.leader_moved(leader), if give_up_on_move => Err(ForwardFailure::Unknown(format!(
                "member {leader} stopped being the leader while it had the request"
            ))),
        };
        match sent {
            Ok(Ok(resp)) => Attempt::Done(Ok(resp)),
            Ok(Err(RaftNodeError::NotLeader { .. })) => {
                Attempt::Retry(format!("member {leader} is no longer the leader"))
            }
            Ok(Err(e)) => Attempt::Done(Err(e)),
            Err(ForwardFailure::NotDelivered(m)) => {
                Attempt::Retry(format!("leader {leader} at {addr} unreachable: {m}"))
            }
            Err(ForwardFailure::Unknown(m)) => Attempt::Done(Err(RaftNodeError::OutcomeUnknown(
                format!("lost contact with leader {leader} at {addr}: {m}"),
            ))),
        }
    }

    /// One linearizable-read round: ReadIndex from the leader, then wait for local apply.
    async fn read_round(&self) -> Result<(), RaftNodeError> {
        let deadline = Instant::now() + self.leader_wait;
        let mut last = String::new();
        loop {
            if Instant::now() >= deadline {
                return Err(RaftNodeError::Unavailable(format!(
                    "could not confirm a linearizable read point within {:?}: {last}",
                    self.leader_wait
                )));
            }
            let (leader, addr) = self.wait_leader(deadline).await?;
            let result: Result<(), RaftNodeError> = if leader == self.id {
                match self.raft.ensure_linearizable().await {
                    Ok(_) => return Ok(()),
                    Err(e) => Err(map_check_error(e)),
                }
            } else {
                match self.forward(leader, &addr, ForwardRequest::ReadIndex).await {
                    Attempt::Done(Ok(ForwardResponse::ReadIndex(index))) => {
                        let remaining = deadline.saturating_duration_since(Instant::now());
                        return self
                            .raft
                            .wait(Some(remaining))
                            .applied_index_at_least(Some(index), "linearizable read")
                            .await
                            .map(|_| ())
                            .map_err(|e| {
                                RaftNodeError::Unavailable(format!(
                                    "this member did not apply up to index {index} in time: {e}"
                                ))
                            });
                    }
                    Attempt::Done(Ok(other)) => {
                        return Err(RaftNodeError::Stopped(format!(
                            "unexpected reply {other:?}"
                        )))
                    }
                    Attempt::Done(Err(e)) => Err(e),
                    Attempt::Retry(m) => Err(RaftNodeError::Unavailable(m)),
                }
            };
            // Reads change nothing, so every failure before the deadline may be retried.
            if let Err(e) = result {
                last = e.to_string();
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
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
        let sm = StateMachine::new(db.clone(), settings.snapshot_dir.clone(), hub.clone())?;
        let revision = sm.revision_watch();
        let snapshot_installs = sm.install_counter();
        let network = PeerNetwork::new(settings.peer_routes.clone());
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
        let core = Arc::new(Core {
            id: settings.node_id,
            raft: raft.clone(),
            network,
            // Long enough for an election after a leader failure, with room to spare.
            leader_wait: settings.election_timeout_max * 3 + Duration::from_secs(1),
            election_timeout_max: settings.election_timeout_max,
        });
        let proposer = Proposer::spawn(raft.clone(), settings.max_batch);
        let forwarder = Forwarder::spawn(core.clone(), settings.max_batch);
        let reads = {
            let core = core.clone();
            ReadBarrier::spawn(move || {
                let core = core.clone();
                async move { core.read_round().await }
            })
        };
        Ok(Arc::new(Self {
            core,
            db,
            proposer,
            forwarder,
            reads,
            revision,
            cluster_id: OnceLock::new(),
            snapshot_installs,
            hub,
            leases: LeaseClock::default(),
        }))
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.core.id
    }

    /// The cluster's id, derived from the bootstrap membership by apply (0 until the
    /// first membership entry is applied here).
    pub fn cluster_id(&self) -> u64 {
        if let Some(id) = self.cluster_id.get() {
            return *id;
        }
        match state_machine::cluster_id(&self.db) {
            Ok(Some(id)) => *self.cluster_id.get_or_init(|| id),
            _ => 0,
        }
    }

    /// The current Raft term as this member knows it.
    pub fn term(&self) -> u64 {
        self.core.raft.metrics().borrow().current_term
    }

    /// The leader this member currently follows, if any.
    pub fn leader(&self) -> Option<u64> {
        self.core.raft.metrics().borrow().current_leader
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
        self.leader() == Some(self.core.id)
    }

    /// The openraft handle.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.core.raft
    }

    /// Revision after the last applied batch.
    pub fn applied_revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// Proposes a command through the leader and waits until it is committed by a quorum
    /// and applied on the leader. Retried only while it certainly was not carried out.
    pub async fn propose(&self, command: Command) -> Result<CommandResult, RaftNodeError> {
        // A write with a request id is deduplicated by the state machine, so even a
        // submission whose outcome is unknown may be sent again.
        let idempotent = matches!(command, Command::Once { .. });
        let deadline = Instant::now() + self.core.leader_wait;
        // Set once any attempt may have been applied: then giving up is "unknown".
        let mut ambiguous = false;
        loop {
            let (leader, addr) = self.core.wait_leader(deadline).await?;
            let attempt = if leader == self.core.id {
                match self.proposer.propose(command.clone()).await {
                    Err(RaftNodeError::OutcomeUnknown(m)) if idempotent => {
                        ambiguous = true;
                        Attempt::Retry(m)
                    }
                    other => Attempt::Done(other),
                }
            } else {
                match self.forwarder.forward(leader, &addr, command.clone()).await {
                    Attempt::Done(Err(RaftNodeError::OutcomeUnknown(m))) if idempotent => {
                        ambiguous = true;
                        Attempt::Retry(m)
                    }
                    Attempt::Done(Err(RaftNodeError::NotLeader { .. })) => {
                        Attempt::Retry(format!("member {leader} is no longer the leader"))
                    }
                    Attempt::Done(Ok(result)) => {
                        self.catch_up_to(result.revision, deadline).await;
                        Attempt::Done(Ok(result))
                    }
                    done @ Attempt::Done(_) => done,
                    Attempt::Retry(m) => Attempt::Retry(m),
                }
            };
            match attempt {
                Attempt::Done(result) => return result,
                Attempt::Retry(reason) => {
                    if Instant::now() >= deadline {
                        let why = format!(
                            "no leader confirmed the write within {:?}: {reason}",
                            self.core.leader_wait
                        );
                        return Err(if ambiguous {
                            RaftNodeError::OutcomeUnknown(why)
                        } else {
                            RaftNodeError::Unavailable(why)
                        });
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }

    /// Waits until this member has applied up to `revision`, the revision the leader
    /// answered a forwarded write with, so that the client's next serializable read or
    /// watch "from now" on this member includes its own write (ZooKeeper's session
    /// order). The write is done whatever happens here: if this member cannot catch up
    /// before `deadline`, the answer goes out anyway rather than as an error a client
    /// might retry.
    async fn catch_up_to(&self, revision: i64, deadline: Instant) {
        let mut applied = self.revision.clone();
        let caught_up = {
            let wait = applied.wait_for(|r| *r >= revision);
            // An error means the state machine stopped: the node is shutting down.
            tokio::time::timeout_at(deadline.into(), wait).await.is_ok()
        };
        if !caught_up {
            tracing::warn!(
                revision,
                applied = self.applied_revision(),
                "answering a forwarded write before this member applied it"
            );
        }
    }

    /// Waits until a read of local state is linearizable (ReadIndex, batched).
    pub async fn read_barrier(&self) -> Result<(), RaftNodeError> {
        self.reads.wait().await
    }

    /// The leader's lease deadlines (empty on followers).
    pub fn lease_clock(&self) -> &LeaseClock {
        &self.leases
    }

    /// Longest election timeout: the grace a new leader gives every lease.
    pub fn election_timeout_max(&self) -> Duration {
        self.core.election_timeout_max
    }

    /// Refreshes lease `id` on the leader; returns its TTL in ms.
    pub async fn lease_keepalive(&self, id: i64) -> Result<i64, RaftNodeError> {
        match self.on_leader(ForwardRequest::KeepAlive(id)).await? {
            ForwardResponse::KeptAlive(ttl) => Ok(ttl),
            other => Err(RaftNodeError::Stopped(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    /// Lease `id`'s remaining time in ms, by the leader's clock.
    pub async fn lease_remaining(&self, id: i64) -> Result<i64, RaftNodeError> {
        match self.on_leader(ForwardRequest::LeaseRemaining(id)).await? {
            ForwardResponse::Remaining(ms) => Ok(ms),
            other => Err(RaftNodeError::Stopped(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    /// Runs a read-only leader request here if this member leads, else on the leader.
    /// Safe to retry, so it is retried until the leader wait runs out.
    async fn on_leader(&self, req: ForwardRequest) -> Result<ForwardResponse, RaftNodeError> {
        let deadline = Instant::now() + self.core.leader_wait;
        loop {
            let (leader, addr) = self.core.wait_leader(deadline).await?;
            let result = if leader == self.core.id {
                self.serve_forwarded(req.clone()).await
            } else {
                match self.core.forward(leader, &addr, req.clone()).await {
                    Attempt::Done(r) => r,
                    Attempt::Retry(m) => Err(RaftNodeError::NotLeader {
                        leader_id: None,
                        leader_addr: Some(m),
                    }),
                }
            };
            match result {
                Err(RaftNodeError::NotLeader { .. }) | Err(RaftNodeError::Unavailable(_))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => return other,
            }
        }
    }

    /// Lease `id` as this (leading) member's store has it. A new leader may not yet have
    /// applied a grant its predecessor committed, so "absent" is only believed after
    /// the state machine has caught up with everything committed.
    async fn local_lease(
        &self,
        id: i64,
    ) -> Result<crate::store::lease::LeaseRecord, RaftNodeError> {
        let read = || {
            let reader = self.db.reader();
            crate::store::overlay::Backing::lease(&reader, id)
                .map_err(|e| RaftNodeError::Stopped(format!("storage: {e}")))
        };
        if let Some(lease) = read()? {
            return Ok(lease);
        }
        self.core
            .raft
            .ensure_linearizable()
            .await
            .map_err(map_check_error)?;
        read()?.ok_or(RaftNodeError::LeaseNotFound(id))
    }

    /// Carries out a membership or leadership operation on the leader; returns the
    /// leader's id afterwards.
    pub async fn admin(&self, op: AdminOp) -> Result<u64, RaftNodeError> {
        let deadline = Instant::now() + self.core.leader_wait;
        loop {
            let (leader, addr) = self.core.wait_leader(deadline).await?;
            if leader == self.core.id {
                match self.admin_local(op.clone()).await {
                    Err(RaftNodeError::NotLeader { .. }) if Instant::now() < deadline => {}
                    other => return other,
                }
            } else {
                match self
                    .core
                    .forward(leader, &addr, ForwardRequest::Admin(op.clone()))
                    .await
                {
                    Attempt::Done(Ok(ForwardResponse::Admin { leader_id })) => {
                        return Ok(leader_id)
                    }
                    Attempt::Done(Ok(other)) => {
                        return Err(RaftNodeError::Stopped(format!(
                            "unexpected reply {other:?}"
                        )))
                    }
                    Attempt::Done(Err(e)) => return Err(e),
                    Attempt::Retry(reason) if Instant::now() >= deadline => {
                        return Err(RaftNodeError::Unavailable(reason))
                    }
                    Attempt::Retry(_) => {}
                }
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn admin_local(&self, op: AdminOp) -> Result<u64, RaftNodeError> {
        let raft = &self.core.raft;
        let (membership, replication, last_log_index) = {
            let m = raft.metrics();
            let m = m.borrow();
            (
                m.membership_config.membership().clone(),
                m.replication.clone().unwrap_or_default(),
                m.last_log_index.unwrap_or(0),
            )
        };
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        match op {
            AdminOp::AddLearner { id, addr } => {
                if let Some(node) = membership.get_node(&id) {
                    if voters.contains(&id) {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} is already a voter"
                        )));
                    }
                    if node.addr != addr {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} already exists with peer address {}; remove it first",
                            node.addr
                        )));
                    }
                } else if let Some((other, _)) = membership.nodes().find(|(_, n)| n.addr == addr) {
                    return Err(RaftNodeError::Membership(format!(
                        "peer address {addr} is already used by member {other}"
                    )));
                }
                raft.add_learner(id, BasicNode { addr }, false)
                    .await
                    .map_err(map_write_error)?;
            }
            AdminOp::Promote { id } => {
                if membership.get_node(&id).is_none() {
                    return Err(RaftNodeError::MemberNotFound(id));
                }
                if !voters.contains(&id) {
                    let matched = replication
                        .get(&id)
                        .copied()
                        .flatten()
                        .map(|l| l.index)
                        .unwrap_or(0);
                    let lag = last_log_index.saturating_sub(matched);
                    if lag > MAX_PROMOTE_LAG {
                        return Err(RaftNodeError::Membership(format!(
                            "learner {id} is {lag} entries behind the leader; wait for it to catch up, then retry"
                        )));
                    }
                    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                        .await
                        .map_err(map_write_error)?;
                }
            }
            AdminOp::Remove { id } => {
                if membership.get_node(&id).is_none() {
                    return Err(RaftNodeError::MemberNotFound(id));
                }
                let change = if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err(RaftNodeError::Membership(format!(
                            "member {id} is the last voter and cannot be removed"
                        )));
                    }
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                raft.change_membership(change, false)
                    .await
                    .map_err(map_write_error)?;
                if voters.contains(&id) {
                    // `retain = false` leaves it out of the voters; drop it as a node too.
                    let still_node = raft
                        .metrics()
                        .borrow()
                        .membership_config
                        .membership()
                        .get_node(&id)
                        .is_some();
                    if still_node && self.leader() == Some(self.core.id) {
                        raft.change_membership(
                            ChangeMembers::RemoveNodes(BTreeSet::from([id])),
                            false,
                        )
                        .await
                        .map_err(map_write_error)?;
                    }
                }
            }
            AdminOp::TransferLeader { to } => {
                if !voters.contains(&to) {
                    return Err(if membership.get_node(&to).is_some() {
                        RaftNodeError::Membership(format!(
                            "member {to} is a learner; promote it before making it leader"
                        ))
                    } else {
                        RaftNodeError::MemberNotFound(to)
                    });
                }
                return self.transfer_leader(to).await;
            }
        }
        Ok(self.leader().unwrap_or(0))
    }

    /// Leadership transfer on openraft 0.9, which has no built-in one: wait for the
    /// target to hold the whole log, stop heartbeats so the followers' leader leases
    /// lapse, then ask the target to campaign. It wins because its log is complete and
    /// it starts before any other member's election timer fires.
    async fn transfer_leader(&self, to: u64) -> Result<u64, RaftNodeError> {
        let raft = &self.core.raft;
        if to == self.core.id {
            return Ok(to);
        }
        let catch_up = Instant::now() + Duration::from_secs(10);
        loop {
            let caught_up = {
                let m = raft.metrics();
                let m = m.borrow();
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&to).copied().flatten())
                    .map(|l| l.index);
                matched.is_some() && matched >= m.last_log_index
            };
            if caught_up {
                break;
            }
            if Instant::now() >= catch_up {
                return Err(RaftNodeError::Timeout(format!(
                    "member {to} did not catch up with the leader's log within 10s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let addr = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&to)
            .map(|n| n.addr.clone())
            .ok_or(RaftNodeError::MemberNotFound(to))?;
        let rc = raft.runtime_config();
        rc.heartbeat(false);
        rc.elect(false);
        let result = async {
            // Followers refuse votes while the leader lease (election-timeout-max) holds.
            tokio::time::sleep(self.core.election_timeout_max + Duration::from_millis(100)).await;
            for _ in 0..5 {
                match self
                    .core
                    .network
                    .forward(to, &addr, &ForwardRequest::StartElection, FORWARD_TIMEOUT)
                    .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(ForwardFailure::NotDelivered(m)) | Err(ForwardFailure::Unknown(m)) => {
                        return Err(RaftNodeError::Unavailable(format!(
                            "could not reach member {to}: {m}"
                        )))
                    }
                }
                let waited = raft
                    .wait(Some(self.core.election_timeout_max * 2))
                    .metrics(|m| m.current_leader == Some(to), "leadership transfer")
                    .await;
                if waited.is_ok() {
                    return Ok(to);
                }
            }
            Err(RaftNodeError::Timeout(format!(
                "member {to} did not become leader after 5 attempts"
            )))
        }
        .await;
        rc.heartbeat(true);
        rc.elect(true);
        result
    }

    /// Answers a request forwarded by another member.
    pub async fn serve_forwarded(&self, req: ForwardRequest) -> ForwardResult {
        match req {
            // Proposed locally only: a member that is no longer leader answers NotLeader
            // and the sender retries elsewhere, so forwards never loop.
            ForwardRequest::Propose(cmd) => self
                .proposer
                .propose(cmd)
                .await
                .map(ForwardResponse::Proposed),
            ForwardRequest::ProposeBatch(commands) => {
                // Refused whole while not leading: certainly not applied, so the sender
                // retries every write, with or without a request id.
                self.require_leader()?;
                Ok(ForwardResponse::ProposedBatch(
                    self.proposer.propose_many(commands).await,
                ))
            }
            ForwardRequest::ReadIndex => {
                let (read_log_id, _) = self
                    .core
                    .raft
                    .get_read_log_id()
                    .await
                    .map_err(map_check_error)?;
                Ok(ForwardResponse::ReadIndex(
                    read_log_id.map(|l| l.index).unwrap_or(0),
                ))
            }
            ForwardRequest::Admin(op) => {
                self.require_leader()?;
                self.admin_local(op)
                    .await
                    .map(|leader_id| ForwardResponse::Admin { leader_id })
            }
            ForwardRequest::KeepAlive(id) => {
                self.require_leader()?;
                // The grant was applied here before it was acknowledged, so a lease
                // unknown to the leader's store does not exist.
                let lease = self.local_lease(id).await?;
                self.leases.keepalive(id, lease.ttl_ms);
                Ok(ForwardResponse::KeptAlive(lease.ttl_ms))
            }
            ForwardRequest::LeaseRemaining(id) => {
                self.require_leader()?;
                let lease = self.local_lease(id).await?;
                let ms = self
                    .leases
                    .remaining(id)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(lease.remaining_ms);
                Ok(ForwardResponse::Remaining(ms))
            }
            ForwardRequest::StartElection => {
                self.core
                    .raft
                    .trigger()
                    .elect()
                    .await
                    .map_err(|e| RaftNodeError::Stopped(e.to_string()))?;
                Ok(ForwardResponse::ElectionStarted)
            }
        }
    }

    fn require_leader(&self) -> Result<(), RaftNodeError> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(RaftNodeError::NotLeader {
                leader_id: self.leader(),
                leader_addr: None,
            })
        }
    }

    /// Whether this member is in the cluster's configuration as it knows it (a voter or
    /// a learner): a removed member still knows the last leader, but no longer gets the
    /// log, so it must not count as ready.
    pub fn is_member(&self) -> bool {
        let m = self.core.raft.metrics();
        let m = m.borrow();
        let is_member = m
            .membership_config
            .membership()
            .nodes()
            .any(|(id, _)| *id == self.core.id);
        is_member
    }

    /// Members of the current configuration.
    pub fn members(&self) -> Vec<MemberInfo> {
        let m = self.core.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, n)| MemberInfo {
                id: *id,
                peer_addr: n.addr.clone(),
                is_learner: !voters.contains(id),
            })
            .collect()
    }

    /// This member's status.
    pub fn status(&self) -> NodeStatus {
        let m = self.core.raft.metrics().borrow().clone();
        let is_learner = !m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == self.core.id);
        NodeStatus {
            member_id: self.core.id,
            leader_id: m.current_leader.unwrap_or(0),
            term: m.current_term,
            commit_index: log_store::committed_index(&self.db).unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            last_log_index: m.last_log_index.unwrap_or(0),
            revision: self.applied_revision(),
            db_size_bytes: self.db.size_bytes(),
            is_learner,
            snapshot_index: m.snapshot.map(|l| l.index).unwrap_or(0),
            snapshot_installs: self
                .snapshot_installs
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Stops openraft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.core.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}

fn map_write_error(e: RaftError<u64, ClientWriteError<u64, BasicNode>>) -> RaftNodeError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => RaftNodeError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            RaftNodeError::Membership(e.to_string())
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}

fn map_check_error(e: RaftError<u64, CheckIsLeaderError<u64, BasicNode>>) -> RaftNodeError {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => RaftNodeError::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
            RaftNodeError::Unavailable(format!("could not confirm leadership with a quorum: {q}"))
        }
        RaftError::Fatal(f) => RaftNodeError::Stopped(f.to_string()),
    }
}
