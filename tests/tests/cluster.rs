//! A three-member cluster against real processes: any member serves any request
//! linearizably, kill -9 of the leader or of every member loses no acknowledged write,
//! a new member catches up by snapshot and is promoted and removed, leadership moves
//! on request, a paused member never serves a stale linearizable read, and bad
//! membership requests fail with typed errors and change nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use corral_client::{
    Client, Compare, Consistency, CreateOptions, Error, GetOptions, ListOptions, Member, Op,
    PutOptions, Txn,
};
use corral_tests::traffic::{self, Ledger, Traffic};
use corral_tests::{Cluster, Server};
use tokio::task::JoinSet;

/// Clients of each member alone, by id.
async fn clients(cluster: &Cluster) -> Result<BTreeMap<u64, Client>> {
    let mut clients = BTreeMap::new();
    for id in cluster.ids() {
        clients.insert(id, cluster.client(id).await?);
    }
    Ok(clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_each_member_are_linearizably_readable_through_every_other() -> Result<()> {
    let cluster = Cluster::start(3).await?;
    let clients = clients(&cluster).await?;
    clients[&1].create("/lin", "", None).await?;
    let mut created = Vec::new();
    for round in 0..5 {
        for (&writer, wc) in &clients {
            let value = format!("round {round} through {writer}");
            let put = wc
                .put(
                    "/lin/shared",
                    value.clone(),
                    PutOptions::new().create_if_missing(),
                )
                .await?;
            let own = wc
                .create(format!("/lin/r{round}-m{writer}"), value.clone(), None)
                .await?;
            created.push(own.path.clone());
            // Every member, the writer too, sees both writes at once: no waiting.
            for (&reader, rc) in &clients {
                let got = rc.get("/lin/shared", None).await?;
                assert_eq!(
                    got.header.member_id, reader,
                    "the read was served by another member"
                );
                assert_eq!(
                    String::from_utf8_lossy(&got.node.data),
                    value,
                    "stale read through member {reader} after a write through {writer}"
                );
                assert_eq!(got.node.stat.mod_revision, put.header.revision);
                assert!(got.header.revision >= own.header.revision);
                let got = rc.get(&own.path, None).await?;
                assert_eq!(got.node.stat, own.stat, "read through member {reader}");
            }
        }
    }

    // A Txn through a follower is atomic and visible through every member at once.
    let (_, follower) = cluster.leader_and_follower().await?;
    let version = clients[&follower]
        .get("/lin/shared", None)
        .await?
        .node
        .stat
        .version;
    let txn = clients[&follower]
        .txn(
            Txn::new()
                .when([Compare::version("/lin/shared").eq(version)])
                .and_then([
                    Op::put("/lin/shared", "by txn", None),
                    Op::create("/lin/txn", "", None),
                ]),
        )
        .await?;
    assert!(txn.succeeded);
    created.push("/lin/txn".into());
    created.sort();
    for (&reader, rc) in &clients {
        let listing = rc.list_all("/lin", None).await?;
        let mut paths: Vec<String> = listing.nodes.into_iter().map(|n| n.path).collect();
        paths.retain(|p| p != "/lin/shared");
        assert_eq!(paths, created, "listing through member {reader}");
        let shared = rc.get("/lin/shared", None).await?.node;
        assert_eq!(shared.data, b"by txn");
        assert_eq!(shared.stat.mod_revision, txn.header.revision);
    }
    Ok(())
}

/// Checks every member against the writers' ledgers, with serializable reads once it
/// has applied what the leader committed, then with linearizable reads; and checks
/// that all members hold the very same znodes (stats included).
async fn check_every_member(cluster: &Cluster, prefix: &str, ledgers: &[Ledger]) -> Result<()> {
    let max_revision = ledgers.iter().map(|l| l.max_revision).max().unwrap_or(0);
    let mut attempt = 0;
    loop {
        attempt += 1;
        cluster.wait_caught_up().await?;
        let mut views: Vec<(u64, Vec<corral_client::Node>)> = Vec::new();
        for id in cluster.live_ids() {
            let c = cluster.client(id).await?;
            let local = traffic::check(&c, prefix, ledgers, Consistency::Serializable)
                .await
                .with_context(|| format!("serializable reads on member {id}"))?;
            traffic::check(&c, prefix, ledgers, Consistency::Linearizable)
                .await
                .with_context(|| format!("linearizable reads through member {id}"))?;
            let revision = cluster.status(id).await?.revision;
            ensure!(
                revision >= max_revision,
                "member {id} is at revision {revision}, below the acknowledged {max_revision}"
            );
            views.push((id, local));
        }
        let (first, first_view) = &views[0];
        let differing = views[1..].iter().find(|(_, view)| view != first_view);
        if let Some((id, view)) = differing {
            // A write with an unknown outcome may still commit after the writers
            // stopped and land between two members' reads; a real divergence stays.
            ensure!(
                attempt < 3,
                "members {first} and {id} hold different znodes under {prefix} ({} and {})",
                first_view.len(),
                view.len()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let acked: usize = ledgers.iter().map(|l| l.acked.len()).sum();
        let unknown: usize = ledgers.iter().map(|l| l.unknown.len()).sum();
        eprintln!(
            "{prefix}: {acked} acknowledged and {unknown} unknown-outcome writes; every member holds {} znodes",
            first_view.len()
        );
        return Ok(());
    }
}

/// Writers per fault test, spread over the members.
const WRITERS: usize = 6;

/// Clients with every member's endpoint, writer `w` starting at member `w % n + 1`,
/// so writes enter through every member and move on when theirs dies.
async fn spread_clients(cluster: &Cluster) -> Result<Vec<Client>> {
    let ids = cluster.ids();
    let mut clients = Vec::new();
    for w in 0..WRITERS {
        clients.push(cluster.client_all(ids[w % ids.len()]).await?);
    }
    Ok(clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill9_under_write_load_loses_no_acknowledged_write() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let mut traffic = Traffic::start("/load", spread_clients(&cluster).await?).await?;
    traffic.wait_acks(300, Duration::from_secs(60)).await?;

    let old_leader = cluster.wait_leader().await?;
    cluster.kill9(old_leader)?;
    let killed_at = traffic.mark();
    let acks_at_kill = traffic.acks();
    let resumed_at = traffic
        .wait_first_ack_after_mark(Duration::from_secs(60))
        .await?;
    eprintln!(
        "leader {old_leader} killed; first write sent after the kill acknowledged {:?} later",
        resumed_at - killed_at
    );
    let new_leader = cluster.wait_leader().await?;
    ensure!(
        new_leader != old_leader,
        "member {old_leader} is dead but leads"
    );
    traffic
        .wait_acks(acks_at_kill + 300, Duration::from_secs(60))
        .await?;

    cluster.restart(old_leader).await?;
    let acks = traffic.acks();
    traffic
        .wait_acks(acks + 200, Duration::from_secs(60))
        .await?;
    let ledgers = traffic.stop().await?;
    check_every_member(&cluster, "/load", &ledgers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_members_kill9_and_restart_keep_acknowledged_writes() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let mut ledgers = vec![Ledger::default(); WRITERS];
    for round in 0..2 {
        let mut traffic = Traffic::resume("/all", spread_clients(&cluster).await?, ledgers).await?;
        traffic.wait_acks(250, Duration::from_secs(60)).await?;
        // Every member dies with writes in flight, the leader last.
        let leader = cluster.wait_leader().await?;
        for id in cluster.ids() {
            if id != leader {
                cluster.kill9(id)?;
            }
        }
        cluster.kill9(leader)?;
        ledgers = traffic.stop().await?;
        cluster.restart_all().await?;
        check_every_member(&cluster, "/all", &ledgers)
            .await
            .with_context(|| format!("after round {round}"))?;
    }
    Ok(())
}

/// Flags of the snapshot test: snapshot every 2000 entries, keep 200 behind it.
const SNAPSHOT_FLAGS: [&str; 4] = ["--snapshot-every-entries", "2000", "--logs-to-keep", "200"];
const LOADED: usize = 100_000;
const TXN_SIZE: usize = 100;
const LOADERS: usize = 6;

fn big(i: usize) -> String {
    format!("/big/n{i:06}")
}

/// A member among `clients` that is not the leader.
async fn follower_of(cluster: &Cluster, clients: &BTreeMap<u64, Client>) -> Result<u64> {
    let leader = cluster.wait_leader().await?;
    clients
        .keys()
        .copied()
        .find(|&id| id != leader)
        .context("no follower")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_catches_up_by_snapshot_then_is_promoted_and_removed() -> Result<()> {
    let mut cluster = Cluster::start_with(3, &SNAPSHOT_FLAGS).await?;
    let clients = clients(&cluster).await?;
    clients[&1].create("/big", "", None).await?;

    // 100,000 znodes in Txns of 100 creates, from several clients over every member.
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut loaders = JoinSet::new();
    for l in 0..LOADERS {
        let c = clients[&(l as u64 % 3 + 1)].clone();
        let next = next.clone();
        loaders.spawn(async move {
            loop {
                let batch = next.fetch_add(1, Ordering::Relaxed);
                if batch * TXN_SIZE >= LOADED {
                    return Ok::<_, Error>(());
                }
                let ops = (batch * TXN_SIZE..(batch + 1) * TXN_SIZE)
                    .map(|i| Op::create(big(i), i.to_string(), None));
                c.txn(Txn::new().and_then(ops)).await?;
            }
        });
    }
    while let Some(joined) = loaders.join_next().await {
        joined??;
    }
    let leader = cluster.wait_leader().await?;
    let loaded = cluster.status(leader).await?;
    eprintln!(
        "loaded {LOADED} znodes in {:?}: leader {leader} at log index {}, snapshot at {:?}",
        started.elapsed(),
        loaded.last_log_index,
        loaded.snapshot_index
    );

    // The leader must have purged the log's start, so that a new member cannot
    // replay it from index 1. Group commit packs many writes into one entry, so add
    // one-at-a-time writes until the leader has a snapshot past index 1000: keeping
    // 200 entries behind it, its log then starts after index 800.
    let mut counter = 0u64;
    let mut leader_status = loaded;
    while leader_status.snapshot_index.unwrap_or(0) <= 1000 {
        ensure!(
            counter < 20_000,
            "leader has no snapshot past index 1000 after {counter} more writes: {leader_status:?}"
        );
        for _ in 0..100 {
            counter += 1;
            clients[&leader]
                .put(
                    "/counter",
                    counter.to_string(),
                    PutOptions::new().create_if_missing(),
                )
                .await?;
        }
        leader_status = cluster.status(cluster.wait_leader().await?).await?;
    }
    eprintln!(
        "{counter} single writes later: leader at log index {}, snapshot at {:?}",
        leader_status.last_log_index, leader_status.snapshot_index
    );

    // A new member joins as a learner and must catch up by snapshot. Membership
    // changes go through a follower: any member takes them, and each answers with the
    // members after the change.
    let follower = follower_of(&cluster, &clients).await?;
    let peer_addr = cluster.add_learner_process(4)?;
    let added_at = Instant::now();
    let added = clients[&follower].member_add(4, peer_addr.clone()).await?;
    assert!(
        added.members.contains(&Member {
            member_id: 4,
            peer_addr: peer_addr.clone(),
            is_learner: true,
        }),
        "{:?}",
        added.members
    );
    let deadline = added_at + Duration::from_secs(120);
    let learner = loop {
        let leader_commit = cluster
            .status(cluster.wait_leader().await?)
            .await?
            .commit_index;
        match cluster.status(4).await {
            Ok(s) if s.applied_index >= leader_commit => break s,
            Ok(_) | Err(_) if Instant::now() < deadline => {}
            Ok(s) => anyhow::bail!(
                "learner did not reach the leader's commit index {leader_commit} within 120 s: {s:?}"
            ),
            Err(e) => return Err(e.context("learner did not catch up within 120 s")),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("learner caught up in {:?}: {learner:?}", added_at.elapsed());
    assert!(learner.is_learner);
    assert!(
        learner.snapshot_installs >= 1,
        "the leader's log starts after index 1, yet the learner installed no snapshot: {learner:?}"
    );
    cluster.member_mut(4).wait_ready().await?;

    // A learner cannot lead.
    let err = clients[&follower]
        .transfer_leader(4)
        .await
        .expect_err("a learner cannot lead");
    assert!(matches!(err, Error::Membership { .. }), "{err:?}");

    let follower = follower_of(&cluster, &clients).await?;
    let promoted = clients[&follower].member_promote(4).await?;
    assert!(
        promoted.members.iter().all(|m| !m.is_learner) && promoted.members.len() == 4,
        "{:?}",
        promoted.members
    );
    let c4 = cluster.client(4).await?;
    let last = c4.get("/counter", None).await?;
    assert_eq!(last.header.member_id, 4);
    assert_eq!(last.node.data, counter.to_string().as_bytes());
    let listed = c4
        .list_all("/big", ListOptions::new().limit(10_000))
        .await?;
    assert_eq!(listed.nodes.len(), LOADED);
    assert_eq!(listed.nodes[0].path, big(0));
    assert_eq!(listed.nodes[LOADED - 1].path, big(LOADED - 1));
    // Member 4 now votes: a write needs it or the others' quorum, and it sees it.
    let put = clients[&3].put("/counter", "after promotion", None).await?;
    let got = c4.get("/counter", None).await?;
    assert_eq!(got.node.data, b"after promotion");
    assert_eq!(got.node.stat.mod_revision, put.header.revision);

    let follower = follower_of(&cluster, &clients).await?;
    let removed = clients[&follower].member_remove(4).await?;
    let voters: Vec<(u64, bool)> = removed
        .members
        .iter()
        .map(|m| (m.member_id, m.is_learner))
        .collect();
    assert_eq!(voters, [(1, false), (2, false), (3, false)]);
    // The removed member no longer gets the log: it must stop reporting ready, so a
    // load balancer takes it out of rotation.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = cluster.member(4).http_get("/readyz").await?;
        if code == 503 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "removed member 4 still answers /readyz with {code}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.kill9(4)?;
    // Every remaining member drops member 4 (a follower may apply the change a moment
    // after the leader answers).
    for (&id, c) in &clients {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = c.member_list().await?;
            let ids: Vec<u64> = list.members.iter().map(|m| m.member_id).collect();
            if ids == [1, 2, 3] {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "member {id} still lists {ids:?} after member 4 was removed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    clients[&1].put("/counter", "after removal", None).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_through_any_member_answer_with_the_members_after_the_change(
) -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let clients = clients(&cluster).await?;
    let peer_addr = cluster.add_learner_process(4)?;
    let voters: Vec<Member> = clients[&1].member_list().await?.members;
    let learner = Member {
        member_id: 4,
        peer_addr: peer_addr.clone(),
        is_learner: true,
    };
    let mut with_learner = voters.clone();
    with_learner.push(learner.clone());
    // Each member in turn, the leader and the followers alike, takes the changes.
    for round in 0..3 {
        for (&via, c) in &clients {
            let added = c.member_add(4, peer_addr.clone()).await?;
            assert_eq!(
                added.members, with_learner,
                "MemberAdd through member {via}, round {round}"
            );
            let removed = c.member_remove(4).await?;
            assert_eq!(
                removed.members, voters,
                "MemberRemove through member {via}, round {round}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_leader_moves_leadership_to_named_member() -> Result<()> {
    let cluster = Cluster::start(3).await?;
    let clients = clients(&cluster).await?;
    let old = cluster.wait_leader().await?;
    let term = cluster.status(old).await?.raft_term;
    let others: Vec<u64> = cluster.ids().into_iter().filter(|&id| id != old).collect();
    let (target, via) = (others[0], others[1]);

    // Asked through the member that is neither leader nor target.
    let moved = clients[&via].transfer_leader(target).await?;
    assert_eq!(moved.leader_id, target);
    assert_eq!(cluster.wait_leader().await?, target);
    let status = cluster.status(target).await?;
    assert!(status.is_leader(), "{status:?}");
    assert!(status.raft_term > term, "a new leader needs a new term");
    // The cluster works under its new leader, through the old one too.
    let put = clients[&old]
        .put("/moved", "yes", PutOptions::new().create_if_missing())
        .await?;
    for c in clients.values() {
        assert_eq!(
            c.get("/moved", None).await?.node.stat.mod_revision,
            put.header.revision
        );
    }

    // Transferring to the leader itself changes nothing.
    let same = clients[&old].transfer_leader(target).await?;
    assert_eq!(same.leader_id, target);
    assert_eq!(cluster.status(target).await?.raft_term, status.raft_term);

    // And back, asked through the current leader.
    let back = clients[&target].transfer_leader(old).await?;
    assert_eq!(back.leader_id, old);
    assert_eq!(cluster.wait_leader().await?, old);
    Ok(())
}

/// Puts `/fresh` to increasing numbers through `c` until `duration` has passed and at
/// least `min_acks` were acknowledged. Returns (last acknowledged, last sent).
async fn put_for(
    c: &Client,
    next: &mut u64,
    duration: Duration,
    min_acks: usize,
) -> Result<(u64, u64)> {
    let started = Instant::now();
    let mut acked = None;
    let mut acks = 0;
    let mut slowest = Duration::ZERO;
    while started.elapsed() < duration || acks < min_acks {
        ensure!(
            started.elapsed() < duration + Duration::from_secs(60),
            "only {acks} writes acknowledged in {:?}",
            started.elapsed()
        );
        *next += 1;
        let sent = Instant::now();
        let put = c
            .put(
                "/fresh",
                next.to_string(),
                PutOptions::new().create_if_missing(),
            )
            .await;
        slowest = slowest.max(sent.elapsed());
        match put {
            Ok(_) => {
                acked = Some(*next);
                acks += 1;
            }
            // Outcome unknown (e.g. the leader is paused): it may still be applied.
            Err(Error::Unavailable { .. } | Error::Timeout { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    eprintln!(
        "{acks} puts acknowledged in {:?}; the slowest took {slowest:?}",
        started.elapsed()
    );
    Ok((acked.context("no write acknowledged")?, *next))
}

/// A linearizable read of `/fresh` through `c`, which must show at least `acked`
/// (the last acknowledged write) and at most `sent` (a later write whose outcome was
/// unknown may have been applied).
async fn assert_fresh(c: &Client, member: u64, acked: u64, sent: u64) -> Result<()> {
    let got = c.get("/fresh", GetOptions::new()).await?;
    ensure!(got.header.member_id == member, "answered by another member");
    let value: u64 = String::from_utf8_lossy(&got.node.data).parse()?;
    ensure!(
        (acked..=sent).contains(&value),
        "stale linearizable read through member {member}: /fresh = {value}, but {acked} was acknowledged"
    );
    Ok(())
}

/// Longer than the election timeout's upper bound (1.5 s by default), so the others
/// move on without the paused member.
const PAUSE: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_follower_never_serves_stale_linearizable_read() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let clients = clients(&cluster).await?;
    let mut next = 0;
    let (leader, paused) = cluster.leader_and_follower().await?;
    let writer = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader && id != paused)
        .context("a third member")?;
    put_for(&clients[&writer], &mut next, Duration::ZERO, 1).await?;
    assert_fresh(&clients[&paused], paused, next, next).await?;

    for round in 0..3 {
        cluster.pause(paused)?;
        let (acked, sent) = put_for(&clients[&writer], &mut next, PAUSE, 10).await?;
        cluster.resume(paused)?;
        assert_fresh(&clients[&paused], paused, acked, sent)
            .await
            .with_context(|| format!("follower {paused}, round {round}"))?;
    }

    // The leader paused: the others elect a new one and go on; once continued, the
    // old leader must not answer from its stale state either.
    let old_leader = cluster.wait_leader().await?;
    let writer = cluster
        .ids()
        .into_iter()
        .find(|&id| id != old_leader)
        .context("a follower")?;
    cluster.pause(old_leader)?;
    let (acked, sent) = put_for(&clients[&writer], &mut next, PAUSE, 10).await?;
    let new_leader = cluster.wait_leader().await?;
    ensure!(new_leader != old_leader, "the paused member still leads");
    cluster.resume(old_leader)?;
    assert_fresh(&clients[&old_leader], old_leader, acked, sent)
        .await
        .with_context(|| format!("old leader {old_leader}"))?;
    Ok(())
}

/// `len` bytes that no compressor can shrink (xorshift), different for each `seed`.
fn incompressible(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_member_list_and_health_show_each_members_view_of_the_cluster() -> Result<()> {
    let cluster = Cluster::start(3).await?;
    let c = cluster.client(2).await?;
    c.create("/blob", "", None).await?;
    const BLOBS: usize = 32;
    const BLOB: usize = 64 * 1024;
    let mut last_revision = 0;
    for i in 0..BLOBS {
        let created = c
            .create(format!("/blob/{i}"), incompressible(i as u64, BLOB), None)
            .await?;
        last_revision = created.header.revision;
    }
    let commit = cluster.wait_caught_up().await?;
    let leader = cluster.wait_leader().await?;
    let term = cluster.status(leader).await?.raft_term;
    let expected: Vec<Member> = cluster
        .ids()
        .into_iter()
        .map(|id| Member {
            member_id: id,
            peer_addr: format!("127.0.0.1:{}", cluster.member(id).ports().peer),
            is_learner: false,
        })
        .collect();
    for id in cluster.ids() {
        let s = cluster.status(id).await?;
        assert_eq!((s.member_id, s.header.member_id), (id, id), "{s:?}");
        assert_eq!(s.leader_id, Some(leader), "{s:?}");
        assert_eq!(s.is_leader(), id == leader, "{s:?}");
        assert_eq!(s.raft_term, term, "{s:?}");
        assert!(!s.is_learner, "{s:?}");
        assert!(
            s.applied_index >= commit
                && s.commit_index >= s.applied_index
                && s.last_log_index >= s.commit_index,
            "indexes out of order or behind the leader's commit {commit}: {s:?}"
        );
        assert_eq!(s.revision, last_revision, "{s:?}");
        assert!(!s.version.is_empty(), "{s:?}");
        assert!(
            s.db_size_bytes >= (BLOBS * BLOB / 2) as u64,
            "member {id} holds {} KiB of incompressible znode data but reports a database of {} bytes",
            BLOBS * BLOB / 1024,
            s.db_size_bytes
        );

        let list = cluster.client(id).await?.member_list().await?;
        assert_eq!(list.header.member_id, id);
        assert_eq!(list.members, expected, "member list through {id}");
        assert_eq!(list.leader_id, Some(leader), "member list through {id}");

        let server = cluster.member(id);
        let (code, body) = server.http_get("/readyz").await?;
        assert_eq!(code, 200, "/readyz of member {id}: {body}");
        assert!(
            body.contains(&format!("leader is member {leader}")),
            "{body}"
        );
        let (code, _) = server.http_get("/livez").await?;
        assert_eq!(code, 200, "/livez of member {id}");
        let (code, metrics) = server.http_get("/metrics").await?;
        assert_eq!(code, 200, "/metrics of member {id}");
        let is_leader = format!("corral_raft_is_leader {}", u8::from(id == leader));
        assert!(metrics.lines().any(|l| l == is_leader), "{metrics}");
        assert!(
            metrics
                .lines()
                .any(|l| l == format!("corral_raft_term {term}")),
            "{metrics}"
        );
    }
    Ok(())
}

/// The gRPC code a raw Cluster call is answered with.
async fn code_of<T: std::fmt::Debug>(
    call: impl std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> tonic::Code {
    match call.await {
        Ok(response) => panic!("expected an error, got {:?}", response.into_inner()),
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn membership_changes_with_bad_input_fail_with_typed_errors_and_change_nothing() -> Result<()>
{
    use corral_proto::v1 as pb;
    let server = Server::start().await?;
    let c = server.client().await?;
    let before = c.member_list().await?;
    assert_eq!(before.leader_id, Some(1));
    let own_peer = before.members[0].peer_addr.clone();
    let mut raw = pb::cluster_client::ClusterClient::connect(server.endpoint()).await?;

    let err = c.member_add(0, "127.0.0.1:2510").await.expect_err("id 0");
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    for bad in [
        "",
        "nowhere",
        "127.0.0.1",
        "127.0.0.1:port",
        "127.0.0.1:70000",
        "http://127.0.0.1:1",
    ] {
        let err = c.member_add(2, bad).await.expect_err(bad);
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{bad:?}: {err:?}"
        );
    }
    let code = code_of(raw.member_add(pb::MemberAddRequest {
        member_id: 0,
        peer_addr: "127.0.0.1:2510".into(),
    }))
    .await;
    assert_eq!(code, tonic::Code::InvalidArgument);

    // An id or a peer address already in use.
    let err = c
        .member_add(1, "127.0.0.1:2510")
        .await
        .expect_err("id 1 is a voter");
    assert!(matches!(err, Error::Membership { .. }), "{err:?}");
    let err = c
        .member_add(2, own_peer.clone())
        .await
        .expect_err("address in use");
    assert!(matches!(err, Error::Membership { .. }), "{err:?}");

    // Unknown members.
    let err = c.member_promote(9).await.expect_err("no member 9");
    assert!(
        matches!(err, Error::MemberNotFound { member_id: 9, .. }),
        "{err:?}"
    );
    let err = c.member_remove(9).await.expect_err("no member 9");
    assert!(
        matches!(err, Error::MemberNotFound { member_id: 9, .. }),
        "{err:?}"
    );
    let err = c.transfer_leader(9).await.expect_err("no member 9");
    assert!(
        matches!(err, Error::MemberNotFound { member_id: 9, .. }),
        "{err:?}"
    );
    for id in [0, 9] {
        let expected = if id == 0 {
            tonic::Code::InvalidArgument
        } else {
            tonic::Code::NotFound
        };
        let promote = code_of(raw.member_promote(pb::MemberPromoteRequest { member_id: id })).await;
        let remove = code_of(raw.member_remove(pb::MemberRemoveRequest { member_id: id })).await;
        let transfer =
            code_of(raw.transfer_leader(pb::TransferLeaderRequest { member_id: id })).await;
        assert_eq!(
            (promote, remove, transfer),
            (expected, expected, expected),
            "member {id}"
        );
    }

    // The last voter cannot go.
    let err = c.member_remove(1).await.expect_err("last voter");
    assert!(matches!(err, Error::Membership { .. }), "{err:?}");
    let code = code_of(raw.member_remove(pb::MemberRemoveRequest { member_id: 1 })).await;
    assert_eq!(code, tonic::Code::FailedPrecondition);

    let after = c.member_list().await?;
    assert_eq!(after.members, before.members);
    assert_eq!(after.leader_id, Some(1));
    let status = c.status().await?;
    assert!(status.is_leader() && !status.is_learner, "{status:?}");
    c.create("/still-writable", "", None).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_through_a_follower_each_get_their_own_result() -> Result<()> {
    // A follower sends the writes it receives to the leader in batches: every write in a
    // batch must still be answered with its own result or its own error.
    let cluster = Cluster::start(3).await?;
    let (_, follower) = cluster.leader_and_follower().await?;
    let client = cluster.client(follower).await?;
    client.create("/fw", "", None).await?;
    let version = client.create("/fw/cas", "", None).await?.stat.version;

    let mut creates = JoinSet::new();
    let mut cas = JoinSet::new();
    for i in 0..100 {
        let c = client.clone();
        creates.spawn(async move {
            c.create(
                "/fw/seq-",
                format!("{i}"),
                CreateOptions::new().sequential(),
            )
            .await
        });
        let c = client.clone();
        cas.spawn(async move {
            c.put(
                "/fw/cas",
                format!("{i}"),
                PutOptions::new().expected_version(version),
            )
            .await
        });
    }
    let mut paths = std::collections::BTreeSet::new();
    while let Some(r) = creates.join_next().await {
        paths.insert(r??.path);
    }
    assert_eq!(paths.len(), 100, "each sequential create got its own path");
    let (mut won, mut lost) = (0, 0);
    while let Some(r) = cas.join_next().await {
        match r? {
            Ok(_) => won += 1,
            Err(Error::VersionMismatch { .. }) => lost += 1,
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(
        (won, lost),
        (1, 99),
        "exactly one compare-and-set on the created version wins"
    );
    let listed = client.list_all("/fw", None).await?.nodes.len();
    assert_eq!(listed, 101);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_its_clients_their_own_writes() -> Result<()> {
    // A write sent to a follower is committed and applied by the leader first; the
    // follower learns of the commit a moment later. A client that then reads from the
    // same member without a round trip to the leader (a serializable read) must still
    // see its own write, as a ZooKeeper session does.
    let cluster = Cluster::start(3).await?;
    let (_, follower) = cluster.leader_and_follower().await?;
    let client = cluster.client(follower).await?;
    client.create("/ryw", "", None).await?;
    for i in 0..300 {
        let value = format!("write {i}");
        let put = client
            .put(
                "/ryw/k",
                value.clone(),
                PutOptions::new().create_if_missing(),
            )
            .await?;
        let got = client
            .get("/ryw/k", GetOptions::new().serializable())
            .await?;
        assert_eq!(got.header.member_id, follower);
        ensure!(
            got.header.revision >= put.header.revision,
            "write {i} was acknowledged at revision {} but the follower then read at {}",
            put.header.revision,
            got.header.revision
        );
        assert_eq!(String::from_utf8_lossy(&got.node.data), value);
    }
    Ok(())
}

/// With both followers killed, the leader cannot commit: a write to it must fail in
/// bounded time (docs/operations.md: about 5.5 s) as OUTCOME_UNKNOWN, since it is in the
/// leader's log and may still commit if the followers come back, instead of hanging
/// until the client's deadline. A write that never reached a log (no leader to take it)
/// fails UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_leader_without_quorum_fails_outcome_unknown_in_bounded_time() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let leader = cluster.wait_leader().await?;
    // A plain write (no request id): the client must not retry it itself, and its
    // deadline is far beyond the bound under test.
    let client = Client::builder([cluster.member(leader).endpoint()])
        .timeout(Duration::from_secs(30))
        .exactly_once(false)
        .connect()
        .await?;
    client.create("/quorum", "before", None).await?;
    for id in cluster.ids() {
        if id != leader {
            cluster.kill9(id)?;
        }
    }
    let started = Instant::now();
    let err = client
        .put("/quorum", "after", None)
        .await
        .expect_err("no quorum: the write cannot commit");
    let took = started.elapsed();
    ensure!(
        matches!(err, Error::OutcomeUnknown { .. }),
        "expected OUTCOME_UNKNOWN, got {err:?}"
    );
    ensure!(
        took < Duration::from_secs(10),
        "the write failed only after {took:?}"
    );
    Ok(())
}

/// A member that cannot serve one of its ports must not run on without it: `corral
/// serve` exits non-zero with a message naming the address (here the port is taken
/// before it starts; a server that fails later ends the member the same way, see
/// the unit test `server::tests`).
#[test]
fn a_member_whose_port_is_taken_exits_non_zero_naming_the_address() -> Result<()> {
    for taken in ["--peer-addr", "--http-addr"] {
        let ports = corral_tests::Ports::allocate()?;
        let addr = |port: u16| format!("127.0.0.1:{port}");
        let busy = match taken {
            "--peer-addr" => addr(ports.peer),
            _ => addr(ports.http),
        };
        let _holder = std::net::TcpListener::bind(&busy)?;
        let dir = tempfile::tempdir()?;
        let mut child = std::process::Command::new(corral_tests::corral_bin()?)
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--client-addr", &addr(ports.client)])
            .args(["--peer-addr", &addr(ports.peer)])
            .args(["--http-addr", &addr(ports.http)])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                anyhow::bail!("corral serve with {taken} {busy} taken still runs after 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().context("stderr")?, &mut stderr)?;
        ensure!(!status.success(), "{taken} {busy} taken, yet exit {status}");
        ensure!(
            stderr.contains(&busy),
            "{taken} {busy} taken: the message does not name it: {stderr}"
        );
    }
    Ok(())
}
