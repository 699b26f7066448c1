"""Recipes on a session (kazoo-class), as context managers whose ``__enter__`` raises
on failure and returns the held object.

* :class:`Lock` - fair distributed lock with a fencing token (``client.lock(name)``).
* :class:`Election` - leader election with a published value.
* :class:`ServiceRegistry` - instances as ephemeral znodes, with a live view.
* :class:`Counter` - a shared integer updated by compare-and-set.
* :class:`Barrier` - block until a znode is removed.
* :class:`Queue` - a FIFO of sequential znodes.
* :class:`ConfigWatcher` - a znode's current value, kept up to date.
* :class:`ReadWriteLock` - shared readers or one writer, FIFO.
* :class:`Semaphore` - at most N holders, FIFO.
* :class:`DoubleBarrier` - N participants enter and leave together.
* :class:`LockingQueue` - a queue whose items are claimed, then consumed (at least once).
* :class:`TreeCache` - a local mirror of a subtree.

Every entry a recipe makes is bound to a session's lease, so it goes when the holder's
process dies (after the TTL) or its session is lost; a waiter that fails or gives up
removes its own entry. Waits never miss a change between a read and the watch after it:
each watch starts at the revision after the read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from corral import _requests as rq
from corral._errors import AlreadyExists, CorralError, NotFound, SessionLost, VersionMismatch, WaitTimeout
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
    "ReadWriteLock",
    "Semaphore",
    "DoubleBarrier",
    "LockingQueue",
    "TreeCache",
]


def _remove_own_entries(client: "Client", name: str, lease_id: int, election: bool = False) -> None:
    """Removes every queue entry of ``lease_id`` under lock/election ``name``, so a
    contender that gave up leaves no orphan entry (best effort: an entry whose lease
    ended is gone with it anyway)."""
    try:
        for node in client.list_all(name).nodes:
            if node.stat.lease_id == lease_id:
                if election:
                    client.resign(node.path, lease_id)
                else:
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
            result = self._client._lock_call(self.name, lease_id, timeout, session)
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
            self.leader = client.campaign(
                self.name, self._value, self.session.lease_id, timeout=self._timeout, session=self.session
            )
        except WaitTimeout:
            raise
        except BaseException:
            _remove_own_entries(client, self.name, self.session.lease_id, election=True)
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
        if client.exists(self.base) is None:
            try:
                client.create(self.base, create_parents=True)
            except AlreadyExists:
                pass  # another instance registering at the same time made it first
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


# --- znode recipes: sequential ephemeral entries and waits on the ones ahead -------


def _sequence(name: str) -> int:
    """The 10-digit counter a sequential znode's name ends with."""
    return int(name[-10:])


def _deadline(timeout: Optional[float]) -> Optional[float]:
    import time

    return None if timeout is None else time.monotonic() + timeout


def _left(deadline: Optional[float]) -> Optional[float]:
    import time

    return None if deadline is None else deadline - time.monotonic()


def _wait_gone(client: "Client", path: str, revision: int, deadline: Optional[float]) -> bool:
    """Waits until ``path`` is deleted at a revision after ``revision`` (True), or the
    deadline passes (False)."""
    from corral._watch import watch_once

    while True:
        left = _left(deadline)
        if left is not None and left <= 0:
            return False
        batch = watch_once(client, path, start_revision=revision + 1, timeout=left)
        if batch is None:
            return False
        if any(e.type.name == "DELETED" for e in batch.events):
            return True
        revision = batch.revision


def _wait_children_change(client: "Client", path: str, revision: int, deadline: Optional[float]) -> bool:
    """Waits for a create or delete among ``path``'s children after ``revision``."""
    from corral._watch import watch_once

    left = _left(deadline)
    if left is not None and left <= 0:
        return False
    return watch_once(client, path, scope="children", start_revision=revision + 1, timeout=left) is not None


@dataclass
class HeldEntry:
    """A hold of a znode recipe: its entry znode and a fencing token (the entry's
    create revision, strictly increasing per recipe directory)."""

    path: str
    key: str
    fencing_token: int
    session: Session

    def is_valid(self) -> bool:
        """Whether the holder's session is CONNECTED."""
        return self.session.state is SessionState.CONNECTED


