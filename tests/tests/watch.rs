//! Watches against a real server: resuming from `last_seen + 1` loses and repeats
//! nothing, scopes and filters select the right events, compaction cancels a watch
//! with the compact revision, and a stalled watcher neither grows the server's memory
//! without bound nor misses anything once it reads again.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use common::wire::{self, WatchStream};
use corral_client::{Client, CreateOptions, DeleteOptions, PutOptions};
use corral_proto::v1 as pb;
use corral_proto::v1::watch_create_request::Scope;
use corral_tests::Server;

/// Writes `count` znodes under `prefix` from `writers` concurrent tasks; each create is
/// one revision and one event.
async fn write_many(client: &Client, prefix: &str, count: usize, writers: usize) -> Result<()> {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let c = client.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < count {
                c.create(format!("{prefix}/k{i:06}"), vec![b'x'; 16], None)
                    .await?;
                i += writers;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn revisions(events: &[pb::Event]) -> Vec<i64> {
    events.iter().map(|e| e.revision).collect()
}

/// Checks that `revs` is exactly `first..=last`, each once, in order.
fn assert_contiguous(revs: &[i64], first: i64, last: i64) {
    assert_eq!(revs.first().copied(), Some(first), "first revision");
    assert_eq!(revs.last().copied(), Some(last), "last revision");
    for w in revs.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "gap or duplicate between {} and {}",
            w[0],
            w[1]
        );
    }
}

#[tokio::test]
async fn watch_resumed_from_last_seen_plus_one_misses_and_repeats_nothing() -> Result<()> {
    const WRITES: usize = 10_000;
    let server = Server::start().await?;
    let client = server.client().await?;
    let base = client.create("/r", "", None).await?.header.revision;

    let writer = {
        let c = client.clone();
        tokio::spawn(async move { write_many(&c, "/r", WRITES, 16).await })
    };

    let mut seen: Vec<i64> = Vec::new();
    let mut start = base + 1;
    // Disconnect three times mid-stream, each time resuming from last seen + 1.
    for round in 0..4 {
        let mut stream = WatchStream::open(&server.endpoint()).await?;
        let mut req = wire::create("/r", Scope::Subtree);
        req.start_revision = start;
        stream.watch(req).await?;
        let take = if round < 3 {
            2_000
        } else {
            WRITES - seen.len()
        };
        let events = stream.events(take).await?;
        for e in &events {
            assert_eq!(e.r#type, pb::EventType::Created as i32);
            assert!(e.node.as_ref().is_some_and(|n| n.path.starts_with("/r/k")));
        }
        // Everything in the batch that pushed us past `take` counts: it was delivered.
        seen.extend(revisions(&events));
        start = seen.last().copied().unwrap_or(base) + 1;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writer.await??;
    assert_eq!(seen.len(), WRITES, "every write delivered exactly once");
    assert_contiguous(&seen, base + 1, base + WRITES as i64);
    Ok(())
}

#[tokio::test]
async fn scopes_filters_and_prev_node_select_the_right_events() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    let mut stream = WatchStream::open(&server.endpoint()).await?;
    let node = stream.watch(wire::create("/s", Scope::Node)).await?;
    let mut children_req = wire::create("/s", Scope::Children);
    children_req.prev_node = true;
    let children = stream.watch(children_req).await?;
    let mut subtree_req = wire::create("/s", Scope::Subtree);
    subtree_req.filters = vec![pb::EventType::Updated as i32];
    let subtree = stream.watch(subtree_req).await?;

    client.create("/s", "0", None).await?;
    client.create("/s/a", "1", None).await?;
    client.create("/s/a/b", "2", None).await?;
    client.put("/s/a", "3", None).await?;
    client.create("/other", "", None).await?;
    client
        .delete("/s", DeleteOptions::new().recursive())
        .await?;

    let mut got: Vec<(i64, i32, String, Option<Vec<u8>>)> = Vec::new();
    while got.len() < 2 + 3 + 6 {
        let resp = stream.next().await?;
        for e in resp.events {
            let node = e.node.unwrap_or_default();
            got.push((
                resp.watch_id,
                e.r#type,
                node.path,
                e.prev_node.map(|p| p.data),
            ));
        }
    }
    let of = |id: i64| -> Vec<(i32, String, Option<Vec<u8>>)> {
        got.iter()
            .filter(|g| g.0 == id)
            .map(|g| (g.1, g.2.clone(), g.3.clone()))
            .collect()
    };
    use pb::EventType::{Created as C, Deleted as D, Updated as U};
    let ev = |t: pb::EventType, p: &str| (t as i32, p.to_string());
    let strip = |v: Vec<(i32, String, Option<Vec<u8>>)>| -> Vec<(i32, String)> {
        v.into_iter().map(|(t, p, _)| (t, p)).collect()
    };
    assert_eq!(strip(of(node)), vec![ev(C, "/s"), ev(D, "/s")]);
    let ch = of(children);
    assert_eq!(
        strip(ch.clone()),
        vec![ev(C, "/s/a"), ev(U, "/s/a"), ev(D, "/s/a")]
    );
    assert_eq!(
        ch[1].2.as_deref(),
        Some(&b"1"[..]),
        "prev_node of the update"
    );
    assert_eq!(
        strip(of(subtree)),
        vec![
            ev(C, "/s"),
            ev(C, "/s/a"),
            ev(C, "/s/a/b"),
            ev(D, "/s/a/b"),
            ev(D, "/s/a"),
            ev(D, "/s"),
        ],
        "children are deleted before their parents; UPDATED is filtered out"
    );
    Ok(())
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_canceled_with_the_compact_revision() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    let mut last = 0;
    for i in 0..5 {
        last = client
            .create(format!("/c{i}"), "", None)
            .await?
            .header
            .revision;
    }
    let mut m = corral_proto::v1::maintenance_client::MaintenanceClient::new(
        wire::channel(&server.endpoint()).await?,
    );
    let compacted = m
        .compact(pb::CompactRequest { revision: last - 2 })
        .await?
        .into_inner();
    assert_eq!(compacted.compact_revision, last - 2);

    let mut stream = WatchStream::open(&server.endpoint()).await?;
    let mut req = wire::create("/", Scope::Subtree);
    req.start_revision = last - 3;
    stream.watch(req).await?;
    let resp = stream.next().await?;
    assert!(resp.canceled, "{resp:?}");
    assert_eq!(resp.compact_revision, last - 2);
    assert!(
        resp.cancel_reason.contains("compacted"),
        "{}",
        resp.cancel_reason
    );

    // The first retained revision still replays.
    let mut req = wire::create("/", Scope::Subtree);
    req.start_revision = last - 1;
    stream.watch(req).await?;
    assert_eq!(revisions(&stream.events(2).await?), vec![last - 1, last]);
    Ok(())
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The pid of the server listening on `client_addr` (found by its command line).
fn server_pid(client_addr: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(" serve ") && cmd.contains(client_addr) {
                return Some(pid);
            }
        }
    }
    None
}

