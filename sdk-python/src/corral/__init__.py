"""Corral's Python client: ``corral.Client`` (sync) and ``corral.aio.Client`` (asyncio).

>>> import corral
>>> with corral.Client("127.0.0.1:2479") as client:          # doctest: +SKIP
...     client.create("/app", b"hello")
...     print(client.get("/app").data)
"""

from corral._client import DEFAULT, Client
from corral._errors import (
    AlreadyExists,
    Cancelled,
    ClientClosed,
    Compacted,
    CorralError,
    DeadlineExceeded,
    EntryGone,
    EphemeralParent,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    LeaseExists,
    LeaseNotFound,
    MemberNotFound,
    MembershipError,
    NoLeader,
    NotElectionLeader,
    NotEmpty,
    NotEntryOwner,
    NotFound,
    NotQueueEntry,
    OutcomeUnknown,
    ParentNotFound,
    PermissionDenied,
    RequestTooOld,
    ResourceExhausted,
    SessionLost,
    TransportError,
    Unauthenticated,
    Unavailable,
    Unsupported,
    VersionMismatch,
    WaitTimeout,
)
from corral._requests import Compare, Op
from corral._session import Session, SessionState
from corral._types import (
    CreateResult,
    DeleteResult,
    Event,
    EventType,
    GetResult,
    Header,
    LeaderKey,
    Lease,
    LeaseStatus,
    LeaseTimeToLive,
    ListResult,
    LockResult,
    Member,
    MemberList,
    Node,
    NodeKind,
    PutResult,
    SnapshotResult,
    Stat,
    Status,
    TxnResult,
    WatchBatch,
)
from corral._watch import ChildrenWatch, DataWatch, Watcher, watch_once

from corral import aio, recipes  # noqa: E402  (submodules, after the names they use)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT", "Client", "AlreadyExists", "Cancelled", "ClientClosed", "Compacted", "CorralError",
    "DeadlineExceeded", "EntryGone", "EphemeralParent", "FailedPrecondition", "InternalError",
    "InvalidArgument", "LeaseExists", "LeaseNotFound", "MemberNotFound", "MembershipError",
    "NoLeader", "NotElectionLeader", "NotEmpty", "NotEntryOwner", "NotFound", "NotQueueEntry",
    "OutcomeUnknown", "ParentNotFound", "PermissionDenied", "RequestTooOld", "ResourceExhausted",
    "SessionLost", "TransportError", "Unauthenticated", "Unavailable", "Unsupported",
    "VersionMismatch", "WaitTimeout", "Compare", "Op", "Session", "SessionState", "CreateResult",
    "DeleteResult", "Event", "EventType", "GetResult", "Header", "LeaderKey", "Lease",
    "LeaseStatus", "LeaseTimeToLive", "ListResult", "LockResult", "Member", "MemberList", "Node",
    "NodeKind", "PutResult", "SnapshotResult", "Stat", "Status", "TxnResult", "WatchBatch",
    "ChildrenWatch", "DataWatch", "Watcher", "watch_once", "aio", "recipes",
]
