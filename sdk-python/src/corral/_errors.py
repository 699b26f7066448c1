"""The typed errors of the client and the one table that maps a failed call to them.

The server puts a ``google.rpc.ErrorInfo`` (domain ``corral.v1``) in every error status;
its ``reason`` is an ``ErrorReason`` value name and its metadata keys are
``ErrorMetadataKey`` value names in lower case (proto/corral/v1/common.proto). The table
below is built from those generated enums, so it cannot drift from the protos; message
text is never parsed.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple, Type

import grpc
from google.rpc import error_details_pb2, status_pb2

from corral.v1 import common_pb2

#: ``ErrorInfo.domain`` of the server's errors: the proto package's name.
ERROR_DOMAIN = common_pb2.DESCRIPTOR.package

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


def metadata_key(key: "common_pb2.ErrorMetadataKey.ValueType") -> str:
    """The ``ErrorInfo.metadata`` key of an ``ErrorMetadataKey`` value (PATH -> "path")."""
    return common_pb2.ErrorMetadataKey.Name(key).lower()


def header_name(header: "common_pb2.MetadataHeader.ValueType") -> str:
    """The gRPC metadata name of a ``MetadataHeader`` value (CORRAL_REQUEST_ID -> "corral-request-id")."""
    return common_pb2.MetadataHeader.Name(header).lower().replace("_", "-")


#: Metadata header carrying a write's request id, ``<client-id>/<sequence>``.
REQUEST_ID_HEADER = header_name(common_pb2.CORRAL_REQUEST_ID)

_K_PATH = metadata_key(common_pb2.PATH)
_K_PARENT = metadata_key(common_pb2.PARENT)
_K_LEASE_ID = metadata_key(common_pb2.LEASE_ID)
_K_MEMBER_ID = metadata_key(common_pb2.MEMBER_ID)
_K_NAME = metadata_key(common_pb2.NAME)
_K_EXPECTED = metadata_key(common_pb2.EXPECTED_VERSION)
_K_CURRENT = metadata_key(common_pb2.CURRENT_VERSION)
_K_NUM_CHILDREN = metadata_key(common_pb2.NUM_CHILDREN)
_K_LEADER_ID = metadata_key(common_pb2.LEADER_ID)
_K_LEADER_ADDR = metadata_key(common_pb2.LEADER_ADDR)
_K_SIZE = metadata_key(common_pb2.SIZE)
_K_LIMIT = metadata_key(common_pb2.LIMIT)
_K_PERMISSION = metadata_key(common_pb2.PERMISSION)
_K_USER = metadata_key(common_pb2.USER)
_K_ROLE = metadata_key(common_pb2.ROLE)

#: gRPC metadata header carrying the caller's token: ``authorization: Bearer <token>``.
AUTHORIZATION_HEADER = header_name(common_pb2.AUTHORIZATION)


class CorralError(Exception):
    """Base of every error the client raises.

    ``code`` is the gRPC status code (``None`` for errors raised by the client itself),
    ``reason`` the server's ``ErrorInfo.reason`` (e.g. ``"VERSION_MISMATCH"``) if it
    gave one, ``metadata`` its ``ErrorInfo.metadata``, ``message`` the explanation.
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        reason: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata: Dict[str, str] = dict(metadata or {})

    def _text(self, key: str) -> Optional[str]:
        return self.metadata.get(key)

    def _number(self, key: str) -> Optional[int]:
        value = self.metadata.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    @property
    def path(self) -> Optional[str]:
        """The znode path concerned, when known."""
        return self._text(_K_PATH)

    @property
    def outcome_unknown(self) -> bool:
        """Whether a write that failed so may nevertheless have been applied."""
        return False

    @property
    def is_transient(self) -> bool:
        """Whether the same call may succeed later, possibly on another member."""
        return False


