"""The error table: every ErrorReason of the protos maps to a typed error, and statuses
are mapped from the server's ErrorInfo (never from message text)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import corral
from corral._errors import REASON_ERRORS, from_status, header_name, metadata_key
from corral.v1 import common_pb2


def trailing(reason: int, **metadata: str) -> list:
    info = error_details_pb2.ErrorInfo(
        reason=common_pb2.ErrorReason.Name(reason), domain="corral.v1", metadata=metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return [("grpc-status-details-bin", status_pb2.Status(code=1, details=[detail]).SerializeToString())]


def test_every_error_reason_has_a_typed_error() -> None:
    assert set(REASON_ERRORS) == set(common_pb2.ErrorReason.values())


def test_metadata_keys_and_headers_come_from_the_generated_enums() -> None:
    assert metadata_key(common_pb2.CURRENT_VERSION) == "current_version"
    assert header_name(common_pb2.CORRAL_REQUEST_ID) == "corral-request-id"


def test_version_mismatch_carries_current_and_expected() -> None:
    err = from_status(
        grpc.StatusCode.FAILED_PRECONDITION,
        "some text the client must not parse",
        trailing(common_pb2.VERSION_MISMATCH, path="/a", expected_version="3", current_version="7"),
    )
    assert isinstance(err, corral.VersionMismatch)
    assert (err.path, err.expected, err.current) == ("/a", 3, 7)


def test_reason_wins_over_code_and_text() -> None:
    err = from_status(grpc.StatusCode.NOT_FOUND, "not found", trailing(common_pb2.LEASE_NOT_FOUND, lease_id="9"))
    assert isinstance(err, corral.LeaseNotFound) and err.lease_id == 9
    err = from_status(grpc.StatusCode.UNAVAILABLE, "x", trailing(common_pb2.OUTCOME_UNKNOWN))
    assert isinstance(err, corral.OutcomeUnknown) and err.outcome_unknown
    err = from_status(
        grpc.StatusCode.UNAVAILABLE, "x", trailing(common_pb2.NOT_LEADER, leader_id="2", leader_addr="h:1")
    )
    assert isinstance(err, corral.Unavailable) and (err.leader_id, err.leader_addr) == (2, "h:1")
    err = from_status(grpc.StatusCode.INVALID_ARGUMENT, "x", trailing(common_pb2.DATA_TOO_LARGE, size="9", limit="1"))
    assert isinstance(err, corral.InvalidArgument) and err.reason == "DATA_TOO_LARGE" and err.size == 9


def test_statuses_without_error_info_map_by_code() -> None:
    assert isinstance(from_status(grpc.StatusCode.UNAVAILABLE, "failed to connect", None), corral.TransportError)
    assert isinstance(from_status(grpc.StatusCode.DEADLINE_EXCEEDED, "x", None), corral.DeadlineExceeded)
    assert isinstance(from_status(grpc.StatusCode.PERMISSION_DENIED, "x", None), corral.PermissionDenied)
    assert isinstance(from_status(grpc.StatusCode.UNAUTHENTICATED, "x", None), corral.Unauthenticated)
    err = from_status(grpc.StatusCode.FAILED_PRECONDITION, "x", trailing(common_pb2.ERROR_REASON_UNSPECIFIED))
    assert type(err) is corral.FailedPrecondition
