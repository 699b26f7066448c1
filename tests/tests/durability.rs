//! Nothing acknowledged is ever lost: writes acknowledged before a `kill -9` are all
//! there after a restart, writes in flight at the kill are either wholly applied or
//! absent, and what one restart shows, later restarts keep.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use corral_client::{Client, CreateOptions, ListOptions, Node, PutOptions};
use corral_tests::Server;
use tokio::task::JoinSet;

const CREATES: usize = 300;
const PUT_KEYS: usize = 10;
const PUTS_PER_KEY: i64 = 20;
const CONCURRENCY: usize = 16;

fn key(i: usize) -> String {
    format!("/dur/k{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill9_and_restart() -> Result<()> {
    let mut server = Server::start().await?;
    let c = server.client().await?;
    c.create("/dur", "", None).await?;

    // 300 creates from 16 concurrent writers.
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (c, next) = (c.clone(), next.clone());
        writers.spawn(async move {
            let mut last_revision = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= CREATES {
                    return Ok::<_, corral_client::Error>(last_revision);
                }
                let r = c.create(key(i), format!("value-{i}"), None).await?;
                last_revision = last_revision.max(r.header.revision);
            }
        });
    }
    let mut acked_revision = 0;
    while let Some(joined) = writers.join_next().await {
        acked_revision = acked_revision.max(joined??);
    }

    // 200 puts: 20 compare-and-set puts in a row on each of 10 keys, keys in parallel.
    for k in 0..PUT_KEYS {
        let c = c.clone();
        writers.spawn(async move {
            let mut last_revision = 0;
            for v in 1..=PUTS_PER_KEY {
                let r = c
                    .put(
                        key(k),
                        format!("put-{v}"),
                        PutOptions::new().expected_version(v - 1),
                    )
                    .await?;
                assert_eq!(r.stat.version, v);
                last_revision = r.header.revision;
            }
            Ok(last_revision)
        });
    }
    while let Some(joined) = writers.join_next().await {
        acked_revision = acked_revision.max(joined??);
    }

    server.kill9()?;
    server.restart().await?;
    let c = server.client().await?;

    let listed = c
        .list_all("/dur", ListOptions::new().with_data().limit(100))
        .await?;
    ensure!(
        listed.header.revision >= acked_revision,
        "revision went back from {acked_revision} to {} across the restart",
        listed.header.revision
    );
    let found: Vec<(String, Vec<u8>, i64)> = listed
        .nodes
        .into_iter()
        .map(|n| (n.path, n.data, n.stat.version))
        .collect();
    let expected: Vec<(String, Vec<u8>, i64)> = (0..CREATES)
        .map(|i| {
            if i < PUT_KEYS {
                (
                    key(i),
                    format!("put-{PUTS_PER_KEY}").into_bytes(),
                    PUTS_PER_KEY,
                )
            } else {
                (key(i), format!("value-{i}").into_bytes(), 0)
            }
        })
        .collect();
    assert_eq!(
        found, expected,
        "acknowledged writes lost or changed by kill -9"
    );
    Ok(())
}

/// What one writer sent and what was acknowledged. A writer works in sequence, so
/// at most its last attempt is unacknowledged.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    puts_attempted: i64,
    puts_acked: i64,
    children_attempted: i64,
    children_acked: i64,
}

const ROUNDS: usize = 3;
const WRITERS: usize = 8;
/// Acknowledged writes per round before the kill, so the kill lands mid-traffic.
const ACKS_BEFORE_KILL: usize = 150;

fn counter(round: usize, writer: usize) -> String {
    format!("/fly/r{round}w{writer}")
}

fn child(round: usize, writer: usize, n: i64) -> String {
    format!("{}/c{n:06}", counter(round, writer))
}

