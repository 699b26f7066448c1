//! Leases in a 3-node cluster: an ephemeral znode kept alive through a follower never
//! disappears across a kill -9 of the leader (the new leader resumes the lease clocks
//! from their checkpoints, with at least an election timeout of grace), and still
//! expires once its keepalives stop.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::wire::{self, WatchStream};
use corral_client::{CreateOptions, Error};
use corral_proto::v1 as pb;
use corral_proto::v1::watch_create_request::Scope;
use corral_tests::Cluster;

const TTL: Duration = Duration::from_millis(3000);
const KEEPALIVE_EVERY: Duration = Duration::from_millis(500);

#[tokio::test]
async fn ephemeral_survives_leader_kill9_while_kept_alive_then_expires() -> Result<()> {
    let mut cluster = Cluster::start(3).await?;
    let (leader, follower) = cluster.leader_and_follower().await?;
    let endpoint = cluster.member(follower).endpoint();
    let client = cluster.client(follower).await?;

    let lease = wire::grant(&endpoint, TTL.as_millis() as i64).await?;
    let created = client
        .create("/e", "owner", CreateOptions::new().ephemeral(lease))
        .await?
        .header
        .revision;
    let mut watch = WatchStream::open(&endpoint).await?;
    // From just after the create: a watch from "now" on a follower starts at what that
    // member has applied, which may not include the create it forwarded yet.
    watch
        .watch(pb::WatchCreateRequest {
            start_revision: created + 1,
            ..wire::create("/e", Scope::Node)
        })
        .await?;
    let (stop, keeper) = wire::keep_alive(&endpoint, lease, KEEPALIVE_EVERY).await?;

    // Let a lease checkpoint or two happen, then kill the leader.
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.kill9(leader)?;
    let killed = Instant::now();
    let mut present = 0;
    let mut unknown = 0;
    while killed.elapsed() < TTL * 4 {
        match client.get("/e", None).await {
            Ok(_) => present += 1,
            Err(Error::NotFound { .. }) => {
                bail!(
                    "ephemeral vanished {:?} after the leader was killed",
                    killed.elapsed()
                )
            }
            // No leader yet: this sample tells nothing.
            Err(_) => unknown += 1,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new_leader = cluster.wait_leader().await?;
    assert_ne!(new_leader, leader);
    eprintln!(
        "samples while kept alive across the failover: {present} present, {unknown} unanswered"
    );
    assert!(
        present > 10,
        "the znode was observed present after the failover"
    );

    drop(stop);
    keeper.await??;
    let stopped = Instant::now();
    while client.get("/e", None).await.is_ok() {
        if stopped.elapsed() > TTL + KEEPALIVE_EVERY + Duration::from_secs(3) {
            bail!(
                "ephemeral still present {:?} after keepalives stopped",
                stopped.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ephemeral deleted {:?} after its last keepalive",
        stopped.elapsed()
    );
    let events = watch.events(1).await?;
    assert_eq!(events[0].r#type, pb::EventType::Deleted as i32);
    Ok(())
}
