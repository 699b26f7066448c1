"""Request building shared by the sync and asyncio clients: argument checks (bad input
raises before anything is sent), generated request messages, and conversion of
responses to the client's dataclasses."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

from corral._errors import InvalidArgument
from corral._types import (
    AclEntry,
    AclResult,
    AuthStatus,
    CreateResult,
    DeleteResult,
    Event,
    EventType,
    GetResult,
    Header,
    ListResult,
    Node,
    NodeKind,
    Permission,
    PutResult,
    Stat,
    User,
)
from corral.v1 import auth_pb2, common_pb2, kv_pb2, watch_pb2

#: What callers may pass as data: bytes-like, or str (sent as UTF-8).
Data = Union[bytes, bytearray, memoryview, str]

#: Default time a call may take before it fails with DeadlineExceeded (seconds).
DEFAULT_TIMEOUT = 30.0

#: Default port when an endpoint gives none.
DEFAULT_PORT = 2479

_MAX_PATH_BYTES = 4096
_MAX_SEGMENT_BYTES = 255


def endpoint_schemes(endpoints: Union[str, Sequence[str]]) -> List[str]:
    """The schemes the endpoints were given with (``"http"``, ``"https"``; none for a
    bare ``host:port``), for the client to check against its TLS settings."""
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    out = []
    for item in items:
        if isinstance(item, str) and "://" in item:
            out.append(item.strip().split("://", 1)[0])
    return out


def parse_endpoints(endpoints: Union[str, Sequence[str]]) -> List[str]:
    """``host:port`` strings from a list or a comma-separated string."""
    if isinstance(endpoints, str):
        items = [e.strip() for e in endpoints.split(",")]
    elif isinstance(endpoints, (list, tuple)):
        items = []
        for e in endpoints:
            if not isinstance(e, str):
                raise TypeError(f"endpoints: expected str items, got {type(e).__name__}")
            items.append(e.strip())
    else:
        raise TypeError(
            f"endpoints: expected a list of 'host:port' or a comma-separated str, got {type(endpoints).__name__}"
        )
    out = []
    for item in items:
        if not item:
            continue
        for scheme in ("http://", "https://"):
            if item.startswith(scheme):
                item = item[len(scheme) :]
        item = item.rstrip("/")
        host, sep, port = item.rpartition(":")
        if not sep or "]" in port:
            item = f"{item}:{DEFAULT_PORT}"
        elif not port.isdigit() or not host:
            raise InvalidArgument(f"endpoints: {item!r} is not host:port", argument="endpoints")
        out.append(item)
    if not out:
        raise InvalidArgument("endpoints: no endpoint given", argument="endpoints")
    return out


def check_path(path: object, argument: str = "path") -> str:
    """``path`` if it follows the path rules, else InvalidArgument / TypeError naming it."""
    if not isinstance(path, str):
        raise TypeError(f"{argument}: expected str, got {type(path).__name__}")
    problem = _path_problem(path)
    if problem:
        raise InvalidArgument(f"{argument} {path!r}: {problem}", argument=argument, reason="INVALID_PATH")
    return path


def _path_problem(path: str) -> Optional[str]:
    if not path.startswith("/"):
        return 'must start with "/"'
    if path == "/":
        return None
    if path.endswith("/"):
        return 'must not end with "/"'
    if len(path.encode("utf-8", "surrogatepass")) > _MAX_PATH_BYTES:
        return "longer than 4 KiB"
    for segment in path[1:].split("/"):
        if not segment:
            return "has an empty segment"
        if segment in (".", ".."):
            return f'has a "{segment}" segment'
        if len(segment.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES:
            return "has a segment over 255 bytes"
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment):
            return "has a control character"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def to_bytes(data: object, argument: str = "data") -> bytes:
    """``data`` as bytes: bytes-like as is, str as UTF-8; anything else is a TypeError."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{argument}: expected bytes or str, got {type(data).__name__}")


def check_int(value: object, argument: str, minimum: int = 0) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{argument}: expected int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgument(f"{argument} must be >= {minimum}, got {value}", argument=argument)
    return value