class _QueuedHold:
    """Shared machinery: create a sequential ephemeral entry ``<path>/<prefix>``, then
    wait until ``blockers(my_seq, entries)`` is empty, watching the last blocker."""

    prefix = "entry-"

    def __init__(self, session: Session, path: str, timeout: Optional[float]) -> None:
        rq.check_path(path)
        self.session = session
        self.path = path
        self._timeout = rq.check_timeout(timeout)
        self.held: Optional[HeldEntry] = None

    def _blockers(self, me: Node, entries: List[Node]) -> List[Node]:
        raise NotImplementedError

    def _wait(self, me: Node, entries: List[Node], revision: int, deadline: Optional[float]) -> bool:
        blockers = self._blockers(me, entries)
        return _wait_gone(self.session.client, blockers[-1].path, revision, deadline)

    def acquire(self) -> HeldEntry:
        """Blocks until held (WaitTimeout after the timeout); returns the hold."""
        self.session.check()
        client = self.session.client
        deadline = _deadline(self._timeout)
        if client.exists(self.path) is None:
            try:
                client.create(self.path, create_parents=True)
            except AlreadyExists:
                pass
        created = client.create(f"{self.path}/{self.prefix}", sequential=True, lease_id=self.session.lease_id)
        try:
            while True:
                listing = client.list_all(self.path)
                me = next((n for n in listing.nodes if n.path == created.path), None)
                if me is None:
                    raise SessionLost(f"{created.path} is gone: the session's lease ended")
                if not self._blockers(me, listing.nodes):
                    self.held = HeldEntry(self.path, created.path, created.stat.create_revision, self.session)
                    return self.held
                if not self._wait(me, listing.nodes, listing.header.revision, deadline):
                    raise WaitTimeout(f"{self.path}: not acquired within {self._timeout} s")
                self.session.check()
        except BaseException:
            try:
                client.delete(created.path)
            except CorralError:
                pass
            raise

    def release(self) -> None:
        """Gives the hold back (idempotent)."""
        held, self.held = self.held, None
        if held is not None and not self.session.is_lost:
            try:
                self.session.client.delete(held.key)
            except NotFound:
                pass

    def __enter__(self) -> HeldEntry:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class _ReadHold(_QueuedHold):
    prefix = "read-"

    def _blockers(self, me: Node, entries: List[Node]) -> List[Node]:
        mine = _sequence(me.name)
        return [n for n in entries if n.name.startswith("write-") and _sequence(n.name) < mine]


class _WriteHold(_QueuedHold):
    prefix = "write-"

    def _blockers(self, me: Node, entries: List[Node]) -> List[Node]:
        mine = _sequence(me.name)
        return [n for n in entries if _sequence(n.name) < mine]


class ReadWriteLock:
    """Shared readers or one writer on ``path``, in arrival order:
    ``with rw.read_lock():`` / ``with rw.write_lock() as held:``."""

    def __init__(self, session: Session, path: str) -> None:
        rq.check_path(path)
        self.session = session
        self.path = path

    def read_lock(self, timeout: Optional[float] = None) -> _QueuedHold:
        """A shared hold: waits only for writers queued ahead."""
        return _ReadHold(self.session, self.path, timeout)

    def write_lock(self, timeout: Optional[float] = None) -> _QueuedHold:
        """An exclusive hold: waits for everyone queued ahead."""
        return _WriteHold(self.session, self.path, timeout)


class Semaphore(_QueuedHold):
    """At most ``max_leases`` holders of ``path`` at once, FIFO:
    ``with Semaphore(session, "/sem/db", 3) as held:``."""

    prefix = "permit-"

    def __init__(self, session: Session, path: str, max_leases: int, *, timeout: Optional[float] = None) -> None:
        super().__init__(session, path, timeout)
        self.max_leases = rq.check_int(max_leases, "max_leases", 1)

    def _blockers(self, me: Node, entries: List[Node]) -> List[Node]:
        mine = _sequence(me.name)
        ahead = [n for n in entries if _sequence(n.name) < mine]
        return ahead if len(ahead) >= self.max_leases else []

    def _wait(self, me: Node, entries: List[Node], revision: int, deadline: Optional[float]) -> bool:
        # Any holder ahead may leave: wait for a change in the directory.
        return _wait_children_change(self.session.client, self.path, revision, deadline)


class DoubleBarrier:
    """``num`` participants enter together and leave together:
    ``with DoubleBarrier(session, "/barriers/job", 3, "worker-1"):`` blocks until 3 are
    in; leaving blocks until all have left."""

    def __init__(self, session: Session, path: str, num: int, name: str, *, timeout: Optional[float] = None) -> None:
        rq.check_path(path)
        self.session = session
        self.path = path
        self.num = rq.check_int(num, "num", 1)
        self.node = rq.check_path(f"{path}/{name}", "name")
        self._timeout = rq.check_timeout(timeout)

    def _wait_count(self, ok: Callable[[int], bool]) -> None:
        client = self.session.client
        deadline = _deadline(self._timeout)
        while True:
            listing = client.list_all(self.path)
            if ok(len(listing.nodes)):
                return
            if not _wait_children_change(client, self.path, listing.header.revision, deadline):
                raise WaitTimeout(f"{self.path}: barrier not passed within {self._timeout} s")

    def enter(self) -> None:
        """Joins and blocks until ``num`` participants are in."""
        client = self.session.client
        if client.exists(self.path) is None:
            try:
                client.create(self.path, create_parents=True)
            except AlreadyExists:
                pass
        client.create(self.node, lease_id=self.session.lease_id)
        try:
            self._wait_count(lambda n: n >= self.num)
        except BaseException:
            self.session.client.delete(self.node)
            raise

    def leave(self) -> None:
        """Leaves and blocks until every participant has left."""
        try:
            self.session.client.delete(self.node)
        except NotFound:
            pass
        self._wait_count(lambda n: n == 0)

    def __enter__(self) -> "DoubleBarrier":
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()