/// The bound this test holds the server to with 1000 watchers and a stalled one: the
/// live ring (256 batches) and per-stream buffers are the only memory that grows with
/// traffic, and a stalled stream's backlog stays in RocksDB, not in memory.
const RSS_BOUND: u64 = 256 << 20;

#[tokio::test]
async fn thousand_watchers_and_a_stalled_one_keep_memory_bounded_and_miss_nothing() -> Result<()> {
    const STREAMS: usize = 10;
    const PER_STREAM: usize = 100;
    const WRITES: usize = 4_000;
    let server = Server::start().await?;
    let client = server.client().await?;
    let pid = match server_pid(&server.client_addr()) {
        Some(pid) => pid,
        None => bail!("cannot find the server's pid"),
    };
    let base = client.create("/m", "", None).await?.header.revision;

    // The stalled watcher: registered, then never read until the writes are done.
    let mut stalled = WatchStream::open(&server.endpoint()).await?;
    let mut req = wire::create("/m", Scope::Subtree);
    req.start_revision = base + 1;
    stalled.watch(req).await?;

    // 1000 live watchers over 10 streams, each counting what it receives.
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..STREAMS {
        let mut s = WatchStream::open(&server.endpoint()).await?;
        for _ in 0..PER_STREAM {
            s.watch(wire::create("/m", Scope::Subtree)).await?;
        }
        readers.push(tokio::spawn(async move {
            let mut count = 0usize;
            while count < WRITES * PER_STREAM {
                let resp = s.next().await?;
                if resp.canceled {
                    bail!("live watch canceled: {}", resp.cancel_reason);
                }
                count += resp.events.len();
            }
            anyhow::Ok(count)
        }));
    }

    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(rss_bytes(pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            max
        })
    };
    // 1 KiB values, 32 writers at full speed.
    let mut tasks = Vec::new();
    for w in 0..32 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < WRITES {
                c.create(
                    format!("/m/k{i:06}"),
                    vec![b'v'; 1024],
                    CreateOptions::new(),
                )
                .await?;
                i += 32;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    for r in readers {
        assert_eq!(r.await??, WRITES * PER_STREAM);
    }
    done.store(true, Ordering::Relaxed);
    let max_rss = sampler.await?;
    eprintln!(
        "server max RSS with 1000 watchers + 1 stalled: {} MiB",
        max_rss >> 20
    );
    assert!(max_rss > 0, "RSS was sampled");
    assert!(
        max_rss < RSS_BOUND,
        "server RSS {} MiB exceeds the {} MiB bound",
        max_rss >> 20,
        RSS_BOUND >> 20
    );

    // The stalled watcher now reads: every event, in order, nothing twice.
    let events = stalled.events(WRITES).await?;
    let revs = revisions(&events);
    assert_contiguous(&revs, base + 1, base + WRITES as i64);
    let paths: BTreeSet<String> = events
        .into_iter()
        .filter_map(|e| e.node.map(|n| n.path))
        .collect();
    assert_eq!(paths.len(), WRITES);
    let _ = PutOptions::new();
    Ok(())
}

