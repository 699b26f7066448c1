//! Lease deadlines, kept by the leader only and never replicated: keepalives are
//! frequent and cheap, so they touch memory, not the log. What is replicated is the
//! outcome (a revoke) and, now and then, each lease's remaining time (a checkpoint),
//! so a new leader resumes the clocks instead of restarting them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::lease::LeaseRecord;

/// Deadlines of the leases this leader is timing.
#[derive(Default)]
pub struct LeaseClock {
    deadlines: Mutex<HashMap<i64, Instant>>,
}

impl LeaseClock {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<i64, Instant>) -> R) -> R {
        let mut guard = self
            .deadlines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Restarts lease `id`'s clock at its full TTL.
    pub fn keepalive(&self, id: i64, ttl_ms: i64) {
        let deadline = Instant::now() + ms(ttl_ms);
        self.with(|d| d.insert(id, deadline));
    }

    /// Time left on lease `id`, if this leader is timing it.
    pub fn remaining(&self, id: i64) -> Option<Duration> {
        self.with(|d| {
            d.get(&id)
                .map(|dl| dl.saturating_duration_since(Instant::now()))
        })
    }

    /// On becoming leader: every lease gets its checkpointed remaining time, but never
    /// less than `grace` (at least one election timeout), so no lease expires because
    /// its keepalives were going to the old leader. A keepalive that already reached
    /// this new leader is kept if it gives a later deadline.
    pub fn take_over(&self, leases: &[LeaseRecord], grace: Duration) {
        let now = Instant::now();
        self.with(|d| {
            let fresh: HashMap<i64, Instant> = leases
                .iter()
                .map(|l| {
                    let resumed = now + ms(l.remaining_ms).max(grace);
                    let deadline = d.get(&l.id).map_or(resumed, |kept| resumed.max(*kept));
                    (l.id, deadline)
                })
                .collect();
            *d = fresh;
        });
    }

    /// Starts timing leases granted since the last call and forgets revoked ones.
    /// Linear in the number of leases (a set, not a scan per lease: 100k leases made
    /// the quadratic version take seconds per tick).
    pub fn sync(&self, leases: &[LeaseRecord]) {
        let now = Instant::now();
        let live: std::collections::HashSet<i64> = leases.iter().map(|l| l.id).collect();
        self.with(|d| {
            d.retain(|id, _| live.contains(id));
            for l in leases {
                d.entry(l.id).or_insert_with(|| now + ms(l.remaining_ms));
            }
        });
    }

    /// Leases whose deadline has passed.
    pub fn expired(&self) -> Vec<i64> {
        let now = Instant::now();
        self.with(|d| {
            let mut ids: Vec<i64> = d
                .iter()
                .filter(|(_, dl)| **dl <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids
        })
    }

    /// (id, remaining ms) of every timed lease, for a checkpoint.
    pub fn snapshot(&self) -> Vec<(i64, i64)> {
        let now = Instant::now();
        self.with(|d| {
            let mut v: Vec<(i64, i64)> = d
                .iter()
                .map(|(id, dl)| (*id, dl.saturating_duration_since(now).as_millis() as i64))
                .collect();
            v.sort_unstable();
            v
        })
    }

    /// Stops timing everything (this member is no longer leader).
    pub fn clear(&self) {
        self.with(|d| d.clear());
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: i64, remaining_ms: i64) -> LeaseRecord {
        LeaseRecord {
            id,
            ttl_ms: 10_000,
            remaining_ms,
            owner: None,
        }
    }

    #[test]
    fn takeover_grants_at_least_the_grace() {
        let c = LeaseClock::default();
        c.take_over(&[lease(1, 0), lease(2, 60_000)], Duration::from_secs(2));
        let r1 = c.remaining(1).unwrap();
        assert!(
            r1 > Duration::from_millis(1900) && r1 <= Duration::from_secs(2),
            "{r1:?}"
        );
        assert!(c.remaining(2).unwrap() > Duration::from_secs(59));
        assert!(c.expired().is_empty());
    }

    #[test]
    fn sync_adds_new_and_drops_revoked() {
        let c = LeaseClock::default();
        c.sync(&[lease(1, 0)]);
        assert_eq!(c.expired(), vec![1]);
        c.keepalive(1, 5_000);
        assert!(c.expired().is_empty());
        c.sync(&[]);
        assert_eq!(c.remaining(1), None);
    }
}
