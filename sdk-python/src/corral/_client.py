"""The synchronous :class:`Client`: gRPC channels to the members, every call of the
API with a deadline, failover between members and exactly-once writes.

Thread safety: a Client may be used from many threads at once (gRPC channels are
thread-safe; the client's own state is behind locks). Fork safety: a Client must not
be used in a child process after ``os.fork()``; make a new one in the child (using the
parent's raises ClientClosed).
"""

from __future__ import annotations

import os
import threading
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import grpc

from corral import _requests as rq
from corral._auth import TLS, Issued, TokenState, auth_metadata, check_credentials, check_token, drop_refused, now
from corral._errors import (
    REQUEST_ID_HEADER,
    ClientClosed,
    CorralError,
    DeadlineExceeded,
    InvalidArgument,
    from_rpc_error,
)
from corral._retry import Backoff, CallAttempts, Retry
from corral._types import (
    AclEntry,
    AclResult,
    AuthStatus,
    CreateResult,
    DeleteResult,
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
    leader_key,
)
from corral.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    cluster_pb2,
    cluster_pb2_grpc,
    election_pb2,
    election_pb2_grpc,
    kv_pb2_grpc,
    lease_pb2,
    lease_pb2_grpc,
    lock_pb2,
    lock_pb2_grpc,
    maintenance_pb2,
    maintenance_pb2_grpc,
    watch_pb2_grpc,
)

if TYPE_CHECKING:
    from corral._session import Session
    from corral._watch import Watcher
    from corral.recipes import Lock

T = TypeVar("T")


class _Default:
    """Marker for "the client's default timeout"."""

    def __repr__(self) -> str:
        return "DEFAULT"


#: Pass as ``timeout=`` to use the client's default.
DEFAULT = _Default()

Timeout = Union[float, None, _Default]

#: How often an idle connection is probed (HTTP/2 PING), so that a member that died
#: or froze without closing its sockets is noticed by streams and long waits.
_KEEPALIVE_MS = 5000

#: Largest response accepted: a listing page with data can be far above 4 MiB.
_MAX_RESPONSE_BYTES = 256 * 1024 * 1024

CHANNEL_OPTIONS: List[Tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", _KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", _KEEPALIVE_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", _MAX_RESPONSE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.enable_retries", 0),
]


class _Stubs:
    """The generated stubs of one channel."""

    def __init__(self, channel: Any) -> None:
        self.kv = kv_pb2_grpc.KVStub(channel)
        self.watch = watch_pb2_grpc.WatchStub(channel)
        self.lease = lease_pb2_grpc.LeaseStub(channel)
        self.lock = lock_pb2_grpc.LockStub(channel)
        self.election = election_pb2_grpc.ElectionStub(channel)
        self.cluster = cluster_pb2_grpc.ClusterStub(channel)
        self.maintenance = maintenance_pb2_grpc.MaintenanceStub(channel)
        self.auth = auth_pb2_grpc.AuthStub(channel)


class Members:
    """One channel per endpoint and the one calls go to (shared logic of both clients)."""

    def __init__(self, endpoints: List[str], make_channel: Callable[[str], Any]) -> None:
        self.addrs = endpoints
        self.channels = [make_channel(addr) for addr in endpoints]
        self.stubs = [_Stubs(c) for c in self.channels]
        self._current = 0
        self._lock = threading.Lock()

    def current(self) -> Tuple[int, _Stubs]:
        """The member calls go to now: its index and stubs."""
        index = self._current % len(self.stubs)
        return index, self.stubs[index]

    def skip(self, failed: int) -> None:
        """Moves off member ``failed`` (unless another call already did)."""
        with self._lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self.stubs)

    def __len__(self) -> int:
        return len(self.stubs)


def channel_factory(
    endpoints: Union[str, Sequence[str]],
    tls: Optional[TLS],
    insecure: Callable[..., Any],
    secure: Callable[..., Any],
) -> Callable[[str], Any]:
    """How a client opens the channel to one endpoint: plaintext, or TLS with the
    credentials read once for every member (a bad file fails the client's creation,
    not its first call). ``https://`` endpoints without ``tls`` get TLS with the
    system's roots; ``http://`` ones with ``tls`` are refused as a contradiction."""
    schemes = rq.endpoint_schemes(endpoints)
    if tls is None and "https" in schemes:
        tls = TLS()
    elif tls is not None and "http" in schemes:
        raise InvalidArgument("endpoints: http:// endpoints with tls=; use https:// or host:port", argument="endpoints")
    if tls is None:
        return lambda addr: insecure(addr, options=CHANNEL_OPTIONS)
    if not isinstance(tls, TLS):
        raise TypeError(f"tls: expected corral.TLS, got {type(tls).__name__}")
    credentials = tls.channel_credentials()
    options = CHANNEL_OPTIONS + tls.channel_options()
    return lambda addr: secure(addr, credentials, options=options)


