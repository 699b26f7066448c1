use anyhow::Result;
use corral_client::{Op, PutOptions, Txn};
use corral_tests::Cluster;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment() -> Result<()> {
    let cluster = Cluster::start_with(
        3,
        &["--snapshot-every-entries", "2000", "--logs-to-keep", "200"],
    )
    .await?;
    let leader = cluster.wait_leader().await?;
    let c = cluster.client(leader).await?;
    c.create("/big", "", None).await?;
    let mut set = tokio::task::JoinSet::new();
    for l in 0..6usize {
        let c = c.clone();
        set.spawn(async move {
            for b in 0..167usize {
                let ops = (0..100).map(|i| Op::create(format!("/big/l{l}b{b}i{i}"), "x", None));
                c.txn(Txn::new().and_then(ops)).await?;
            }
            Ok::<_, corral_client::Error>(())
        });
    }
    while let Some(j) = set.join_next().await {
        j??;
    }
    let t0 = Instant::now();
    let mut errors = 0;
    for n in 0..6000u64 {
        if let Err(e) = c
            .put(
                "/counter",
                n.to_string(),
                PutOptions::new().create_if_missing(),
            )
            .await
        {
            errors += 1;
            let s = cluster.status(leader).await?;
            eprintln!(
                "EXP {:?} put {n} failed: {e:?}; leader status term={} snap={:?} last_log={}",
                t0.elapsed(),
                s.raft_term,
                s.snapshot_index,
                s.last_log_index
            );
        }
        if n % 500 == 0 {
            let s = cluster.status(leader).await?;
            eprintln!(
                "EXP {:?} n={n} term={} snap={:?} last_log={} leader={:?}",
                t0.elapsed(),
                s.raft_term,
                s.snapshot_index,
                s.last_log_index,
                s.leader_id
            );
        }
    }
    eprintln!("EXP errors={errors}");
    Ok(())
}
