"""Watches of the sync client: :class:`Watcher` (an iterator of events that resumes on
another member from the last revision delivered), one-shot helpers, and kazoo-style
:class:`DataWatch` / :class:`ChildrenWatch` callbacks."""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Iterator, List, Optional

import grpc

from corral import _requests as rq
from corral._errors import (
    ClientClosed,
    Compacted,
    CorralError,
    DeadlineExceeded,
    NotFound,
    Unavailable,
    from_rpc_error,
)
from corral._retry import Backoff, reopens
from corral._types import Event, Stat, WatchBatch
from corral.v1 import watch_pb2

if TYPE_CHECKING:
    from corral._client import Client

log = logging.getLogger("corral")


def batches_of(response: watch_pb2.WatchResponse, next_revision: int) -> List[WatchBatch]:
    """The whole revisions of a response at or above ``next_revision``, as batches (a
    revision is never split across messages, so lower ones were delivered before)."""
    out: List[WatchBatch] = []
    current: List[Event] = []
    revision = 0
    for pb in response.events:
        if pb.revision < next_revision:
            continue
        if current and pb.revision != revision:
            out.append(WatchBatch(revision, tuple(current)))
            current = []
        revision = pb.revision
        current.append(rq.event(pb))
    if current:
        out.append(WatchBatch(revision, tuple(current)))
    return out


def stream_error(response: watch_pb2.WatchResponse) -> CorralError:
    """The error for a watch the server ended."""
    if response.compact_revision > 0:
        return Compacted(
            response.cancel_reason or "the start revision was compacted",
            compact_revision=response.compact_revision,
        )
    return Unavailable(f"the member ended the watch: {response.cancel_reason}")


class _Requests:
    """The request side of a watch stream: the create, then nothing until closed
    (gRPC reads it from a thread of its own)."""

    def __init__(self, first: watch_pb2.WatchRequest) -> None:
        self._first: Optional[watch_pb2.WatchRequest] = first
        self._done = threading.Event()

    def __iter__(self) -> "_Requests":
        return self

    def __next__(self) -> watch_pb2.WatchRequest:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        self._done.wait()
        raise StopIteration

    def close(self) -> None:
        self._done.set()


