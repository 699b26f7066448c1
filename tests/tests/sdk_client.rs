//! The Rust client (`corral-client`) against real servers: exactly-once retries of
//! writes cut off mid-call, failover under kill -9, the resuming `Watcher`, `Session`
//! keepalives across member failures, per-call timeouts and typed errors.

mod sdk_common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use corral_client::{
    Client, CreateOptions, Error, EventType, ListOptions, LockOptions, Session, WatchOptions,
};
use corral_tests::Server;
use sdk_common::{client_via, cluster3, eventually, member_at, Proxy, TIMEOUT};
use tokio::sync::Mutex;

/// Time for a SIGSTOP sent by the harness to take effect (kill(2) returns before the
/// target's threads running on another CPU have stopped).
const STOP_SETTLE: Duration = Duration::from_millis(200);

#[tokio::test]
async fn write_cut_off_mid_call_is_retried_elsewhere_and_applied_once() -> Result<()> {
    let server = Server::start().await?;
    let proxy = Proxy::start(&server.client_addr()).await?;
    let client = Client::builder([proxy.addr.as_str(), &server.client_addr()])
        .timeout(TIMEOUT)
        .connect()
        .await?;
    assert!(client.client_id().is_some_and(|id| id.starts_with("rs-")));
    // Warm the connection up so that only the create's answer is lost.
    client.get("/", None).await?;
    proxy.drop_responses();
    let created = client
        .create(
            "/q/item-",
            "x",
            CreateOptions::new().sequential().create_parents(),
        )
        .await?;
    assert_eq!(
        client.current_endpoint(),
        server.client_addr(),
        "the retry went to the next endpoint"
    );
    let items = server.client().await?.list("/q", None).await?.nodes;
    let paths: Vec<&str> = items.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        [created.path.as_str()],
        "one item, the one the retry reported"
    );

    // Without request ids the same loss is an error whose outcome is unknown.
    let proxy = Proxy::start(&server.client_addr()).await?;
    let plain = Client::builder([proxy.addr.as_str(), &server.client_addr()])
        .timeout(TIMEOUT)
        .exactly_once(false)
        .connect()
        .await?;
    assert_eq!(plain.client_id(), None);
    plain.get("/", None).await?;
    proxy.drop_responses();
    let err = plain
        .create("/q/item-", "y", CreateOptions::new().sequential())
        .await
        .expect_err("the answer was lost and the write has no request id");
    assert!(
        matches!(err, Error::Transport { .. }) && err.outcome_unknown(),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_writes_through_a_leader_kill9_are_each_applied_once() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let leader = cluster.wait_leader().await?;
    // Calls go to the leader first, so the kill cuts writes off mid-call.
    let client = client_via(&cluster, leader).await?;
    client.create("/jobs", "", None).await?;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let client = client.clone();
        let acknowledged = acknowledged.clone();
        writers.spawn(async move {
            for i in 0..40 {
                let created = client
                    .create(
                        "/jobs/job-",
                        format!("{w}-{i}"),
                        CreateOptions::new().sequential(),
                    )
                    .await
                    .with_context(|| format!("writer {w}, write {i}"))?;
                acknowledged.lock().await.push(created.path);
            }
            anyhow::Ok(())
        });
    }
    eventually(Duration::from_secs(30), "writes under way", || async {
        Ok(acknowledged.lock().await.len() >= 40)
    })
    .await?;
    cluster.kill9(leader)?;
    while let Some(done) = writers.join_next().await {
        done??;
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert_eq!(acknowledged.len(), 8 * 40, "every write was acknowledged");
    let distinct: BTreeSet<&String> = acknowledged.iter().collect();
    assert_eq!(distinct.len(), acknowledged.len(), "no two answers alike");
    let survivor = cluster.live_ids()[0];
    let stored = cluster
        .client(survivor)
        .await?
        .list_all("/jobs", None)
        .await?;
    let stored: BTreeSet<&String> = stored.nodes.iter().map(|n| &n.path).collect();
    assert_eq!(
        stored, distinct,
        "exactly the acknowledged writes are stored: none lost, none applied twice"
    );
    Ok(())
}

/// Reads events until `events` holds `count`.
async fn read_until(
    watcher: &mut corral_client::Watcher,
    events: &mut Vec<corral_client::Event>,
    count: usize,
) -> Result<()> {
    while events.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(30), watcher.next())
            .await
            .context("no event for 30 s")?
            .context("the watch ended")??;
        events.push(event);
    }
    Ok(())
}