class InvalidArgument(CorralError, ValueError):
    """The request is invalid; nothing was changed.

    ``reason`` is ``"INVALID_PATH"``, ``"DATA_TOO_LARGE"`` or ``"INVALID_ARGUMENT"``;
    ``argument`` names the argument when the client itself refused it.
    """

    def __init__(self, message: str, *, argument: Optional[str] = None, **kw: object) -> None:
        kw.setdefault("reason", common_pb2.ErrorReason.Name(common_pb2.INVALID_ARGUMENT))
        kw.setdefault("code", grpc.StatusCode.INVALID_ARGUMENT)
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.argument = argument

    @property
    def size(self) -> Optional[int]:
        """For DATA_TOO_LARGE: the size of the data sent."""
        return self._number(_K_SIZE)

    @property
    def limit(self) -> Optional[int]:
        """For DATA_TOO_LARGE: the server's limit."""
        return self._number(_K_LIMIT)


class NotFound(CorralError, LookupError):
    """The znode does not exist (``NODE_NOT_FOUND``), or another NOT_FOUND."""


class ParentNotFound(NotFound):
    """The parent of the znode to create does not exist (``PARENT_NOT_FOUND``)."""

    @property
    def parent(self) -> Optional[str]:
        """The missing parent."""
        return self._text(_K_PARENT)


class LeaseNotFound(NotFound):
    """The lease does not exist or has ended (``LEASE_NOT_FOUND``)."""

    @property
    def lease_id(self) -> Optional[int]:
        """The lease, if the server named it."""
        return self._number(_K_LEASE_ID)


class MemberNotFound(NotFound):
    """No member with that id (``MEMBER_NOT_FOUND``)."""

    @property
    def member_id(self) -> Optional[int]:
        """The member id asked for."""
        return self._number(_K_MEMBER_ID)


class NoLeader(NotFound):
    """The election has no leader (``NO_LEADER``)."""

    @property
    def name(self) -> Optional[str]:
        """The election's name."""
        return self._text(_K_NAME)


class AlreadyExists(CorralError):
    """A znode already exists at the path (``NODE_EXISTS``)."""


class LeaseExists(AlreadyExists):
    """A lease with the requested id already exists (``LEASE_EXISTS``)."""


class FailedPrecondition(CorralError):
    """The request was valid but the state did not allow it."""


class VersionMismatch(FailedPrecondition):
    """``expected_version`` did not match (``VERSION_MISMATCH``); nothing changed."""

    @property
    def expected(self) -> Optional[int]:
        """The version the request expected."""
        return self._number(_K_EXPECTED)

    @property
    def current(self) -> Optional[int]:
        """The znode's version at the time."""
        return self._number(_K_CURRENT)


class NotEmpty(FailedPrecondition):
    """A non-recursive delete of a znode with children (``NOT_EMPTY``)."""

    @property
    def num_children(self) -> Optional[int]:
        """How many children it had."""
        return self._number(_K_NUM_CHILDREN)


class EphemeralParent(FailedPrecondition):
    """Ephemeral znodes cannot have children (``EPHEMERAL_PARENT``)."""


class MembershipError(FailedPrecondition):
    """The membership change is not allowed now (``MEMBERSHIP``)."""


class RequestTooOld(FailedPrecondition):
    """A retried write's request id is older than the results kept (``REQUEST_TOO_OLD``):
    its outcome can no longer be told."""

    @property
    def outcome_unknown(self) -> bool:
        return True


class NotElectionLeader(FailedPrecondition):
    """The key no longer leads its election (``NOT_ELECTION_LEADER``)."""


class EntryGone(FailedPrecondition):
    """The caller's queue entry disappeared while it waited (``ENTRY_GONE``)."""


class NotQueueEntry(FailedPrecondition):
    """Unlock, Resign or Proclaim named a key that is not a queue entry (``NOT_QUEUE_ENTRY``)."""


class NotEntryOwner(FailedPrecondition):
    """The queue entry is held by another lease (``NOT_ENTRY_OWNER``)."""


