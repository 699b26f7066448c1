//! Every recipe of `corral_client::recipes` against a real 3-member cluster, each with
//! its failure case: a holder whose process dies (its session orphaned: keepalives
//! stop, the lease runs out) or a member killed with -9 under a client.

mod sdk_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use corral_client::recipes::{
    Barrier, Cache, ConfigWatcher, Counter, DoubleBarrier, LeaderElection, Mutex, Queue, RwLock,
    RwLockMode, Semaphore, ServiceRegistry,
};
use corral_client::{Client, CreateOptions, Error, ListOptions, Session};
use corral_tests::Cluster;
use sdk_common::{client_via, cluster3, eventually, member_at, TIMEOUT};

/// TTL of sessions that stay alive through the test.
const LONG_TTL: Duration = Duration::from_secs(10);
/// TTL of sessions whose holder "dies" (is orphaned), so the test waits little.
const SHORT_TTL: Duration = Duration::from_secs(2);
/// Bound on waits that end when a short lease expires.
const EXPIRY: Duration = Duration::from_secs(30);

/// A client whose calls go to member `first` first, and a session on it.
async fn session(cluster: &Cluster, first: u64, ttl: Duration) -> Result<(Client, Session)> {
    let client = client_via(cluster, first).await?;
    let session = Session::new(&client, ttl).await?;
    Ok((client, session))
}

/// Waits at most `within` for `future`, failing with `what`.
async fn within<T>(
    within: Duration,
    what: &str,
    future: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(within, future)
        .await
        .with_context(|| format!("not within {within:?}: {what}"))
}