def seconds_to_ms(value: object, argument: str, minimum_ms: int = 0) -> int:
    """A duration in seconds (int or float) as whole milliseconds >= ``minimum_ms``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{argument}: expected seconds (int or float), got {type(value).__name__}")
    if value != value or value < 0:  # NaN or negative
        raise InvalidArgument(f"{argument} must be a positive number of seconds, got {value}", argument=argument)
    ms = int(round(value * 1000))
    if ms < minimum_ms:
        raise InvalidArgument(f"{argument} must be at least {minimum_ms / 1000:g} s, got {value}", argument=argument)
    return ms


def check_timeout(timeout: object, argument: str = "timeout") -> Optional[float]:
    """A call timeout in seconds (None: no limit)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout != timeout:
        raise TypeError(f"{argument}: expected seconds (int or float) or None, got {type(timeout).__name__}")
    if timeout <= 0:
        raise InvalidArgument(f"{argument} must be > 0 seconds, got {timeout}", argument=argument)
    return float(timeout)


_SCOPES = {
    "node": watch_pb2.WatchCreateRequest.NODE,
    "children": watch_pb2.WatchCreateRequest.CHILDREN,
    "subtree": watch_pb2.WatchCreateRequest.SUBTREE,
}


def check_scope(scope: object) -> int:
    """A watch scope ("node", "children", "subtree", any case) as the proto value."""
    if not isinstance(scope, str):
        raise TypeError(f"scope: expected 'node', 'children' or 'subtree', got {type(scope).__name__}")
    value = _SCOPES.get(scope.lower())
    if value is None:
        raise InvalidArgument(f"scope must be 'node', 'children' or 'subtree', got {scope!r}", argument="scope")
    return value


def check_event_types(kinds: object, argument: str = "exclude") -> List[int]:
    """Event types to filter out, as proto values."""
    if kinds is None:
        return []
    if isinstance(kinds, (str, EventType)):
        kinds = [kinds]
    out: List[int] = []
    for kind in kinds:  # type: ignore[attr-defined]
        if isinstance(kind, EventType):
            out.append(int(kind.value))
        elif isinstance(kind, str) and kind.upper() in EventType.__members__:
            out.append(int(EventType[kind.upper()].value))
        else:
            raise InvalidArgument(
                f"{argument}: {kind!r} is not an event type (created, updated, deleted)",
                argument=argument,
            )
    return out


def consistency(serializable: bool) -> "common_pb2.Consistency.ValueType":
    """The proto consistency for a read."""
    return common_pb2.SERIALIZABLE if serializable else common_pb2.LINEARIZABLE


# --- request builders -------------------------------------------------------------


def create_request(
    path: str,
    data: object = b"",
    *,
    ephemeral: bool = False,
    lease_id: int = 0,
    sequential: bool = False,
    container: bool = False,
    ttl: Optional[float] = None,
    create_parents: bool = False,
    acl: Optional[Sequence[AclEntry]] = None,
) -> kv_pb2.CreateRequest:
    """A checked CreateRequest."""
    check_path(path)
    body = to_bytes(data)
    check_int(lease_id, "lease_id")
    if ephemeral and lease_id == 0:
        raise InvalidArgument("lease_id: an ephemeral znode needs a lease", argument="lease_id")
    if lease_id and not ephemeral:
        ephemeral = True
    ttl_ms = 0 if ttl is None else seconds_to_ms(ttl, "ttl", 1)
    return kv_pb2.CreateRequest(
        path=path,
        data=body,
        ephemeral=bool(ephemeral),
        lease_id=lease_id,
        sequential=bool(sequential),
        container=bool(container),
        ttl_ms=ttl_ms,
        create_parents=bool(create_parents),
        acl=[] if acl is None else acl_to_pb(acl),
    )


def put_request(
    path: str,
    data: object,
    *,
    expected_version: Optional[int] = None,
    create_if_missing: bool = False,
    prev_node: bool = False,
) -> kv_pb2.PutRequest:
    """A checked PutRequest."""
    check_path(path)
    request = kv_pb2.PutRequest(
        path=path,
        data=to_bytes(data),
        create_if_missing=bool(create_if_missing),
        prev_node=bool(prev_node),
    )
    if expected_version is not None:
        request.expected_version = check_int(expected_version, "expected_version")
    return request