#[tokio::test]
async fn stalled_watcher_falls_back_to_history_and_then_misses_nothing() -> Result<()> {
    // One write per log entry, so the 256-batch live ring is overrun many times over.
    const WRITES: usize = 2_000;
    let server = Server::start().await?;
    let client = server.client().await?;
    let base = client.create("/st", "", None).await?.header.revision;
    let mut stalled = WatchStream::open(&server.endpoint()).await?;
    let mut req = wire::create("/st", Scope::Subtree);
    req.start_revision = base + 1;
    stalled.watch(req).await?;
    for i in 0..WRITES {
        client
            .create(format!("/st/k{i:06}"), vec![b'v'; 4096], None)
            .await?;
    }
    let events = stalled.events(WRITES).await?;
    assert_contiguous(&revisions(&events), base + 1, base + WRITES as i64);
    let http = format!("127.0.0.1:{}", server.ports().http);
    let fallbacks = wire::metric(&http, "corral_watch_fallbacks_total").await?;
    assert!(
        fallbacks >= 1.0,
        "the stalled watcher must have fallen behind the ring (fallbacks = {fallbacks})"
    );
    Ok(())
}

#[tokio::test]
async fn watch_on_an_invalid_path_fails_invalid_argument() -> Result<()> {
    let server = Server::start().await?;
    let mut stream = WatchStream::open(&server.endpoint()).await?;
    stream.create(wire::create("/a/", Scope::Node)).await?;
    match stream.rx.message().await {
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert_eq!(wire::reason(&status).as_deref(), Some("INVALID_PATH"));
            assert!(status.message().contains("/a/"), "{}", status.message());
        }
        Ok(other) => bail!("expected INVALID_ARGUMENT, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_watch_from_a_future_revision_is_refused_naming_the_current_revision() -> Result<()> {
    let server = Server::start().await?;
    let client = server.client().await?;
    let now = client.create("/f", "x", None).await?.header.revision;
    // now + 1 is the next write: waiting for it is what resuming clients do.
    let mut stream = WatchStream::open(&server.endpoint()).await?;
    stream
        .watch(pb::WatchCreateRequest {
            start_revision: now + 1,
            ..wire::create("/f", Scope::Node)
        })
        .await?;
    let mut stream = WatchStream::open(&server.endpoint()).await?;
    stream
        .create(pb::WatchCreateRequest {
            start_revision: now + 1000,
            ..wire::create("/f", Scope::Node)
        })
        .await?;
    match stream.rx.message().await {
        Err(status) => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(
                status.message().contains(&format!("revision {now}")),
                "{}",
                status.message()
            );
        }
        Ok(other) => bail!("expected INVALID_ARGUMENT, got {other:?}"),
    }
    Ok(())
}
