"""Recipes on a session (kazoo-class), as context managers whose ``__enter__`` raises
on failure and returns the held object.

* :class:`Lock` - fair distributed lock with a fencing token (``client.lock(name)``).
* :class:`Election` - leader election with a published value.
* :class:`ServiceRegistry` - instances as ephemeral znodes, with a live view.
* :class:`Counter` - a shared integer updated by compare-and-set.
* :class:`Barrier` - block until a znode is removed.
* :class:`Queue` - a FIFO of sequential znodes.
* :class:`ConfigWatcher` - a znode's current value, kept up to date.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from corral import _requests as rq
from corral._errors import AlreadyExists, CorralError, NotFound, VersionMismatch, WaitTimeout
from corral._session import Session, SessionState
from corral._types import LeaderKey, Node

if TYPE_CHECKING:
    from corral._client import Client

__all__ = [
    "Lock",
    "HeldLock",
    "Election",
    "ServiceRegistry",
    "Counter",
    "Barrier",
    "Queue",
    "ConfigWatcher",
]


def _remove_own_entries(client: "Client", name: str, lease_id: int) -> None:
    """Removes every queue entry of ``lease_id`` under lock/election ``name``, so a
    contender that gave up leaves no orphan entry (best effort)."""
    try:
        for node in client.list_all(name).nodes:
            if node.stat.lease_id == lease_id:
                client.unlock(node.path, lease_id)
    except CorralError:
        pass


@dataclass
class HeldLock:
    """A held lock: ``fencing_token`` strictly increases per lock, so a protected
    resource can reject a stale holder. ``is_valid()`` is False once the session is
    suspended or lost (the lock may have passed to someone else)."""

    name: str
    key: str
    fencing_token: int
    lease_id: int
    session: Optional[Session]

    def is_valid(self) -> bool:
        """Whether the holder's session is CONNECTED (always True for a bare lease)."""
        return self.session is None or self.session.state is SessionState.CONNECTED

    def on_session_change(self, callback: Callable[[SessionState], None]) -> None:
        """Calls ``callback(state)`` when the session is suspended, reconnects or is lost."""
        if self.session is not None:
            self.session.add_listener(callback)