class Unavailable(CorralError):
    """The member cannot serve the request now (no leader, not leader, shutting down,
    unreachable); it was not applied unless ``outcome_unknown``."""

    @property
    def leader_id(self) -> Optional[int]:
        """Raft id of the leader, if the member knows it (``NOT_LEADER``)."""
        return self._number(_K_LEADER_ID)

    @property
    def leader_addr(self) -> Optional[str]:
        """Client address of the leader, if the member knows it (``NOT_LEADER``)."""
        return self._text(_K_LEADER_ADDR) or None

    @property
    def is_transient(self) -> bool:
        return True


class TransportError(Unavailable):
    """The client could not reach a member, or the connection broke during the call."""

    @property
    def outcome_unknown(self) -> bool:
        return True


class OutcomeUnknown(CorralError):
    """The write may or may not have been applied (``OUTCOME_UNKNOWN``); what is left
    when retrying with the same request id could not settle it."""

    @property
    def outcome_unknown(self) -> bool:
        return True

    @property
    def is_transient(self) -> bool:
        return True


class DeadlineExceeded(CorralError, TimeoutError):
    """The call did not finish within its deadline (``TIMEOUT``, or the client's own)."""

    @property
    def outcome_unknown(self) -> bool:
        return True


class WaitTimeout(DeadlineExceeded):
    """A lock or campaign gave up waiting (``WAIT_TIMEOUT``); it left no queue entry."""

    @property
    def outcome_unknown(self) -> bool:
        return False


