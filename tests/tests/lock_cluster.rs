//! Locks and elections in a 3-node cluster through a kill -9 of the Raft leader:
//! contenders on the followers keep mutual exclusion (checked with fencing tokens) and
//! all make progress after the failover; an election observed on a follower keeps
//! reporting changes in order.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::wire;
use corral_proto::v1 as pb;
use corral_tests::Cluster;

#[derive(Default)]
struct Resource {
    holder: Option<usize>,
    highest_token: i64,
    acquisitions: Vec<usize>,
}

/// Retries a call while the cluster is electing a leader.
fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
    )
}

#[tokio::test]
async fn locks_keep_mutual_exclusion_and_progress_through_a_leader_kill9() -> Result<()> {
    const CONTENDERS: usize = 6;
    let mut cluster = Cluster::start(3).await?;
    let leader = cluster.wait_leader().await?;
    let followers: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let resource = Arc::new(Mutex::new(Resource::default()));
    let stop_at = Arc::new(Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    for me in 0..CONTENDERS {
        let endpoint = cluster.member(followers[me % 2]).endpoint();
        let resource = resource.clone();
        let stop_at = stop_at.clone();
        tasks.push(tokio::spawn(async move {
            let lease = wire::grant(&endpoint, 4000).await?;
            let (_keep, keeper) =
                wire::keep_alive(&endpoint, lease, Duration::from_millis(500)).await?;
            let mut locks = wire::lock_client(&endpoint).await?;
            loop {
                if stop_at.lock().unwrap().is_some_and(|t| Instant::now() > t) {
                    break;
                }
                let held = match locks
                    .lock(pb::LockRequest {
                        name: "/locks/ha".into(),
                        lease_id: lease,
                        wait_timeout_ms: 0,
                    })
                    .await
                {
                    Ok(h) => h.into_inner(),
                    Err(s) if transient(&s) => continue,
                    Err(s) => bail!("lock failed: {s}"),
                };
                {
                    let mut r = resource.lock().unwrap();
                    assert_eq!(r.holder, None, "two holders at once");
                    assert!(held.fencing_token > r.highest_token, "stale fencing token");
                    r.holder = Some(me);
                    r.highest_token = held.fencing_token;
                    r.acquisitions.push(me);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                resource.lock().unwrap().holder = None;
                loop {
                    match locks
                        .unlock(pb::UnlockRequest {
                            key: held.key.clone(),
                            lease_id: lease,
                        })
                        .await
                    {
                        Ok(_) => break,
                        Err(s) if transient(&s) => continue,
                        Err(s) => bail!("unlock failed: {s}"),
                    }
                }
            }
            if keeper.is_finished() {
                keeper.await??;
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = resource.lock().unwrap().acquisitions.len();
    cluster.kill9(leader)?;
    let killed = Instant::now();
    let new_leader = cluster.wait_leader().await?;
    eprintln!("new leader {new_leader} after {:?}", killed.elapsed());
    // Run until every contender got the lock at least twice after the kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts: Vec<usize> = {
            let r = resource.lock().unwrap();
            (0..CONTENDERS)
                .map(|c| r.acquisitions[before..].iter().filter(|a| **a == c).count())
                .collect()
        };
        if counts.iter().all(|n| *n >= 2) {
            break;
        }
        if Instant::now() > deadline {
            bail!("contenders starved after the failover: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    *stop_at.lock().unwrap() = Some(Instant::now());
    for t in tasks {
        t.await??;
    }
    let total = resource.lock().unwrap().acquisitions.len();
    eprintln!("{total} acquisitions, {before} before the kill");
    Ok(())
}

#[tokio::test]
async fn election_keeps_one_leader_and_ordered_observation_through_a_leader_kill9() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let leader = cluster.wait_leader().await?;
    let followers: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let (fa, fb) = (
        cluster.member(followers[0]).endpoint(),
        cluster.member(followers[1]).endpoint(),
    );
    let mut observer = wire::election_client(&fb)
        .await?
        .observe(pb::ObserveRequest {
            name: "/elect/ha".into(),
        })
        .await?
        .into_inner();
    assert!(observer.message().await?.expect("initial").leader.is_none());
    let mut leases = Vec::new();
    let mut campaigns = Vec::new();
    for i in 0..3 {
        let endpoint = if i % 2 == 0 { fa.clone() } else { fb.clone() };
        let lease = wire::grant(&endpoint, 60_000).await?;
        leases.push((endpoint.clone(), lease));
        campaigns.push(tokio::spawn(async move {
            loop {
                match wire::election_client(&endpoint)
                    .await?
                    .campaign(pb::CampaignRequest {
                        name: "/elect/ha".into(),
                        lease_id: lease,
                        value: format!("c{i}").into_bytes(),
                        wait_timeout_ms: 0,
                    })
                    .await
                {
                    Ok(r) => return anyhow::Ok(r.into_inner().leader.expect("key")),
                    Err(s) if transient(&s) => continue,
                    Err(s) => bail!("campaign failed: {s}"),
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut seen = Vec::new();
    seen.push(
        observer
            .message()
            .await?
            .expect("c0 leads")
            .leader
            .expect("leader")
            .value,
    );
    cluster.kill9(leader)?;
    cluster.wait_leader().await?;
    for (round, (endpoint, lease)) in leases.iter().enumerate().take(2) {
        let won = campaigns.remove(0).await??;
        assert_eq!(won.value, format!("c{round}").into_bytes());
        loop {
            match wire::revoke(endpoint, *lease).await {
                Ok(()) => break,
                Err(e) if e.to_string().contains("unavailable") => continue,
                Err(e) => return Err(e),
            }
        }
        let next = observer
            .message()
            .await?
            .expect("change")
            .leader
            .expect("leader");
        seen.push(next.value);
    }
    assert_eq!(
        seen,
        vec![b"c0".to_vec(), b"c1".to_vec(), b"c2".to_vec()],
        "leaders observed in campaign order across the failover"
    );
    Ok(())
}
