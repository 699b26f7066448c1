//! Faults injected while traffic runs: kill -9 and restart of a member (the leader or
//! another), a pause (SIGSTOP) longer than the election timeout, and a restart of the
//! whole cluster. Chosen by a seeded generator, so a failing run can be repeated.

use std::time::Duration;

use anyhow::Result;
use corral_tests::Cluster;

use super::traffic::Rng;

/// Longer than the default election timeout (1.5 s max).
const PAUSE: Duration = Duration::from_millis(2500);

/// Injects one fault and brings the cluster back; returns what it did.
pub async fn inject(cluster: &mut Cluster, rng: &mut Rng) -> Result<String> {
    let ids = cluster.ids();
    let pick = ids[rng.below(ids.len() as u64) as usize];
    Ok(match rng.below(10) {
        0..=2 => {
            let leader = cluster.wait_leader().await?;
            cluster.kill9(leader)?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.restart(leader).await?;
            format!("kill -9 leader {leader}, restart")
        }
        3..=5 => {
            cluster.kill9(pick)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.restart(pick).await?;
            format!("kill -9 member {pick}, restart")
        }
        6..=8 => {
            cluster.pause(pick)?;
            tokio::time::sleep(PAUSE).await;
            cluster.resume(pick)?;
            format!("SIGSTOP member {pick} for {PAUSE:?}, SIGCONT")
        }
        _ => {
            for id in &ids {
                cluster.kill9(*id)?;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            cluster.restart_all().await?;
            "kill -9 every member, restart all".to_string()
        }
    })
}
