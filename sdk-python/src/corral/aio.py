"""The asyncio client: ``corral.aio.Client``, with the same calls, arguments, result
types and errors as ``corral.Client`` (request building and error mapping are shared),
async watches (``async for event in client.watch(...)``), sessions kept alive by a
task, and async ``lock`` / ``Election`` / ``ServiceRegistry`` recipes.

A client belongs to the event loop it is first used in; make it inside that loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import grpc
import grpc.aio

from corral import _requests as rq
from corral._auth import TLS, Issued, TokenState, auth_metadata, drop_refused, now
from corral._client import (
    DEFAULT,
    Members,
    Timeout,
    _Default,
    _Stubs,
    channel_factory,
    status_result,
    token_state,
)
from corral._errors import (
    REQUEST_ID_HEADER,
    AlreadyExists,
    ClientClosed,
    CorralError,
    DeadlineExceeded,
    InvalidArgument,
    LeaseNotFound,
    NotFound,
    SessionLost,
    Unavailable,
    VersionMismatch,
    WaitTimeout,
    from_rpc_error,
)
from corral._retry import Backoff, CallAttempts, Retry, reopens
from corral._session import SessionState, next_state
from corral._types import (
    AclEntry,
    AclResult,
    AuthStatus,
    CreateResult,
    DeleteResult,
    Event,
    GetResult,
    LeaderKey,
    Lease,
    LeaseStatus,
    LeaseTimeToLive,
    ListResult,
    LockResult,
    Member,
    MemberList,
    Node,
    PutResult,
    SetAclResult,
    SnapshotResult,
    Status,
    Token,
    TxnResult,
    User,
    WatchBatch,
    leader_key,
)
from corral._watch import batches_of, stream_error
from corral.v1 import auth_pb2, cluster_pb2, election_pb2, lease_pb2, lock_pb2, maintenance_pb2

__all__ = [
    "Client",
    "AuthClient",
    "Watcher",
    "Session",
    "Lock",
    "HeldLock",
    "Election",
    "ServiceRegistry",
    "Counter",
    "Barrier",
    "Queue",
]

log = logging.getLogger("corral")

Rpc = Callable[[_Stubs, Any, Optional[float], Any], Awaitable[Any]]


class Client:
    """A connection to a Corral cluster for asyncio; see ``corral.Client`` for the
    behaviour (failover, deadlines, exactly-once writes, ``tls=``, ``credentials=``,
    ``token=``). ``async with`` it, or ``await client.close()``."""

    def __init__(
        self,
        endpoints: Union[str, Sequence[str]],
        *,
        timeout: Optional[float] = rq.DEFAULT_TIMEOUT,
        exactly_once: bool = True,
        tls: Optional[TLS] = None,
        credentials: Optional[Tuple[str, str]] = None,
        token: Optional[str] = None,
    ) -> None:
        self._endpoints = rq.parse_endpoints(endpoints)
        self._timeout = rq.check_timeout(timeout)
        self._tokens = token_state(credentials, token)
        self._refresh_lock = asyncio.Lock()
        self._members = Members(
            self._endpoints, channel_factory(endpoints, tls, grpc.aio.insecure_channel, grpc.aio.secure_channel)
        )
        self._lanes = rq.Lanes() if exactly_once else None
        self._pid = os.getpid()
        self._closed = False
        self._default_session: Optional[Session] = None
        self._session_lock = asyncio.Lock()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the default session (if any) and the channels; idempotent."""
        if self._closed:
            return
        if self._default_session is not None:
            try:
                await self._default_session.close()
            except CorralError:
                pass
        self._closed = True
        for channel in self._members.channels:
            await channel.close()

    @property
    def endpoints(self) -> List[str]:
        """The endpoints, as ``host:port``."""
        return list(self._endpoints)

    @property
    def timeout(self) -> Optional[float]:
        """The default per-call timeout in seconds."""
        return self._timeout

    @property
    def user(self) -> Optional[str]:
        """The user of ``credentials=``, or None."""
        return self._tokens.user if self._tokens else None

    @property
    def auth(self) -> "AuthClient":
        """Auth management (``await client.auth.user_add(...)``); see ``corral.Client.auth``."""
        return AuthClient(self)

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the client is closed")
        if os.getpid() != self._pid:
            raise ClientClosed("this client was made in another process; make a new client in the child")

    async def _call(
        self,
        rpc: Rpc,
        request: Any,
        *,
        path: Optional[str] = None,
        retry: Retry = Retry.SAFE,
        timeout: Timeout = DEFAULT,
        authenticate: bool = True,
    ) -> Any:
        """As ``corral.Client._call``: attempts with failover, the request id, and the
        client's token on each (unless ``authenticate`` is False)."""
        self._check_open()
        limit = self._timeout if isinstance(timeout, _Default) else rq.check_timeout(timeout)
        tokens = self._tokens if authenticate else None
        attempts = CallAttempts(self._members, self._lanes, retry, limit, REQUEST_ID_HEADER, tokens)
        try:
            while True:
                index, stubs, remaining = attempts.next()
                token = await self._token(remaining) if tokens is not None else None
                try:
                    return await rpc(stubs, request, remaining, attempts.metadata_with(token))
                except grpc.RpcError as e:
                    pause = attempts.failed(from_rpc_error(e, path), index)
                if pause:
                    await asyncio.sleep(pause)
        finally:
            attempts.release()

    # --- credentials ------------------------------------------------------------

    async def _token(self, limit: Optional[float]) -> Optional[Issued]:
        """The token for a call (see ``corral.Client._token``): one Authenticate shared
        by concurrent calls; while a still-valid token is refreshed, calls go on with it."""
        tokens = self._tokens
        if tokens is None:
            return None
        token, due = tokens.current(now())
        if not due or (token is not None and self._refresh_lock.locked()):
            return token
        try:
            await asyncio.wait_for(self._refresh_lock.acquire(), limit)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(f"no token within {limit} s (another call is authenticating)") from None
        try:
            token, due = tokens.current(now())
            if not due:
                return token
            try:
                await self._authenticate(tokens, limit)
            except CorralError:
                if token is None:
                    raise
                return token
            return tokens.current(now())[0]
        finally:
            self._refresh_lock.release()

    async def _authenticate(self, tokens: TokenState, limit: Optional[float]) -> None:
        credentials = tokens.credentials()
        if credentials is None:
            return
        sent_at = now()
        try:
            pb = await self._call(
                lambda s, r, t, m: s.auth.Authenticate(r, timeout=t, metadata=m),
                auth_pb2.AuthenticateRequest(name=credentials[0], password=credentials[1]),
                timeout=limit,
                authenticate=False,
            )
        except InvalidArgument:
            # A bad user name, or a cluster with auth off (no tokens needed): Status tells.
            status = await self._call(
                lambda s, r, t, m: s.auth.Status(r, timeout=t, metadata=m),
                auth_pb2.AuthStatusRequest(),
                timeout=limit,
                authenticate=False,
            )
            if status.enabled:
                raise
            tokens.auth_off()
            return
        tokens.issued(pb.token, pb.ttl_ms, sent_at)

    async def _stream_metadata(self) -> Tuple[Optional[Tuple[Tuple[str, str], ...]], Optional[int]]:
        """Metadata for opening a stream and its token's generation."""
        token = await self._token(self._timeout)
        return auth_metadata(None, token), None if token is None else token[1]

    def _token_refused(self, error: CorralError, generation: Optional[int]) -> bool:
        return drop_refused(self._tokens, error, generation)

    # --- KV -------------------------------------------------------------------

    async def create(
        self,
        path: str,
        data: rq.Data = b"",
        *,
        ephemeral: bool = False,
        lease_id: int = 0,
        sequential: bool = False,
        container: bool = False,
        ttl: Optional[float] = None,
        create_parents: bool = False,
        acl: Optional[Sequence[AclEntry]] = None,
        timeout: Timeout = DEFAULT,
    ) -> CreateResult:
        """Creates a znode (see ``corral.Client.create``)."""
        request = rq.create_request(
            path,
            data,
            ephemeral=ephemeral,
            lease_id=lease_id,
            sequential=sequential,
            container=container,
            ttl=ttl,
            create_parents=create_parents,
            acl=acl,
        )
        pb = await self._call(
            lambda s, r, t, m: s.kv.Create(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.create_result(pb)

    async def put(
        self,
        path: str,
        data: rq.Data,
        *,
        expected_version: Optional[int] = None,
        create_if_missing: bool = False,
        prev_node: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> PutResult:
        """Sets a znode's data (see ``corral.Client.put``)."""
        request = rq.put_request(
            path, data, expected_version=expected_version, create_if_missing=create_if_missing, prev_node=prev_node
        )
        pb = await self._call(
            lambda s, r, t, m: s.kv.Put(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.put_result(pb)

    async def get(
        self, path: str, *, serializable: bool = False, stat_only: bool = False, timeout: Timeout = DEFAULT
    ) -> Node:
        """Reads one znode; raises NotFound."""
        return (await self.get_with_header(path, serializable=serializable, stat_only=stat_only, timeout=timeout)).node

    async def get_with_header(
        self, path: str, *, serializable: bool = False, stat_only: bool = False, timeout: Timeout = DEFAULT
    ) -> GetResult:
        """Like ``get``, with the response header."""
        request = rq.get_request(path, serializable=serializable, stat_only=stat_only)
        pb = await self._call(
            lambda s, r, t, m: s.kv.Get(r, timeout=t, metadata=m), request, path=path, timeout=timeout
        )
        return rq.get_result(pb)

    async def exists(self, path: str, *, timeout: Timeout = DEFAULT) -> Optional[Node]:
        """The znode's stat, or None if it is absent."""
        try:
            return await self.get(path, stat_only=True, timeout=timeout)
        except NotFound as e:
            if e.reason is None or e.reason == "NODE_NOT_FOUND":
                return None
            raise

    async def list(
        self,
        path: str,
        *,
        recursive: bool = False,
        with_data: bool = False,
        limit: int = 0,
        page_token: str = "",
        serializable: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> ListResult:
        """One page of children (or subtree)."""
        request = rq.list_request(
            path,
            recursive=recursive,
            with_data=with_data,
            limit=limit,
            page_token=page_token,
            serializable=serializable,
        )
        pb = await self._call(
            lambda s, r, t, m: s.kv.List(r, timeout=t, metadata=m), request, path=path, timeout=timeout
        )
        return rq.list_result(pb)

    async def list_all(
        self,
        path: str,
        *,
        recursive: bool = False,
        with_data: bool = False,
        serializable: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> ListResult:
        """Every page of a listing."""
        nodes: List[Node] = []
        token = ""
        while True:
            page = await self.list(
                path,
                recursive=recursive,
                with_data=with_data,
                page_token=token,
                serializable=serializable,
                timeout=timeout,
            )
            nodes.extend(page.nodes)
            token = page.next_page_token
            if not token:
                return ListResult(nodes=nodes, header=page.header)

    async def children(self, path: str, *, timeout: Timeout = DEFAULT) -> List[str]:
        """The names of a znode's direct children."""
        return [n.name for n in (await self.list_all(path, timeout=timeout)).nodes]

    async def delete(
        self, path: str, *, expected_version: Optional[int] = None, recursive: bool = False, timeout: Timeout = DEFAULT
    ) -> DeleteResult:
        """Deletes a znode."""
        request = rq.delete_request(path, expected_version=expected_version, recursive=recursive)
        pb = await self._call(
            lambda s, r, t, m: s.kv.Delete(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.delete_result(pb)

    async def txn(
        self,
        compares: Sequence[rq.Compare] = (),
        success: Sequence[rq.Op] = (),
        failure: Sequence[rq.Op] = (),
        *,
        timeout: Timeout = DEFAULT,
    ) -> TxnResult:
        """Runs a transaction atomically."""
        request = rq.txn_request(compares, success, failure)
        pb = await self._call(
            lambda s, r, t, m: s.kv.Txn(r, timeout=t, metadata=m), request, retry=Retry.WITH_REQUEST_ID, timeout=timeout
        )
        return TxnResult(
            succeeded=pb.succeeded, results=[rq.op_result(r) for r in pb.results], header=rq.header(pb.header)
        )

    async def get_acl(self, path: str, *, serializable: bool = False, timeout: Timeout = DEFAULT) -> AclResult:
        """A znode's ACL and stat (see ``corral.Client.get_acl``)."""
        request = rq.get_acl_request(path, serializable=serializable)
        pb = await self._call(
            lambda s, r, t, m: s.kv.GetAcl(r, timeout=t, metadata=m), request, path=path, timeout=timeout
        )
        return rq.acl_result(pb)

    async def set_acl(
        self,
        path: str,
        acl: Sequence[AclEntry],
        *,
        expected_acl_version: Optional[int] = None,
        timeout: Timeout = DEFAULT,
    ) -> SetAclResult:
        """Replaces a znode's ACL (see ``corral.Client.set_acl``)."""
        request = rq.set_acl_request(path, acl, expected_acl_version=expected_acl_version)
        pb = await self._call(
            lambda s, r, t, m: s.kv.SetAcl(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return SetAclResult(stat=rq.stat(pb.stat), header=rq.header(pb.header))

    # --- watch ----------------------------------------------------------------

    def watch(
        self,
        path: str,
        *,
        scope: str = "node",
        start_revision: Optional[int] = None,
        prev_node: bool = False,
        exclude: Any = None,
        progress_notify: bool = False,
    ) -> "Watcher":
        """An async iterator of events (``async for event in client.watch(...)``);
        resumes on another member from the last revision delivered."""
        rq.check_path(path)
        scope_pb = rq.check_scope(scope)
        filters = rq.check_event_types(exclude)
        if start_revision is not None:
            rq.check_int(start_revision, "start_revision")
        return Watcher(self, path, scope_pb, start_revision, bool(prev_node), filters, bool(progress_notify))

    # --- leases ---------------------------------------------------------------

    async def lease_grant(self, ttl: float, *, lease_id: int = 0, timeout: Timeout = DEFAULT) -> Lease:
        """Grants a lease of ``ttl`` seconds."""
        ttl_ms = rq.seconds_to_ms(ttl, "ttl", 1)
        rq.check_int(lease_id, "lease_id")
        pb = await self._call(
            lambda s, r, t, m: s.lease.Grant(r, timeout=t, metadata=m),
            lease_pb2.LeaseGrantRequest(ttl_ms=ttl_ms, lease_id=lease_id),
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return Lease(lease_id=pb.lease_id, ttl=pb.ttl_ms / 1000, header=rq.header(pb.header))

    async def lease_revoke(self, lease_id: int, *, timeout: Timeout = DEFAULT) -> int:
        """Revokes a lease; returns how many znodes went with it."""
        rq.check_int(lease_id, "lease_id", 1)
        pb = await self._call(
            lambda s, r, t, m: s.lease.Revoke(r, timeout=t, metadata=m),
            lease_pb2.LeaseRevokeRequest(lease_id=lease_id),
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return int(pb.deleted)

    async def lease_keep_alive(self, lease_id: int, *, timeout: Timeout = DEFAULT) -> float:
        """Refreshes a lease once; returns its TTL in seconds."""
        rq.check_int(lease_id, "lease_id", 1)

        async def rpc(s: _Stubs, r: Any, t: Optional[float], m: Any) -> Any:
            call = s.lease.KeepAlive(iter([r]), timeout=t, metadata=m)
            async for response in call:
                return response
            raise Unavailable("the keepalive stream ended without an answer")

        pb = await self._call(rpc, lease_pb2.LeaseKeepAliveRequest(lease_id=lease_id), timeout=timeout)
        return float(pb.ttl_ms / 1000)

    async def lease_time_to_live(
        self, lease_id: int, *, with_nodes: bool = False, timeout: Timeout = DEFAULT
    ) -> LeaseTimeToLive:
        """A lease's TTL, time left and (``with_nodes``) znodes."""
        rq.check_int(lease_id, "lease_id", 1)
        pb = await self._call(
            lambda s, r, t, m: s.lease.TimeToLive(r, timeout=t, metadata=m),
            lease_pb2.LeaseTimeToLiveRequest(lease_id=lease_id, with_nodes=bool(with_nodes)),
            timeout=timeout,
        )
        return LeaseTimeToLive(
            pb.lease_id, pb.ttl_ms / 1000, pb.remaining_ms / 1000, list(pb.nodes), rq.header(pb.header)
        )

    async def lease_list(self, *, timeout: Timeout = DEFAULT) -> List[LeaseStatus]:
        """Every lease."""
        pb = await self._call(
            lambda s, r, t, m: s.lease.List(r, timeout=t, metadata=m), lease_pb2.LeaseListRequest(), timeout=timeout
        )
        return [LeaseStatus(lease_id=x.lease_id, ttl=x.ttl_ms / 1000) for x in pb.leases]

    async def session(self, ttl: float = 10.0) -> "Session":
        """A new :class:`Session` kept alive by a task."""
        session = Session(self)
        await session._start(ttl)
        return session

    async def default_session(self) -> "Session":
        """The client's shared session (made on first use, remade once lost)."""
        async with self._session_lock:
            s = self._default_session
            if s is None or s.state is SessionState.LOST or s.closed:
                s = await self.session()
                self._default_session = s
            return s

    # --- locks and elections ----------------------------------------------------

    def lock(
        self,
        name: str,
        lease_id: Optional[int] = None,
        *,
        session: Optional["Session"] = None,
        timeout: Optional[float] = None,
    ) -> "Lock":
        """``async with client.lock("/locks/jobs") as held:`` (``held.fencing_token``)."""
        return Lock(self, name, lease_id=lease_id, session=session, timeout=timeout)

    async def _lock_call(self, name: str, lease_id: int, timeout: Optional[float]) -> LockResult:
        rq.check_path(name, "name")
        rq.check_int(lease_id, "lease_id", 1)
        wait_ms = 0 if timeout is None else max(1, rq.seconds_to_ms(timeout, "timeout"))
        call_timeout = None if timeout is None else timeout + (self._timeout or rq.DEFAULT_TIMEOUT)
        pb = await self._call(
            lambda s, r, t, m: s.lock.Lock(r, timeout=t, metadata=m),
            lock_pb2.LockRequest(name=name, lease_id=lease_id, wait_timeout_ms=wait_ms),
            path=name,
            timeout=call_timeout,
        )
        return LockResult(name, pb.key, pb.fencing_token, lease_id, rq.header(pb.header))

    async def unlock(self, key: str, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Releases a held lock (key and the lease it was taken with)."""
        rq.check_path(key, "key")
        rq.check_int(lease_id, "lease_id", 1)
        await self._call(
            lambda s, r, t, m: s.lock.Unlock(r, timeout=t, metadata=m),
            lock_pb2.UnlockRequest(key=key, lease_id=lease_id),
            path=key,
            timeout=timeout,
        )

    async def campaign(self, name: str, value: rq.Data, lease_id: int, *, timeout: Optional[float] = None) -> LeaderKey:
        """Waits until leading election ``name``; returns the leader key."""
        rq.check_path(name, "name")
        body = rq.to_bytes(value, "value")
        rq.check_int(lease_id, "lease_id", 1)
        wait_ms = 0 if timeout is None else max(1, rq.seconds_to_ms(timeout, "timeout"))
        call_timeout = None if timeout is None else timeout + (self._timeout or rq.DEFAULT_TIMEOUT)
        pb = await self._call(
            lambda s, r, t, m: s.election.Campaign(r, timeout=t, metadata=m),
            election_pb2.CampaignRequest(name=name, lease_id=lease_id, value=body, wait_timeout_ms=wait_ms),
            path=name,
            timeout=call_timeout,
        )
        return leader_key(pb.leader)

    async def proclaim(self, key: str, value: rq.Data, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Updates the leader's value."""
        rq.check_path(key, "key")
        body = rq.to_bytes(value, "value")
        rq.check_int(lease_id, "lease_id", 1)
        await self._call(
            lambda s, r, t, m: s.election.Proclaim(r, timeout=t, metadata=m),
            election_pb2.ProclaimRequest(key=key, value=body, lease_id=lease_id),
            path=key,
            retry=Retry.SAFE,
            timeout=timeout,
        )

    async def leader(self, name: str, *, timeout: Timeout = DEFAULT) -> LeaderKey:
        """The current leader; raises NoLeader."""
        rq.check_path(name, "name")
        pb = await self._call(
            lambda s, r, t, m: s.election.Leader(r, timeout=t, metadata=m),
            election_pb2.LeaderRequest(name=name),
            path=name,
            timeout=timeout,
        )
        return leader_key(pb.leader)

    async def resign(self, key: str, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Gives up leadership."""
        rq.check_path(key, "key")
        rq.check_int(lease_id, "lease_id", 1)
        await self._call(
            lambda s, r, t, m: s.election.Resign(r, timeout=t, metadata=m),
            election_pb2.ResignRequest(key=key, lease_id=lease_id),
            path=key,
            timeout=timeout,
        )

    async def observe(self, name: str) -> AsyncIterator[Optional[LeaderKey]]:
        """The leader now and after every change (None while there is none)."""
        rq.check_path(name, "name")
        backoff = Backoff()
        last: Optional[LeaderKey] = None
        first = True
        reauthenticated = False
        while True:
            self._check_open()
            index, stubs = self._members.current()
            metadata, generation = await self._stream_metadata()
            call = stubs.election.Observe(election_pb2.ObserveRequest(name=name), metadata=metadata)
            try:
                async for pb in call:
                    backoff.reset()
                    reauthenticated = False
                    current = leader_key(pb.leader) if pb.HasField("leader") else None
                    if first or current != last:
                        first, last = False, current
                        yield current
            except grpc.RpcError as e:
                error = from_rpc_error(e, name)
                if not reauthenticated and self._token_refused(error, generation):
                    reauthenticated = True
                    continue
                if not reopens(error):
                    raise error from None
                self._members.skip(index)
                await asyncio.sleep(backoff.step())
            finally:
                call.cancel()

    # --- cluster and maintenance ------------------------------------------------------

    async def member_list(self, *, timeout: Timeout = DEFAULT) -> MemberList:
        """The members and the leader's id."""
        pb = await self._call(
            lambda s, r, t, m: s.cluster.MemberList(r, timeout=t, metadata=m),
            cluster_pb2.MemberListRequest(),
            timeout=timeout,
        )
        return MemberList(
            [Member(m.member_id, m.peer_addr, m.is_learner) for m in pb.members], pb.leader_id, rq.header(pb.header)
        )

    async def status(self, *, timeout: Timeout = DEFAULT) -> Status:
        """The answering member's status."""
        pb = await self._call(
            lambda s, r, t, m: s.cluster.Status(r, timeout=t, metadata=m), cluster_pb2.StatusRequest(), timeout=timeout
        )
        return status_result(pb)

    async def compact(self, revision: int, *, timeout: Timeout = DEFAULT) -> int:
        """Discards history up to ``revision``."""
        rq.check_int(revision, "revision", 1)
        pb = await self._call(
            lambda s, r, t, m: s.maintenance.Compact(r, timeout=t, metadata=m),
            maintenance_pb2.CompactRequest(revision=revision),
            retry=Retry.SAFE,
            timeout=timeout,
        )
        return int(pb.compact_revision)

    async def snapshot(self, path: str, *, timeout: Timeout = DEFAULT) -> "SnapshotResult":
        """Writes a backup to the file ``path``."""
        partial = os.fspath(path) + ".partial"

        async def rpc(s: _Stubs, r: Any, t: Optional[float], m: Any) -> SnapshotResult:
            size = revision = 0
            with open(partial, "wb") as f:
                async for chunk in s.maintenance.Snapshot(r, timeout=t, metadata=m):
                    f.write(chunk.blob)
                    size += len(chunk.blob)
                    revision = chunk.header.revision
            os.replace(partial, path)
            return SnapshotResult(os.fspath(path), size, revision)

        try:
            result: SnapshotResult = await self._call(rpc, maintenance_pb2.SnapshotRequest(), timeout=timeout)
            return result
        finally:
            if os.path.exists(partial):
                os.unlink(partial)


class _Requests:
    """Request side of an aio watch stream: the create, then wait until closed."""

    def __init__(self, first: Any) -> None:
        self.first = first
        self.done = asyncio.Event()

    async def __call__(self) -> AsyncIterator[Any]:
        yield self.first
        await self.done.wait()


class Watcher:
    """Async iterator of events in revision order; ``batches()`` gives per-revision
    batches. Resumes on another member from the last revision delivered. ``await
    close()`` (or ``async with``) cancels the server watch."""

    def __init__(
        self,
        client: Client,
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
        self._next = start_revision or 0
        self.revision = self._next - 1
        self._pending: Deque[WatchBatch] = collections.deque()
        self._closed = False
        self._call: Any = None
        self._requests: Optional[_Requests] = None
        self._index = 0
        self._started = False
        # The generation of the stream's token; whether it was just reopened for a
        # refused token (done once in a row).
        self._generation: Optional[int] = None
        self._reauthenticated = False

    async def start(self) -> "Watcher":
        """Registers the watch (done by the first iteration if not called)."""
        if self._started:
            return self
        self._started = True
        if not self._next:
            self._next = (await self._client.get_with_header("/", stat_only=True)).header.revision + 1
            self.revision = self._next - 1
        await self._open_with_retry(first=True)
        return self

    def __await__(self) -> Any:
        return self.start().__await__()

    async def _open(self) -> None:
        scope, prev_node, filters, progress_notify = self._spec
        index, stubs = self._client._members.current()
        metadata, self._generation = await self._client._stream_metadata()
        requests = _Requests(rq.watch_create(self.path, scope, self._next, prev_node, filters, progress_notify))
        call = stubs.watch.Watch(requests(), metadata=metadata)
        self._call, self._requests, self._index = call, requests, index

        async def registered() -> None:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    raise Unavailable("the member ended the watch stream")
                if response.canceled:
                    raise stream_error(response)
                if response.created:
                    self._reauthenticated = False
                    return

        try:
            # A member that never registers the watch (frozen) is given up on after the
            # client's timeout, and the next one is tried.
            await asyncio.wait_for(registered(), self._client.timeout)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(f"no member registered the watch within {self._client.timeout} s") from None
        except grpc.RpcError as e:
            raise from_rpc_error(e, self.path) from None

    async def _open_with_retry(self, first: bool) -> None:
        backoff = Backoff()
        deadline = time.monotonic() + self._client.timeout if first and self._client.timeout else None
        while not self._closed:
            try:
                await self._open()
                return
            except CorralError as error:
                self._drop_call()
                if self._reopen_for_token(error):
                    continue
                if not reopens(error) or (deadline is not None and time.monotonic() > deadline):
                    raise
                self._client._members.skip(self._index)
                await asyncio.sleep(backoff.step())

    def _reopen_for_token(self, error: CorralError) -> bool:
        """Whether the stream, refused for its token, is reopened at once with a new one
        (once in a row; see ``corral.Watcher``)."""
        if self._reauthenticated or not self._client._token_refused(error, self._generation):
            return False
        self._reauthenticated = True
        log.info("watch %s: reopening with a new token after: %s", self.path, error.reason)
        return True

    def _drop_call(self) -> None:
        call, requests = self._call, self._requests
        self._call = self._requests = None
        if requests is not None:
            requests.done.set()
        if call is not None:
            call.cancel()

    async def next_batch(self) -> Optional[WatchBatch]:
        """The next revision's events, or None once closed."""
        await self.start()
        backoff = Backoff()
        while True:
            if self._pending:
                batch = self._pending.popleft()
                self.revision = max(self.revision, batch.revision)
                return batch
            if self._closed:
                return None
            call = self._call
            error: CorralError
            try:
                if call is None:
                    raise Unavailable("no watch stream")
                response = await call.read()
            except asyncio.CancelledError:
                if self._closed:
                    return None
                raise
            except grpc.RpcError as e:
                if self._closed:
                    return None
                error = from_rpc_error(e, self.path)
            except CorralError as e:
                error = e
            else:
                if response is grpc.aio.EOF:
                    error = Unavailable("the member ended the watch stream")
                elif response.canceled:
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
                await asyncio.sleep(backoff.step())
            try:
                await self._open_with_retry(first=False)
            except CorralError:
                self._closed = True
                raise

    async def batches(self) -> AsyncIterator[WatchBatch]:
        """Per-revision batches until closed."""
        while True:
            batch = await self.next_batch()
            if batch is None:
                return
            yield batch

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in batch.events:
                yield event

    async def close(self) -> None:
        """Cancels the server watch and ends the iteration."""
        self._closed = True
        self._drop_call()

    async def __aenter__(self) -> "Watcher":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Session:
    """A lease kept alive every TTL/3 by an asyncio task; states and listeners as
    ``corral.Session``. ``async with await client.session(ttl) as s:``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.lease_id = 0
        self.ttl = 0.0
        self._state = SessionState.CONNECTED
        self._listeners: List[Callable[[SessionState], None]] = []
        self._closed = False
        self._task: Optional["asyncio.Task[None]"] = None
        self._lost = asyncio.Event()
        self.local_locks: Dict[str, asyncio.Lock] = {}

    async def _start(self, ttl: float) -> None:
        lease = await self.client.lease_grant(ttl)
        self.lease_id, self.ttl = lease.lease_id, lease.ttl
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"corral-session-{self.lease_id}")

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

    def add_listener(self, listener: Callable[[SessionState], None]) -> None:
        """Calls ``listener(state)`` on every state change."""
        self._listeners.append(listener)

    async def wait_lost(self) -> None:
        """Returns once the session is LOST."""
        await self._lost.wait()

    def check(self) -> None:
        """Raises SessionLost if lost."""
        if self.is_lost:
            raise SessionLost(f"session lease {self.lease_id} is lost")

    def _set(self, state: SessionState) -> None:
        if state is self._state:
            return
        self._state = state
        if state is SessionState.LOST:
            self._lost.set()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # noqa: BLE001
                log.exception("session listener failed")

    async def _run(self) -> None:
        interval = self.ttl / 3
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(interval if self._state is SessionState.CONNECTED else min(interval, 0.5))
            ok = ended = False
            try:
                await self.client.lease_keep_alive(self.lease_id, timeout=max(interval, 0.5))
                ok = True
            except LeaseNotFound:
                ended = True
            except ClientClosed:
                return
            except CorralError as e:
                log.info("session %d: keepalive failed: %s", self.lease_id, e)
            now = time.monotonic()
            if ok:
                last_ok = now
            self._set(next_state(self._state, ok, ended, now - last_ok, self.ttl))
            if self.is_lost:
                return

    def orphan(self) -> None:
        """Stops the keepalives without revoking."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """Stops the keepalives and revokes the lease."""
        if self._closed:
            return
        self.orphan()
        if not self.is_lost:
            try:
                await self.client.lease_revoke(self.lease_id)
            except LeaseNotFound:
                pass

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


T = TypeVar("T")


async def _until_lost(session: Optional[Session], call: Awaitable[T]) -> T:
    """Awaits ``call``, but raises SessionLost (cancelling it) once ``session`` is lost:
    a waiter whose lease ended must not wait on."""
    if session is None:
        return await call
    task = asyncio.ensure_future(call)
    lost = asyncio.ensure_future(session.wait_lost())
    try:
        await asyncio.wait([task, lost], return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
    if not task.done():
        task.cancel()
        raise SessionLost(f"session lease {session.lease_id} was lost while waiting")
    return task.result()


async def _remove_own_entries(client: Client, name: str, lease_id: int, election: bool = False) -> None:
    """Removes ``lease_id``'s entries under lock/election ``name`` (best effort)."""
    try:
        for node in (await client.list_all(name)).nodes:
            if node.stat.lease_id == lease_id:
                if election:
                    await client.resign(node.path, lease_id)
                else:
                    await client.unlock(node.path, lease_id)
    except CorralError:
        pass


@dataclass
class HeldLock:
    """A held lock (see ``corral.recipes.HeldLock``)."""

    name: str
    key: str
    fencing_token: int
    lease_id: int
    session: Optional[Session]

    def is_valid(self) -> bool:
        """Whether the holder's session is CONNECTED."""
        return self.session is None or self.session.state is SessionState.CONNECTED

    def on_session_change(self, callback: Callable[[SessionState], None]) -> None:
        """Calls ``callback(state)`` on session state changes."""
        if self.session is not None:
            self.session.add_listener(callback)


class Lock:
    """``async with client.lock(name) as held:`` (see ``corral.recipes.Lock``)."""

    def __init__(
        self,
        client: Client,
        name: str,
        *,
        lease_id: Optional[int] = None,
        session: Optional[Session] = None,
        timeout: Optional[float] = None,
    ) -> None:
        rq.check_path(name, "name")
        if lease_id is not None:
            rq.check_int(lease_id, "lease_id", 1)
        self._client, self.name, self._lease_id, self._session = client, name, lease_id, session
        self._timeout = rq.check_timeout(timeout)
        self._local: Optional[asyncio.Lock] = None
        self.held: Optional[HeldLock] = None

    async def acquire(self) -> HeldLock:
        """Waits until held; raises WaitTimeout after the timeout."""
        session = self._session
        if self._lease_id is None and session is None:
            session = await self._client.default_session()
        lease_id = self._lease_id if self._lease_id is not None else session.lease_id  # type: ignore[union-attr]
        local = session.local_locks.setdefault(self.name, asyncio.Lock()) if session else asyncio.Lock()
        if session is not None:
            session.check()
        try:
            await asyncio.wait_for(local.acquire(), self._timeout)
        except asyncio.TimeoutError:
            raise WaitTimeout(f"lock {self.name}: still held in this process") from None
        try:
            result = await _until_lost(session, self._client._lock_call(self.name, lease_id, self._timeout))
        except WaitTimeout:
            local.release()
            raise
        except BaseException:
            local.release()
            await _remove_own_entries(self._client, self.name, lease_id)
            raise
        self._local = local
        self.held = HeldLock(self.name, result.key, result.fencing_token, lease_id, session)
        return self.held

    async def release(self) -> None:
        """Releases the lock (idempotent)."""
        held, local = self.held, self._local
        self.held = self._local = None
        try:
            if held is not None and not (held.session is not None and held.session.is_lost):
                await self._client.unlock(held.key, held.lease_id)
        finally:
            if local is not None:
                local.release()

    async def __aenter__(self) -> HeldLock:
        return await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


class Election:
    """``async with Election(session, name, value) as leader:`` (see ``corral.recipes.Election``)."""

    def __init__(self, session: Session, name: str, value: rq.Data = b"", *, timeout: Optional[float] = None) -> None:
        rq.check_path(name, "name")
        self._value = rq.to_bytes(value, "value")
        self.session, self.name = session, name
        self._timeout = rq.check_timeout(timeout)
        self.leader: Optional[LeaderKey] = None

    async def campaign(self) -> LeaderKey:
        """Waits until leading."""
        self.session.check()
        try:
            self.leader = await _until_lost(
                self.session,
                self.session.client.campaign(self.name, self._value, self.session.lease_id, timeout=self._timeout),
            )
        except WaitTimeout:
            raise
        except BaseException:
            await _remove_own_entries(self.session.client, self.name, self.session.lease_id, election=True)
            raise
        return self.leader

    async def proclaim(self, value: rq.Data) -> None:
        """Publishes a new value while leading."""
        if self.leader is None:
            raise CorralError("not leading: campaign first")
        await self.session.client.proclaim(self.leader.key, value, self.session.lease_id)

    async def resign(self) -> None:
        """Gives up leadership."""
        leader, self.leader = self.leader, None
        if leader is not None and not self.session.is_lost:
            await self.session.client.resign(leader.key, self.session.lease_id)

    async def __aenter__(self) -> LeaderKey:
        return await self.campaign()

    async def __aexit__(self, *exc: object) -> None:
        await self.resign()


class ServiceRegistry:
    """Instances as ephemeral znodes under ``base`` (see ``corral.recipes.ServiceRegistry``);
    ``watch()`` is an async iterator of the instance map after every change."""

    def __init__(self, session: Session, base: str) -> None:
        rq.check_path(base, "base")
        self.session, self.base = session, base

    async def _ensure_base(self) -> None:
        if await self.session.client.exists(self.base) is None:
            try:
                await self.session.client.create(self.base, create_parents=True)
            except AlreadyExists:
                pass

    async def register(self, instance: str, data: rq.Data = b"") -> str:
        """Registers ``instance``; returns its path."""
        if not isinstance(instance, str) or not instance or "/" in instance:
            raise TypeError("instance: expected a non-empty str without '/'")
        path = rq.check_path(f"{self.base}/{instance}", "instance")
        await self._ensure_base()
        await self.session.client.create(path, data, lease_id=self.session.lease_id)
        return path

    async def instances(self) -> Dict[str, bytes]:
        """The registered instances and their data."""
        try:
            nodes = (await self.session.client.list_all(self.base, with_data=True)).nodes
        except NotFound:
            return {}
        return {n.name: n.data for n in nodes}

    async def watch(self) -> AsyncIterator[Dict[str, bytes]]:
        """The instance map now and after every change to it."""
        await self._ensure_base()
        client = self.session.client
        listing = await client.list_all(self.base, with_data=True)
        current = {n.name: n.data for n in listing.nodes}
        yield dict(current)
        watcher = client.watch(self.base, scope="children", start_revision=listing.header.revision + 1)
        try:
            async for batch in watcher.batches():
                for event in batch.events:
                    if event.type.name == "DELETED":
                        current.pop(event.node.name, None)
                    else:
                        current[event.node.name] = event.node.data
                yield dict(current)
        finally:
            await watcher.close()


class Counter:
    """A shared integer at ``path`` changed by compare-and-set (see ``corral.recipes.Counter``)."""

    def __init__(self, client: Client, path: str, default: int = 0) -> None:
        rq.check_path(path)
        self.client, self.path, self.default = client, path, default

    async def value(self) -> int:
        """The current value."""
        try:
            return int((await self.client.get(self.path)).data or b"0")
        except NotFound:
            return self.default

    async def add(self, delta: int) -> int:
        """Adds ``delta``; returns the new value."""
        rq.check_int(delta, "delta", minimum=-(2**63))
        while True:
            try:
                node: Optional[Node] = await self.client.get(self.path)
            except NotFound:
                node = None
            if node is None:
                try:
                    await self.client.create(self.path, str(self.default + delta), create_parents=True)
                    return self.default + delta
                except AlreadyExists:
                    continue
            new = int(node.data or b"0") + delta
            try:
                await self.client.put(self.path, str(new), expected_version=node.stat.version)
                return new
            except VersionMismatch:
                continue


class Barrier:
    """Waiters block while the znode ``path`` exists (see ``corral.recipes.Barrier``)."""

    def __init__(self, client: Client, path: str) -> None:
        rq.check_path(path)
        self.client, self.path = client, path

    async def create(self) -> None:
        """Raises the barrier (idempotent)."""
        try:
            await self.client.create(self.path, create_parents=True)
        except AlreadyExists:
            pass

    async def remove(self) -> None:
        """Lifts the barrier (idempotent)."""
        try:
            await self.client.delete(self.path)
        except NotFound:
            pass

    async def wait(self) -> None:
        """Returns once the barrier is gone (wrap in asyncio.wait_for for a timeout)."""
        root = await self.client.get_with_header("/", stat_only=True)
        if await self.client.exists(self.path) is None:
            return
        watcher = await self.client.watch(self.path, start_revision=root.header.revision + 1)
        try:
            async for event in watcher:
                if event.type.name == "DELETED":
                    return
        finally:
            await watcher.close()


class Queue:
    """A FIFO of sequential znodes under ``path`` (see ``corral.recipes.Queue``)."""

    def __init__(self, client: Client, path: str) -> None:
        rq.check_path(path)
        self.client, self.path = client, path

    async def put(self, item: rq.Data) -> str:
        """Appends ``item``; returns its znode path."""
        return (await self.client.create(f"{self.path}/item-", item, sequential=True, create_parents=True)).path

    async def get(self) -> Optional[bytes]:
        """Takes the oldest item, or None when the queue is empty."""
        while True:
            try:
                nodes = (await self.client.list(self.path, with_data=True, limit=16)).nodes
            except NotFound:
                return None
            if not nodes:
                return None
            for node in nodes:
                try:
                    await self.client.delete(node.path, expected_version=node.stat.version)
                    return node.data
                except (NotFound, VersionMismatch):
                    continue


class AuthClient:
    """Auth management of a ``corral.aio.Client`` (``client.auth``); the calls of
    ``corral.AuthClient``, awaited."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def _change(self, rpc: Rpc, request: Any, timeout: Timeout) -> None:
        await self._client._call(rpc, request, retry=Retry.WITH_REQUEST_ID, timeout=timeout)

    async def enable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turns auth on; RootRequired until the user ``root`` exists."""
        await self._change(
            lambda s, r, t, m: s.auth.Enable(r, timeout=t, metadata=m), auth_pb2.AuthEnableRequest(), timeout
        )
        if self._client._tokens is not None:
            self._client._tokens.auth_enabled()

    async def disable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turns auth off."""
        await self._change(
            lambda s, r, t, m: s.auth.Disable(r, timeout=t, metadata=m), auth_pb2.AuthDisableRequest(), timeout
        )

    async def status(self, *, timeout: Timeout = DEFAULT) -> AuthStatus:
        """Whether auth is on, and who the server takes this client to be."""
        pb = await self._client._call(
            lambda s, r, t, m: s.auth.Status(r, timeout=t, metadata=m), auth_pb2.AuthStatusRequest(), timeout=timeout
        )
        return rq.auth_status(pb)

    async def authenticate(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> Token:
        """A token for ``name``; the client's own token is not changed."""
        request = auth_pb2.AuthenticateRequest(name=rq.check_name(name), password=rq.check_password(password))
        pb = await self._client._call(
            lambda s, r, t, m: s.auth.Authenticate(r, timeout=t, metadata=m),
            request,
            timeout=timeout,
            authenticate=False,
        )
        return Token(token=pb.token, ttl=pb.ttl_ms / 1000, header=rq.header(pb.header))

    async def user_add(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> None:
        """Adds a user with a password."""
        request = auth_pb2.AuthUserAddRequest(name=rq.check_name(name), password=rq.check_password(password))
        await self._change(lambda s, r, t, m: s.auth.UserAdd(r, timeout=t, metadata=m), request, timeout)

    async def user_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Deletes a user."""
        request = auth_pb2.AuthUserDeleteRequest(name=rq.check_name(name))
        await self._change(lambda s, r, t, m: s.auth.UserDelete(r, timeout=t, metadata=m), request, timeout)

    async def user_list(self, *, timeout: Timeout = DEFAULT) -> List[User]:
        """Every user and their roles."""
        pb = await self._client._call(
            lambda s, r, t, m: s.auth.UserList(r, timeout=t, metadata=m),
            auth_pb2.AuthUserListRequest(),
            timeout=timeout,
        )
        return rq.users(pb)

    async def user_change_password(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> None:
        """Sets a user's password (the client keeps it when ``name`` is its own user)."""
        request = auth_pb2.AuthUserChangePasswordRequest(name=rq.check_name(name), password=rq.check_password(password))
        await self._change(lambda s, r, t, m: s.auth.UserChangePassword(r, timeout=t, metadata=m), request, timeout)
        if self._client._tokens is not None:
            self._client._tokens.password_changed(name, password)

    async def user_grant_role(self, name: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        """Gives a user a role."""
        request = auth_pb2.AuthUserGrantRoleRequest(name=rq.check_name(name), role=rq.check_name(role, "role"))
        await self._change(lambda s, r, t, m: s.auth.UserGrantRole(r, timeout=t, metadata=m), request, timeout)

    async def user_revoke_role(self, name: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        """Takes a role from a user."""
        request = auth_pb2.AuthUserRevokeRoleRequest(name=rq.check_name(name), role=rq.check_name(role, "role"))
        await self._change(lambda s, r, t, m: s.auth.UserRevokeRole(r, timeout=t, metadata=m), request, timeout)

    async def role_add(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Adds a role."""
        request = auth_pb2.AuthRoleAddRequest(name=rq.check_name(name))
        await self._change(lambda s, r, t, m: s.auth.RoleAdd(r, timeout=t, metadata=m), request, timeout)

    async def role_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Deletes a role."""
        request = auth_pb2.AuthRoleDeleteRequest(name=rq.check_name(name))
        await self._change(lambda s, r, t, m: s.auth.RoleDelete(r, timeout=t, metadata=m), request, timeout)

    async def role_list(self, *, timeout: Timeout = DEFAULT) -> List[str]:
        """Every role name."""
        pb = await self._client._call(
            lambda s, r, t, m: s.auth.RoleList(r, timeout=t, metadata=m),
            auth_pb2.AuthRoleListRequest(),
            timeout=timeout,
        )
        return list(pb.roles)
