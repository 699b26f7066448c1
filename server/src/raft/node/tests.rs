//! In-process tests of one Raft node: a single member on a temporary database, with
//! short timeouts. Nothing listens on its peer address; a single voter needs no peer.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{RaftNode, RaftSettings, StartError};
use crate::raft::error::RaftNodeError;
use crate::store::command::Command;
use crate::store::db::{Db, Sync};

/// Settings of member 1 of a one-member cluster, data under `dir`.
pub(crate) fn settings(dir: &Path, join: bool) -> RaftSettings {
    RaftSettings {
        node_id: 1,
        initial_members: BTreeMap::from([(1, "127.0.0.1:1".to_string())]),
        join,
        heartbeat_interval: Duration::from_millis(50),
        election_timeout_min: Duration::from_millis(150),
        election_timeout_max: Duration::from_millis(300),
        snapshot_logs_since_last: 10_000,
        logs_to_keep: 100,
        max_batch: 64,
        snapshot_dir: dir.join("snapshots"),
        watch_ring_batches: 16,
        peer_routes: BTreeMap::new(),
        max_snapshot_bytes: crate::raft::snapshot_buffer::DEFAULT_MAX_SNAPSHOT_BYTES,
        client_addr: Some("127.0.0.1:2".to_string()),
        peer_tls: None,
    }
}

/// Opens the database under `dir`.
pub(crate) fn open_db(dir: &Path) -> Arc<Db> {
    Arc::new(Db::open(&dir.join("db"), Sync::Never).expect("open db"))
}

/// Starts member 1 on `dir`.
pub(crate) async fn start(dir: &Path, join: bool) -> Result<Arc<RaftNode>, StartError> {
    RaftNode::start(settings(dir, join), open_db(dir)).await
}

/// Starts member 1 on `dir` and waits until it leads.
pub(crate) async fn start_leader(dir: &Path) -> Arc<RaftNode> {
    let node = start(dir, false).await.expect("start");
    node.raft()
        .wait(Some(Duration::from_secs(10)))
        .current_leader(1, "single member leads")
        .await
        .expect("leader");
    node
}

fn grant() -> Command {
    Command::LeaseGrant {
        id: 0,
        ttl_ms: 10_000,
    }
}

#[tokio::test]
async fn a_single_member_commits_and_reads_its_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_leader(dir.path()).await;
    let result = node.propose(grant()).await.expect("propose");
    assert!(result.result.is_ok(), "{result:?}");
    node.read_barrier().await.expect("read barrier");
    node.shutdown().await;
}

#[tokio::test]
async fn requests_after_shutdown_fail_stopped_at_once_instead_of_waiting_for_a_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A joining member never learns a leader here: requests have to wait for one.
    let node = start(dir.path(), true).await.expect("start");
    node.shutdown().await;
    let started = Instant::now();
    let err = node.propose(grant()).await.expect_err("node stopped");
    assert!(matches!(err, RaftNodeError::Stopped(_)), "{err:?}");
    let err = node.read_barrier().await.expect_err("node stopped");
    assert!(matches!(err, RaftNodeError::Stopped(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_corrupt_cluster_id_fails_start_instead_of_reading_as_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open_db(dir.path());
        let (empty, _) = db.export_state(&[]).expect("export");
        db.import_state(&empty, &[("cluster_id", b"bad".to_vec())])
            .expect("import");
    }
    match start(dir.path(), false).await {
        Err(e) => assert!(matches!(e, StartError::Store(_)), "{e}"),
        Ok(node) => {
            let id = node.cluster_id();
            node.shutdown().await;
            panic!("started with an unreadable cluster id, reported as {id}");
        }
    }
}

#[tokio::test]
async fn a_read_reports_the_revision_of_the_snapshot_it_read() {
    use crate::raft::Consistency;
    use crate::store::StoreError;

    /// What a read closure may fail with here.
    struct E(String);
    impl std::fmt::Debug for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl From<RaftNodeError> for E {
        fn from(e: RaftNodeError) -> Self {
            E(e.to_string())
        }
    }
    impl From<StoreError> for E {
        fn from(e: StoreError) -> Self {
            E(e.to_string())
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_leader(dir.path()).await;
    let written = node.propose(grant()).await.expect("propose").revision;
    for consistency in [Consistency::Linearizable, Consistency::Serializable] {
        let (seen, revision) = node
            .read(consistency, |tree| Ok::<_, E>(tree.revision()?))
            .await
            .expect("read");
        assert_eq!(seen, revision, "{consistency:?}");
        assert!(revision >= written, "{consistency:?}");
        let (leases, revision) = node
            .read_scan(consistency, |tree| Ok::<_, E>(tree.leases()?.len()))
            .await
            .expect("scan");
        assert_eq!(leases, 1, "{consistency:?}");
        assert!(revision >= written);
    }
    node.shutdown().await;
}