@dataclass
class QueueItem:
    """An item claimed from a :class:`LockingQueue`; ``consume()`` it once done."""

    path: str
    data: bytes
    claim: str
    queue: "LockingQueue"

    def consume(self) -> None:
        """Removes the item for good (and its claim) in one transaction."""
        client = self.queue.session.client
        client.txn([], [rq.Op.delete(self.path), rq.Op.delete(self.claim)])

    def release(self) -> None:
        """Gives the item back for another consumer."""
        try:
            self.queue.session.client.delete(self.claim)
        except NotFound:
            pass


class LockingQueue:
    """A queue with at-least-once delivery (kazoo's LockingQueue): ``get()`` claims the
    oldest unclaimed item with an ephemeral claim bound to the session and returns it;
    ``item.consume()`` removes it. If the consumer dies first, its claim goes with its
    lease and the item is delivered again."""

    def __init__(self, session: Session, path: str) -> None:
        rq.check_path(path)
        self.session = session
        self.path = path
        self.items = f"{path}/items"
        self.claims = f"{path}/claims"
        client = session.client
        for p in (self.items, self.claims):
            try:
                client.create(p, create_parents=True)
            except AlreadyExists:
                pass

    def put(self, item: rq.Data) -> str:
        """Appends ``item``; returns its znode path."""
        return self.session.client.create(f"{self.items}/item-", item, sequential=True).path

    def get(self, timeout: Optional[float] = None) -> Optional[QueueItem]:
        """Claims the oldest unclaimed item; waits up to ``timeout`` seconds (None: do not
        wait) and returns None if there is none."""
        client = self.session.client
        deadline = _deadline(timeout)
        while True:
            self.session.check()
            listing = client.list_all(self.items, with_data=True)
            claimed = set(client.children(self.claims))
            for node in listing.nodes:
                if node.name in claimed:
                    continue
                claim = f"{self.claims}/{node.name}"
                try:
                    client.create(claim, lease_id=self.session.lease_id)
                except AlreadyExists:
                    continue
                if client.exists(node.path) is None:  # consumed meanwhile
                    client.delete(claim)
                    continue
                return QueueItem(node.path, node.data, claim, self)
            left = _left(deadline)
            if left is None or left <= 0:
                return None
            # New items show as a change of the item list; a released claim does not, so
            # look again at least every second.
            _wait_children_change(client, self.items, listing.header.revision, _deadline(min(left, 1.0)))

    def __len__(self) -> int:
        return len(self.session.client.list_all(self.items).nodes)


class TreeCache:
    """A local mirror of ``path`` and its subtree, kept current by a background watch
    (Curator's TreeCache): ``get(path)``, ``children(path)``, ``wait_for_revision(rev)``.
    Reloads if the watch falls behind the retained history."""

    def __init__(self, client: "Client", path: str) -> None:
        rq.check_path(path)
        self.client = client
        self.path = path
        self._nodes: Dict[str, Node] = {}
        self.revision = 0
        self._cond = threading.Condition()
        self._closed = False
        self._watcher: Optional[object] = None
        self._load()
        self._thread = threading.Thread(target=self._run, name=f"corral-treecache{path}", daemon=True)
        self._thread.start()

    def _load(self) -> int:
        listing = self.client.list_all(self.path, recursive=True, with_data=True)
        nodes = {n.path: n for n in listing.nodes}
        try:
            root = self.client.get(self.path)
            nodes[root.path] = root
        except NotFound:
            pass
        with self._cond:
            self._nodes = nodes
            self.revision = listing.header.revision
            self._cond.notify_all()
        return listing.header.revision

    def _run(self) -> None:
        from corral._errors import Compacted

        revision = self.revision
        while not self._closed:
            watcher = self.client.watch(self.path, scope="subtree", start_revision=revision + 1)
            self._watcher = watcher
            try:
                for batch in watcher.batches():
                    with self._cond:
                        for event in batch.events:
                            if event.type.name == "DELETED":
                                self._nodes.pop(event.node.path, None)
                            else:
                                self._nodes[event.node.path] = event.node
                        self.revision = batch.revision
                        self._cond.notify_all()
                return
            except Compacted:
                revision = self._load()
            except Exception:  # noqa: BLE001 - ends the mirror; reads go on from what it has
                return

    def get(self, path: str) -> Optional[Node]:
        """The cached znode at ``path``, or None."""
        with self._cond:
            return self._nodes.get(path)

    def children(self, path: str) -> List[str]:
        """The names of the cached children of ``path``, sorted."""
        prefix = path.rstrip("/") + "/"
        with self._cond:
            return sorted(p[len(prefix) :] for p in self._nodes if p.startswith(prefix) and "/" not in p[len(prefix) :])

    def wait_for_revision(self, revision: int, timeout: Optional[float] = None) -> bool:
        """Blocks until the mirror reflects ``revision`` (e.g. a write's header.revision)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.revision >= revision, timeout)

    def close(self) -> None:
        """Stops following the subtree."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.close()  # type: ignore[attr-defined]

    def __enter__(self) -> "TreeCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