def token_state(credentials: object, token: object) -> Optional[TokenState]:
    """The client's TokenState, or None when it sends no credentials."""
    checked = check_credentials(credentials)
    ready = check_token(token)
    if checked is None and ready is None:
        return None
    return TokenState(checked, ready)


class Client:
    """A connection to a Corral cluster (synchronous; see ``corral.aio.Client``).

    ``endpoints`` is a list of ``host:port`` or a comma-separated string of them. Calls
    go to one member and move to the next when it cannot be reached or cannot serve
    (UNAVAILABLE), with a growing pause between rounds, until the call's deadline
    (``timeout=`` per call, default the client's ``timeout``, 30 s). Writes carry a
    request id (``corral-request-id``) so a retried write is applied once.

    Security: ``tls=corral.TLS(...)`` connects over TLS (and mTLS with a client
    certificate). ``credentials=("user", "password")`` authenticates as that user: the
    client gets a token before its first call, sends it on every call and stream,
    refreshes it before it runs out, and authenticates again once when the server
    refuses it (expired, revoked); ``token=`` sends a ready token instead. See
    ``client.auth`` for users and roles, and ``get_acl`` / ``set_acl``.

    Use it as a context manager, or call :meth:`close`.
    """

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
        self._refresh_lock = threading.Lock()
        self._members = Members(
            self._endpoints, channel_factory(endpoints, tls, grpc.insecure_channel, grpc.secure_channel)
        )
        self._lanes = rq.Lanes() if exactly_once else None
        self._pid = os.getpid()
        self._closed = False
        self._default_session: Optional["Session"] = None
        self._session_lock = threading.Lock()

    # --- life -----------------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the default session (if any) and the channels; idempotent."""
        if self._closed:
            return
        session = self._default_session
        if session is not None and os.getpid() == self._pid:
            try:
                session.close()
            except CorralError:
                pass
        self._closed = True
        if os.getpid() == self._pid:
            for channel in self._members.channels:
                channel.close()

    @property
    def endpoints(self) -> List[str]:
        """The endpoints, as ``host:port``, in the order given."""
        return list(self._endpoints)

    @property
    def current_endpoint(self) -> str:
        """The endpoint calls go to now."""
        return self._endpoints[self._members.current()[0]]

    @property
    def timeout(self) -> Optional[float]:
        """The default per-call timeout in seconds (None: no limit)."""
        return self._timeout

    @property
    def user(self) -> Optional[str]:
        """The user of ``credentials=``, or None."""
        return self._tokens.user if self._tokens else None

    @property
    def auth(self) -> "AuthClient":
        """Auth management: enable/disable, users, roles (``client.auth.user_add(...)``)."""
        return AuthClient(self)

    @property
    def client_id(self) -> Optional[str]:
        """The client-id prefix of this client's request ids, or None if exactly-once is off."""
        return self._lanes.prefix if self._lanes else None

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the client is closed")
        if os.getpid() != self._pid:
            raise ClientClosed(
                "this client was made in another process (before os.fork()); make a new client in the child"
            )

    def _resolve_timeout(self, timeout: Timeout) -> Optional[float]:
        if isinstance(timeout, _Default):
            return self._timeout
        return rq.check_timeout(timeout)

    # --- the call loop ----------------------------------------------------------

    def _call(
        self,
        rpc: Callable[[Any, Any, Optional[float], Any], Any],
        request: Any,
        *,
        path: Optional[str] = None,
        retry: Retry = Retry.SAFE,
        timeout: Timeout = DEFAULT,
        authenticate: bool = True,
    ) -> Any:
        """Sends ``request`` with ``rpc(stubs, request, timeout, metadata)`` to the
        current member, and again (next member, pause after each round) while the
        retry policy allows, until the deadline. One request id for all attempts;
        each attempt carries the client's current token (unless ``authenticate`` is
        False: Authenticate itself)."""
        self._check_open()
        limit = self._resolve_timeout(timeout)
        tokens = self._tokens if authenticate else None
        attempts = CallAttempts(self._members, self._lanes, retry, limit, REQUEST_ID_HEADER, tokens)
        try:
            while True:
                index, stubs, remaining = attempts.next()
                token = self._token(remaining) if tokens is not None else None
                try:
                    return rpc(stubs, request, remaining, attempts.metadata_with(token))
                except grpc.RpcError as e:
                    pause = attempts.failed(from_rpc_error(e, path), index)
                if pause:
                    time.sleep(pause)
        finally:
            attempts.release()

    # --- credentials ------------------------------------------------------------

    def _token(self, limit: Optional[float]) -> Optional[Issued]:
        """The token for a call that may take ``limit`` seconds, authenticating first
        when there is none or it is due for a refresh. Concurrent calls share one
        Authenticate: while a still-valid token is refreshed the others go on with it;
        without a valid one they wait for the refresh."""
        tokens = self._tokens
        if tokens is None:
            return None
        token, due = tokens.current(now())
        if not due:
            return token
        if token is not None:
            if not self._refresh_lock.acquire(blocking=False):
                return token
        elif not self._refresh_lock.acquire(timeout=-1 if limit is None else limit):
            raise DeadlineExceeded(f"no token within {limit} s (another call is authenticating)")
        try:
            token, due = tokens.current(now())
            if not due:
                return token
            try:
                self._authenticate(tokens, limit)
            except CorralError:
                if token is None:
                    raise
                # A refresh ahead of time failed (member down, say): the token still
                # works; the next call tries again.
                return token
            return tokens.current(now())[0]
        finally:
            self._refresh_lock.release()

    def _authenticate(self, tokens: TokenState, limit: Optional[float]) -> None:
        credentials = tokens.credentials()
        if credentials is None:
            return
        sent_at = now()
        try:
            pb = self._call(
                lambda s, r, t, m: s.auth.Authenticate(r, timeout=t, metadata=m),
                auth_pb2.AuthenticateRequest(name=credentials[0], password=credentials[1]),
                timeout=limit,
                authenticate=False,
            )
        except InvalidArgument:
            # Refused as an invalid request: a bad user name, or a cluster with auth
            # off, which issues no tokens and needs none: Status tells which.
            status = self._call(
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

    def _stream_metadata(self) -> Tuple[Optional[Tuple[Tuple[str, str], ...]], Optional[int]]:
        """Metadata for opening a stream (watch, observe) and its token's generation."""
        token = self._token(self._timeout)
        return auth_metadata(None, token), None if token is None else token[1]

    def _token_refused(self, error: CorralError, generation: Optional[int]) -> bool:
        """Whether a stream refused for its token should be reopened at once with a new
        one (the token of ``generation`` is dropped); the caller allows it once in a row."""
        return drop_refused(self._tokens, error, generation)

    # --- KV -------------------------------------------------------------------

    def create(
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
        """Creates a znode holding ``data`` (bytes, or str as UTF-8). With ``sequential``,
        ``path`` is the prefix the server appends a counter to; the result has the actual
        path. ``lease_id`` makes it ephemeral; ``ttl`` (seconds) makes a TTL znode.
        ``acl`` (a list of AclEntry) is its ACL; without one it gets its parent's.

        Raises AlreadyExists, ParentNotFound (unless ``create_parents``), InvalidArgument,
        EphemeralParent, PermissionDenied (no create permission on the parent)."""
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
        pb = self._call(
            lambda s, r, t, m: s.kv.Create(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.create_result(pb)

    def put(
        self,
        path: str,
        data: rq.Data,
        *,
        expected_version: Optional[int] = None,
        create_if_missing: bool = False,
        prev_node: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> PutResult:
        """Sets a znode's data. Raises NotFound (unless ``create_if_missing``) and, when
        ``expected_version`` is given and differs, VersionMismatch (``.current``)."""
        request = rq.put_request(
            path, data, expected_version=expected_version, create_if_missing=create_if_missing, prev_node=prev_node
        )
        pb = self._call(
            lambda s, r, t, m: s.kv.Put(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.put_result(pb)

    def get(
        self, path: str, *, serializable: bool = False, stat_only: bool = False, timeout: Timeout = DEFAULT
    ) -> Node:
        """Reads one znode (linearizable unless ``serializable``). Raises NotFound."""
        return self.get_with_header(path, serializable=serializable, stat_only=stat_only, timeout=timeout).node

    def get_with_header(
        self, path: str, *, serializable: bool = False, stat_only: bool = False, timeout: Timeout = DEFAULT
    ) -> GetResult:
        """Like :meth:`get`, with the response header (the revision the read saw)."""
        request = rq.get_request(path, serializable=serializable, stat_only=stat_only)
        pb = self._call(lambda s, r, t, m: s.kv.Get(r, timeout=t, metadata=m), request, path=path, timeout=timeout)
        return rq.get_result(pb)

    def exists(self, path: str, *, timeout: Timeout = DEFAULT) -> Optional[Node]:
        """The znode's stat (as a Node without data), or None if it is absent."""
        from corral._errors import NotFound

        try:
            return self.get(path, stat_only=True, timeout=timeout)
        except NotFound as e:
            if e.reason is None or e.reason == "NODE_NOT_FOUND":
                return None
            raise

    def list(
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
        """One page of a znode's children (or, ``recursive``, its subtree) in path
        order; pass ``next_page_token`` back as ``page_token`` for the next page."""
        request = rq.list_request(
            path,
            recursive=recursive,
            with_data=with_data,
            limit=limit,
            page_token=page_token,
            serializable=serializable,
        )
        pb = self._call(lambda s, r, t, m: s.kv.List(r, timeout=t, metadata=m), request, path=path, timeout=timeout)
        return rq.list_result(pb)

    def list_all(
        self,
        path: str,
        *,
        recursive: bool = False,
        with_data: bool = False,
        serializable: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> ListResult:
        """Every page of a listing (each page a separate read), with the last header."""
        nodes: List[Node] = []
        token = ""
        while True:
            page = self.list(
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

    def children(self, path: str, *, timeout: Timeout = DEFAULT) -> List[str]:
        """The names of a znode's direct children, in order."""
        return [n.name for n in self.list_all(path, timeout=timeout).nodes]

    def delete(
        self,
        path: str,
        *,
        expected_version: Optional[int] = None,
        recursive: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> DeleteResult:
        """Deletes a znode (and, ``recursive``, its subtree). Raises NotFound, NotEmpty,
        VersionMismatch."""
        request = rq.delete_request(path, expected_version=expected_version, recursive=recursive)
        pb = self._call(
            lambda s, r, t, m: s.kv.Delete(r, timeout=t, metadata=m),
            request,
            path=path,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return rq.delete_result(pb)

    def txn(
        self,
        compares: Sequence[rq.Compare] = (),
        success: Sequence[rq.Op] = (),
        failure: Sequence[rq.Op] = (),
        *,
        timeout: Timeout = DEFAULT,
    ) -> TxnResult:
        """Runs a transaction atomically at one revision: ``success`` if every compare
        holds, else ``failure``. A failing op fails the whole Txn with its error."""
        request = rq.txn_request(compares, success, failure)
        pb = self._call(
            lambda s, r, t, m: s.kv.Txn(r, timeout=t, metadata=m),
            request,
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return TxnResult(
            succeeded=pb.succeeded, results=[rq.op_result(r) for r in pb.results], header=rq.header(pb.header)
        )

    def get_acl(self, path: str, *, serializable: bool = False, timeout: Timeout = DEFAULT) -> AclResult:
        """A znode's ACL and stat (needs the admin permission on it when auth is on).
        Raises NotFound, PermissionDenied."""
        request = rq.get_acl_request(path, serializable=serializable)
        pb = self._call(lambda s, r, t, m: s.kv.GetAcl(r, timeout=t, metadata=m), request, path=path, timeout=timeout)
        return rq.acl_result(pb)

    def set_acl(
        self,
        path: str,
        acl: Sequence[AclEntry],
        *,
        expected_acl_version: Optional[int] = None,
        timeout: Timeout = DEFAULT,
    ) -> SetAclResult:
        """Replaces a znode's ACL (1 to 64 entries); with ``expected_acl_version``, only
        if its ``stat.acl_version`` is that (else AclVersionMismatch, ``.current``).
        Raises NotFound, PermissionDenied (admin needed)."""
        request = rq.set_acl_request(path, acl, expected_acl_version=expected_acl_version)
        # With an expected version a repeat is refused, not applied twice; without one,
        # setting the same ACL again leaves the same ACL (acl_version aside).
        pb = self._call(
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
        """A :class:`Watcher`: an iterator of the changes to a znode (``scope="node"``),
        its children (``"children"``) or its subtree (``"subtree"``), in revision order,
        from ``start_revision`` (default: after the current revision). It resumes on
        another member from the last revision delivered: no event lost or repeated.
        Close it (or use it as a context manager) to cancel the server watch."""
        from corral._watch import Watcher

        rq.check_path(path)
        scope_pb = rq.check_scope(scope)
        filters = rq.check_event_types(exclude)
        if start_revision is not None:
            rq.check_int(start_revision, "start_revision")
        return Watcher(self, path, scope_pb, start_revision, bool(prev_node), filters, bool(progress_notify))

    # --- leases ---------------------------------------------------------------

    def lease_grant(self, ttl: float, *, lease_id: int = 0, timeout: Timeout = DEFAULT) -> Lease:
        """Grants a lease of ``ttl`` seconds (1 s .. 1 day) that ends unless kept alive."""
        ttl_ms = rq.seconds_to_ms(ttl, "ttl", 1)
        rq.check_int(lease_id, "lease_id")
        pb = self._call(
            lambda s, r, t, m: s.lease.Grant(r, timeout=t, metadata=m),
            lease_pb2.LeaseGrantRequest(ttl_ms=ttl_ms, lease_id=lease_id),
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return Lease(lease_id=pb.lease_id, ttl=pb.ttl_ms / 1000, header=rq.header(pb.header))

    def lease_revoke(self, lease_id: int, *, timeout: Timeout = DEFAULT) -> int:
        """Revokes a lease, deleting its ephemeral znodes; returns how many went."""
        rq.check_int(lease_id, "lease_id", 1)
        pb = self._call(
            lambda s, r, t, m: s.lease.Revoke(r, timeout=t, metadata=m),
            lease_pb2.LeaseRevokeRequest(lease_id=lease_id),
            retry=Retry.WITH_REQUEST_ID,
            timeout=timeout,
        )
        return int(pb.deleted)

    def lease_keep_alive(self, lease_id: int, *, timeout: Timeout = DEFAULT) -> float:
        """Refreshes a lease once; returns its TTL in seconds. Raises LeaseNotFound if it ended."""
        rq.check_int(lease_id, "lease_id", 1)

        def rpc(s: _Stubs, r: Any, t: Optional[float], m: Any) -> Any:
            for response in s.lease.KeepAlive(iter([r]), timeout=t, metadata=m):
                return response
            raise grpc.RpcError()  # pragma: no cover - the server always answers

        pb = self._call(rpc, lease_pb2.LeaseKeepAliveRequest(lease_id=lease_id), timeout=timeout)
        return float(pb.ttl_ms / 1000)

    def lease_time_to_live(
        self, lease_id: int, *, with_nodes: bool = False, timeout: Timeout = DEFAULT
    ) -> LeaseTimeToLive:
        """A lease's TTL, time left and (``with_nodes``) its ephemeral znodes."""
        rq.check_int(lease_id, "lease_id", 1)
        pb = self._call(
            lambda s, r, t, m: s.lease.TimeToLive(r, timeout=t, metadata=m),
            lease_pb2.LeaseTimeToLiveRequest(lease_id=lease_id, with_nodes=bool(with_nodes)),
            timeout=timeout,
        )
        return LeaseTimeToLive(
            lease_id=pb.lease_id,
            ttl=pb.ttl_ms / 1000,
            remaining=pb.remaining_ms / 1000,
            nodes=list(pb.nodes),
            header=rq.header(pb.header),
        )

    def lease_list(self, *, timeout: Timeout = DEFAULT) -> List[LeaseStatus]:
        """Every lease."""
        pb = self._call(
            lambda s, r, t, m: s.lease.List(r, timeout=t, metadata=m), lease_pb2.LeaseListRequest(), timeout=timeout
        )
        return [LeaseStatus(lease_id=l.lease_id, ttl=l.ttl_ms / 1000) for l in pb.leases]

    def session(self, ttl: float = 10.0) -> "Session":
        """A new :class:`Session`: a lease of ``ttl`` seconds kept alive by a background
        thread, with state CONNECTED / SUSPENDED / LOST and listeners."""
        from corral._session import Session

        return Session(self, ttl)

    def default_session(self) -> "Session":
        """The client's shared session (made on first use, remade once lost), used by
        :meth:`lock`'s short form."""
        from corral._session import SessionState

        with self._session_lock:
            s = self._default_session
            if s is None or s.state is SessionState.LOST or s.closed:
                s = self.session()
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
        """A distributed lock on ``name`` (a znode path), to use as
        ``with client.lock("/locks/jobs") as held:`` (``held.fencing_token``).

        Bound to ``session`` (default: the client's shared session) or to an explicit
        ``lease_id``. ``timeout``: seconds to wait for the lock (WaitTimeout); default
        wait forever. ``client.lock(name, lease_id).acquire()`` is the bare Lock call."""
        from corral.recipes import Lock

        return Lock(self, name, lease_id=lease_id, session=session, timeout=timeout)

    def _lock_call(
        self, name: str, lease_id: int, timeout: Optional[float], session: Optional["Session"] = None
    ) -> LockResult:
        rq.check_path(name, "name")
        rq.check_int(lease_id, "lease_id", 1)
        wait_ms = 0 if timeout is None else max(1, rq.seconds_to_ms(timeout, "timeout"))
        call_timeout = None if timeout is None else timeout + (self._timeout or rq.DEFAULT_TIMEOUT)
        # A repeated Lock finds the lease's own queue entry: safe to send again.
        pb = self._call(
            _until_lost(session, lambda s, r, t, m: s.lock.Lock.future(r, timeout=t, metadata=m)),
            lock_pb2.LockRequest(name=name, lease_id=lease_id, wait_timeout_ms=wait_ms),
            path=name,
            timeout=call_timeout,
        )
        return LockResult(
            name=name, key=pb.key, fencing_token=pb.fencing_token, lease_id=lease_id, header=rq.header(pb.header)
        )

    def unlock(self, key: str, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Releases a held lock (or a place in its queue): ``key`` from the lock, and the
        lease the lock was taken with. An entry already gone is not an error."""
        rq.check_path(key, "key")
        rq.check_int(lease_id, "lease_id", 1)
        self._call(
            lambda s, r, t, m: s.lock.Unlock(r, timeout=t, metadata=m),
            lock_pb2.UnlockRequest(key=key, lease_id=lease_id),
            path=key,
            timeout=timeout,
        )

    def campaign(
        self,
        name: str,
        value: rq.Data,
        lease_id: int,
        *,
        timeout: Optional[float] = None,
        session: Optional["Session"] = None,
    ) -> LeaderKey:
        """Blocks until the caller leads election ``name`` (a znode path); returns its
        leader key. ``timeout``: seconds to wait (WaitTimeout); default forever. With
        ``session`` (the lease's), the wait ends with SessionLost once it is lost."""
        rq.check_path(name, "name")
        body = rq.to_bytes(value, "value")
        rq.check_int(lease_id, "lease_id", 1)
        wait_ms = 0 if timeout is None else max(1, rq.seconds_to_ms(timeout, "timeout"))
        call_timeout = None if timeout is None else timeout + (self._timeout or rq.DEFAULT_TIMEOUT)
        pb = self._call(
            _until_lost(session, lambda s, r, t, m: s.election.Campaign.future(r, timeout=t, metadata=m)),
            election_pb2.CampaignRequest(name=name, lease_id=lease_id, value=body, wait_timeout_ms=wait_ms),
            path=name,
            timeout=call_timeout,
        )
        return leader_key(pb.leader)

    def proclaim(self, key: str, value: rq.Data, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Updates the leader's value while ``key`` still leads (NotElectionLeader if not)."""
        rq.check_path(key, "key")
        body = rq.to_bytes(value, "value")
        rq.check_int(lease_id, "lease_id", 1)
        self._call(
            lambda s, r, t, m: s.election.Proclaim(r, timeout=t, metadata=m),
            election_pb2.ProclaimRequest(key=key, value=body, lease_id=lease_id),
            path=key,
            retry=Retry.SAFE,
            timeout=timeout,
        )

    def leader(self, name: str, *, timeout: Timeout = DEFAULT) -> LeaderKey:
        """The current leader of election ``name``; raises NoLeader if there is none."""
        rq.check_path(name, "name")
        pb = self._call(
            lambda s, r, t, m: s.election.Leader(r, timeout=t, metadata=m),
            election_pb2.LeaderRequest(name=name),
            path=name,
            timeout=timeout,
        )
        return leader_key(pb.leader)

    def resign(self, key: str, lease_id: int, *, timeout: Timeout = DEFAULT) -> None:
        """Gives up leadership (or a place in the queue)."""
        rq.check_path(key, "key")
        rq.check_int(lease_id, "lease_id", 1)
        self._call(
            lambda s, r, t, m: s.election.Resign(r, timeout=t, metadata=m),
            election_pb2.ResignRequest(key=key, lease_id=lease_id),
            path=key,
            timeout=timeout,
        )

    def observe(self, name: str) -> Iterator[Optional[LeaderKey]]:
        """The leader of election ``name`` now and after every change (None while there
        is none); reopens on another member when one fails. Ends when closed."""
        rq.check_path(name, "name")
        from corral._retry import reopens

        backoff = Backoff()
        last: Optional[LeaderKey] = None
        first = True
        reauthenticated = False
        while True:
            self._check_open()
            index, stubs = self._members.current()
            metadata, generation = self._stream_metadata()
            call = stubs.election.Observe(election_pb2.ObserveRequest(name=name), metadata=metadata)
            try:
                for pb in call:
                    backoff.reset()
                    reauthenticated = False
                    current = leader_key(pb.leader) if pb.HasField("leader") else None
                    if first or current != last:
                        first = False
                        last = current
                        yield current
            except grpc.RpcError as e:
                error = from_rpc_error(e, name)
                if not reauthenticated and self._token_refused(error, generation):
                    reauthenticated = True
                    continue
                if not reopens(error):
                    raise error from None
                self._members.skip(index)
                time.sleep(backoff.step())
            finally:
                call.cancel()

    # --- cluster and maintenance ----------------------------------------------------

    def member_list(self, *, timeout: Timeout = DEFAULT) -> MemberList:
        """The members (voters and learners) and the leader's id."""
        pb = self._call(
            lambda s, r, t, m: s.cluster.MemberList(r, timeout=t, metadata=m),
            cluster_pb2.MemberListRequest(),
            timeout=timeout,
        )
        return MemberList(
            members=[Member(m.member_id, m.peer_addr, m.is_learner) for m in pb.members],
            leader_id=pb.leader_id,
            header=rq.header(pb.header),
        )

    def status(self, *, timeout: Timeout = DEFAULT) -> Status:
        """The answering member's view: leader, term, indexes, revision, size, version."""
        pb = self._call(
            lambda s, r, t, m: s.cluster.Status(r, timeout=t, metadata=m), cluster_pb2.StatusRequest(), timeout=timeout
        )
        return status_result(pb)

    def compact(self, revision: int, *, timeout: Timeout = DEFAULT) -> int:
        """Discards history up to ``revision``; returns the newest compacted revision."""
        rq.check_int(revision, "revision", 1)
        pb = self._call(
            lambda s, r, t, m: s.maintenance.Compact(r, timeout=t, metadata=m),
            maintenance_pb2.CompactRequest(revision=revision),
            retry=Retry.SAFE,
            timeout=timeout,
        )
        return int(pb.compact_revision)

    def snapshot(self, path: Union[str, "os.PathLike[str]"], *, timeout: Timeout = DEFAULT) -> SnapshotResult:
        """Writes a consistent backup of the answering member's state to the file
        ``path`` (written to a temporary name, then renamed)."""
        target = os.fspath(path)
        if not isinstance(target, str) or not target:
            raise InvalidArgument("path: a file name is needed", argument="path")
        partial = target + ".partial"

        def rpc(s: _Stubs, r: Any, t: Optional[float], m: Any) -> SnapshotResult:
            size = 0
            revision = 0
            with open(partial, "wb") as f:
                for chunk in s.maintenance.Snapshot(r, timeout=t, metadata=m):
                    f.write(chunk.blob)
                    size += len(chunk.blob)
                    revision = chunk.header.revision
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, target)
            return SnapshotResult(path=target, size=size, revision=revision)

        try:
            result: SnapshotResult = self._call(rpc, maintenance_pb2.SnapshotRequest(), timeout=timeout)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return result


def _until_lost(
    session: Optional["Session"], start: Callable[[Any, Any, Optional[float], Any], Any]
) -> Callable[[Any, Any, Optional[float], Any], Any]:
    """An rpc for Client._call that waits on a started call (a gRPC future), and
    cancels it when ``session`` is lost: a waiter whose lease ended must not wait on
    (its queue entry went with the lease)."""
    from corral._errors import SessionLost
    from corral._session import SessionState

    def rpc(stubs: Any, request: Any, timeout: Optional[float], metadata: Any) -> Any:
        future = start(stubs, request, timeout, metadata)
        if session is None:
            return future.result()

        def on_change(state: SessionState) -> None:
            if state is SessionState.LOST:
                future.cancel()

        session.add_listener(on_change)
        try:
            if session.is_lost:
                future.cancel()
            return future.result()
        except grpc.FutureCancelledError:
            raise SessionLost(f"session lease {session.lease_id} was lost while waiting") from None
        finally:
            session.remove_listener(on_change)

    return rpc


def status_result(pb: cluster_pb2.StatusResponse) -> Status:
    """The client's Status."""
    return Status(
        member_id=pb.member_id,
        leader_id=pb.leader_id,
        raft_term=pb.raft_term,
        commit_index=pb.commit_index,
        applied_index=pb.applied_index,
        revision=pb.revision,
        db_size_bytes=pb.db_size_bytes,
        version=pb.version,
        last_log_index=pb.last_log_index,
        is_learner=pb.is_learner,
        snapshot_index=pb.snapshot_index,
        snapshot_installs=pb.snapshot_installs,
        header=rq.header(pb.header),
    )


class AuthClient:
    """Auth management of a :class:`Client` (``client.auth``): turning auth on and off,
    tokens, users and roles. Every call but :meth:`authenticate` and :meth:`status`
    needs the root user once auth is enabled (a user may change their own password).

    Changes carry the client's request id, so a retried one is applied once. Raises
    PermissionDenied, Unauthenticated, UserNotFound, UserExists, RoleNotFound,
    RoleExists, RootRequired as the case may be."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _change(self, rpc: Callable[[Any, Any, Optional[float], Any], Any], request: Any, timeout: Timeout) -> None:
        self._client._call(rpc, request, retry=Retry.WITH_REQUEST_ID, timeout=timeout)

    def enable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turns auth on; RootRequired until the user ``root`` exists."""
        self._change(lambda s, r, t, m: s.auth.Enable(r, timeout=t, metadata=m), auth_pb2.AuthEnableRequest(), timeout)
        if self._client._tokens is not None:
            self._client._tokens.auth_enabled()

    def disable(self, *, timeout: Timeout = DEFAULT) -> None:
        """Turns auth off: every call is then allowed."""
        self._change(
            lambda s, r, t, m: s.auth.Disable(r, timeout=t, metadata=m), auth_pb2.AuthDisableRequest(), timeout
        )

    def status(self, *, timeout: Timeout = DEFAULT) -> AuthStatus:
        """Whether auth is on, and who the server takes this client to be."""
        pb = self._client._call(
            lambda s, r, t, m: s.auth.Status(r, timeout=t, metadata=m), auth_pb2.AuthStatusRequest(), timeout=timeout
        )
        return rq.auth_status(pb)

    def authenticate(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> Token:
        """A token for ``name`` (to hand to another client as ``token=``); the client's
        own token is not changed. Raises Unauthenticated (BAD_CREDENTIALS)."""
        request = auth_pb2.AuthenticateRequest(name=rq.check_name(name), password=rq.check_password(password))
        pb = self._client._call(
            lambda s, r, t, m: s.auth.Authenticate(r, timeout=t, metadata=m),
            request,
            timeout=timeout,
            authenticate=False,
        )
        return Token(token=pb.token, ttl=pb.ttl_ms / 1000, header=rq.header(pb.header))

    def user_add(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> None:
        """Adds a user with a password."""
        request = auth_pb2.AuthUserAddRequest(name=rq.check_name(name), password=rq.check_password(password))
        self._change(lambda s, r, t, m: s.auth.UserAdd(r, timeout=t, metadata=m), request, timeout)

    def user_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Deletes a user; their tokens stop working at once."""
        request = auth_pb2.AuthUserDeleteRequest(name=rq.check_name(name))
        self._change(lambda s, r, t, m: s.auth.UserDelete(r, timeout=t, metadata=m), request, timeout)

    def user_list(self, *, timeout: Timeout = DEFAULT) -> List[User]:
        """Every user and their roles, in name order."""
        pb = self._client._call(
            lambda s, r, t, m: s.auth.UserList(r, timeout=t, metadata=m),
            auth_pb2.AuthUserListRequest(),
            timeout=timeout,
        )
        return rq.users(pb)

    def user_change_password(self, name: str, password: str, *, timeout: Timeout = DEFAULT) -> None:
        """Sets a user's password; their earlier tokens stop working at once. When
        ``name`` is this client's own user, the client keeps the new password."""
        request = auth_pb2.AuthUserChangePasswordRequest(name=rq.check_name(name), password=rq.check_password(password))
        self._change(lambda s, r, t, m: s.auth.UserChangePassword(r, timeout=t, metadata=m), request, timeout)
        if self._client._tokens is not None:
            self._client._tokens.password_changed(name, password)

    def user_grant_role(self, name: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        """Gives a user a role (nothing happens if they have it)."""
        request = auth_pb2.AuthUserGrantRoleRequest(name=rq.check_name(name), role=rq.check_name(role, "role"))
        self._change(lambda s, r, t, m: s.auth.UserGrantRole(r, timeout=t, metadata=m), request, timeout)

    def user_revoke_role(self, name: str, role: str, *, timeout: Timeout = DEFAULT) -> None:
        """Takes a role from a user (nothing happens if they lack it)."""
        request = auth_pb2.AuthUserRevokeRoleRequest(name=rq.check_name(name), role=rq.check_name(role, "role"))
        self._change(lambda s, r, t, m: s.auth.UserRevokeRole(r, timeout=t, metadata=m), request, timeout)

    def role_add(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Adds a role."""
        request = auth_pb2.AuthRoleAddRequest(name=rq.check_name(name))
        self._change(lambda s, r, t, m: s.auth.RoleAdd(r, timeout=t, metadata=m), request, timeout)

    def role_delete(self, name: str, *, timeout: Timeout = DEFAULT) -> None:
        """Deletes a role and takes it from every user."""
        request = auth_pb2.AuthRoleDeleteRequest(name=rq.check_name(name))
        self._change(lambda s, r, t, m: s.auth.RoleDelete(r, timeout=t, metadata=m), request, timeout)

    def role_list(self, *, timeout: Timeout = DEFAULT) -> List[str]:
        """Every role name, in order."""
        pb = self._client._call(
            lambda s, r, t, m: s.auth.RoleList(r, timeout=t, metadata=m),
            auth_pb2.AuthRoleListRequest(),
            timeout=timeout,
        )
        return list(pb.roles)