#[tokio::test]
async fn watcher_survives_kill9_and_restart_of_its_member_without_losing_or_repeating_events(
) -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let (leader, follower) = cluster.leader_and_follower().await?;
    let watching = client_via(&cluster, follower).await?;
    watching.create("/w", "", None).await?;
    let mut watcher = watching.watch("/w", WatchOptions::new().subtree()).await?;
    let start = watcher.revision();

    // Steady writes from another client, through the leader.
    let writer = client_via(&cluster, leader).await?;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = {
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let put = writer
                    .put(
                        format!("/w/k{}", i % 7),
                        i.to_string(),
                        corral_client::PutOptions::new().create_if_missing(),
                    )
                    .await?;
                acknowledged.lock().await.push((put.header.revision, i));
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::Ok(())
        })
    };

    let mut events = Vec::new();
    if writing.is_finished() {
        writing.await??;
        bail!("the writer stopped");
    }
    // Two rounds: kill -9 the member the watcher is on, let writes go on, restart it.
    let mut killed = Vec::new();
    for round in 1..=2 {
        read_until(&mut watcher, &mut events, 50 * round).await?;
        let victim = member_at(&cluster, watching.current_endpoint())?;
        killed.push(victim);
        cluster.kill9(victim)?;
        read_until(&mut watcher, &mut events, 50 * round + 25).await?;
        cluster.restart(victim).await?;
        cluster.wait_leader().await?;
    }
    read_until(&mut watcher, &mut events, 250).await?;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writing.await??;
    let acknowledged = acknowledged.lock().await.clone();
    let last = acknowledged.last().map(|&(r, _)| r).context("no writes")?;
    while events.last().map(|e| e.revision) < Some(last) {
        let more = events.len() + 1;
        read_until(&mut watcher, &mut events, more).await?;
    }

    let revisions: Vec<i64> = events.iter().map(|e| e.revision).collect();
    let expected: Vec<i64> = (start + 1..=last).collect();
    assert_eq!(
        revisions, expected,
        "one event per revision, contiguous, none lost, none repeated (killed {killed:?})"
    );
    for (revision, i) in &acknowledged {
        let event = &events[(revision - start - 1) as usize];
        assert_eq!(event.node.path, format!("/w/k{}", i % 7));
        assert_eq!(event.node.data, i.to_string().as_bytes());
        let kind = if *i < 7 {
            EventType::Created
        } else {
            EventType::Updated
        };
        assert_eq!(event.kind, kind, "event of write {i}");
    }
    assert_eq!(watcher.revision(), last);
    Ok(())
}

