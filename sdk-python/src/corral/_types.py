"""Result types of the client: plain dataclasses, never generated messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import AbstractSet, Iterable, Iterator, List, Optional, Tuple, Union

from corral.v1 import common_pb2, election_pb2, watch_pb2


@dataclass(frozen=True)
class Header:
    """Who answered and at which revision (every response carries one)."""

    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0


class NodeKind(enum.Enum):
    """What kind of znode it is; fixed at creation."""

    UNSPECIFIED = common_pb2.NODE_KIND_UNSPECIFIED
    PERSISTENT = common_pb2.PERSISTENT
    EPHEMERAL = common_pb2.EPHEMERAL
    CONTAINER = common_pb2.CONTAINER
    TTL = common_pb2.TTL


@dataclass(frozen=True)
class Stat:
    """Metadata of a znode; field names as in the proto's ``Stat``."""

    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    children_version: int = 0
    acl_version: int = 0
    children_revision: int = 0
    lease_id: int = 0
    data_length: int = 0
    num_children: int = 0
    ctime_ms: int = 0
    mtime_ms: int = 0
    kind: NodeKind = NodeKind.UNSPECIFIED
    ttl_ms: int = 0

    @property
    def ephemeral(self) -> bool:
        """Whether the znode is bound to a lease."""
        return self.lease_id != 0


@dataclass(frozen=True)
class Node:
    """A znode: its path, data (bytes) and stat."""

    path: str
    data: bytes = b""
    stat: Stat = field(default_factory=Stat)

    @property
    def name(self) -> str:
        """The last segment of the path."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        """The data decoded as UTF-8."""
        return self.data.decode("utf-8")


@dataclass(frozen=True)
class CreateResult:
    """Result of a create: the actual path (differs for sequential znodes) and stat."""

    path: str
    stat: Stat
    header: Header


@dataclass(frozen=True)
class PutResult:
    """Result of a put: the stat after it, and the previous znode when asked."""

    stat: Stat
    header: Header
    prev_node: Optional[Node] = None


@dataclass(frozen=True)
class GetResult:
    """Result of a get with its header (``Client.get`` returns just the node)."""

    node: Node
    header: Header


@dataclass(frozen=True)
class ListResult:
    """One page (or, from ``list_all``, every page) of a listing."""

    nodes: List[Node]
    header: Header
    next_page_token: str = ""

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class DeleteResult:
    """Result of a delete: how many znodes went."""

    deleted: int
    header: Header


class EventType(enum.Enum):
    """Kind of change."""

    CREATED = watch_pb2.CREATED
    UPDATED = watch_pb2.UPDATED
    DELETED = watch_pb2.DELETED


@dataclass(frozen=True)
class Event:
    """One change to one znode; the events of one write share ``revision``."""

    type: EventType
    node: Node
    revision: int
    prev_node: Optional[Node] = None


@dataclass(frozen=True)
class WatchBatch:
    """The events of one revision, and the revision to resume from after them."""

    revision: int
    events: Tuple[Event, ...]

    @property
    def resume_revision(self) -> int:
        """The start_revision that continues after this batch."""
        return self.revision + 1


@dataclass(frozen=True)
class Lease:
    """A granted lease."""

    lease_id: int
    ttl: float
    header: Header


@dataclass(frozen=True)
class LeaseTimeToLive:
    """A lease's TTL, time left and (when asked) its znodes."""

    lease_id: int
    ttl: float
    remaining: float
    nodes: List[str]
    header: Header


@dataclass(frozen=True)
class LeaseStatus:
    """One lease in a listing."""

    lease_id: int
    ttl: float


@dataclass(frozen=True)
class LockResult:
    """A held lock: its key (the holder's znode) and fencing token."""

    name: str
    key: str
    fencing_token: int
    lease_id: int
    header: Header


@dataclass(frozen=True)
class LeaderKey:
    """The leader of an election."""

    name: str
    key: str
    value: bytes
    create_revision: int
    lease_id: int


@dataclass(frozen=True)
class Member:
    """One member of the cluster."""

    member_id: int
    peer_addr: str
    is_learner: bool


@dataclass(frozen=True)
class MemberList:
    """The members and the leader's id (0 if none is known)."""

    members: List[Member]
    leader_id: int
    header: Header


@dataclass(frozen=True)
class Status:
    """One member's view of the cluster."""

    member_id: int
    leader_id: int
    raft_term: int
    commit_index: int
    applied_index: int
    revision: int
    db_size_bytes: int
    version: str
    last_log_index: int
    is_learner: bool
    snapshot_index: int
    snapshot_installs: int
    header: Header


@dataclass(frozen=True)
class TxnResult:
    """Result of a Txn: whether the success branch ran, and one result per op."""

    succeeded: bool
    results: List[object]
    header: Header


@dataclass(frozen=True)
class SnapshotResult:
    """A backup written to a file: its size and the revision it holds."""

    path: str
    size: int
    revision: int