def get_request(path: str, *, serializable: bool = False, stat_only: bool = False) -> kv_pb2.GetRequest:
    """A checked GetRequest."""
    check_path(path)
    return kv_pb2.GetRequest(path=path, consistency=consistency(serializable), stat_only=bool(stat_only))


def list_request(
    path: str,
    *,
    recursive: bool = False,
    with_data: bool = False,
    limit: int = 0,
    page_token: str = "",
    serializable: bool = False,
) -> kv_pb2.ListRequest:
    """A checked ListRequest."""
    check_path(path)
    check_int(limit, "limit")
    if not isinstance(page_token, str):
        raise TypeError(f"page_token: expected str, got {type(page_token).__name__}")
    return kv_pb2.ListRequest(
        path=path,
        recursive=bool(recursive),
        with_data=bool(with_data),
        limit=limit,
        page_token=page_token,
        consistency=consistency(serializable),
    )


def delete_request(
    path: str, *, expected_version: Optional[int] = None, recursive: bool = False
) -> kv_pb2.DeleteRequest:
    """A checked DeleteRequest."""
    check_path(path)
    request = kv_pb2.DeleteRequest(path=path, recursive=bool(recursive))
    if expected_version is not None:
        request.expected_version = check_int(expected_version, "expected_version")
    return request


def check_acl(acl: object, argument: str = "acl") -> List[AclEntry]:
    """``acl`` as a list of AclEntry (TypeError for anything else)."""
    if isinstance(acl, (AclEntry, str, bytes)) or not isinstance(acl, (list, tuple)):
        raise TypeError(f"{argument}: expected a list of corral.AclEntry, got {type(acl).__name__}")
    for entry in acl:
        if not isinstance(entry, AclEntry):
            raise TypeError(f"{argument}: expected corral.AclEntry items, got {type(entry).__name__}")
    return list(acl)


def acl_to_pb(acl: object) -> List[common_pb2.AclEntry]:
    """The generated AclEntry messages of a checked ACL (permissions in a fixed order)."""
    return [
        common_pb2.AclEntry(
            principal=e.principal,
            permissions=sorted(p.value for p in e.permissions),
        )
        for e in check_acl(acl)
    ]


def acl_from_pb(entries: Sequence[common_pb2.AclEntry]) -> List[AclEntry]:
    """The client's AclEntry list (permissions this client does not know are left out)."""
    known = {p.value for p in Permission}
    return [AclEntry(e.principal, frozenset(Permission(p) for p in e.permissions if p in known)) for e in entries]


def get_acl_request(path: str, *, serializable: bool = False) -> kv_pb2.GetAclRequest:
    """A checked GetAclRequest."""
    check_path(path)
    return kv_pb2.GetAclRequest(path=path, consistency=consistency(serializable))


def set_acl_request(
    path: str, acl: Sequence[AclEntry], *, expected_acl_version: Optional[int] = None
) -> kv_pb2.SetAclRequest:
    """A checked SetAclRequest."""
    check_path(path)
    request = kv_pb2.SetAclRequest(path=path, acl=acl_to_pb(acl))
    if not request.acl:
        raise InvalidArgument("acl: at least one entry is needed", argument="acl")
    if expected_acl_version is not None:
        request.expected_acl_version = check_int(expected_acl_version, "expected_acl_version")
    return request


def acl_result(pb: kv_pb2.GetAclResponse) -> AclResult:
    return AclResult(acl=acl_from_pb(pb.acl), stat=stat(pb.stat), header=header(pb.header))


def check_name(name: object, argument: str = "name") -> str:
    """A user or role name: a non-empty str (the server checks the characters)."""
    if not isinstance(name, str):
        raise TypeError(f"{argument}: expected str, got {type(name).__name__}")
    if not name:
        raise InvalidArgument(f"{argument}: must not be empty", argument=argument)
    return name


def check_password(password: object, argument: str = "password") -> str:
    """A password: a non-empty str (never echoed in the error)."""
    if not isinstance(password, str):
        raise TypeError(f"{argument}: expected str, got {type(password).__name__}")
    if not password:
        raise InvalidArgument(f"{argument}: must not be empty", argument=argument)
    return password


