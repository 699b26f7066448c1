//! Faults injected while traffic runs, each undone before the next:
//! - kill -9 and restart of the leader or of another member, and of every member;
//! - a pause (SIGSTOP) longer than the election timeout;
//! - network partitions through the proxy on every peer link: the leader or another
//!   member isolated from the rest, one link cut both ways (each side still reaches
//!   the third member), and a one-way cut where no member reaches the leader but the
//!   leader still reaches them;
//! - a slow disk: every fsync of the leader or of another member made slower.
//!
//! Kinds are taken in seeded random order, every kind once per round, so a run of a
//! round's length covers them all and a failing run can be repeated from its seed.

use std::time::Duration;

use anyhow::Result;
use corral_tests::Cluster;

use super::traffic::Rng;

/// Longer than the default election timeout (1.5 s max).
const PAUSE: Duration = Duration::from_millis(2500);

/// How long a partition lasts: longer than the election timeout, so leadership moves.
const PARTITION: Duration = Duration::from_secs(3);

/// Extra time per fsync on a slow disk: above the heartbeat interval (150 ms).
const DISK_DELAY_MS: u64 = 200;

/// How long a disk stays slow.
const SLOW_DISK: Duration = Duration::from_secs(4);

/// The kinds of fault, in the order of [`inject`]'s match.
pub const KINDS: u64 = 11;

/// Picks the faults of a run: rounds of every kind once, each round shuffled.
pub struct Schedule {
    rng: Rng,
    round: Vec<u64>,
}

impl Schedule {
    /// A schedule drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            round: Vec::new(),
        }
    }

    /// Injects the next fault and brings the cluster back; returns what it did.
    pub async fn next(&mut self, cluster: &mut Cluster) -> Result<String> {
        if self.round.is_empty() {
            self.round = (0..KINDS).collect();
            // Fisher–Yates, popped from the back.
            for i in (1..self.round.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                self.round.swap(i, j);
            }
        }
        let kind = self.round.pop().unwrap_or(0);
        inject(cluster, &mut self.rng, kind).await
    }
}

/// Injects fault `kind` and undoes it.
async fn inject(cluster: &mut Cluster, rng: &mut Rng, kind: u64) -> Result<String> {
    let ids = cluster.ids();
    let leader = cluster.wait_leader().await?;
    let others: Vec<u64> = ids.iter().copied().filter(|&id| id != leader).collect();
    let any = ids[rng.below(ids.len() as u64) as usize];
    let follower = others[rng.below(others.len() as u64) as usize];
    Ok(match kind {
        0 => {
            cluster.kill9(leader)?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.restart(leader).await?;
            format!("kill -9 leader {leader}, restart")
        }
        1 => {
            cluster.kill9(follower)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.restart(follower).await?;
            format!("kill -9 follower {follower}, restart")
        }
        2 => {
            cluster.pause(any)?;
            tokio::time::sleep(PAUSE).await;
            cluster.resume(any)?;
            format!("SIGSTOP member {any} for {PAUSE:?}, SIGCONT")
        }
        3 => {
            cluster.isolate(leader);
            tokio::time::sleep(PARTITION).await;
            cluster.heal();
            format!("partition: leader {leader} isolated for {PARTITION:?}, healed")
        }
        4 => {
            cluster.isolate(follower);
            tokio::time::sleep(PARTITION).await;
            cluster.heal();
            format!("partition: follower {follower} isolated for {PARTITION:?}, healed")
        }
        5 => {
            // Both keep reaching the third member: no side is a minority.
            let (a, b) = (leader, follower);
            cluster.block_link(a, b);
            cluster.block_link(b, a);
            tokio::time::sleep(PARTITION).await;
            cluster.heal();
            format!("partition: link {a}<->{b} cut for {PARTITION:?}, healed")
        }
        6 => {
            for &id in &others {
                cluster.block_link(id, leader);
            }
            tokio::time::sleep(PARTITION).await;
            cluster.heal();
            format!(
                "one-way partition: no member reaches leader {leader} for {PARTITION:?}, healed"
            )
        }
        7 => {
            slow_disk(cluster, leader).await?;
            format!("slow disk: leader {leader} +{DISK_DELAY_MS} ms per fsync for {SLOW_DISK:?}")
        }
        8 => {
            slow_disk(cluster, follower).await?;
            format!(
                "slow disk: follower {follower} +{DISK_DELAY_MS} ms per fsync for {SLOW_DISK:?}"
            )
        }
        9 => {
            // Partitioned and then killed: it restarts with whatever it had fsynced.
            cluster.isolate(any);
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.kill9(any)?;
            cluster.heal();
            cluster.restart(any).await?;
            format!("partition member {any}, kill -9 it while isolated, heal, restart")
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

async fn slow_disk(cluster: &Cluster, id: u64) -> Result<()> {
    cluster.member(id).set_disk_delay(DISK_DELAY_MS).await?;
    tokio::time::sleep(SLOW_DISK).await;
    cluster.member(id).set_disk_delay(0).await
}