class Lock:
    """A fair (FIFO) distributed lock on ``name``, bound to a session (default: the
    client's shared session) or an explicit lease.

    ``with Lock(client, "/locks/jobs") as held:`` blocks until held (``timeout``
    seconds at most, then WaitTimeout) and returns a :class:`HeldLock`. Threads of one
    process sharing a session are excluded from each other locally too. A contender
    that fails or gives up leaves no queue entry behind.
    """

    def __init__(
        self,
        client: "Client",
        name: str,
        *,
        lease_id: Optional[int] = None,
        session: Optional[Session] = None,
        timeout: Optional[float] = None,
    ) -> None:
        rq.check_path(name, "name")
        if lease_id is not None:
            rq.check_int(lease_id, "lease_id", 1)
        rq.check_timeout(timeout)
        self._client = client
        self.name = name
        self._lease_id = lease_id
        self._session = session
        self._timeout = timeout
        self._local: Optional[threading.Lock] = None
        self.held: Optional[HeldLock] = None

    def acquire(self, timeout: Optional[float] = None) -> HeldLock:
        """Blocks until the lock is held; returns it (raises WaitTimeout after ``timeout``)."""
        timeout = self._timeout if timeout is None else rq.check_timeout(timeout)
        session = self._session
        if self._lease_id is None and session is None:
            session = self._client.default_session()
        lease_id = self._lease_id if self._lease_id is not None else session.lease_id  # type: ignore[union-attr]
        if session is not None:
            session.check()
            local = session.local_lock(self.name)
        else:
            local = threading.Lock()
        if not local.acquire(timeout=-1 if timeout is None else timeout):
            raise WaitTimeout(f"lock {self.name}: still held in this process after {timeout} s")
        try:
            result = self._client._lock_call(self.name, lease_id, timeout)
        except WaitTimeout:
            local.release()
            raise
        except BaseException:
            local.release()
            _remove_own_entries(self._client, self.name, lease_id)
            raise
        self._local = local
        self.held = HeldLock(self.name, result.key, result.fencing_token, lease_id, session)
        return self.held

    def release(self) -> None:
        """Releases the lock (idempotent)."""
        held, local = self.held, self._local
        self.held = self._local = None
        try:
            if held is not None and not (held.session is not None and held.session.is_lost):
                self._client.unlock(held.key, held.lease_id)
        finally:
            if local is not None:
                local.release()

    def __enter__(self) -> HeldLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class Election:
    """Leader election on ``name`` for a session: ``with Election(session, name, value)
    as leader:`` blocks until this process leads and returns its :class:`LeaderKey`;
    leaving the block resigns. ``proclaim(value)`` updates the published value."""

    def __init__(self, session: Session, name: str, value: rq.Data = b"", *, timeout: Optional[float] = None) -> None:
        rq.check_path(name, "name")
        self._value = rq.to_bytes(value, "value")
        self.session = session
        self.name = name
        self._timeout = rq.check_timeout(timeout)
        self.leader: Optional[LeaderKey] = None

    def campaign(self) -> LeaderKey:
        """Blocks until leading; returns the leader key."""
        self.session.check()
        client = self.session.client
        try:
            self.leader = client.campaign(self.name, self._value, self.session.lease_id, timeout=self._timeout)
        except WaitTimeout:
            raise
        except BaseException:
            _remove_own_entries(client, self.name, self.session.lease_id)
            raise
        return self.leader

    def proclaim(self, value: rq.Data) -> None:
        """Publishes a new value while leading."""
        if self.leader is None:
            raise CorralError("not leading: campaign first")
        self.session.client.proclaim(self.leader.key, value, self.session.lease_id)

    def resign(self) -> None:
        """Gives up leadership (idempotent)."""
        leader, self.leader = self.leader, None
        if leader is not None and not self.session.is_lost:
            self.session.client.resign(leader.key, self.session.lease_id)

    def is_leader(self) -> bool:
        """Whether this campaign leads and its session is CONNECTED."""
        return self.leader is not None and self.session.state is SessionState.CONNECTED

    def __enter__(self) -> LeaderKey:
        return self.campaign()

    def __exit__(self, *exc: object) -> None:
        self.resign()


class ServiceRegistry:
    """Service discovery under ``base`` (e.g. ``/services/api``): ``register(instance,
    data)`` makes an ephemeral znode ``base/instance`` bound to the session (it goes
    when the process dies, within the TTL); ``instances()`` lists them; ``watch(fn)``
    calls ``fn({instance: data})`` now and on every change."""

    def __init__(self, session: Session, base: str) -> None:
        rq.check_path(base, "base")
        self.session = session
        self.base = base
        self._watches: List[object] = []

    def register(self, instance: str, data: rq.Data = b"") -> str:
        """Registers ``instance``; returns its znode path."""
        if not isinstance(instance, str) or not instance or "/" in instance:
            raise TypeError("instance: expected a non-empty str without '/'")
        path = rq.check_path(f"{self.base}/{instance}", "instance")
        client = self.session.client
        client.create(self.base, create_parents=True) if client.exists(self.base) is None else None
        client.create(path, data, lease_id=self.session.lease_id)
        return path

    def deregister(self, instance: str) -> None:
        """Removes ``instance`` (not an error if it is gone)."""
        try:
            self.session.client.delete(f"{self.base}/{instance}")
        except NotFound:
            pass

    def instances(self) -> Dict[str, bytes]:
        """The registered instances and their data."""
        try:
            nodes = self.session.client.list_all(self.base, with_data=True).nodes
        except NotFound:
            return {}
        return {n.name: n.data for n in nodes}

    def watch(self, func: Callable[[Dict[str, bytes]], Optional[bool]]) -> "object":
        """Calls ``func(instances)`` now and after every change (a ChildrenWatch)."""
        from corral._watch import ChildrenWatch

        client = self.session.client
        if client.exists(self.base) is None:
            try:
                client.create(self.base, create_parents=True)
            except AlreadyExists:
                pass
        watch = ChildrenWatch(client, self.base, lambda _children: func(self.instances()))
        self._watches.append(watch)
        return watch

    def close(self) -> None:
        """Stops the watches."""
        for w in self._watches:
            w.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> "ServiceRegistry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Counter:
    """A shared integer at ``path``, changed atomically by compare-and-set."""

    def __init__(self, client: "Client", path: str, default: int = 0) -> None:
        rq.check_path(path)
        self.client = client
        self.path = path
        self.default = default

    @property
    def value(self) -> int:
        """The current value."""
        try:
            return int(self.client.get(self.path).data or b"0")
        except NotFound:
            return self.default

    def add(self, delta: int) -> int:
        """Adds ``delta``; returns the new value."""
        rq.check_int(delta, "delta", minimum=-(2**63))
        while True:
            try:
                node: Optional[Node] = self.client.get(self.path)
            except NotFound:
                node = None
            if node is None:
                new = self.default + delta
                try:
                    self.client.create(self.path, str(new), create_parents=True)
                    return new
                except AlreadyExists:
                    continue
            new = int(node.data or b"0") + delta
            try:
                self.client.put(self.path, str(new), expected_version=node.stat.version)
                return new
            except VersionMismatch:
                continue

    def __iadd__(self, delta: int) -> "Counter":
        self.add(delta)
        return self

    def __isub__(self, delta: int) -> "Counter":
        self.add(-delta)
        return self


