"""Pure unit tests: endpoints, path rules, argument checks, the retry policy."""

from __future__ import annotations

import grpc
import pytest

import corral
from corral import _requests as rq
from corral._errors import from_status
from corral._retry import BACKOFF_FIRST, BACKOFF_MAX, Backoff, Retry, again, reopens


def test_endpoints_from_a_list_or_a_comma_separated_string() -> None:
    assert rq.parse_endpoints("a:1, b:2,") == ["a:1", "b:2"]
    assert rq.parse_endpoints(["http://a:1", "b"]) == ["a:1", "b:2479"]
    with pytest.raises(corral.InvalidArgument):
        rq.parse_endpoints("")
    with pytest.raises(TypeError):
        rq.parse_endpoints(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/", "/a", "/a/b-0000000001", "/ünï/cödé"])
def test_valid_paths(path: str) -> None:
    assert rq.check_path(path) == path


@pytest.mark.parametrize("path", ["", "a", "/a/", "//a", "/a//b", "/./a", "/a/..", "/a\x00b", "/" + "x" * 256])
def test_invalid_paths_name_the_argument(path: str) -> None:
    with pytest.raises(corral.InvalidArgument) as e:
        rq.check_path(path, "key")
    assert e.value.argument == "key" and e.value.reason == "INVALID_PATH"


def test_data_is_bytes_or_utf8_str() -> None:
    assert rq.to_bytes("é") == "é".encode()
    assert rq.to_bytes(bytearray(b"x")) == b"x"
    with pytest.raises(TypeError, match="data"):
        rq.to_bytes(1.5)


def test_durations_and_ints_are_checked() -> None:
    assert rq.seconds_to_ms(1.5, "ttl", 1) == 1500
    with pytest.raises(corral.InvalidArgument, match="ttl"):
        rq.seconds_to_ms(-1, "ttl")
    with pytest.raises(TypeError, match="ttl"):
        rq.seconds_to_ms("10", "ttl")
    with pytest.raises(TypeError, match="lease_id"):
        rq.check_int(True, "lease_id")
    with pytest.raises(corral.InvalidArgument, match="scope"):
        rq.check_scope("everything")
    with pytest.raises(corral.InvalidArgument, match="exclude"):
        rq.check_event_types(["renamed"])


def test_retry_policy_follows_the_rust_client() -> None:
    transport = from_status(grpc.StatusCode.UNAVAILABLE, "connection reset", None)
    refused = from_status(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", None)
    deadline = from_status(grpc.StatusCode.DEADLINE_EXCEEDED, "x", None)
    missing = from_status(grpc.StatusCode.NOT_FOUND, "x", None)
    assert again(transport, Retry.SAFE) and again(transport, Retry.WITH_REQUEST_ID)
    assert not again(transport, Retry.UNSAFE) and again(refused, Retry.UNSAFE)
    assert not again(deadline, Retry.SAFE) and not again(missing, Retry.SAFE)
    unknown = corral.OutcomeUnknown("x", reason="OUTCOME_UNKNOWN")
    assert again(unknown, Retry.WITH_REQUEST_ID) and not again(unknown, Retry.UNSAFE)
    assert again(corral.Unavailable("x", reason="NOT_LEADER"), Retry.UNSAFE)
    assert reopens(transport) and reopens(deadline) and not reopens(missing)
    assert not reopens(corral.Compacted("x", compact_revision=3))


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    b = Backoff()
    steps = [b.step() for _ in range(8)]
    assert steps[0] == BACKOFF_FIRST and steps[1] == 2 * BACKOFF_FIRST and steps[-1] == BACKOFF_MAX
    b.reset()
    assert b.current == BACKOFF_FIRST


def test_request_ids_use_one_lane_per_concurrent_write() -> None:
    lanes = rq.Lanes()
    a, b = lanes.take(), lanes.take()
    assert a != b and lanes.request_id(*a).startswith(lanes.prefix + "-")
    lanes.give_back(*a)
    lane, seq = lanes.take()
    assert (lane, seq) == (a[0], a[1] + 1)
