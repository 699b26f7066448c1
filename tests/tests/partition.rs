//! Network partitions between members (through the proxy on every peer link) and a
//! slow disk: an isolated leader is replaced and never serves a stale linearizable
//! read or commits a write; a one-way cut and a single cut link leave a working
//! majority; a member with a slow disk slows writes down but loses none; everything
//! converges once the fault ends.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use corral_client::{Client, PutOptions};
use corral_tests::Cluster;

/// A client of member `id` alone with a short per-call timeout: a member that cannot
/// reach a quorum answers nothing definite within it.
async fn short_client(cluster: &Cluster, id: u64) -> Result<Client> {
    Ok(Client::builder([cluster.member(id).endpoint()])
        .timeout(Duration::from_secs(3))
        .connect()
        .await?)
}

/// Waits until every member of `side` names the same leader, one of `side`; returns it.
async fn leader_among(cluster: &Cluster, side: &[u64]) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut named = Vec::new();
        for &id in side {
            named.push(cluster.status(id).await.ok().and_then(|s| s.leader_id));
        }
        if let Some(Some(l)) = named.first() {
            if side.contains(l) && named.iter().all(|n| *n == Some(*l)) {
                return Ok(*l);
            }
        }
        if Instant::now() > deadline {
            bail!("{side:?} agreed on no leader among themselves: {named:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client of every member with a long per-call timeout: one call rides out a
/// partition, retried on other members under one request id, so it is applied once
/// even if an attempt held back by the partition reaches the leader late.
async fn patient_client(cluster: &Cluster) -> Result<Client> {
    let endpoints: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.member(id).endpoint())
        .collect();
    Ok(Client::builder(endpoints)
        .timeout(Duration::from_secs(30))
        .connect()
        .await?)
}

/// Puts `value` at `path` with one call of a [`patient_client`]; returns the revision.
async fn put(client: &Client, path: &str, value: &str) -> Result<i64> {
    let r = client
        .put(path, value, PutOptions::new().create_if_missing())
        .await?;
    Ok(r.header.revision)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_is_replaced_and_serves_no_stale_read() -> Result<()> {
    let cluster = Cluster::start_with_links(3, &[]).await?;
    let old = cluster.wait_leader().await?;
    let majority: Vec<u64> = cluster.ids().into_iter().filter(|&i| i != old).collect();
    let via_old = short_client(&cluster, old).await?;
    via_old
        .put("/p", "before", PutOptions::new().create_if_missing())
        .await?;

    cluster.isolate(old);
    let new = leader_among(&cluster, &majority).await?;
    let via_new = short_client(&cluster, new).await?;
    put(&via_new, "/p", "after").await?;

    // The old leader cannot confirm its leadership, so it must not answer "before".
    match via_old.get("/p", None).await {
        Ok(r) => bail!(
            "isolated member {old} answered a linearizable read: {:?}",
            String::from_utf8_lossy(&r.node.data)
        ),
        Err(e) => eprintln!("isolated member {old}, linearizable read: {e}"),
    }
    // Nor commit a write: the majority never sees it, even after the partition heals.
    let lost = via_old
        .put("/from-minority", "x", PutOptions::new().create_if_missing())
        .await;
    ensure!(lost.is_err(), "isolated member {old} acknowledged a write");

    cluster.heal();
    let agreed = cluster.wait_leader().await?;
    ensure!(
        majority.contains(&agreed),
        "after healing, the leader is {agreed}, not one of the majority {majority:?}"
    );
    let read = short_client(&cluster, old).await?.get("/p", None).await?;
    assert_eq!(read.node.data, b"after");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_cut_and_single_link_cut_leave_a_working_majority() -> Result<()> {
    let cluster = Cluster::start_with_links(3, &[]).await?;
    let client = patient_client(&cluster).await?;
    let leader = cluster.wait_leader().await?;
    let others: Vec<u64> = cluster.ids().into_iter().filter(|&i| i != leader).collect();

    // No member reaches the leader; it still reaches them.
    for &id in &others {
        cluster.block_link(id, leader);
    }
    let mut revisions = vec![put(&client, "/oneway", "1").await?];
    tokio::time::sleep(Duration::from_secs(2)).await;
    revisions.push(put(&client, "/oneway", "2").await?);
    cluster.heal();
    cluster.wait_leader().await?;

    // One link cut both ways; each end still reaches the third member.
    let (a, b) = cluster.leader_and_follower().await?;
    cluster.block_link(a, b);
    cluster.block_link(b, a);
    revisions.push(put(&client, "/link", "1").await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    revisions.push(put(&client, "/link", "2").await?);
    cluster.heal();

    ensure!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "revisions of successive writes did not increase: {revisions:?}"
    );
    cluster.wait_caught_up().await?;
    for id in cluster.ids() {
        let c = cluster.client(id).await?;
        assert_eq!(c.get("/oneway", None).await?.node.data, b"2", "member {id}");
        assert_eq!(c.get("/link", None).await?.node.data, b"2", "member {id}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_disk_on_the_leader_loses_no_write() -> Result<()> {
    let cluster = Cluster::start_with(3, &["--unsafe-fault-injection"]).await?;
    let leader = cluster.wait_leader().await?;
    let client = patient_client(&cluster).await?;
    let member = cluster.member(leader);
    let (code, body) = member.http_get("/debug/disk-delay-ms").await?;
    ensure!(code == 405, "GET of the fault switch: {code} {body}");

    member.set_disk_delay(300).await?;
    let started = Instant::now();
    let mut acked = Vec::new();
    for i in 0..10 {
        let path = format!("/slow-{i}");
        put(&client, &path, &i.to_string()).await?;
        acked.push(path);
    }
    eprintln!(
        "10 puts with the leader's fsync +300 ms took {:?}",
        started.elapsed()
    );
    member.set_disk_delay(0).await?;

    cluster.wait_caught_up().await?;
    for id in cluster.ids() {
        let c = cluster.client(id).await?;
        for (i, path) in acked.iter().enumerate() {
            assert_eq!(
                c.get(path.as_str(), None).await?.node.data,
                i.to_string().as_bytes()
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_delay_switch_exists_only_with_the_unsafe_flag() -> Result<()> {
    let cluster = Cluster::start_with(1, &[]).await?;
    let err = cluster.member(1).set_disk_delay(10).await.unwrap_err();
    ensure!(format!("{err:#}").contains("404"), "{err:#}");

    let cluster = Cluster::start_with(1, &["--unsafe-fault-injection"]).await?;
    let err = cluster.member(1).set_disk_delay(100_000).await.unwrap_err();
    ensure!(format!("{err:#}").contains("400"), "{err:#}");
    cluster.member(1).set_disk_delay(5).await?;
    cluster.member(1).set_disk_delay(0).await?;
    Ok(())
}