def auth_status(pb: auth_pb2.AuthStatusResponse) -> AuthStatus:
    return AuthStatus(
        enabled=pb.enabled,
        user=pb.user,
        roles=list(pb.roles),
        token_ttl=pb.token_ttl_ms / 1000,
        header=header(pb.header),
    )


def users(pb: auth_pb2.AuthUserListResponse) -> List[User]:
    return [User(name=u.name, roles=list(u.roles)) for u in pb.users]


# --- transactions -----------------------------------------------------------------

_RESULTS = {
    "==": kv_pb2.Compare.EQUAL,
    "!=": kv_pb2.Compare.NOT_EQUAL,
    ">": kv_pb2.Compare.GREATER,
    "<": kv_pb2.Compare.LESS,
}
_TARGETS = ("exists", "version", "mod_revision", "create_revision", "data", "num_children")


@dataclass(frozen=True)
class Compare:
    """A condition of a Txn: ``Compare("/a", "version", "==", 3)``; targets are
    exists, version, mod_revision, create_revision, data, num_children."""

    path: str
    target: str
    op: str
    value: Any

    def to_pb(self) -> kv_pb2.Compare:
        """The generated message (checked)."""
        check_path(self.path)
        if self.op not in _RESULTS:
            raise InvalidArgument(f"op must be one of == != > <, got {self.op!r}", argument="op")
        if self.target not in _TARGETS:
            raise InvalidArgument(
                f"target must be one of {', '.join(_TARGETS)}, got {self.target!r}", argument="target"
            )
        pb = kv_pb2.Compare(path=self.path, result=_RESULTS[self.op])
        if self.target == "exists":
            if not isinstance(self.value, bool):
                raise TypeError(f"value: expected bool for exists, got {type(self.value).__name__}")
            pb.exists = self.value
        elif self.target == "data":
            pb.data = to_bytes(self.value, "value")
        else:
            setattr(pb, self.target, check_int(self.value, "value", minimum=-(2**63)))
        return pb


@dataclass(frozen=True)
class Op:
    """One operation of a Txn; make it with ``Op.create``, ``Op.put``, ``Op.delete``,
    ``Op.get`` or ``Op.list`` (same arguments as the client's calls)."""

    kind: str
    message: Any = field(repr=False)

    @staticmethod
    def create(path: str, data: Data = b"", **options: Any) -> "Op":
        """A create in a Txn."""
        return Op("create", create_request(path, data, **options))

    @staticmethod
    def put(path: str, data: Data, **options: Any) -> "Op":
        """A put in a Txn."""
        return Op("put", put_request(path, data, **options))

    @staticmethod
    def delete(path: str, **options: Any) -> "Op":
        """A delete in a Txn."""
        return Op("delete", delete_request(path, **options))

    @staticmethod
    def get(path: str, **options: Any) -> "Op":
        """A get in a Txn (an absent znode gives None, not an error)."""
        return Op("get", get_request(path, **options))

    @staticmethod
    def list(path: str, **options: Any) -> "Op":
        """A list in a Txn (first page only)."""
        return Op("list", list_request(path, **options))

    def to_pb(self) -> kv_pb2.Op:
        """The generated message."""
        return kv_pb2.Op(**{self.kind: self.message})


def txn_request(compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]) -> kv_pb2.TxnRequest:
    """A checked TxnRequest."""
    for name, items, cls in (("compares", compares, Compare), ("success", success, Op), ("failure", failure, Op)):
        for item in items:
            if not isinstance(item, cls):
                raise TypeError(f"{name}: expected {cls.__name__} items, got {type(item).__name__}")
    return kv_pb2.TxnRequest(
        compares=[c.to_pb() for c in compares],
        success=[o.to_pb() for o in success],
        failure=[o.to_pb() for o in failure],
    )


# --- conversions ------------------------------------------------------------------


def header(pb: common_pb2.ResponseHeader) -> Header:
    """The client's Header."""
    return Header(pb.cluster_id, pb.member_id, pb.revision, pb.raft_term)


