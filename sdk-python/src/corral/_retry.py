"""The one retry policy of the client (as sdk-rust/src/retry.rs): which failed calls
are sent again, which broken streams are reopened, and the pause between attempts.
Calls, watches, observers and keepalives of both clients use it."""

from __future__ import annotations

import enum
import time
from typing import Any, Optional, Tuple

from corral._auth import Issued, TokenState, auth_metadata
from corral._errors import (
    CorralError,
    DeadlineExceeded,
    OutcomeUnknown,
    TransportError,
    Unavailable,
    never_sent,
    token_refused,
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


class CallAttempts:
    """The bookkeeping of one call's attempts, shared by the sync and asyncio clients
    (which differ only in how they wait): the request id (one for every attempt),
    the deadline, which member to try, and after a failure whether and how long to
    pause before the next attempt (every member once without a pause, then a pause
    between rounds), or that the call is over.

    With ``auth`` (the client's TokenState), a call refused because of its token
    (invalid, expired, revoked; or absent because auth was off) is sent once more, to
    the same member, after the token it carried is dropped: the client authenticates
    again before that attempt. A second refusal is the answer.

    ``members`` has ``current()``, ``skip(index)`` and ``len()``; ``lanes`` (None when
    request ids are off) has ``take()``, ``request_id(lane, seq)`` and
    ``give_back(lane, seq)``. Call ``release()`` when the call ends, however it ends."""

    def __init__(
        self,
        members: Any,
        lanes: Any,
        retry: Retry,
        limit: Optional[float],
        header: str,
        auth: Optional[TokenState] = None,
    ) -> None:
        self._members = members
        self._auth = auth
        self._token_generation: Optional[int] = None
        self._reauthenticated = False
        self._lanes = lanes
        self.limit = limit
        self.deadline = None if limit is None else time.monotonic() + limit
        self._lane: Optional[Tuple[int, int]] = None
        self.metadata: Optional[Tuple[Tuple[str, str], ...]] = None
        if retry is Retry.WITH_REQUEST_ID:
            if lanes is None:
                retry = Retry.UNSAFE
            else:
                self._lane = lanes.take()
                self.metadata = ((header, lanes.request_id(*self._lane)),)
        self.retry = retry
        self._backoff = Backoff()
        self._attempt = 0
        self._left_in_round = len(members)

    def next(self) -> Tuple[int, Any, Optional[float]]:
        """The member to try now, its stubs and the time left (None: no deadline);
        DeadlineExceeded once the deadline has passed."""
        self._attempt += 1
        index, stubs = self._members.current()
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(f"no answer within {self.limit} s")
        return index, stubs, remaining

    def metadata_with(self, token: Optional[Issued]) -> Optional[Tuple[Tuple[str, str], ...]]:
        """The attempt's metadata: the request id and, if any, ``token``'s header (the
        token is remembered, so a refusal drops that one and no newer one)."""
        self._token_generation = None if token is None else token[1]
        return auth_metadata(self.metadata, token)

    def failed(self, error: CorralError, index: int) -> float:
        """After attempt ``index`` failed with ``error``: the pause to take before the
        next attempt (0 for none), or ``error`` raised when the call is over."""
        if (
            self._auth is not None
            and not self._reauthenticated
            and self._auth.can_authenticate
            and token_refused(error)
            and (self.deadline is None or time.monotonic() < self.deadline)
        ):
            # The server applied nothing; the same member will take a fresh token.
            self._reauthenticated = True
            self._auth.invalidate(self._token_generation)
            return 0.0
        if not again(error, self.retry):
            if isinstance(error, DeadlineExceeded) and error.reason is None:
                # Frozen or cut off: the next call goes elsewhere.
                self._members.skip(index)
            raise error
        self._members.skip(index)
        if self.deadline is not None:
            if time.monotonic() + self._backoff.current >= self.deadline:
                raise error
        elif self._attempt >= MAX_ATTEMPTS_WITHOUT_TIMEOUT:
            raise error
        self._left_in_round -= 1
        if self._left_in_round > 0:
            return 0.0
        self._left_in_round = len(self._members)
        return self._backoff.step()

    def release(self) -> None:
        """Gives the request id's lane back."""
        if self._lane is not None and self._lanes is not None:
            self._lanes.give_back(*self._lane)
            self._lane = None