class Compacted(CorralError):
    """A watch's start revision is no longer in the history."""

    def __init__(self, message: str, *, compact_revision: int, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.compact_revision = compact_revision

    @property
    def oldest_revision(self) -> int:
        """The oldest revision a watch can start from now."""
        return self.compact_revision + 1


class AclVersionMismatch(FailedPrecondition):
    """``expected_acl_version`` did not match the znode's ``acl_version``
    (``ACL_VERSION_MISMATCH``); the ACL was not changed."""

    @property
    def expected(self) -> Optional[int]:
        """The acl_version the request expected."""
        return self._number(_K_EXPECTED)

    @property
    def current(self) -> Optional[int]:
        """The znode's acl_version at the time."""
        return self._number(_K_CURRENT)


class RootRequired(FailedPrecondition):
    """Auth needs the user ``root`` (``ROOT_REQUIRED``): enabling auth is refused until
    root exists, and root cannot be deleted while auth is enabled."""


class UserNotFound(NotFound):
    """No user with that name (``USER_NOT_FOUND``)."""

    @property
    def user(self) -> Optional[str]:
        """The user name asked for."""
        return self._text(_K_USER)


class RoleNotFound(NotFound):
    """No role with that name (``ROLE_NOT_FOUND``)."""

    @property
    def role(self) -> Optional[str]:
        """The role name asked for."""
        return self._text(_K_ROLE)


class UserExists(AlreadyExists):
    """A user with that name already exists (``USER_EXISTS``)."""

    @property
    def user(self) -> Optional[str]:
        """The user name."""
        return self._text(_K_USER)


class RoleExists(AlreadyExists):
    """A role with that name already exists (``ROLE_EXISTS``)."""

    @property
    def role(self) -> Optional[str]:
        """The role name."""
        return self._text(_K_ROLE)


class PermissionDenied(CorralError):
    """The caller may not do this (``PERMISSION_DENIED``); nothing was changed.

    ``path`` is the znode the permission was needed on (None for calls that need the
    root user), ``permission`` its name (``"read"``, ``"write"``, ``"create"``,
    ``"delete"``, ``"admin"``; ``"root"`` for a call only root may make, ``"lease"`` for
    another user's lease), ``user`` the caller as the server saw it.
    Also available as ``corral.PermissionDeniedError``."""

    @property
    def path(self) -> Optional[str]:
        """The znode concerned; None when the call needs the root user."""
        return self._text(_K_PATH) or None

    @property
    def permission(self) -> Optional[str]:
        """The permission that was missing, in lower case."""
        return self._text(_K_PERMISSION)

    @property
    def user(self) -> Optional[str]:
        """The caller's user name."""
        return self._text(_K_USER)


class Unauthenticated(CorralError):
    """The call carried no valid credentials (``UNAUTHENTICATED``); nothing was changed.

    ``reason`` says why: ``AUTH_REQUIRED`` (no credentials while auth is enabled),
    ``INVALID_TOKEN``, ``TOKEN_EXPIRED``, ``TOKEN_REVOKED`` (the user was deleted or
    changed password) or ``BAD_CREDENTIALS`` (wrong user name or password). A client
    made with ``credentials=`` re-authenticates once by itself on the token reasons, so
    it raises this only when that did not help. Also available as
    ``corral.UnauthenticatedError``."""

    @property
    def user(self) -> Optional[str]:
        """The user concerned, when the server named one."""
        return self._text(_K_USER)


#: The names the auth documentation uses for the two auth errors.
PermissionDeniedError = PermissionDenied
UnauthenticatedError = Unauthenticated


class ResourceExhausted(CorralError):
    """A limit was reached (``RESOURCE_EXHAUSTED``)."""


class Unsupported(CorralError):
    """The server does not implement the call (``UNIMPLEMENTED``)."""


class InternalError(CorralError):
    """A failure inside the server (``INTERNAL``): retrying will not help."""


class Cancelled(CorralError):
    """The call was cancelled by the client (e.g. a closed watch or client)."""


class SessionLost(CorralError):
    """The session's lease ended (or may have): what was bound to it is gone."""


class ClientClosed(CorralError):
    """The client was closed, or is used in a process it was not made in (after
    ``os.fork()``, make a new client in the child)."""


_R = common_pb2

#: ErrorReason value -> error class. Built from the generated enum: every value of
#: ``ErrorReason`` must appear (a test checks it), so a new reason cannot go unmapped.
REASON_ERRORS: Dict["common_pb2.ErrorReason.ValueType", Type[CorralError]] = {
    _R.ERROR_REASON_UNSPECIFIED: CorralError,
    _R.INVALID_PATH: InvalidArgument,
    _R.INVALID_ARGUMENT: InvalidArgument,
    _R.DATA_TOO_LARGE: InvalidArgument,
    _R.NODE_NOT_FOUND: NotFound,
    _R.PARENT_NOT_FOUND: ParentNotFound,
    _R.LEASE_NOT_FOUND: LeaseNotFound,
    _R.MEMBER_NOT_FOUND: MemberNotFound,
    _R.NO_LEADER: NoLeader,
    _R.NODE_EXISTS: AlreadyExists,
    _R.LEASE_EXISTS: LeaseExists,
    _R.VERSION_MISMATCH: VersionMismatch,
    _R.NOT_EMPTY: NotEmpty,
    _R.EPHEMERAL_PARENT: EphemeralParent,
    _R.MEMBERSHIP: MembershipError,
    _R.REQUEST_TOO_OLD: RequestTooOld,
    _R.NOT_ELECTION_LEADER: NotElectionLeader,
    _R.ENTRY_GONE: EntryGone,
    _R.NOT_QUEUE_ENTRY: NotQueueEntry,
    _R.NOT_ENTRY_OWNER: NotEntryOwner,
    _R.NOT_LEADER: Unavailable,
    _R.UNAVAILABLE: Unavailable,
    _R.OUTCOME_UNKNOWN: OutcomeUnknown,
    _R.TIMEOUT: DeadlineExceeded,
    _R.WAIT_TIMEOUT: WaitTimeout,
    _R.INTERNAL: InternalError,
    _R.AUTH_REQUIRED: Unauthenticated,
    _R.INVALID_TOKEN: Unauthenticated,
    _R.TOKEN_EXPIRED: Unauthenticated,
    _R.TOKEN_REVOKED: Unauthenticated,
    _R.BAD_CREDENTIALS: Unauthenticated,
    _R.PERMISSION_DENIED: PermissionDenied,
    _R.ACL_VERSION_MISMATCH: AclVersionMismatch,
    _R.USER_NOT_FOUND: UserNotFound,
    _R.USER_EXISTS: UserExists,
    _R.ROLE_NOT_FOUND: RoleNotFound,
    _R.ROLE_EXISTS: RoleExists,
    _R.ROOT_REQUIRED: RootRequired,
}

#: UNAUTHENTICATED reasons that a new token cures: a client holding a user name and
#: password authenticates again (once) and repeats the call. AUTH_REQUIRED is among
#: them because such a client sends no token only while the cluster has auth off.
TOKEN_REASONS = frozenset(
    common_pb2.ErrorReason.Name(r) for r in (_R.INVALID_TOKEN, _R.TOKEN_EXPIRED, _R.TOKEN_REVOKED, _R.AUTH_REQUIRED)
)


def token_refused(error: CorralError) -> bool:
    """Whether ``error`` says the call's token was refused (invalid, expired, revoked)
    or missing, so that authenticating again may help."""
    return isinstance(error, Unauthenticated) and error.reason in TOKEN_REASONS


_BY_REASON_NAME: Dict[str, Type[CorralError]] = {
    common_pb2.ErrorReason.Name(value): cls for value, cls in REASON_ERRORS.items()
}

#: Status code -> error class, for statuses without a usable ErrorInfo.
CODE_ERRORS: Dict[grpc.StatusCode, Type[CorralError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: TransportError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNIMPLEMENTED: Unsupported,
    grpc.StatusCode.INTERNAL: InternalError,
}


def error_info(
    trailing: Optional[Sequence[Tuple[str, object]]],
) -> Optional[error_details_pb2.ErrorInfo]:
    """The corral ``ErrorInfo`` in a status's trailing metadata, if there is one."""
    for key, value in trailing or ():
        if key != _STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # noqa: BLE001 - undecodable details are ignored, not fatal
            return None
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == ERROR_DOMAIN:
                return info
    return None


def from_status(
    code: grpc.StatusCode,
    details: Optional[str],
    trailing: Optional[Sequence[Tuple[str, object]]],
    path: Optional[str] = None,
) -> CorralError:
    """The typed error for a failed call: by the ErrorInfo's reason when the server
    gave one, else by status code. A status without ErrorInfo was raised by the
    client's own gRPC stack (connection failure, deadline) or by something between."""
    message = details or code.name
    info = error_info(trailing)
    metadata: Dict[str, str] = {}
    if path:
        metadata[_K_PATH] = path
    if info is not None:
        metadata.update(info.metadata)
        cls = _BY_REASON_NAME.get(info.reason)
        if cls is None or cls is CorralError:
            cls = CODE_ERRORS.get(code, CorralError)
            if cls is TransportError:
                cls = Unavailable
        return cls(message, code=code, reason=info.reason, metadata=metadata)
    cls = CODE_ERRORS.get(code, CorralError)
    return cls(message, code=code, reason=None, metadata=metadata)


def from_rpc_error(error: grpc.RpcError, path: Optional[str] = None) -> CorralError:
    """The typed error for a ``grpc.RpcError`` (sync or aio)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return from_status(code, details, trailing, path)


def never_sent(error: CorralError) -> bool:
    """Whether a transport failure happened before the request left the client (no
    connection could be made), so that even a write without a request id may be
    sent again. gRPC gives no structured flag for this; its connection-failure status
    is the only signal (the client's own stack, not the server's text)."""
    if not isinstance(error, TransportError):
        return False
    text = error.message.lower()
    return "failed to connect" in text or "connection refused" in text