def stat(pb: common_pb2.Stat) -> Stat:
    """The client's Stat."""
    try:
        kind = NodeKind(pb.kind)
    except ValueError:
        kind = NodeKind.UNSPECIFIED
    return Stat(
        create_revision=pb.create_revision,
        mod_revision=pb.mod_revision,
        version=pb.version,
        children_version=pb.children_version,
        acl_version=pb.acl_version,
        children_revision=pb.children_revision,
        lease_id=pb.lease_id,
        data_length=pb.data_length,
        num_children=pb.num_children,
        ctime_ms=pb.ctime_ms,
        mtime_ms=pb.mtime_ms,
        kind=kind,
        ttl_ms=pb.ttl_ms,
    )


def node(pb: common_pb2.Node) -> Node:
    """The client's Node."""
    return Node(path=pb.path, data=bytes(pb.data), stat=stat(pb.stat))


def create_result(pb: kv_pb2.CreateResponse) -> CreateResult:
    return CreateResult(path=pb.path, stat=stat(pb.stat), header=header(pb.header))


def put_result(pb: kv_pb2.PutResponse) -> PutResult:
    prev = node(pb.prev_node) if pb.HasField("prev_node") else None
    return PutResult(stat=stat(pb.stat), header=header(pb.header), prev_node=prev)


def get_result(pb: kv_pb2.GetResponse) -> GetResult:
    return GetResult(node=node(pb.node), header=header(pb.header))


def list_result(pb: kv_pb2.ListResponse) -> ListResult:
    return ListResult(nodes=[node(n) for n in pb.nodes], header=header(pb.header), next_page_token=pb.next_page_token)


def delete_result(pb: kv_pb2.DeleteResponse) -> DeleteResult:
    return DeleteResult(deleted=pb.deleted, header=header(pb.header))


def op_result(pb: kv_pb2.OpResult) -> object:
    """One Txn op's result: CreateResult, PutResult, DeleteResult, Node (None if
    absent) or ListResult."""
    kind = pb.WhichOneof("result")
    if kind == "create":
        return create_result(pb.create)
    if kind == "put":
        return put_result(pb.put)
    if kind == "delete":
        return delete_result(pb.delete)
    if kind == "get":
        return node(pb.get.node) if pb.get.HasField("node") else None
    if kind == "list":
        return list_result(pb.list)
    return None


def event(pb: watch_pb2.Event) -> Event:
    """The client's Event."""
    return Event(
        type=EventType(pb.type),
        node=node(pb.node),
        revision=pb.revision,
        prev_node=node(pb.prev_node) if pb.HasField("prev_node") else None,
    )


def watch_create(
    path: str, scope: int, start_revision: int, prev_node: bool, filters: List[int], progress_notify: bool
) -> watch_pb2.WatchRequest:
    """The request that (re)opens a watch at ``start_revision``."""
    return watch_pb2.WatchRequest(
        create=watch_pb2.WatchCreateRequest(
            path=path,
            scope=scope,  # type: ignore[arg-type]
            start_revision=start_revision,
            prev_node=prev_node,
            filters=filters,  # type: ignore[arg-type]
            progress_notify=progress_notify,
        )
    )


# --- request ids ------------------------------------------------------------------


class Lanes:
    """Request ids for exactly-once writes, as the Rust client makes them.

    A write takes a *lane* (a client id of its own with a sequence counter) for its
    whole life, retries included, and gives it back when done; concurrent writes take
    different lanes. So each lane has at most one write in flight, and a retry always
    carries the newest sequence of its lane: the server, which keeps each client id's
    last results, cannot have forgotten it.
    """

    def __init__(self) -> None:
        self.prefix = f"py-{secrets.token_hex(8)}"
        self._free: List[Tuple[int, int]] = []
        self._made = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self) -> Tuple[int, int]:
        """An idle lane (or a new one) and its next sequence."""
        with self._lock:
            if self._free:
                lane, last = self._free.pop()
            else:
                lane, last = self._made, 0
                self._made += 1
        return lane, last + 1

    def give_back(self, lane: int, seq: int) -> None:
        """Returns a lane with the last sequence it used."""
        with self._lock:
            self._free.append((lane, seq))

    def request_id(self, lane: int, seq: int) -> str:
        """``<client-id>/<sequence>``."""
        return f"{self.prefix}-{lane}/{seq}"
