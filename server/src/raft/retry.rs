//! The one retry rule of the Raft layer, used by every request that goes to the leader:
//! writes, linearizable-read rounds, lease calls and membership changes.
//!
//! The rule: an attempt that failed with `NotLeader` or `Unavailable` was certainly not
//! carried out (no leader had it, or it never reached one), so it is tried again, on
//! whoever leads then. An attempt whose outcome is unknown (`OutcomeUnknown`) is tried
//! again only if repeating it is harmless ([`Repeat::Harmless`],
//! [`Repeat::Deduplicated`]). Every other error is final. Attempts stop at the deadline;
//! pauses between them double from [`FIRST_PAUSE`] up to [`MAX_PAUSE`], so a leader
//! election (hundreds of ms) is waited out without hammering a member that is down.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::RaftNodeError;
use super::leader_link::{Leader, LeaderLink};

/// First pause between attempts.
pub(super) const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between attempts: well under an election timeout, so a new leader is
/// found soon after it is elected.
pub(super) const MAX_PAUSE: Duration = Duration::from_millis(320);

/// What sending a request twice would do, which decides what may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Nothing (read index, lease keepalive or remaining time): every failure short of a
    /// final one is retried, and giving up says `Unavailable`.
    Harmless,
    /// Nothing, because the state machine deduplicates it (a write with a request id):
    /// retried even when its outcome is unknown; giving up after such an attempt says
    /// `OutcomeUnknown`.
    Deduplicated,
    /// Apply it twice (a plain write, a membership change): retried only while it was
    /// certainly not carried out.
    Unsafe,
}

/// Whether an attempt that failed with `e` may be made again under `repeat`.
pub(super) fn retryable(e: &RaftNodeError, repeat: Repeat) -> bool {
    match e {
        RaftNodeError::NotLeader { .. } | RaftNodeError::Unavailable(_) => true,
        RaftNodeError::OutcomeUnknown(_) => repeat != Repeat::Unsafe,
        _ => false,
    }
}

/// Runs `attempt` against the current leader until it succeeds, fails finally, or
/// `deadline` passes (see the module documentation for the rule).
pub(super) async fn on_leader<T, F, Fut>(
    link: &LeaderLink,
    repeat: Repeat,
    deadline: Instant,
    mut attempt: F,
) -> Result<T, RaftNodeError>
where
    F: FnMut(Leader) -> Fut,
    Fut: Future<Output = Result<T, RaftNodeError>>,
{
    let mut pause = FIRST_PAUSE;
    // Set once an attempt may have been carried out: giving up is then "unknown".
    let mut ambiguous = false;
    loop {
        let leader = match link.wait_leader(deadline).await {
            Ok(leader) => leader,
            Err(e) => return Err(give_up(e, repeat, ambiguous)),
        };
        let e = match attempt(leader).await {
            Ok(value) => return Ok(value),
            Err(e) if retryable(&e, repeat) => e,
            Err(e) => return Err(e),
        };
        ambiguous |= matches!(e, RaftNodeError::OutcomeUnknown(_));
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(give_up(e, repeat, ambiguous));
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The error to report when the attempts stop on `last`.
fn give_up(last: RaftNodeError, repeat: Repeat, ambiguous: bool) -> RaftNodeError {
    match (repeat, last) {
        // Stopped and other final errors say more than anything else.
        (_, e) if !retryable(&e, Repeat::Deduplicated) => e,
        (Repeat::Harmless, RaftNodeError::OutcomeUnknown(m)) => RaftNodeError::Unavailable(m),
        (Repeat::Deduplicated, e) if ambiguous => match e {
            RaftNodeError::OutcomeUnknown(m) => RaftNodeError::OutcomeUnknown(m),
            other => RaftNodeError::OutcomeUnknown(format!(
                "an earlier attempt may have been applied, and then: {other}"
            )),
        },
        (_, e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown() -> RaftNodeError {
        RaftNodeError::OutcomeUnknown("lost the leader".into())
    }

    #[test]
    fn only_errors_that_carried_nothing_out_retry_unsafe_requests() {
        let not_leader = RaftNodeError::NotLeader {
            leader_id: Some(2),
            leader_addr: None,
        };
        for repeat in [Repeat::Harmless, Repeat::Deduplicated, Repeat::Unsafe] {
            assert!(retryable(&not_leader, repeat));
            assert!(retryable(&RaftNodeError::Unavailable("x".into()), repeat));
            assert!(!retryable(&RaftNodeError::Stopped("x".into()), repeat));
            assert!(!retryable(&RaftNodeError::Timeout("x".into()), repeat));
            assert!(!retryable(&RaftNodeError::Membership("x".into()), repeat));
        }
        assert!(retryable(&unknown(), Repeat::Harmless));
        assert!(retryable(&unknown(), Repeat::Deduplicated));
        assert!(!retryable(&unknown(), Repeat::Unsafe));
    }

    #[test]
    fn giving_up_after_an_ambiguous_attempt_says_outcome_unknown_only_for_writes() {
        let later = RaftNodeError::Unavailable("no leader".into());
        assert!(matches!(
            give_up(later.clone(), Repeat::Deduplicated, true),
            RaftNodeError::OutcomeUnknown(_)
        ));
        assert_eq!(give_up(later.clone(), Repeat::Deduplicated, false), later);
        assert!(matches!(
            give_up(unknown(), Repeat::Harmless, true),
            RaftNodeError::Unavailable(_)
        ));
        let stopped = RaftNodeError::Stopped("shut down".into());
        assert_eq!(
            give_up(stopped.clone(), Repeat::Deduplicated, true),
            stopped
        );
    }
}