class Barrier:
    """Blocks waiters while the znode ``path`` exists: ``create()`` raises it,
    ``remove()`` lifts it, ``wait(timeout)`` blocks until it is gone."""

    def __init__(self, client: "Client", path: str) -> None:
        rq.check_path(path)
        self.client = client
        self.path = path

    def create(self) -> None:
        """Raises the barrier (idempotent)."""
        try:
            self.client.create(self.path, create_parents=True)
        except AlreadyExists:
            pass

    def remove(self) -> None:
        """Lifts the barrier (idempotent)."""
        try:
            self.client.delete(self.path)
        except NotFound:
            pass

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the barrier is gone (True) or ``timeout`` passes (False)."""
        import time

        from corral._watch import watch_once

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            result = self.client.get_with_header("/", stat_only=True)
            if self.client.exists(self.path) is None:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            batch = watch_once(self.client, self.path, start_revision=result.header.revision + 1, timeout=left)
            if batch is not None and batch.events[-1].type.name == "DELETED":
                return True


class Queue:
    """A FIFO queue of sequential znodes under ``path``: ``put(item)``, ``get()``
    (None when empty; each item goes to one consumer, taken by delete)."""

    def __init__(self, client: "Client", path: str) -> None:
        rq.check_path(path)
        self.client = client
        self.path = path
        try:
            client.create(path, create_parents=True)
        except AlreadyExists:
            pass

    def put(self, item: rq.Data) -> str:
        """Appends ``item``; returns its znode path."""
        return self.client.create(f"{self.path}/item-", item, sequential=True).path

    def get(self) -> Optional[bytes]:
        """Takes the oldest item, or None when the queue is empty."""
        while True:
            nodes = self.client.list(self.path, with_data=True, limit=16).nodes
            if not nodes:
                return None
            for node in nodes:
                try:
                    self.client.delete(node.path, expected_version=node.stat.version)
                    return node.data
                except (NotFound, VersionMismatch):
                    continue

    def __len__(self) -> int:
        return len(self.client.list_all(self.path).nodes)


class ConfigWatcher:
    """The value of the znode ``path``, kept current by a DataWatch: ``value`` (bytes or
    None), and ``on_change(fn)`` callbacks."""

    def __init__(self, client: "Client", path: str) -> None:
        from corral._watch import DataWatch

        self.path = path
        self.value: Optional[bytes] = None
        self._callbacks: List[Callable[[Optional[bytes]], None]] = []
        self._ready = threading.Event()
        self._watch = DataWatch(client, path, self._changed)

    def _changed(self, data: Optional[bytes], _stat: object) -> None:
        self.value = data
        self._ready.set()
        for cb in list(self._callbacks):
            cb(data)

    def on_change(self, callback: Callable[[Optional[bytes]], None]) -> None:
        """Calls ``callback(value)`` after every change."""
        self._callbacks.append(callback)

    def close(self) -> None:
        """Stops watching."""
        self._watch.stop()

    def __enter__(self) -> "ConfigWatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
