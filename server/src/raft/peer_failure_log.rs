//! How often a member logs that a peer cannot be reached. While a member is down the
//! leader calls it every half second or so (heartbeats, replication retries); one log
//! line per call buried everything else. Per peer: the first failure is logged, then
//! at most one line per interval with the number of failures since the last line, and
//! one line when the peer answers again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default time between two lines about the same unreachable peer.
pub(super) const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// What to log about a call to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Report {
    /// The first failure after the peer was fine: log it.
    First,
    /// Log a summary: `failures` calls failed since the last line, `down_for` since the
    /// first failure.
    Again {
        /// Failed calls since the last line, this one included.
        failures: u64,
        /// Time since the first failure.
        down_for: Duration,
    },
    /// Already logged recently: say nothing.
    Quiet,
    /// The peer answered after failing: log it once.
    Back {
        /// Failed calls in all, since the first failure.
        failures: u64,
        /// Time from the first failure to this answer.
        down_for: Duration,
    },
}

#[derive(Debug)]
struct Down {
    since: Instant,
    last_line: Instant,
    failures_since_line: u64,
    failures: u64,
}

/// Failure state of each peer.
#[derive(Debug)]
pub(super) struct PeerFailureLog {
    interval: Duration,
    down: HashMap<u64, Down>,
}

impl Default for PeerFailureLog {
    fn default() -> Self {
        Self::new(LOG_INTERVAL)
    }
}

impl PeerFailureLog {
    /// A log that says something about a failing peer at most once per `interval`.
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            down: HashMap::new(),
        }
    }

    /// A call to `peer` failed at `now`.
    pub(super) fn failed(&mut self, peer: u64, now: Instant) -> Report {
        let Some(down) = self.down.get_mut(&peer) else {
            self.down.insert(
                peer,
                Down {
                    since: now,
                    last_line: now,
                    failures_since_line: 0,
                    failures: 1,
                },
            );
            return Report::First;
        };
        down.failures += 1;
        down.failures_since_line += 1;
        if now.saturating_duration_since(down.last_line) < self.interval {
            return Report::Quiet;
        }
        let report = Report::Again {
            failures: down.failures_since_line,
            down_for: now.saturating_duration_since(down.since),
        };
        down.last_line = now;
        down.failures_since_line = 0;
        report
    }

    /// A call to `peer` succeeded at `now`: `Some(Back)` if it had been failing.
    pub(super) fn succeeded(&mut self, peer: u64, now: Instant) -> Option<Report> {
        self.down.remove(&peer).map(|down| Report::Back {
            failures: down.failures,
            down_for: now.saturating_duration_since(down.since),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_peer_is_logged_once_then_once_per_interval_with_a_count_then_once_back() {
        let mut log = PeerFailureLog::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(log.failed(2, t0), Report::First);
        // A call every 0.5 s: quiet for the rest of the interval.
        for i in 1..60 {
            assert_eq!(log.failed(2, at(500 * i)), Report::Quiet, "call {i}");
        }
        // Another peer is reported on its own.
        assert_eq!(log.failed(3, at(1_000)), Report::First);
        assert_eq!(
            log.failed(2, at(30_000)),
            Report::Again {
                failures: 60,
                down_for: Duration::from_secs(30)
            }
        );
        assert_eq!(log.failed(2, at(30_500)), Report::Quiet);
        assert_eq!(
            log.succeeded(2, at(31_000)),
            Some(Report::Back {
                failures: 62,
                down_for: Duration::from_secs(31)
            })
        );
        assert_eq!(log.succeeded(2, at(31_500)), None, "back is said once");
        assert_eq!(log.succeeded(4, at(31_500)), None, "never down");
        // Down again: a new first line.
        assert_eq!(log.failed(2, at(40_000)), Report::First);
    }
}