class Permission(enum.Enum):
    """What a principal may do to a znode (ZooKeeper's cdrwa)."""

    #: Read the znode's data and stat, list its children, watch it.
    READ = common_pb2.READ
    #: Set the znode's data.
    WRITE = common_pb2.WRITE
    #: Create children of the znode.
    CREATE = common_pb2.CREATE
    #: Delete children of the znode.
    DELETE = common_pb2.DELETE
    #: Read and change the znode's ACL.
    ADMIN = common_pb2.ADMIN

    @classmethod
    def parse(cls, value: Union["Permission", str]) -> "Permission":
        """A Permission from itself or its name in any case (``"read"``)."""
        if isinstance(value, Permission):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        raise ValueError(f"{value!r} is not a permission (read, write, create, delete, admin)")


#: Every permission: what ``root`` and a new cluster's ``/`` (``anyone``) have.
ALL_PERMISSIONS: "frozenset[Permission]" = frozenset(Permission)

#: The principal every caller matches, even one without credentials.
ANYONE = "anyone"
#: The principal every caller with valid credentials matches.
AUTHENTICATED = "authenticated"

PermissionsLike = Union[Iterable[Union[Permission, str]], Permission, str]


@dataclass(frozen=True)
class AclEntry:
    """One entry of a znode's ACL: who (``principal``) may do what (``permissions``).

    ``principal`` is ``"user:NAME"``, ``"role:NAME"``, ``"authenticated"`` or
    ``"anyone"``; ``permissions`` a set of :class:`Permission` (names such as
    ``"read"`` are accepted too)::

        AclEntry("user:bob", {Permission.READ, Permission.WRITE})
        AclEntry.role("team-a", "read")
    """

    principal: str
    permissions: AbstractSet[Permission]

    def __post_init__(self) -> None:
        if not isinstance(self.principal, str) or not self.principal:
            raise TypeError(f"principal: expected a non-empty str, got {self.principal!r}")
        perms = self.permissions
        items: Iterable[Union[Permission, str]] = [perms] if isinstance(perms, (Permission, str)) else perms
        # Frozen, so hashable and comparable whatever set type the caller gave.
        object.__setattr__(self, "permissions", frozenset(Permission.parse(p) for p in items))

    @classmethod
    def user(cls, name: str, permissions: PermissionsLike = ALL_PERMISSIONS) -> "AclEntry":
        """An entry for the user ``name``."""
        return cls(f"user:{name}", permissions)  # type: ignore[arg-type]

    @classmethod
    def role(cls, name: str, permissions: PermissionsLike = ALL_PERMISSIONS) -> "AclEntry":
        """An entry for every user with the role ``name``."""
        return cls(f"role:{name}", permissions)  # type: ignore[arg-type]

    @classmethod
    def anyone(cls, permissions: PermissionsLike = ALL_PERMISSIONS) -> "AclEntry":
        """An entry for every caller, even without credentials."""
        return cls(ANYONE, permissions)  # type: ignore[arg-type]

    @classmethod
    def authenticated(cls, permissions: PermissionsLike = ALL_PERMISSIONS) -> "AclEntry":
        """An entry for every caller with valid credentials."""
        return cls(AUTHENTICATED, permissions)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AclResult:
    """A znode's ACL and stat (``stat.acl_version`` is what ``set_acl``'s
    ``expected_acl_version`` compares with)."""

    acl: List[AclEntry]
    stat: Stat
    header: Header

    @property
    def version(self) -> int:
        """The ACL's version: ``stat.acl_version``."""
        return self.stat.acl_version


@dataclass(frozen=True)
class SetAclResult:
    """Result of ``set_acl``: the znode's stat after it (``acl_version`` incremented)."""

    stat: Stat
    header: Header


@dataclass(frozen=True)
class AuthStatus:
    """Whether auth is enabled, and who the answering member takes the caller to be."""

    enabled: bool
    #: The caller's user name; "" when anonymous (always while auth is off).
    user: str
    roles: List[str]
    #: Lifetime of the tokens the member issues, seconds.
    token_ttl: float
    header: Header


@dataclass(frozen=True)
class User:
    """A user and their roles (in name order)."""

    name: str
    roles: List[str]


@dataclass(frozen=True)
class Token:
    """A token from ``auth.authenticate``: send it as ``token=`` to another client. The
    token is left out of ``repr`` so it does not end up in logs."""

    token: str = field(repr=False)
    #: Seconds it stays valid, from when it was issued.
    ttl: float
    header: Header


def leader_key(pb: election_pb2.LeaderKey) -> LeaderKey:
    """The client's type for a generated LeaderKey."""
    return LeaderKey(
        name=pb.name,
        key=pb.key,
        value=pb.value,
        create_revision=pb.create_revision,
        lease_id=pb.lease_id,
    )
