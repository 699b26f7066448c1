//! Server-side locks against a real server: mutual exclusion checked with fencing
//! tokens, FIFO order, strictly increasing tokens, hand-over when the holder's process
//! is killed, abandoned waiters leave nothing behind, and bad input is refused.

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::wire;
use corral_client::ListOptions;
use corral_proto::v1 as pb;
use corral_tests::Server;
use tokio::io::{AsyncBufReadExt, BufReader};

/// What the protected resource saw: the current holder and the highest token.
#[derive(Default)]
struct Resource {
    holder: Option<usize>,
    highest_token: i64,
    /// (contender, sequence of its key) in acquisition order.
    order: Vec<(usize, u64)>,
}

fn key_sequence(key: &str) -> u64 {
    key[key.len() - 10..].parse().expect("10-digit suffix")
}

#[tokio::test]
async fn fifty_contenders_never_overlap_acquire_in_fifo_order_with_increasing_tokens() -> Result<()>
{
    const CONTENDERS: usize = 50;
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let resource = Arc::new(Mutex::new(Resource::default()));
    let mut tasks = Vec::new();
    for me in 0..CONTENDERS {
        let endpoint = endpoint.clone();
        let resource = resource.clone();
        tasks.push(tokio::spawn(async move {
            let lease = wire::grant(&endpoint, 60_000).await?;
            let mut locks = wire::lock_client(&endpoint).await?;
            let held = locks
                .lock(pb::LockRequest {
                    name: "/locks/shared".into(),
                    lease_id: lease,
                    wait_timeout_ms: 0,
                })
                .await?
                .into_inner();
            {
                let mut r = resource.lock().unwrap();
                assert_eq!(
                    r.holder, None,
                    "contender {me} got the lock while {:?} held it",
                    r.holder
                );
                assert!(
                    held.fencing_token > r.highest_token,
                    "token {} not above {}",
                    held.fencing_token,
                    r.highest_token
                );
                r.holder = Some(me);
                r.highest_token = held.fencing_token;
                r.order.push((me, key_sequence(&held.key)));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            resource.lock().unwrap().holder = None;
            locks
                .unlock(pb::UnlockRequest {
                    key: held.key,
                    lease_id: lease,
                })
                .await?;
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let seqs: Vec<u64> = {
        let r = resource.lock().unwrap();
        assert_eq!(r.order.len(), CONTENDERS);
        r.order.iter().map(|(_, s)| *s).collect()
    };
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted, "acquired in queue (FIFO) order");
    // Every entry is gone, and so is the lock's container once empty.
    let client = server.client().await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match client.list("/locks/shared", ListOptions::new()).await {
            Err(corral_client::Error::NotFound { .. }) => break,
            Ok(page) if Instant::now() > deadline => {
                bail!("lock znode still has {} entries", page.nodes.len())
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[tokio::test]
async fn next_waiter_gets_the_lock_within_ttl_after_the_holder_process_is_killed() -> Result<()> {
    const TTL_MS: i64 = 2000;
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let mut holder = tokio::process::Command::new(env!("CARGO_BIN_EXE_lock-holder"))
        .args([&endpoint, "/locks/k", &TTL_MS.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting lock-holder")?;
    let mut lines = BufReader::new(holder.stdout.take().context("stdout")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await??
        .context("lock-holder printed nothing")?;
    let first_token: i64 = line.split_whitespace().nth(2).context("token")?.parse()?;

    let waiter = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let lease = wire::grant(&endpoint, 60_000).await?;
            let held = wire::lock_client(&endpoint)
                .await?
                .lock(pb::LockRequest {
                    name: "/locks/k".into(),
                    lease_id: lease,
                    wait_timeout_ms: 0,
                })
                .await?
                .into_inner();
            anyhow::Ok((held, Instant::now()))
        })
    };
    // The holder keeps its lease alive: the waiter must still be waiting after 2 TTLs.
    tokio::time::sleep(Duration::from_millis(2 * TTL_MS as u64)).await;
    assert!(
        !waiter.is_finished(),
        "the lock was handed over while its holder lived"
    );
    holder.start_kill()?;
    holder.wait().await?;
    let killed = Instant::now();
    let (held, at) = tokio::time::timeout(Duration::from_secs(30), waiter).await???;
    let handover = at - killed;
    eprintln!("lock handed over {handover:?} after the holder was killed (TTL {TTL_MS} ms)");
    assert!(held.fencing_token > first_token);
    // Stated bound: TTL + one keepalive interval (TTL/3) + 2 s for expiry tick,
    // commit and watch delivery.
    assert!(
        handover <= Duration::from_millis((TTL_MS + TTL_MS / 3 + 2000) as u64),
        "hand-over took {handover:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_waiter_that_times_out_or_is_cancelled_leaves_no_entry() -> Result<()> {
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let client = server.client().await?;
    let lease = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    let held = locks
        .lock(pb::LockRequest {
            name: "/locks/t".into(),
            lease_id: lease,
            wait_timeout_ms: 0,
        })
        .await?
        .into_inner();
    let waiter_lease = wire::grant(&endpoint, 60_000).await?;
    let err = locks
        .lock(pb::LockRequest {
            name: "/locks/t".into(),
            lease_id: waiter_lease,
            wait_timeout_ms: 300,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
    // A waiter whose call is dropped (client deadline) is removed too.
    let mut req = tonic::Request::new(pb::LockRequest {
        name: "/locks/t".into(),
        lease_id: waiter_lease,
        wait_timeout_ms: 0,
    });
    req.set_timeout(Duration::from_millis(300));
    let _ = locks.lock(req).await.unwrap_err();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = client.list("/locks/t", ListOptions::new()).await?;
        let keys: Vec<&str> = page.nodes.iter().map(|n| n.path.as_str()).collect();
        if keys == [held.key.as_str()] {
            break;
        }
        if Instant::now() > deadline {
            bail!("abandoned waiters left entries: {keys:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn lock_cycles_never_lose_a_race_with_the_container_reaper() -> Result<()> {
    // Regression: the lock's container znode, emptied by an unlock, could be reaped
    // between a new Lock's "container exists" check and the creation of its entry,
    // failing the Lock with PARENT_NOT_FOUND. Cycling for several reaper passes (every
    // 500 ms) hits that window many times.
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let lease = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    let until = Instant::now() + Duration::from_secs(6);
    let mut cycles = 0;
    while Instant::now() < until {
        let held = locks
            .lock(pb::LockRequest {
                name: "/locks/cycle".into(),
                lease_id: lease,
                wait_timeout_ms: 0,
            })
            .await?
            .into_inner();
        locks
            .unlock(pb::UnlockRequest {
                key: held.key,
                lease_id: lease,
            })
            .await?;
        cycles += 1;
    }
    eprintln!("{cycles} lock/unlock cycles");
    Ok(())
}

#[tokio::test]
async fn a_cancelled_wait_never_removes_the_entry_its_retry_adopted() -> Result<()> {
    // Regression: a Lock call cancelled mid-wait removes its entry, but a retry with the
    // same lease may already have adopted that entry; the late removal then released a
    // lock the retry believed it held. Removal is now conditional on the entry's version.
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let client = server.client().await?;
    let holder_lease = wire::grant(&endpoint, 60_000).await?;
    let lease = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    for round in 0..15 {
        let name = format!("/locks/retry{round}");
        let held = locks
            .lock(pb::LockRequest {
                name: name.clone(),
                lease_id: holder_lease,
                wait_timeout_ms: 0,
            })
            .await?
            .into_inner();
        // A waits behind the holder and is cut off by its deadline.
        let mut cut = tonic::Request::new(pb::LockRequest {
            name: name.clone(),
            lease_id: lease,
            wait_timeout_ms: 0,
        });
        cut.set_timeout(Duration::from_millis(150));
        assert!(locks.lock(cut).await.is_err());
        // B, the retry, at once.
        let retry = {
            let endpoint = endpoint.clone();
            let name = name.clone();
            tokio::spawn(async move {
                let held = wire::lock_client(&endpoint)
                    .await?
                    .lock(pb::LockRequest {
                        name,
                        lease_id: lease,
                        wait_timeout_ms: 0,
                    })
                    .await?
                    .into_inner();
                anyhow::Ok(held)
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        locks
            .unlock(pb::UnlockRequest {
                key: held.key,
                lease_id: holder_lease,
            })
            .await?;
        let got = retry.await??;
        // Whatever the cancelled call's cleanup does, the retry's lock stays held.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            client.get(got.key.clone(), None).await.is_ok(),
            "round {round}: the retry's lock entry {} was removed under it",
            got.key
        );
        locks
            .unlock(pb::UnlockRequest {
                key: got.key,
                lease_id: lease,
            })
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn locking_again_with_the_same_lease_finds_its_own_entry() -> Result<()> {
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let lease = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    let req = || pb::LockRequest {
        name: "/locks/re".into(),
        lease_id: lease,
        wait_timeout_ms: 0,
    };
    let first = locks.lock(req()).await?.into_inner();
    let again = locks.lock(req()).await?.into_inner();
    assert_eq!(first.key, again.key);
    assert_eq!(first.fencing_token, again.fencing_token);
    let page = server
        .client()
        .await?
        .list("/locks/re", ListOptions::new())
        .await?;
    assert_eq!(page.nodes.len(), 1, "one entry per lease");
    Ok(())
}

#[tokio::test]
async fn bad_lock_input_is_refused_with_invalid_argument() -> Result<()> {
    let server = Server::start().await?;
    let mut locks = wire::lock_client(&server.endpoint()).await?;
    for (name, lease, wait) in [
        ("locks/x", 1, 0),
        ("/", 1, 0),
        ("/locks/x/", 1, 0),
        ("/locks/x", 0, 0),
        ("/locks/x", 1, -1),
    ] {
        let err = locks
            .lock(pb::LockRequest {
                name: name.into(),
                lease_id: lease,
                wait_timeout_ms: wait,
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::InvalidArgument,
            "{name} {lease} {wait}"
        );
    }
    let err = locks
        .lock(pb::LockRequest {
            name: "/locks/x".into(),
            lease_id: 777,
            wait_timeout_ms: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(wire::reason(&err).as_deref(), Some("LEASE_NOT_FOUND"));
    Ok(())
}

/// Every znode under `/` with its stat and data, and the revision: what "changes
/// nothing" is checked against.
async fn whole_tree(client: &corral_client::Client) -> Result<(Vec<corral_client::Node>, i64)> {
    let page = client
        .list_all("/", ListOptions::new().recursive().with_data())
        .await?;
    Ok((page.nodes, page.header.revision))
}

#[tokio::test]
async fn unlock_and_resign_refuse_anything_but_the_callers_own_queue_entry() -> Result<()> {
    use corral_client::CreateOptions;
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let client = server.client().await?;
    let mine = wire::grant(&endpoint, 60_000).await?;
    let other = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    let mut elections = wire::election_client(&endpoint).await?;

    // What a newcomer's trial deleted: a config znode, a persistent znode, another
    // lease's ephemeral znode; and a lock held by another lease.
    client.create("/cfg", "db=1", None).await?;
    client.create("/victim2", "keep", None).await?;
    client
        .create("/eph", "", CreateOptions::new().ephemeral(other))
        .await?;
    let held = locks
        .lock(pb::LockRequest {
            name: "/locks/a".into(),
            lease_id: other,
            wait_timeout_ms: 0,
        })
        .await?
        .into_inner();
    let campaigned = elections
        .campaign(pb::CampaignRequest {
            name: "/elect/a".into(),
            lease_id: other,
            value: b"v".to_vec(),
            wait_timeout_ms: 0,
        })
        .await?
        .into_inner()
        .leader
        .context("leader")?;
    let before = whole_tree(&client).await?;

    for (key, lease, reason) in [
        ("/cfg", mine, "NOT_QUEUE_ENTRY"),
        ("/victim2", mine, "NOT_QUEUE_ENTRY"),
        ("/eph", other, "NOT_QUEUE_ENTRY"),
        (campaigned.key.as_str(), other, "NOT_QUEUE_ENTRY"), // an election's entry
        (held.key.as_str(), mine, "NOT_ENTRY_OWNER"),
    ] {
        let err = locks
            .unlock(pb::UnlockRequest {
                key: key.into(),
                lease_id: lease,
            })
            .await
            .expect_err("refused");
        assert_eq!(
            err.code(),
            tonic::Code::FailedPrecondition,
            "unlock {key}: {err:?}"
        );
        assert_eq!(wire::reason(&err).as_deref(), Some(reason), "unlock {key}");
    }
    for (key, lease, reason) in [
        ("/cfg", mine, "NOT_QUEUE_ENTRY"),
        ("/victim2", mine, "NOT_QUEUE_ENTRY"),
        ("/eph", other, "NOT_QUEUE_ENTRY"),
        (held.key.as_str(), other, "NOT_QUEUE_ENTRY"), // a lock's entry
        (campaigned.key.as_str(), mine, "NOT_ENTRY_OWNER"),
    ] {
        let err = elections
            .resign(pb::ResignRequest {
                key: key.into(),
                lease_id: lease,
            })
            .await
            .expect_err("refused");
        assert_eq!(
            err.code(),
            tonic::Code::FailedPrecondition,
            "resign {key}: {err:?}"
        );
        assert_eq!(wire::reason(&err).as_deref(), Some(reason), "resign {key}");
        let err = elections
            .proclaim(pb::ProclaimRequest {
                key: key.into(),
                value: b"stolen".to_vec(),
                lease_id: lease,
            })
            .await
            .expect_err("refused");
        assert_eq!(
            err.code(),
            tonic::Code::FailedPrecondition,
            "proclaim {key}: {err:?}"
        );
    }
    // Without the lease, nothing is even looked at.
    let err = locks
        .unlock(pb::UnlockRequest {
            key: held.key.clone(),
            lease_id: 0,
        })
        .await
        .expect_err("no lease");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        whole_tree(&client).await?,
        before,
        "a refused call changed the tree"
    );

    // The holder itself releases both, and doing it again is not an error.
    for _ in 0..2 {
        locks
            .unlock(pb::UnlockRequest {
                key: held.key.clone(),
                lease_id: other,
            })
            .await?;
        elections
            .resign(pb::ResignRequest {
                key: campaigned.key.clone(),
                lease_id: other,
            })
            .await?;
    }
    for gone in [&held.key, &campaigned.key] {
        assert!(
            client.get(gone.as_str(), None).await.is_err(),
            "{gone} still there"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_waiter_behind_20000_entries_keeps_its_place_and_gets_the_lock() -> Result<()> {
    use corral_client::{CreateOptions, Op, Txn};
    const AHEAD: usize = 20_000;
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let client = server.client().await?;
    // 20,000 queue entries of one lease, created directly (a Txn takes 128 ops), ahead
    // of the waiter.
    let crowd = wire::grant(&endpoint, 120_000).await?;
    client
        .create("/locks/big", "", CreateOptions::new().create_parents())
        .await?;
    let mut made = 0;
    while made < AHEAD {
        let n = (AHEAD - made).min(128);
        let ops = (0..n).map(|_| {
            Op::create(
                "/locks/big/lock-",
                "",
                CreateOptions::new().ephemeral(crowd).sequential(),
            )
        });
        client.txn(Txn::new().and_then(ops)).await?;
        made += n;
    }
    let waiter = wire::grant(&endpoint, 120_000).await?;
    let waiting = tokio::spawn({
        let endpoint = endpoint.clone();
        async move {
            let mut locks = wire::lock_client(&endpoint).await?;
            anyhow::Ok(
                locks
                    .lock(pb::LockRequest {
                        name: "/locks/big".into(),
                        lease_id: waiter,
                        wait_timeout_ms: 0,
                    })
                    .await?
                    .into_inner(),
            )
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !waiting.is_finished(),
        "waiter 20,001 did not wait: {:?}",
        waiting.await
    );
    // One revoke removes the 20,000 in one revision: the waiter is first.
    wire::revoke(&endpoint, crowd).await?;
    let held = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .context("the waiter never got the lock")???;
    assert_eq!(key_sequence(&held.key), AHEAD as u64);
    Ok(())
}

#[tokio::test]
async fn a_waiter_whose_lease_ends_is_told_at_once_not_when_its_predecessor_leaves() -> Result<()> {
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let holder = wire::grant(&endpoint, 60_000).await?;
    let waiter = wire::grant(&endpoint, 60_000).await?;
    let mut locks = wire::lock_client(&endpoint).await?;
    locks
        .lock(pb::LockRequest {
            name: "/locks/gone".into(),
            lease_id: holder,
            wait_timeout_ms: 0,
        })
        .await?;
    let waiting = tokio::spawn({
        let endpoint = endpoint.clone();
        async move {
            wire::lock_client(&endpoint)
                .await?
                .lock(pb::LockRequest {
                    name: "/locks/gone".into(),
                    lease_id: waiter,
                    wait_timeout_ms: 60_000,
                })
                .await
                .map_err(anyhow::Error::from)
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the waiter did not wait");
    // The holder keeps the lock; the waiter's lease ends.
    wire::revoke(&endpoint, waiter).await?;
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .context("the waiter kept waiting after its lease ended")??;
    let status = ended
        .expect_err("no lock without a lease")
        .downcast::<tonic::Status>()?;
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(wire::reason(&status).as_deref(), Some("ENTRY_GONE"));
    Ok(())
}
