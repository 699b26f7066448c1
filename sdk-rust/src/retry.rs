//! The one retry policy of the client: which failed calls are sent again
//! ([`after_failure`]), which broken streams are reopened ([`reopens`]), which failures
//! renew the token first ([`renew_and_retry`]), and the pause between attempts
//! ([`Backoff`]). Calls, watches, observers and lease keepalives all use it, so they
//! cannot disagree.

use std::error::Error as _;
use std::time::Duration;

use tonic::Status;

use crate::error::{chain_has, Error};

/// How a call may be retried after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read, or a call whose repetition changes nothing (e.g. Unlock, a Lock that finds
    /// the lease's own queue entry): always safe to send again.
    Safe,
    /// A write carrying a request id: the server applies it once whatever the retries.
    WithRequestId,
    /// A write without a request id: sent again only when it certainly was not applied.
    Unsafe,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Give up with the error.
    Fail,
    /// Send the call again (to the next member).
    Again,
}

/// Decides whether a failed attempt is sent again: a request that never left the client
/// (no connection) always is; one whose connection broke mid-way, or that the server
/// answered `OUTCOME_UNKNOWN`, only if repeating it is safe; one the server refused as
/// `UNAVAILABLE` (no leader, not leader: certainly not applied) always is.
pub(crate) fn after_failure(status: &Status, error: &Error, retry: Retry) -> Next {
    if let Some(source) = status.source() {
        if matches!(error, Error::Timeout { .. }) {
            return Next::Fail;
        }
        if chain_has::<tonic::ConnectError>(source) || retry != Retry::Unsafe {
            return Next::Again;
        }
        return Next::Fail;
    }
    match error {
        Error::Unavailable { .. } => Next::Again,
        Error::OutcomeUnknown { .. } if retry != Retry::Unsafe => Next::Again,
        _ => Next::Fail,
    }
}

/// Whether a stream (watch, observe, keepalive) that failed with `error` is opened again,
/// on the next member: when retrying may help (the member was unavailable or
/// unreachable, the outcome is unknown, or it did not answer in time). Anything else
/// (a bad request, a compacted revision, a lease that ended) ends the stream.
pub(crate) fn reopens(error: &Error) -> bool {
    error.is_transient() || matches!(error, Error::Timeout { .. })
}

/// Whether a call or stream that failed with `error` gets a new token and is sent (or
/// opened) again: the server rejected the token (invalid, expired, revoked), or wanted
/// one where the client sent none (it found auth disabled earlier); the server checks
/// credentials before anything else, so nothing was applied. Only if the client has a
/// user and password to get a token (`can_renew`), and has not already renewed it for
/// this call (`renewed`): a second rejection, or a refused password, is the caller's.
pub(crate) fn renew_and_retry(error: &Error, can_renew: bool, renewed: bool) -> bool {
    can_renew && !renewed && error.cured_by_authenticating()
}

/// Pauses between attempts: none is needed before the first; then 25 ms, doubling up
/// to 1 s. A loop that gets through again calls [`Backoff::reset`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first pause.
    pub(crate) const FIRST: Duration = Duration::from_millis(25);
    /// The longest pause.
    pub(crate) const MAX: Duration = Duration::from_secs(1);

    /// A backoff at its first pause.
    pub(crate) fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The pause [`Backoff::pause`] would take now.
    pub(crate) fn current(&self) -> Duration {
        self.next
    }

    /// Waits the current pause, then doubles it (up to [`Backoff::MAX`]).
    pub(crate) async fn pause(&mut self) {
        tokio::time::sleep(self.step()).await;
    }

    /// The current pause; the next one is twice as long (up to [`Backoff::MAX`]).
    fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        now
    }

    /// Back to the first pause, after a success.
    pub(crate) fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let seen: Vec<Duration> = (0..8).map(|_| b.step()).collect();
        assert_eq!(seen[0], Duration::from_millis(25));
        assert_eq!(seen[1], Duration::from_millis(50));
        assert_eq!(*seen.last().unwrap(), Backoff::MAX);
        b.reset();
        assert_eq!(b.current(), Backoff::FIRST);
    }

    fn unauthenticated(reason: crate::UnauthenticatedReason) -> Error {
        Error::Unauthenticated {
            reason,
            user: None,
            message: String::new(),
        }
    }

    #[test]
    fn a_rejected_token_is_renewed_once_and_only_with_a_password() {
        use crate::UnauthenticatedReason as U;
        for reason in [U::InvalidToken, U::TokenExpired, U::TokenRevoked] {
            let error = unauthenticated(reason);
            assert!(renew_and_retry(&error, true, false), "{reason:?}");
            assert!(
                !renew_and_retry(&error, true, true),
                "{reason:?}: only once"
            );
            assert!(
                !renew_and_retry(&error, false, false),
                "{reason:?}: fixed token"
            );
            // Not a transient failure: without renewal the stream ends.
            assert!(!reopens(&error));
        }
        // Sent without a token (auth was off when the client looked): get one now.
        assert!(renew_and_retry(
            &unauthenticated(U::AuthRequired),
            true,
            false
        ));
        assert!(!renew_and_retry(
            &unauthenticated(U::AuthRequired),
            false,
            false
        ));
        for reason in [U::BadCredentials, U::Unknown] {
            assert!(
                !renew_and_retry(&unauthenticated(reason), true, false),
                "{reason:?}"
            );
        }
        let denied = Error::PermissionDenied {
            path: Some("/a".into()),
            permission: None,
            user: None,
            message: String::new(),
        };
        assert!(!renew_and_retry(&denied, true, false));
    }

    #[test]
    fn streams_reopen_only_when_retrying_may_help() {
        let unavailable = Error::Unavailable {
            leader_id: None,
            leader_addr: None,
            message: String::new(),
        };
        assert!(reopens(&unavailable));
        assert!(reopens(&Error::Timeout {
            message: String::new()
        }));
        assert!(!reopens(&Error::LeaseNotFound {
            lease_id: Some(1),
            message: String::new(),
        }));
    }
}
