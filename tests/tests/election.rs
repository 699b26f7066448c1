//! Server-side leader election against a real server: with three campaigners exactly
//! one leads at a time, Observe reports every change in order, ending the leader's
//! lease elects the next campaigner, and Proclaim works only for the leader.

mod common;

use std::time::Duration;

use anyhow::{bail, Result};
use common::wire;
use corral_proto::v1 as pb;
use corral_tests::Server;

#[tokio::test]
async fn three_campaigners_one_leader_at_a_time_observed_in_order() -> Result<()> {
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let mut observer = wire::election_client(&endpoint)
        .await?
        .observe(pb::ObserveRequest {
            name: "/elect/sched".into(),
        })
        .await?
        .into_inner();
    let first = observer.message().await?.expect("initial state");
    assert!(first.leader.is_none(), "no leader before anyone campaigns");

    let mut leases = Vec::new();
    let mut campaigns = Vec::new();
    for i in 0..3 {
        let lease = wire::grant(&endpoint, 60_000).await?;
        leases.push(lease);
        let endpoint = endpoint.clone();
        campaigns.push(tokio::spawn(async move {
            let resp = wire::election_client(&endpoint)
                .await?
                .campaign(pb::CampaignRequest {
                    name: "/elect/sched".into(),
                    lease_id: lease,
                    value: format!("node-{i}").into_bytes(),
                    wait_timeout_ms: 0,
                })
                .await?
                .into_inner();
            anyhow::Ok(resp.leader.expect("leader key"))
        }));
        // Campaign in a known order.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut election = wire::election_client(&endpoint).await?;
    let mut observed: Vec<String> = Vec::new();
    let expect_value = |resp: pb::LeaderResponse| -> Result<String> {
        match resp.leader {
            Some(l) => Ok(String::from_utf8(l.value)?),
            None => bail!("observed an empty election mid-run"),
        }
    };
    for (round, lease) in leases.iter().enumerate() {
        // Exactly one campaign has returned: the leader.
        let done: Vec<usize> = campaigns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_finished())
            .map(|(i, _)| i)
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let leader = election
            .leader(pb::LeaderRequest {
                name: "/elect/sched".into(),
            })
            .await?
            .into_inner()
            .leader
            .expect("a leader");
        assert_eq!(leader.value, format!("node-{round}").into_bytes());
        assert!(
            done.len() <= round + 1,
            "more campaigns returned than leaders so far"
        );
        observed.push(expect_value(observer.message().await?.expect("change"))?);
        // Proclaim only works for the leader.
        if round < 2 {
            election
                .proclaim(pb::ProclaimRequest {
                    key: leader.key.clone(),
                    lease_id: leader.lease_id,
                    value: format!("node-{round}-v2").into_bytes(),
                })
                .await?;
            observed.push(expect_value(observer.message().await?.expect("proclaim"))?);
        }
        // End the leader's term by revoking its lease.
        wire::revoke(&endpoint, *lease).await?;
        let won = campaigns.remove(0).await??;
        assert_eq!(won.key, leader.key);
    }
    let last = observer.message().await?.expect("final change");
    assert!(
        last.leader.is_none(),
        "the election empties after the last lease goes"
    );
    assert_eq!(
        observed,
        vec!["node-0", "node-0-v2", "node-1", "node-1-v2", "node-2"],
        "Observe saw every change in order"
    );
    Ok(())
}

#[tokio::test]
async fn proclaim_by_a_non_leader_and_leader_of_an_empty_election_are_refused() -> Result<()> {
    let server = Server::start().await?;
    let endpoint = server.endpoint();
    let mut election = wire::election_client(&endpoint).await?;
    let err = election
        .leader(pb::LeaderRequest {
            name: "/elect/none".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let a = wire::grant(&endpoint, 60_000).await?;
    let lead = election
        .campaign(pb::CampaignRequest {
            name: "/elect/p".into(),
            lease_id: a,
            value: b"a".to_vec(),
            wait_timeout_ms: 0,
        })
        .await?
        .into_inner()
        .leader
        .expect("leader");
    let b = wire::grant(&endpoint, 60_000).await?;
    let waiting = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            wire::election_client(&endpoint)
                .await?
                .campaign(pb::CampaignRequest {
                    name: "/elect/p".into(),
                    lease_id: b,
                    value: b"b".to_vec(),
                    wait_timeout_ms: 0,
                })
                .await?;
            anyhow::Ok(())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = server.client().await?;
    let entries = client
        .list("/elect/p", corral_client::ListOptions::new())
        .await?;
    let follower_key = entries
        .nodes
        .iter()
        .map(|n| n.path.clone())
        .find(|p| *p != lead.key)
        .expect("second campaigner's key");
    let err = election
        .proclaim(pb::ProclaimRequest {
            key: follower_key,
            lease_id: b,
            value: b"nope".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    election
        .resign(pb::ResignRequest {
            key: lead.key,
            lease_id: a,
        })
        .await?;
    tokio::time::timeout(Duration::from_secs(10), waiting).await???;
    Ok(())
}

/// The `corral_watchers` gauge of `server`'s /metrics.
async fn watchers(server: &Server) -> Result<u64> {
    let (_, body) = server.http_get("/metrics").await?;
    body.lines()
        .find_map(|l| l.strip_prefix("corral_watchers "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .ok_or_else(|| anyhow::anyhow!("no corral_watchers in /metrics:\n{body}"))
}

#[tokio::test]
async fn an_abandoned_observe_releases_its_watcher_without_a_leader_change() -> Result<()> {
    // Found by reading after a gRPC fuzz pass: an Observe whose client went away kept
    // its server-side watcher until the next leader change, which may never come.
    let server = Server::start().await?;
    let before = watchers(&server).await?;
    let mut observers = Vec::new();
    for _ in 0..5 {
        let mut stream = wire::election_client(&server.endpoint())
            .await?
            .observe(pb::ObserveRequest {
                name: "/elect/quiet".into(),
            })
            .await?
            .into_inner();
        stream.message().await?.expect("initial state");
        observers.push(stream);
    }
    assert_eq!(watchers(&server).await?, before + 5);
    drop(observers);
    for _ in 0..100 {
        if watchers(&server).await? == before {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "abandoned observers still hold {} watchers after 10 s",
        watchers(&server).await? - before
    )
}