#[tokio::test]
async fn session_keeps_its_lease_through_member_kills_and_reports_its_loss() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let (leader, follower) = cluster.leader_and_follower().await?;
    let client = client_via(&cluster, follower).await?;
    let ttl = Duration::from_secs(5);
    let session = Session::new(&client, ttl).await?;
    client
        .create(
            "/live/me",
            "",
            CreateOptions::new()
                .ephemeral(session.lease_id())
                .create_parents(),
        )
        .await?;

    // The member its keepalives go to dies, then the leader: each time the session
    // moves on before its lease runs out.
    for victim in [follower, leader] {
        cluster.kill9(victim)?;
        tokio::time::sleep(ttl * 2).await;
        assert!(!session.is_lost(), "lost after member {victim} was killed");
        let observer = cluster.live_ids()[0];
        let node = cluster
            .client(observer)
            .await?
            .get("/live/me", None)
            .await?
            .node;
        assert_eq!(node.stat.lease_id, session.lease_id());
        cluster.restart(victim).await?;
        cluster.wait_leader().await?;
    }

    // Another client revokes the lease: the session learns it is lost.
    let other = client_via(&cluster, leader).await?;
    other.lease_revoke(session.lease_id()).await?;
    let lost = tokio::time::timeout(Duration::from_secs(15), session.lost())
        .await
        .context("the loss was not noticed")?;
    assert!(
        matches!(lost, Error::SessionLost { lease_id } if lease_id == session.lease_id()),
        "{lost:?}"
    );
    assert!(session.is_lost());
    assert!(matches!(
        other.get("/live/me", None).await,
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn orphaned_session_expires_and_closed_session_revokes_at_once() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    let orphaned = Session::new(&client, Duration::from_secs(2)).await?;
    let closed = Session::new(&client, Duration::from_secs(60)).await?;
    for (path, session) in [("/a", &orphaned), ("/b", &closed)] {
        client
            .create(path, "", CreateOptions::new().ephemeral(session.lease_id()))
            .await?;
    }
    let lease = orphaned.orphan();
    closed.close().await?;
    assert!(matches!(
        client.get("/b", None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        client.get("/a", None).await.is_ok(),
        "orphaned, not revoked"
    );
    eventually(
        Duration::from_secs(20),
        "the orphaned lease expires",
        || async {
            Ok(matches!(
                client.lease_time_to_live(lease, false).await,
                Err(Error::LeaseNotFound { .. })
            ))
        },
    )
    .await?;
    assert!(matches!(
        client.get("/a", None).await,
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn per_call_timeout_cuts_off_a_call_to_a_frozen_member() -> Result<()> {
    let mut server = Server::start().await?;
    let client = Client::builder([server.client_addr()])
        .timeout(Duration::from_millis(500))
        .connect()
        .await?;
    client.get("/", None).await?;
    server.pause()?;
    // SIGSTOP takes effect asynchronously: let it land before the call.
    tokio::time::sleep(STOP_SETTLE).await;
    let got = client.get("/", None).await;
    let created = client.create("/x", "", None).await;
    server.resume()?;
    assert!(matches!(got, Err(Error::Timeout { .. })), "{got:?}");
    assert!(
        matches!(created, Err(ref e @ Error::Timeout { .. }) if e.outcome_unknown()),
        "{created:?}"
    );
    // A clone with a longer timeout on the same connection works once it is back.
    let patient = client.with_timeout(Some(TIMEOUT));
    assert_eq!(patient.timeout(), Some(TIMEOUT));
    patient.get("/", None).await?;
    Ok(())
}

#[tokio::test]
async fn coordination_errors_are_typed() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    let a = client.lease_grant(Duration::from_secs(30)).await?;
    let b = client.lease_grant(Duration::from_secs(30)).await?;

    let err = client
        .lease_grant_with_id(a.lease_id, Duration::from_secs(30))
        .await
        .expect_err("id in use");
    assert!(
        matches!(err, Error::LeaseExists { lease_id: Some(id), .. } if id == a.lease_id),
        "{err:?}"
    );

    let held = client.lock("/locks/x", a.lease_id, None).await?;
    assert!(held.fencing_token > 0);
    let err = client
        .lock(
            "/locks/x",
            b.lease_id,
            LockOptions::new().wait_timeout(Duration::from_millis(300)),
        )
        .await
        .expect_err("held by a");
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    client.unlock(&held.key, a.lease_id).await?;
    client.unlock(&held.key, a.lease_id).await?; // already released: not an error
    let next = client.lock("/locks/x", b.lease_id, None).await?;
    assert!(next.fencing_token > held.fencing_token);

    assert_eq!(client.leader("/elections/e").await?, None);
    let leading = client
        .campaign("/elections/e", a.lease_id, "a", None)
        .await?;
    assert_eq!(client.leader("/elections/e").await?, Some(leading.clone()));
    client.resign(&leading.key, a.lease_id).await?;
    let err = client
        .proclaim(&leading.key, a.lease_id, "late")
        .await
        .expect_err("resigned");
    assert!(
        matches!(err, Error::NotElectionLeader { ref key, .. } if key == &leading.key),
        "{err:?}"
    );

    client.lease_revoke(b.lease_id).await?;
    let err = client
        .lease_keep_alive_once(b.lease_id)
        .await
        .expect_err("revoked");
    assert!(matches!(err, Error::LeaseNotFound { .. }), "{err:?}");
    let err = client
        .lock("/locks/y", b.lease_id, None)
        .await
        .expect_err("revoked lease");
    assert!(matches!(err, Error::LeaseNotFound { .. }), "{err:?}");

    let err = client.watch("/bad/", None).await.expect_err("invalid path");
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");

    let ttl = client.lease_time_to_live(a.lease_id, true).await?;
    assert_eq!(ttl.ttl, Duration::from_secs(30));
    let listed = client.lease_list().await?;
    assert!(listed.leases.iter().any(|l| l.lease_id == a.lease_id));
    assert!(!listed.leases.iter().any(|l| l.lease_id == b.lease_id));

    let mut snapshot = Vec::new();
    let info = client.snapshot(&mut snapshot).await?;
    assert_eq!(info.bytes as usize, snapshot.len());
    assert!(
        info.bytes > 0,
        "a backup is never empty (the root znode at least)"
    );
    assert!(
        info.header.revision > 0,
        "the backup says which revision it holds"
    );
    Ok(())
}

#[tokio::test]
async fn watch_options_select_events_and_compaction_is_a_typed_error() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    client.create("/d", "", None).await?;
    let mut children = client
        .watch(
            "/d",
            WatchOptions::new()
                .children()
                .prev_node()
                .exclude(EventType::Created),
        )
        .await?;
    let created = client.create("/d/c", "1", None).await?;
    let updated = client.put("/d/c", "2", None).await?;
    client.create("/d/c/grandchild", "", None).await?;
    client.put("/d", "not a child", None).await?;
    let deleted = client
        .delete("/d/c", corral_client::DeleteOptions::new().recursive())
        .await?;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let event = tokio::time::timeout(TIMEOUT, children.next())
            .await?
            .context("ended")??;
        seen.push((event.kind, event.revision, event.prev_node.map(|n| n.data)));
    }
    assert_eq!(
        seen,
        [
            (
                EventType::Updated,
                updated.header.revision,
                Some(b"1".to_vec())
            ),
            (
                EventType::Deleted,
                deleted.header.revision,
                Some(b"2".to_vec())
            ),
        ]
    );
    assert!(created.header.revision < updated.header.revision);

    // Progress: the watcher learns how far it is even without events for it.
    let elsewhere = client.create("/elsewhere", "", None).await?;
    let progress = children.progress().await?;
    assert!(progress >= elsewhere.header.revision, "{progress}");
    assert!(children.revision() >= elsewhere.header.revision);

    // From a compacted revision: a typed error naming the compaction.
    let compacted = client.compact(elsewhere.header.revision).await?;
    assert!(compacted.compact_revision >= elsewhere.header.revision);
    let mut stale = client
        .watch("/d", WatchOptions::new().start_revision(1))
        .await?;
    let err = tokio::time::timeout(TIMEOUT, stale.next())
        .await?
        .context("the watch ended without saying why")?
        .expect_err("compacted");
    assert!(
        stale.next().await.is_none(),
        "the watch ends after the error"
    );
    assert!(
        matches!(err, Error::Compacted { compact_revision, .. } if compact_revision == compacted.compact_revision),
        "{err:?}"
    );
    // From the revision after it: fine, and the list + watch pattern sees what follows.
    let listed = client.list("/", ListOptions::new()).await?;
    let mut after = client
        .watch(
            "/",
            WatchOptions::new()
                .subtree()
                .start_revision(listed.header.revision + 1),
        )
        .await?;
    let made = client.create("/later", "", None).await?;
    let event = tokio::time::timeout(TIMEOUT, after.next())
        .await?
        .context("ended")??;
    assert_eq!(
        (event.kind, event.revision, event.node.path.as_str()),
        (EventType::Created, made.header.revision, "/later")
    );
    Ok(())
}

#[tokio::test]
async fn a_frozen_member_costs_one_timeout_then_calls_go_elsewhere() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let (_, follower) = cluster.leader_and_follower().await?;
    let client = client_via(&cluster, follower)
        .await?
        .with_timeout(Some(Duration::from_secs(1)));
    client.create("/before", "", None).await?;
    cluster.pause(follower)?;
    tokio::time::sleep(STOP_SETTLE).await;
    let first = client.get("/before", None).await;
    let second = client.get("/before", None).await;
    let write = client.create("/after", "", None).await;
    cluster.resume(follower)?;
    assert!(matches!(first, Err(Error::Timeout { .. })), "{first:?}");
    assert!(
        second.is_ok(),
        "the next call goes to another member: {second:?}"
    );
    assert!(write.is_ok(), "{write:?}");
    assert_ne!(
        client.current_endpoint(),
        cluster.member(follower).client_addr()
    );
    Ok(())
}

#[tokio::test]
async fn lock_wait_cut_off_mid_way_is_retried_and_still_gets_the_lock() -> Result<()> {
    let server = Server::start().await?;
    let direct = server.client().await?;
    let proxy = Proxy::start(&server.client_addr()).await?;
    let holder = direct.lease_grant(Duration::from_secs(30)).await?.lease_id;
    let held = direct.lock("/locks/cut", holder, None).await?;

    // A waiter whose calls go through the proxy first, then directly.
    let waiting_client = Client::builder([proxy.addr.as_str(), &server.client_addr()])
        .timeout(TIMEOUT)
        .connect()
        .await?;
    let waiter = waiting_client
        .lease_grant(Duration::from_secs(30))
        .await?
        .lease_id;
    let waiting = tokio::spawn({
        let client = waiting_client.clone();
        async move { client.lock("/locks/cut", waiter, None).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The waiting call's connection breaks: the server sees it cancelled, the client
    // sends it again directly and must keep (or regain) its place.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        waiting_client.current_endpoint(),
        server.client_addr(),
        "the cut call was sent again, directly"
    );
    assert!(!waiting.is_finished(), "{:?}", waiting.await);
    direct.unlock(&held.key, holder).await?;
    let got = tokio::time::timeout(TIMEOUT, waiting)
        .await
        .context("the waiter never got the lock")??;
    let got = got.context("the retried lock call failed")?;
    assert!(got.fencing_token > held.fencing_token);
    // It holds the lock: its key is the queue's only entry, and stays so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queue = direct.list("/locks/cut", None).await?.nodes;
    let keys: Vec<&str> = queue.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        keys,
        [got.key.as_str()],
        "the holder's entry is still there"
    );
    Ok(())
}