/// Puts `counter` to n (version n) and creates child n, alternately, until an error.
async fn write_until_failure(
    c: Client,
    round: usize,
    writer: usize,
    progress: Arc<Mutex<Progress>>,
    acks: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
) {
    for n in 1.. {
        progress.lock().unwrap().puts_attempted = n;
        let put = c
            .put(
                counter(round, writer),
                n.to_string(),
                PutOptions::new().expected_version(n - 1),
            )
            .await;
        if let Err(e) = put {
            assert!(
                killed.load(Ordering::SeqCst),
                "put failed before the kill: {e}"
            );
            return;
        }
        progress.lock().unwrap().puts_acked = n;
        acks.fetch_add(1, Ordering::SeqCst);

        progress.lock().unwrap().children_attempted = n;
        if let Err(e) = c.create(child(round, writer, n), n.to_string(), None).await {
            assert!(
                killed.load(Ordering::SeqCst),
                "create failed before the kill: {e}"
            );
            return;
        }
        progress.lock().unwrap().children_acked = n;
        acks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Checks one writer's znodes against what it sent: everything acknowledged is
/// there, and nothing it did not send.
async fn check_writer(c: &Client, round: usize, writer: usize, p: &Progress) -> Result<()> {
    let node = c.get(counter(round, writer), None).await?.node;
    let version = node.stat.version;
    ensure!(
        (p.puts_acked..=p.puts_attempted).contains(&version),
        "{}: version {version}, but {} puts were acknowledged and {} sent",
        node.path,
        p.puts_acked,
        p.puts_attempted
    );
    ensure!(
        node.data == version.to_string().as_bytes(),
        "{}: data does not match version",
        node.path
    );

    let children = c
        .list_all(counter(round, writer), ListOptions::new().with_data())
        .await?;
    let present = i64::try_from(children.nodes.len())?;
    ensure!(
        (p.children_acked..=p.children_attempted).contains(&present),
        "{}: {present} children, but {} creates were acknowledged and {} sent",
        node.path,
        p.children_acked,
        p.children_attempted
    );
    for (n, child_node) in (1..).zip(&children.nodes) {
        ensure!(
            child_node.path == child(round, writer, n)
                && child_node.data == n.to_string().as_bytes(),
            "children of {} are not c1..c{present}: found {}",
            node.path,
            child_node.path
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_with_writes_in_flight_keeps_every_acknowledged_write() -> Result<()> {
    let mut server = Server::start().await?;
    // Nodes of earlier rounds, as the first restart after their round showed them.
    let mut settled: Vec<Node> = Vec::new();
    for round in 0..ROUNDS {
        let c = server.client().await?;
        for writer in 0..WRITERS {
            c.create(
                counter(round, writer),
                "0",
                CreateOptions::new().create_parents(),
            )
            .await?;
        }
        let acks = Arc::new(AtomicUsize::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let progress: Vec<_> = (0..WRITERS)
            .map(|_| Arc::new(Mutex::new(Progress::default())))
            .collect();
        let mut writers = JoinSet::new();
        for (writer, p) in progress.iter().enumerate() {
            writers.spawn(write_until_failure(
                c.clone(),
                round,
                writer,
                p.clone(),
                acks.clone(),
                killed.clone(),
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while acks.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
            ensure!(
                Instant::now() < deadline,
                "writers too slow: {} acks",
                acks.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        killed.store(true, Ordering::SeqCst);
        server.kill9()?;
        while let Some(joined) = writers.join_next().await {
            joined?;
        }

        server.restart().await?;
        let c = server.client().await?;
        for (writer, p) in progress.iter().enumerate() {
            let sent = *p.lock().unwrap();
            check_writer(&c, round, writer, &sent).await?;
        }

        let now = c
            .list_all("/fly", ListOptions::new().recursive().with_data())
            .await?
            .nodes;
        let earlier: Vec<Node> = now
            .iter()
            .filter(|n| !n.path.starts_with(&format!("/fly/r{round}")))
            .cloned()
            .collect();
        assert_eq!(
            earlier, settled,
            "a later kill -9 changed what an earlier restart showed"
        );
        settled = now;
    }
    Ok(())
}

#[tokio::test]
async fn graceful_stop_and_restart_keeps_the_data() -> Result<()> {
    let mut server = Server::start().await?;
    let c = server.client().await?;
    let mut written = Vec::new();
    for i in 0..20 {
        let r = c
            .create(format!("/g{i}"), format!("data {i}"), None)
            .await?;
        written.push((r.path, r.stat));
    }
    server.stop().await?;
    ensure!(!server.is_running(), "the server still runs after stop");
    server.restart().await?;
    let c = server.client().await?;
    for (i, (path, stat)) in written.into_iter().enumerate() {
        let node = c.get(&path, None).await?.node;
        assert_eq!(node.data, format!("data {i}").as_bytes());
        assert_eq!(node.stat, stat);
    }
    Ok(())
}