class Watcher:
    """Iterator of :class:`Event` in revision order (``for event in watcher``), or of
    per-revision :class:`WatchBatch` (``watcher.batches()``). ``revision`` is the last
    revision fully delivered; a new watch from ``revision + 1`` continues exactly.

    When the member fails, the watch is reopened on the next member from the revision
    after the last one delivered: no event is lost or repeated. It ends with Compacted
    when that revision is no longer retained. ``close()`` (from any thread) cancels the
    server watch and ends the iteration.
    """

    def __init__(
        self,
        client: "Client",
        path: str,
        scope: int,
        start_revision: Optional[int],
        prev_node: bool,
        filters: List[int],
        progress_notify: bool,
    ) -> None:
        self._client = client
        self.path = path
        self._spec = (scope, prev_node, filters, progress_notify)
        if not start_revision:
            start_revision = client.get_with_header("/", stat_only=True).header.revision + 1
        self._next = start_revision
        #: The last revision fully delivered to the caller.
        self.revision = start_revision - 1
        self._pending: Deque[WatchBatch] = collections.deque()
        self._closed = False
        self._lock = threading.Lock()
        self._call: Any = None
        self._requests: Optional[_Requests] = None
        self._index = 0
        # The generation of the token the stream was opened with, and whether the
        # stream was just reopened for a refused token (done once in a row).
        self._generation: Optional[int] = None
        self._reauthenticated = False
        self._open_with_retry(first=True)

    # --- stream management ------------------------------------------------------

    def _open(self) -> None:
        scope, prev_node, filters, progress_notify = self._spec
        self._client._check_open()
        index, stubs = self._client._members.current()
        metadata, self._generation = self._client._stream_metadata()
        requests = _Requests(rq.watch_create(self.path, scope, self._next, prev_node, filters, progress_notify))
        try:
            call = stubs.watch.Watch(requests, metadata=metadata)
        except ValueError as e:  # the channel was closed under us
            raise ClientClosed(f"the client is closed: {e}") from None
        with self._lock:
            if self._closed:
                requests.close()
                call.cancel()
                return
            self._call, self._requests, self._index = call, requests, index
        # A member that accepts the stream but never registers the watch (frozen) must
        # not hold us forever: give up on it after the client's timeout.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            call.cancel()

        timer = None
        if self._client.timeout is not None:
            timer = threading.Timer(self._client.timeout, expire)
            timer.daemon = True
            timer.start()
        try:
            while True:
                response = next(call)
                if response.canceled:
                    raise stream_error(response)
                if response.created:
                    self._reauthenticated = False
                    return
        except StopIteration:
            raise Unavailable("the member ended the watch stream") from None
        except grpc.RpcError as e:
            if expired.is_set():
                raise DeadlineExceeded(f"no member registered the watch within {self._client.timeout} s") from None
            raise from_rpc_error(e, self.path) from None
        finally:
            if timer is not None:
                timer.cancel()

    def _open_with_retry(self, first: bool) -> None:
        backoff = Backoff()
        deadline = None
        if first and self._client.timeout is not None:
            deadline = time.monotonic() + self._client.timeout
        while not self._closed:
            try:
                self._open()
                return
            except CorralError as error:
                self._drop_call()
                if self._reopen_for_token(error):
                    continue
                if not reopens(error) or (deadline is not None and time.monotonic() > deadline):
                    raise
                self._client._members.skip(self._index)
                time.sleep(backoff.step())

    def _reopen_for_token(self, error: CorralError) -> bool:
        """Whether the stream, refused for its token, is reopened at once (same member,
        new token): once in a row, so a refusal that a new token does not cure ends it."""
        if self._reauthenticated or not self._client._token_refused(error, self._generation):
            return False
        self._reauthenticated = True
        log.info("watch %s: reopening with a new token after: %s", self.path, error.reason)
        return True

    def _drop_call(self) -> None:
        with self._lock:
            call, requests = self._call, self._requests
            self._call = self._requests = None
        if requests is not None:
            requests.close()
        if call is not None:
            call.cancel()

    # --- iteration ----------------------------------------------------------------

    def next_batch(self) -> Optional[WatchBatch]:
        """The next revision's events (blocking), or None once closed."""
        backoff = Backoff()
        while True:
            if self._pending:
                batch = self._pending.popleft()
                self.revision = max(self.revision, batch.revision)
                return batch
            if self._closed:
                return None
            call = self._call
            try:
                if call is None:
                    raise Unavailable("no watch stream")
                response = next(call)
            except StopIteration:
                error: CorralError = Unavailable("the member ended the watch stream")
            except grpc.RpcError as e:
                if self._closed:
                    return None
                error = from_rpc_error(e, self.path)
            else:
                if response.canceled:
                    error = stream_error(response)
                elif response.created:
                    continue
                elif response.progress:
                    self._next = max(self._next, response.header.revision + 1)
                    if not self._pending:
                        self.revision = max(self.revision, response.header.revision)
                    continue
                else:
                    backoff.reset()
                    for batch in batches_of(response, self._next):
                        self._pending.append(batch)
                        self._next = batch.revision + 1
                    continue
            if self._closed:
                return None
            self._drop_call()
            if not self._reopen_for_token(error):
                if not reopens(error):
                    self._closed = True
                    raise error
                log.info("watch %s: reopening from revision %d after: %s", self.path, self._next, error)
                self._client._members.skip(self._index)
                time.sleep(backoff.step())
            try:
                self._open_with_retry(first=False)
            except CorralError:
                # Reopening failed for good (credentials refused, history compacted):
                # the watch is over.
                self._closed = True
                raise

    def batches(self) -> Iterator[WatchBatch]:
        """Iterates per-revision batches until closed."""
        while True:
            batch = self.next_batch()
            if batch is None:
                return
            yield batch

    def __iter__(self) -> Iterator[Event]:
        for batch in self.batches():
            yield from batch.events

    def close(self) -> None:
        """Cancels the server watch and ends the iteration (safe from any thread)."""
        with self._lock:
            self._closed = True
        self._drop_call()

    @property
    def closed(self) -> bool:
        """Whether the watcher was closed or ended."""
        return self._closed

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watch_once(
    client: "Client",
    path: str,
    *,
    scope: str = "node",
    start_revision: Optional[int] = None,
    timeout: Optional[float] = None,
) -> Optional[WatchBatch]:
    """The first batch of changes (one revision's events), or None if ``timeout``
    seconds pass first."""
    watcher = client.watch(path, scope=scope, start_revision=start_revision)
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, watcher.close)
        timer.daemon = True
        timer.start()
    try:
        return watcher.next_batch()
    finally:
        if timer is not None:
            timer.cancel()
        watcher.close()


