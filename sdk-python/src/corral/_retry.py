"""The one retry policy of the client (as sdk-rust/src/retry.rs): which failed calls
are sent again, which broken streams are reopened, and the pause between attempts.
Calls, watches, observers and keepalives of both clients use it."""

from __future__ import annotations

import enum

from corral._errors import (
    CorralError,
    DeadlineExceeded,
    OutcomeUnknown,
    TransportError,
    Unavailable,
    never_sent,
)

#: Attempts of a call that has no timeout (with a timeout, attempts go on until it).
MAX_ATTEMPTS_WITHOUT_TIMEOUT = 20

#: First and longest pause between rounds of attempts, seconds.
BACKOFF_FIRST = 0.025
BACKOFF_MAX = 1.0


class Retry(enum.Enum):
    """How a call may be retried after a failure."""

    #: A read, or a call whose repetition changes nothing: always safe to send again.
    SAFE = 1
    #: A write carrying a request id: the server applies it once whatever the retries.
    WITH_REQUEST_ID = 2
    #: A write without a request id: sent again only when it certainly was not applied.
    UNSAFE = 3


def again(error: CorralError, retry: Retry) -> bool:
    """Whether a failed attempt is sent again (to the next member): a request that
    never left the client always is; one whose connection broke, or that the server
    answered OUTCOME_UNKNOWN, only if repeating it is safe; one the server refused as
    UNAVAILABLE (certainly not applied) always is. A deadline is final."""
    if isinstance(error, DeadlineExceeded):
        return False
    if isinstance(error, TransportError):
        return retry is not Retry.UNSAFE or never_sent(error)
    if isinstance(error, OutcomeUnknown):
        return retry is not Retry.UNSAFE
    return isinstance(error, Unavailable)


def reopens(error: CorralError) -> bool:
    """Whether a stream (watch, observe, keepalive) that failed with ``error`` is opened
    again on the next member: when retrying may help."""
    return error.is_transient or (isinstance(error, DeadlineExceeded) and error.reason is None)


class Backoff:
    """Pauses between rounds: 25 ms, doubling up to 1 s; ``reset`` after a success."""

    def __init__(self) -> None:
        self.current = BACKOFF_FIRST

    def step(self) -> float:
        """The pause to take now; the next one is twice as long (up to the cap)."""
        now = self.current
        self.current = min(self.current * 2, BACKOFF_MAX)
        return now

    def reset(self) -> None:
        """Back to the first pause."""
        self.current = BACKOFF_FIRST
