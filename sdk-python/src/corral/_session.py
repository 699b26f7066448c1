"""Sessions of the sync client: a lease kept alive by a background thread, with state
CONNECTED / SUSPENDED / LOST and listeners. Everything a process holds in the cluster
(ephemeral znodes, locks, leaderships, the recipes' entries) is bound to a session."""

from __future__ import annotations

import enum
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from corral._errors import ClientClosed, CorralError, LeaseNotFound, SessionLost

if TYPE_CHECKING:
    from corral._client import Client

log = logging.getLogger("corral")


class SessionState(enum.Enum):
    """Where a session stands."""

    #: Keepalives get through: the lease is alive.
    CONNECTED = "CONNECTED"
    #: Keepalives fail, but less than a TTL has passed since the last success: the
    #: lease may still be alive; what it holds should not be trusted until CONNECTED.
    SUSPENDED = "SUSPENDED"
    #: The server said the lease ended, or no keepalive succeeded for a whole TTL:
    #: everything bound to it must be presumed gone. Final.
    LOST = "LOST"


Listener = Callable[[SessionState], None]


def next_state(state: SessionState, ok: bool, ended: bool, since_ok: float, ttl: float) -> SessionState:
    """The state after a keepalive attempt (shared by the sync and asyncio sessions)."""
    if state is SessionState.LOST or ended:
        return SessionState.LOST
    if ok:
        return SessionState.CONNECTED
    return SessionState.LOST if since_ok >= ttl else SessionState.SUSPENDED


class Session:
    """A lease of ``ttl`` seconds kept alive every TTL/3 by a daemon thread.

    ``state`` is CONNECTED, SUSPENDED or LOST; ``add_listener(fn)`` calls ``fn(state)``
    on each change (from the session's thread; keep it short). ``close()`` (or leaving
    the ``with`` block) revokes the lease, deleting what is bound to it; ``orphan()``
    stops the keepalives and leaves the lease to expire, as a crash would.
    """

    def __init__(self, client: "Client", ttl: float = 10.0) -> None:
        lease = client.lease_grant(ttl)
        self.client = client
        self.lease_id = lease.lease_id
        self.ttl = lease.ttl
        self._state = SessionState.CONNECTED
        self._listeners: List[Listener] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._closed = False
        self._last_ok = time.monotonic()
        #: Local mutual exclusion per lock name, so threads sharing the session do
        #: not both "hold" a lock whose queue entry belongs to the same lease.
        self.local_locks: Dict[str, threading.Lock] = {}
        self._thread = threading.Thread(target=self._run, name=f"corral-session-{self.lease_id}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Session(lease_id={self.lease_id}, ttl={self.ttl}, state={self._state.value})"

    @property
    def state(self) -> SessionState:
        """CONNECTED, SUSPENDED or LOST."""
        return self._state

    @property
    def closed(self) -> bool:
        """Whether close() or orphan() was called."""
        return self._closed

    @property
    def is_lost(self) -> bool:
        """Whether the session is LOST."""
        return self._state is SessionState.LOST

    def add_listener(self, listener: Listener) -> None:
        """Calls ``listener(state)`` on every state change."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stops calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def wait_lost(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the session is LOST (True) or ``timeout`` passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state is SessionState.LOST, timeout)

    def check(self) -> None:
        """Raises SessionLost if the session is lost."""
        if self._state is SessionState.LOST:
            raise SessionLost(f"session lease {self.lease_id} is lost")

    def local_lock(self, name: str) -> threading.Lock:
        """The in-process lock of ``name`` for this session."""
        with self._lock:
            return self.local_locks.setdefault(name, threading.Lock())

    def _set(self, state: SessionState) -> None:
        with self._changed:
            if state is self._state:
                return
            self._state = state
            listeners = list(self._listeners)
            self._changed.notify_all()
        log.info("session %d: %s", self.lease_id, state.value)
        for listener in listeners:
            try:
                listener(state)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop keepalives
                log.exception("session listener failed")

    def _run(self) -> None:
        interval = self.ttl / 3
        while True:
            pause = interval if self._state is SessionState.CONNECTED else min(interval, 0.5)
            if self._stop.wait(pause):
                return
            ok = ended = False
            try:
                self.client.lease_keep_alive(self.lease_id, timeout=max(interval, 0.5))
                ok = True
            except LeaseNotFound:
                ended = True
            except ClientClosed:
                return  # the client is gone: nothing can keep the lease alive any more
            except CorralError as e:
                log.info("session %d: keepalive failed: %s", self.lease_id, e)
            except Exception:  # noqa: BLE001 - e.g. the client was closed under us
                log.exception("session %d: keepalive failed", self.lease_id)
            if self._stop.is_set():
                return
            now = time.monotonic()
            if ok:
                self._last_ok = now
            self._set(next_state(self._state, ok, ended, now - self._last_ok, self.ttl))
            if self._state is SessionState.LOST:
                return

    def orphan(self) -> None:
        """Stops the keepalives without revoking: the lease expires after its TTL."""
        self._closed = True
        self._stop.set()

    def close(self) -> None:
        """Stops the keepalives and revokes the lease (its ephemeral znodes go at once)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._state is not SessionState.LOST:
            try:
                self.client.lease_revoke(self.lease_id)
            except LeaseNotFound:
                pass

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