class DataWatch:
    """Calls ``func(data, stat)`` with a znode's data and stat now and after every
    change (``None, None`` while it does not exist), from a background thread, in
    order. Returning ``False`` from ``func`` stops the watch; so does ``stop()``.
    (kazoo's DataWatch.)"""

    def __init__(
        self, client: "Client", path: str, func: Callable[[Optional[bytes], Optional[Stat]], Optional[bool]]
    ) -> None:
        rq.check_path(path)
        self._client = client
        self.path = path
        self._func = func
        try:
            result = client.get_with_header(path)
            data: Optional[bytes] = result.node.data
            stat: Optional[Stat] = result.node.stat
            revision = result.header.revision
        except NotFound:
            data, stat = None, None
            revision = client.get_with_header("/", stat_only=True).header.revision
        self._watcher = client.watch(path, start_revision=revision + 1)
        self._stopped = False
        if func(data, stat) is False:
            self.stop()
            return
        self._thread = threading.Thread(target=self._run, name=f"corral-datawatch{path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for batch in self._watcher.batches():
                last = batch.events[-1]
                if last.type.name == "DELETED":
                    keep = self._func(None, None)
                else:
                    keep = self._func(last.node.data, last.node.stat)
                if keep is False:
                    break
        except Exception as e:  # noqa: BLE001 - a background thread reports, never dies loudly
            log.warning("DataWatch %s ended: %s", self.path, e)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stops calling back."""
        self._stopped = True
        self._watcher.close()


class ChildrenWatch:
    """Calls ``func(children)`` with the sorted names of a znode's children now and
    after every change to the child list, from a background thread. Returning
    ``False`` stops it; so does ``stop()``. (kazoo's ChildrenWatch.)"""

    def __init__(self, client: "Client", path: str, func: Callable[[List[str]], Optional[bool]]) -> None:
        rq.check_path(path)
        self._client = client
        self.path = path
        self._func = func
        listing = client.list_all(path)
        self._children = sorted(n.name for n in listing.nodes)
        self._watcher = client.watch(
            path, scope="children", exclude=["updated"], start_revision=listing.header.revision + 1
        )
        if func(list(self._children)) is False:
            self.stop()
            return
        self._thread = threading.Thread(target=self._run, name=f"corral-childrenwatch{path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        children = set(self._children)
        try:
            for batch in self._watcher.batches():
                for event in batch.events:
                    if event.type.name == "CREATED":
                        children.add(event.node.name)
                    elif event.type.name == "DELETED":
                        children.discard(event.node.name)
                if self._func(sorted(children)) is False:
                    break
        except Exception as e:  # noqa: BLE001 - a background thread reports, never dies loudly
            log.warning("ChildrenWatch %s ended: %s", self.path, e)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stops calling back."""
        self._watcher.close()