#[tokio::test]
async fn mutex_excludes_holders_orders_fencing_tokens_and_survives_a_dead_holder() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let inside = Arc::new(AtomicUsize::new(0));
    let last_token = Arc::new(AtomicI64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..3u64 {
        let (_, session) = session(&cluster, 1 + w % 3, LONG_TTL).await?;
        let mutex = Mutex::new(&session, "/locks/m");
        let (inside, last_token) = (inside.clone(), last_token.clone());
        workers.spawn(async move {
            for _ in 0..5 {
                let guard = mutex.lock().await?;
                ensure!(
                    inside.fetch_add(1, Ordering::SeqCst) == 0,
                    "two holders at once"
                );
                let previous = last_token.swap(guard.fencing_token(), Ordering::SeqCst);
                ensure!(
                    guard.fencing_token() > previous,
                    "fencing token went backwards"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                guard.unlock().await?;
            }
            drop(session);
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }

    // The holder dies (its session stops keeping the lease alive); a waiter, whose
    // member is killed -9 while it waits, still gets the lock once the lease expires.
    let (_, holder) = session(&cluster, 1, SHORT_TTL).await?;
    let held = Mutex::new(&holder, "/locks/m").lock().await?;
    let (waiting_client, waiter) = session(&cluster, 2, LONG_TTL).await?;
    let waiting = tokio::spawn({
        let waiter = waiter.clone();
        async move { Mutex::new(&waiter, "/locks/m").lock().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the lock is held");
    let victim = member_at(&cluster, waiting_client.current_endpoint())?;
    cluster.kill9(victim)?;
    holder.orphan();
    let taken = within(EXPIRY, "the waiter gets the lock", waiting).await???;
    assert!(taken.fencing_token() > held.fencing_token());
    // Its lease is gone: dropping the guard releases nothing that is still there.
    drop(held);
    taken.unlock().await?;
    Ok(())
}

#[tokio::test]
async fn rwlock_shares_readers_excludes_writers_in_order_and_survives_a_dead_writer() -> Result<()>
{
    let (_slot, mut cluster) = cluster3().await?;
    let (_, a) = session(&cluster, 1, LONG_TTL).await?;
    let (_, b) = session(&cluster, 2, LONG_TTL).await?;
    let (c_client, c) = session(&cluster, 3, LONG_TTL).await?;
    let path = "/locks/rw";

    // Two readers hold it at once.
    let r1 = RwLock::new(&a, path).read().await?;
    let r2 = within(TIMEOUT, "a second reader", RwLock::new(&b, path).read()).await??;
    assert_eq!(r2.mode(), RwLockMode::Read);
    // A writer waits for both; a reader arriving after the writer waits for it.
    let writer = tokio::spawn({
        let c = c.clone();
        async move { RwLock::new(&c, path).write().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late_reader = RwLock::new(&a, path);
    let err = late_reader
        .acquire_timeout(RwLockMode::Read, Duration::from_millis(500))
        .await
        .expect_err("queued behind the writer");
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    assert!(!writer.is_finished(), "readers still hold it");
    r1.unlock().await?;
    assert!(!writer.is_finished(), "one reader still holds it");
    r2.unlock().await?;
    let w = within(TIMEOUT, "the writer gets it", writer).await???;
    assert_eq!(w.mode(), RwLockMode::Write);
    let entries = c_client.list(path, ListOptions::new()).await?.nodes;
    assert_eq!(
        entries.len(),
        1,
        "the timed-out reader left no entry: {entries:?}"
    );

    // The writer's process dies while a reader, whose member is killed, waits.
    c.orphan();
    let (reading_client, d) = session(&cluster, 1, LONG_TTL).await?;
    let reader = tokio::spawn({
        let d = d.clone();
        async move { RwLock::new(&d, path).read().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the dead writer still holds it");
    cluster.kill9(member_at(&cluster, reading_client.current_endpoint())?)?;
    let r = within(
        EXPIRY,
        "the reader gets it once the writer's lease expires",
        reader,
    )
    .await???;
    drop(w);
    r.unlock().await?;
    Ok(())
}

#[tokio::test]
async fn semaphore_never_exceeds_its_permits_and_reclaims_a_dead_holders_permit() -> Result<()> {
    let (_slot, cluster) = cluster3().await?;
    let path = "/semaphores/s";
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4u64 {
        let (_, session) = session(&cluster, 1 + w % 3, LONG_TTL).await?;
        let semaphore = Semaphore::new(&session, path, 2);
        let (inside, most) = (inside.clone(), most.clone());
        workers.spawn(async move {
            for _ in 0..3 {
                let permit = semaphore.acquire().await?;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                ensure!(now <= 2, "{now} holders of 2 permits");
                tokio::time::sleep(Duration::from_millis(20)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                permit.release().await?;
            }
            drop(session);
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    assert!(most.load(Ordering::SeqCst) >= 1);

    // Both permits out, one of them to a process that dies: a waiter gets its permit
    // once the dead holder's lease expires.
    let (_, dead) = session(&cluster, 1, SHORT_TTL).await?;
    let (_, alive) = session(&cluster, 2, LONG_TTL).await?;
    let (_, waiter) = session(&cluster, 3, LONG_TTL).await?;
    let p1 = Semaphore::new(&dead, path, 2).acquire().await?;
    let p2 = Semaphore::new(&alive, path, 2).acquire().await?;
    assert_eq!(Semaphore::new(&alive, path, 2).held().await?, 2);
    let err = Semaphore::new(&waiter, path, 2)
        .acquire_timeout(Duration::from_millis(500))
        .await
        .expect_err("no permit free");
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    let waiting = tokio::spawn({
        let waiter = waiter.clone();
        async move { Semaphore::new(&waiter, path, 2).acquire().await }
    });
    dead.orphan();
    let p3 = within(EXPIRY, "the dead holder's permit comes back", waiting).await???;
    assert_eq!(Semaphore::new(&alive, path, 2).held().await?, 2);
    drop(p1);
    p2.release().await?;
    p3.release().await?;
    Ok(())
}

#[tokio::test]
async fn leader_election_hands_over_when_the_leader_dies_and_observers_follow() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let name = "/elections/scheduler";
    let (_, a) = session(&cluster, 1, SHORT_TTL).await?;
    let (_, b) = session(&cluster, 2, LONG_TTL).await?;
    let (watching, observer_session) = session(&cluster, 3, LONG_TTL).await?;
    let mut observer = LeaderElection::new(&observer_session, name)
        .observe()
        .await?;
    assert_eq!(
        within(TIMEOUT, "the first observation", observer.next())
            .await?
            .context("ended")??,
        None,
        "no leader yet"
    );

    let mut leading = LeaderElection::new(&a, name).campaign("a").await?;
    let b_campaign = tokio::spawn({
        let b = b.clone();
        async move { LeaderElection::new(&b, name).campaign("b").await }
    });
    let seen = within(TIMEOUT, "a leads", observer.next())
        .await?
        .context("ended")??;
    assert_eq!(seen.as_ref().map(|l| l.value.as_slice()), Some(&b"a"[..]));
    leading.proclaim("a2").await?;
    let seen = within(TIMEOUT, "a's new value", observer.next())
        .await?
        .context("ended")??;
    assert_eq!(seen.as_ref().map(|l| l.value.as_slice()), Some(&b"a2"[..]));
    assert!(!b_campaign.is_finished(), "a leads");

    // The observer's member is killed -9; then the leader's process dies.
    cluster.kill9(member_at(&cluster, watching.current_endpoint())?)?;
    let first_key = leading.key().clone();
    a.orphan();
    let b_leads = within(EXPIRY, "b leads once a's lease expires", b_campaign).await???;
    assert!(b_leads.key().create_revision > first_key.create_revision);
    let mut latest = None;
    while latest
        .as_ref()
        .map(|l: &corral_client::LeaderKey| l.value.clone())
        != Some(b"b".to_vec())
    {
        latest = within(EXPIRY, "the observer sees b", observer.next())
            .await?
            .context("ended")??;
    }
    let err = leading
        .proclaim("stale")
        .await
        .expect_err("no longer leads");
    assert!(matches!(err, Error::NotElectionLeader { .. }), "{err:?}");
    drop(leading);

    b_leads.resign().await?;
    loop {
        let seen = within(TIMEOUT, "no leader after b resigns", observer.next())
            .await?
            .context("ended")??;
        if seen.is_none() {
            break;
        }
    }
    assert_eq!(LeaderElection::new(&b, name).leader().await?, None);
    Ok(())
}

#[tokio::test]
async fn barrier_holds_waiters_until_lifted_and_lifts_when_its_controller_dies() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let controller = client_via(&cluster, 1).await?;
    let barrier = Barrier::new(&controller, "/barriers/deploy");
    barrier.set().await?;
    assert!(barrier.is_set().await?);
    let mut waiters = Vec::new();
    for member in 1..=3 {
        let client = client_via(&cluster, member).await?;
        waiters.push(tokio::spawn(async move {
            Barrier::new(&client, "/barriers/deploy").wait().await
        }));
    }
    let err = Barrier::new(&controller, "/barriers/deploy")
        .wait_timeout(Duration::from_millis(300))
        .await
        .expect_err("still up");
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    assert!(waiters.iter().all(|w| !w.is_finished()));
    // A member under some waiters dies; lifting still releases every waiter.
    cluster.kill9(3)?;
    let barrier = Barrier::new(&client_via(&cluster, 2).await?, "/barriers/deploy");
    barrier.remove().await?;
    for waiter in waiters {
        within(TIMEOUT, "a waiter is released", waiter).await???;
    }
    assert!(!barrier.is_set().await?);

    // A barrier tied to its controller's session lifts by itself when it dies.
    let (client, owner) = session(&cluster, 1, SHORT_TTL).await?;
    let tied = Barrier::new(&client, "/barriers/tied");
    tied.set_with_session(&owner).await?;
    let waiting = tokio::spawn({
        let tied = tied.clone();
        async move { tied.wait().await }
    });
    owner.orphan();
    within(EXPIRY, "the tied barrier lifts", waiting).await???;
    Ok(())
}

#[tokio::test]
async fn double_barrier_enters_and_leaves_together_and_a_dead_participant_counts_as_gone(
) -> Result<()> {
    let (_slot, cluster) = cluster3().await?;
    let path = "/barriers/round";
    let (_, s1) = session(&cluster, 1, LONG_TTL).await?;
    let (_, s2) = session(&cluster, 2, LONG_TTL).await?;
    let (_, s3) = session(&cluster, 3, SHORT_TTL).await?;
    let p1 = DoubleBarrier::new(&s1, path, 3);
    let p2 = DoubleBarrier::new(&s2, path, 3);
    let p3 = DoubleBarrier::new(&s3, path, 3);
    let err = p1
        .enter_timeout(Duration::from_millis(300))
        .await
        .expect_err("alone");
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
    let entering = tokio::spawn({
        let (p1, p2) = (p1.clone(), p2.clone());
        async move { tokio::try_join!(p1.enter(), p2.enter()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!entering.is_finished(), "two of three");
    p3.enter().await?;
    within(TIMEOUT, "all three are in", entering).await???;

    // Participant 3 dies inside; the others leave once its lease expires.
    let leaving = tokio::spawn({
        let (p1, p2) = (p1.clone(), p2.clone());
        async move { tokio::try_join!(p1.leave(), p2.leave()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!leaving.is_finished(), "participant 3 is still in");
    s3.orphan();
    within(EXPIRY, "the others leave", leaving).await???;
    let client = client_via(&cluster, 1).await?;
    eventually(TIMEOUT, "the barrier's znodes are gone", || async {
        Ok(matches!(
            client.list(path, None).await,
            Err(Error::NotFound { .. })
        ))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn queue_hands_each_item_to_one_consumer_in_priority_order_through_a_leader_kill9(
) -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let leader = cluster.wait_leader().await?;
    let producer = client_via(&cluster, leader).await?;
    let queue = Queue::new(&producer, "/queues/jobs");

    // Priorities first, FIFO within one.
    queue.put("low-1").await?;
    queue.put_with_priority("high", 5).await?;
    queue.put("low-2").await?;
    queue.put_with_priority("lowest", -5).await?;
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(String::from_utf8(queue.take().await?)?);
    }
    assert_eq!(order, ["high", "low-1", "low-2", "lowest"]);
    assert_eq!(queue.try_take().await?, None);

    // Three consumers, one per member, take 150 items while the leader is killed -9.
    let taken = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let mut consumers = tokio::task::JoinSet::new();
    for member in 1..=3 {
        let queue = Queue::new(&client_via(&cluster, member).await?, "/queues/jobs");
        let taken = taken.clone();
        consumers.spawn(async move {
            // Wait through the failover (and a slow machine) until the stop item comes;
            // only a queue silent for a whole minute ends a consumer early.
            let give_up = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let Some(item) = queue.take_timeout(Duration::from_secs(5)).await? else {
                    if std::time::Instant::now() > give_up {
                        break;
                    }
                    continue;
                };
                let item = String::from_utf8(item)?;
                if item == "stop" {
                    // Leave it for the other consumers.
                    queue.put_with_priority("stop", -100).await?;
                    break;
                }
                taken.lock().await.push(item);
            }
            anyhow::Ok(())
        });
    }
    let producer = client_via(&cluster, if leader == 1 { 2 } else { 1 }).await?;
    let queue = Queue::new(&producer, "/queues/jobs");
    for i in 0..150 {
        if i == 50 {
            cluster.kill9(leader)?;
        }
        queue.put(format!("item-{i:03}")).await?;
    }
    queue.put_with_priority("stop", -100).await?;
    while let Some(done) = consumers.join_next().await {
        done??;
    }
    let mut taken = taken.lock().await.clone();
    taken.sort();
    let expected: Vec<String> = (0..150).map(|i| format!("item-{i:03}")).collect();
    assert_eq!(taken, expected, "every item taken exactly once");
    Ok(())
}

#[tokio::test]
async fn counter_adds_every_increment_exactly_once_through_a_leader_kill9() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let leader = cluster.wait_leader().await?;
    let counter = Counter::new(&client_via(&cluster, leader).await?, "/counters/c");
    assert_eq!(counter.get().await?, 0);
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4u64 {
        // Every worker talks to the leader first: the kill cuts CAS writes off mid-call.
        let counter = Counter::new(&client_via(&cluster, leader).await?, "/counters/c");
        let done = done.clone();
        workers.spawn(async move {
            for _ in 0..25 {
                counter
                    .increment()
                    .await
                    .with_context(|| format!("worker {w}"))?;
                done.fetch_add(1, Ordering::SeqCst);
            }
            anyhow::Ok(())
        });
    }
    eventually(Duration::from_secs(60), "increments under way", || async {
        Ok(done.load(Ordering::SeqCst) >= 20)
    })
    .await?;
    cluster.kill9(leader)?;
    while let Some(w) = workers.join_next().await {
        w??;
    }
    let survivor = Counter::new(
        &client_via(&cluster, cluster.live_ids()[0]).await?,
        "/counters/c",
    );
    assert_eq!(
        survivor.get().await?,
        100,
        "no increment lost or applied twice"
    );
    assert_eq!(survivor.add(-40).await?, 60);
    survivor.set(7).await?;
    assert_eq!(survivor.decrement().await?, 6);
    Ok(())
}

/// The subtree at `path` (with it) as the cluster has it, read linearizably.
async fn subtree(client: &Client, path: &str) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    match client.get(path, None).await {
        Ok(root) => {
            out.insert(root.node.path, root.node.data);
        }
        Err(Error::NotFound { .. }) => return Ok(out),
        Err(e) => return Err(e.into()),
    }
    let all = client
        .list_all(path, ListOptions::new().recursive().with_data())
        .await?;
    out.extend(all.nodes.into_iter().map(|n| (n.path, n.data)));
    Ok(out)
}

#[tokio::test]
async fn cache_mirrors_its_subtree_through_a_kill9_and_restart_of_its_member() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let (leader, follower) = cluster.leader_and_follower().await?;
    let writer = client_via(&cluster, leader).await?;
    writer
        .create("/app/config/a", "1", CreateOptions::new().create_parents())
        .await?;
    writer.create("/elsewhere", "x", None).await?;
    let cached = client_via(&cluster, follower).await?;
    let cache = Cache::start(&cached, "/app").await?;
    assert_eq!(
        cache.get("/app/config/a").map(|n| n.data),
        Some(b"1".to_vec())
    );
    assert!(cache.get("/elsewhere").is_none());
    assert_eq!(cache.children("/app").len(), 1);

    let mut last = 0;
    for round in 0..3 {
        if round == 1 {
            cluster.kill9(follower)?;
        }
        if round == 2 {
            cluster.restart(follower).await?;
        }
        for i in 0..20 {
            let path = format!("/app/n{}", i % 5);
            let r = match i % 3 {
                0 => {
                    writer
                        .put(
                            &path,
                            format!("{round}-{i}"),
                            corral_client::PutOptions::new().create_if_missing(),
                        )
                        .await?
                        .header
                        .revision
                }
                1 => match writer.delete(&path, None).await {
                    Ok(d) => d.header.revision,
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e.into()),
                },
                _ => {
                    writer
                        .create(format!("{path}-"), "s", CreateOptions::new().sequential())
                        .await?
                        .header
                        .revision
                }
            };
            last = last.max(r);
        }
    }
    within(
        TIMEOUT,
        "the cache catches up",
        cache.wait_for_revision(last),
    )
    .await??;
    let mirrored: BTreeMap<String, Vec<u8>> = cache
        .nodes()
        .into_iter()
        .map(|(p, n)| (p, n.data))
        .collect();
    assert_eq!(mirrored, subtree(&writer, "/app").await?);
    assert!(cache.revision() >= last);
    within(TIMEOUT, "sync", cache.sync()).await??;
    Ok(())
}

#[tokio::test]
async fn service_registry_discovers_instances_and_drops_a_dead_one() -> Result<()> {
    let (_slot, cluster) = cluster3().await?;
    let (client, alive) = session(&cluster, 1, LONG_TTL).await?;
    let (_, doomed) = session(&cluster, 2, SHORT_TTL).await?;
    let registry = ServiceRegistry::new(&client, "/services");
    let a = registry
        .register(&alive, "api", "host-a", r#"{"addr":"10.0.0.1:80"}"#)
        .await?;
    registry
        .register(&doomed, "api", "host-b", r#"{"addr":"10.0.0.2:80"}"#)
        .await?;
    let err = registry
        .register(&alive, "api", "host-b", "")
        .await
        .expect_err("host-b is another session's");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    let found = registry.discover("api").await?;
    let ids: Vec<&str> = found.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["host-a", "host-b"]);
    assert_eq!(found[1].lease_id, doomed.lease_id());

    let watching = client_via(&cluster, 3).await?;
    let mut watcher = ServiceRegistry::new(&watching, "/services")
        .watch("api")
        .await?;
    assert_eq!(watcher.instances().len(), 2);
    a.update(r#"{"addr":"10.0.0.1:81"}"#).await?;
    doomed.orphan();
    within(
        EXPIRY,
        "host-b disappears and host-a's update shows",
        async {
            loop {
                let now = watcher.instances();
                if now.len() == 1 && now[0].metadata == br#"{"addr":"10.0.0.1:81"}"# {
                    return anyhow::Ok(());
                }
                watcher.changed().await?;
            }
        },
    )
    .await??;
    assert_eq!(registry.discover("api").await?.len(), 1);
    a.deregister().await?;
    assert!(registry.discover("api").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn config_watcher_follows_changes_through_a_kill9_and_restart_of_its_member() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let (leader, follower) = cluster.leader_and_follower().await?;
    let writer = client_via(&cluster, leader).await?;
    let watching = client_via(&cluster, follower).await?;
    let mut config = ConfigWatcher::start(&watching, "/config/limit").await?;
    assert_eq!(config.current(), None);
    writer
        .create("/config/limit", "10", CreateOptions::new().create_parents())
        .await?;
    let seen = within(TIMEOUT, "created", config.changed()).await??;
    assert_eq!(seen.map(|n| n.data), Some(b"10".to_vec()));

    cluster.kill9(follower)?;
    for v in 11..=20 {
        writer.put("/config/limit", v.to_string(), None).await?;
    }
    cluster.restart(follower).await?;
    within(TIMEOUT, "the latest value", async {
        while config.current().map(|n| n.data) != Some(b"20".to_vec()) {
            config.changed().await?;
        }
        anyhow::Ok(())
    })
    .await??;
    writer.delete("/config/limit", None).await?;
    within(TIMEOUT, "the delete", async {
        while config.current().is_some() {
            config.changed().await?;
        }
        anyhow::Ok(())
    })
    .await??;
    Ok(())
}
