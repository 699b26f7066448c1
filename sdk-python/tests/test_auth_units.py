"""Auth pieces that need no server: the token's books, the retry after a refused token,
sharing one Authenticate, ACL types, TLS options and the auth error table."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any, List, Optional, Tuple

import grpc
import pytest
from test_errors import trailing

import corral
import corral.aio
from corral._auth import REFRESH_AT, TokenState, auth_metadata
from corral._client import channel_factory
from corral._errors import from_status
from corral._requests import acl_from_pb, acl_to_pb, set_acl_request
from corral._retry import CallAttempts, Retry
from corral.v1 import common_pb2

# Nothing listens there: the clients below never reach a server.
NOWHERE = "127.0.0.1:1"


def refusal(reason: int, **metadata: str) -> corral.CorralError:
    return from_status(grpc.StatusCode.UNAUTHENTICATED, "refused", trailing(reason, **metadata))


# --- TokenState -----------------------------------------------------------------


def test_token_is_due_for_refresh_after_80_percent_of_its_life() -> None:
    tokens = TokenState(("u", "p"), None)
    assert tokens.current(0.0) == (None, True)
    tokens.issued("t1", 10_000, sent_at=100.0)
    assert tokens.current(100.0 + 10 * REFRESH_AT - 0.01) == (("t1", 1), False)
    assert tokens.current(100.0 + 10 * REFRESH_AT) == (("t1", 1), True)
    # Expired: not sent any more.
    assert tokens.current(110.0) == (None, True)


def test_a_refusal_drops_only_the_token_it_concerns() -> None:
    tokens = TokenState(("u", "p"), None)
    tokens.issued("t1", 60_000, 0.0)
    tokens.issued("t2", 60_000, 0.0)
    tokens.invalidate(1)  # a late refusal of t1: t2 stays
    assert tokens.current(1.0) == (("t2", 2), False)
    tokens.invalidate(2)
    assert tokens.current(1.0) == (None, True)


def test_a_ready_token_is_kept_without_credentials_to_replace_it() -> None:
    tokens = TokenState(None, "ready")
    assert tokens.current(1e9) == (("ready", 1), False)
    tokens.invalidate(1)
    assert tokens.current(1e9) == (("ready", 1), False) and not tokens.can_authenticate


def test_auth_off_sends_no_token_until_one_is_asked_for() -> None:
    tokens = TokenState(("u", "p"), None)
    tokens.auth_off()
    assert tokens.current(0.0) == (None, False)
    tokens.invalidate(None)  # AUTH_REQUIRED on a call without a token
    assert tokens.current(0.0) == (None, True)


def test_own_password_change_keeps_the_new_password() -> None:
    tokens = TokenState(("alice", "old"), None)
    tokens.issued("t", 60_000, 0.0)
    tokens.password_changed("bob", "x")
    assert tokens.credentials() == ("alice", "old") and tokens.current(0.0)[0] is not None
    tokens.password_changed("alice", "new")
    assert tokens.credentials() == ("alice", "new") and tokens.current(0.0)[0] is None


def test_metadata_carries_the_bearer_token_after_the_request_id() -> None:
    assert auth_metadata(None, None) is None
    assert auth_metadata((("corral-request-id", "c/1"),), ("tok", 3)) == (
        ("corral-request-id", "c/1"),
        ("authorization", "Bearer tok"),
    )


# --- CallAttempts ---------------------------------------------------------------


class OneMember:
    def __init__(self) -> None:
        self.skipped: List[int] = []

    def current(self) -> Tuple[int, Any]:
        return 0, None

    def skip(self, index: int) -> None:
        self.skipped.append(index)

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("reason", [common_pb2.TOKEN_EXPIRED, common_pb2.TOKEN_REVOKED, common_pb2.INVALID_TOKEN])
def test_a_refused_token_is_retried_once_on_the_same_member(reason: int) -> None:
    members = OneMember()
    tokens = TokenState(("u", "p"), None)
    tokens.issued("t", 60_000, time.monotonic())
    attempts = CallAttempts(members, None, Retry.UNSAFE, 10.0, "corral-request-id", tokens)
    attempts.next()
    attempts.metadata_with(tokens.current(time.monotonic())[0])
    assert attempts.failed(refusal(reason), 0) == 0.0
    assert members.skipped == [] and tokens.current(time.monotonic()) == (None, True)
    attempts.next()
    attempts.metadata_with(("t2", 2))
    with pytest.raises(corral.Unauthenticated):
        attempts.failed(refusal(reason), 0)


def test_bad_credentials_and_permission_denied_are_not_retried() -> None:
    tokens = TokenState(("u", "p"), None)
    for error in (
        refusal(common_pb2.BAD_CREDENTIALS),
        from_status(grpc.StatusCode.PERMISSION_DENIED, "x", trailing(common_pb2.PERMISSION_DENIED, permission="read")),
    ):
        attempts = CallAttempts(OneMember(), None, Retry.SAFE, 10.0, "corral-request-id", tokens)
        attempts.next()
        with pytest.raises(type(error)):
            attempts.failed(error, 0)


def test_without_credentials_a_refused_token_is_the_answer() -> None:
    attempts = CallAttempts(OneMember(), None, Retry.SAFE, 10.0, "h", TokenState(None, "ready"))
    attempts.next()
    with pytest.raises(corral.Unauthenticated):
        attempts.failed(refusal(common_pb2.TOKEN_EXPIRED), 0)


# --- sharing one Authenticate -----------------------------------------------------


def test_concurrent_sync_calls_share_one_authenticate() -> None:
    with corral.Client(NOWHERE, credentials=("u", "p"), timeout=5) as client:
        calls: List[float] = []

        def authenticate(tokens: TokenState, limit: Optional[float]) -> None:
            calls.append(time.monotonic())
            time.sleep(0.2)
            tokens.issued(f"t{len(calls)}", 10_000, time.monotonic())

        client._authenticate = authenticate  # type: ignore[method-assign]
        got: List[Any] = []
        barrier = threading.Barrier(8)

        def take() -> None:
            barrier.wait()
            got.append(client._token(5.0))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(calls) == 1 and got == [("t1", 1)] * 8

        # Due for a refresh but still valid: one call refreshes, the others go on with
        # the old token meanwhile instead of waiting.
        assert client._tokens is not None
        client._tokens.issued("old", 1000, time.monotonic() - 0.9)
        slow = threading.Thread(target=client._token, args=(5.0,))
        slow.start()
        time.sleep(0.05)
        started = time.monotonic()
        assert client._token(5.0) == ("old", 2)
        assert time.monotonic() - started < 0.1
        slow.join(10)
        assert len(calls) == 2 and client._token(5.0) == ("t2", 3)


async def test_concurrent_aio_calls_share_one_authenticate() -> None:
    async with corral.aio.Client(NOWHERE, credentials=("u", "p"), timeout=5) as client:
        calls: List[float] = []

        async def authenticate(tokens: TokenState, limit: Optional[float]) -> None:
            calls.append(time.monotonic())
            await asyncio.sleep(0.2)
            tokens.issued("t", 10_000, time.monotonic())

        client._authenticate = authenticate  # type: ignore[method-assign]
        got = await asyncio.gather(*(client._token(5.0) for _ in range(8)))
        assert len(calls) == 1 and got == [("t", 1)] * 8


def test_a_failed_refresh_of_a_valid_token_keeps_it() -> None:
    with corral.Client(NOWHERE, credentials=("u", "p"), timeout=5) as client:

        def authenticate(tokens: TokenState, limit: Optional[float]) -> None:
            raise corral.Unavailable("member down")

        client._authenticate = authenticate  # type: ignore[method-assign]
        assert client._tokens is not None
        client._tokens.issued("old", 1000, time.monotonic() - 0.9)
        assert client._token(5.0) == ("old", 1)
        client._tokens.invalidate(1)
        with pytest.raises(corral.Unavailable):
            client._token(5.0)


# --- argument checks ---------------------------------------------------------------


def test_credentials_are_checked_without_echoing_the_password() -> None:
    with pytest.raises(TypeError) as e:
        corral.Client(NOWHERE, credentials=("u",))  # type: ignore[arg-type]
    with pytest.raises(TypeError) as e:
        corral.Client(NOWHERE, credentials=("u", 12345678))  # type: ignore[arg-type]
    assert "12345678" not in str(e.value)
    with pytest.raises(corral.InvalidArgument):
        corral.Client(NOWHERE, credentials=("", "secret"))
    with pytest.raises(corral.InvalidArgument):
        corral.Client(NOWHERE, token="two words")
    with pytest.raises(TypeError):
        corral.Client(NOWHERE, tls="ca.pem")  # type: ignore[arg-type]
    with pytest.raises(corral.InvalidArgument):
        corral.Client("http://127.0.0.1:1", tls=corral.TLS())


def test_https_endpoints_mean_tls() -> None:
    opened: List[str] = []

    def insecure(addr: str, options: Any) -> str:
        opened.append("plaintext")
        return addr

    def secure(addr: str, credentials: Any, options: Any) -> str:
        opened.append("tls")
        return addr

    channel_factory("https://db:2479", None, insecure, secure)("db:2479")
    channel_factory("db:2479", corral.TLS(server_name="db"), insecure, secure)("db:2479")
    channel_factory(["http://db:2479"], None, insecure, secure)("db:2479")
    assert opened == ["tls", "tls", "plaintext"]


def test_acl_entries_normalise_their_permissions() -> None:
    a = corral.AclEntry("user:bob", {"read", corral.Permission.WRITE})  # type: ignore[arg-type]
    assert a.permissions == frozenset({corral.Permission.READ, corral.Permission.WRITE})
    assert a == corral.AclEntry("user:bob", [corral.Permission.WRITE, corral.Permission.READ])
    assert corral.AclEntry.role("ops", "admin").permissions == {corral.Permission.ADMIN}
    assert corral.AclEntry.anyone().permissions == corral.ALL_PERMISSIONS
    assert corral.AclEntry.authenticated("read").principal == "authenticated"
    with pytest.raises(ValueError):
        corral.AclEntry("anyone", {"fly"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        corral.AclEntry("", {"read"})  # type: ignore[arg-type]
    assert hash(a) == hash(corral.AclEntry("user:bob", {corral.Permission.READ, corral.Permission.WRITE}))


def test_acls_convert_to_and_from_the_protos() -> None:
    acl = [corral.AclEntry.user("bob"), corral.AclEntry.anyone({corral.Permission.READ})]
    pb = acl_to_pb(acl)
    assert [list(e.permissions) for e in pb] == [[1, 2, 3, 4, 5], [1]]
    assert acl_from_pb(pb) == acl
    with pytest.raises(corral.InvalidArgument):
        set_acl_request("/a", [])
    with pytest.raises(TypeError):
        set_acl_request("/a", corral.AclEntry.user("bob"))  # type: ignore[arg-type]
    assert set_acl_request("/a", acl, expected_acl_version=3).expected_acl_version == 3
    assert not set_acl_request("/a", acl).HasField("expected_acl_version")


def test_tls_options_are_checked_and_files_named(tmp_path: "os.PathLike[str]") -> None:
    with pytest.raises(corral.InvalidArgument):
        corral.TLS(ca=b"x", ca_file="ca.pem")
    with pytest.raises(corral.InvalidArgument) as e:
        corral.TLS(cert_file="c.pem")
    assert e.value.argument == "key"
    missing = os.path.join(os.fspath(tmp_path), "missing.pem")
    with pytest.raises(corral.InvalidArgument) as e:
        corral.Client(NOWHERE, tls=corral.TLS(ca_file=missing))
    assert missing in str(e.value) and e.value.argument == "ca_file"
    junk = os.path.join(os.fspath(tmp_path), "junk.pem")
    with open(junk, "wb") as f:
        f.write(b"not a certificate")
    with pytest.raises(corral.InvalidArgument) as e:
        corral.TLS(ca_file=junk).channel_credentials()
    assert junk in str(e.value)
    assert corral.TLS(server_name="db.internal").channel_options() == [("grpc.ssl_target_name_override", "db.internal")]
    assert "secret" not in repr(corral.TLS(key=b"-----BEGIN PRIVATE KEY----- secret", cert=b"c"))


# --- the error table ------------------------------------------------------------------


def test_auth_reasons_map_to_typed_errors() -> None:
    def err(code: grpc.StatusCode, reason: int, **md: str) -> corral.CorralError:
        return from_status(code, "x", trailing(reason, **md))

    e = err(grpc.StatusCode.PERMISSION_DENIED, common_pb2.PERMISSION_DENIED, path="/a", permission="write", user="bob")
    assert isinstance(e, corral.PermissionDeniedError) and (e.path, e.permission, e.user) == ("/a", "write", "bob")
    e = err(grpc.StatusCode.PERMISSION_DENIED, common_pb2.PERMISSION_DENIED, path="", permission="root", user="bob")
    assert isinstance(e, corral.PermissionDenied) and e.path is None
    for reason in (common_pb2.AUTH_REQUIRED, common_pb2.TOKEN_EXPIRED, common_pb2.BAD_CREDENTIALS):
        e = err(grpc.StatusCode.UNAUTHENTICATED, reason, user="bob")
        assert type(e) is corral.UnauthenticatedError and e.reason == common_pb2.ErrorReason.Name(reason)
    e = err(
        grpc.StatusCode.FAILED_PRECONDITION,
        common_pb2.ACL_VERSION_MISMATCH,
        path="/a",
        expected_version="1",
        current_version="4",
    )
    assert isinstance(e, corral.AclVersionMismatch) and (e.expected, e.current) == (1, 4)
    assert not isinstance(e, corral.VersionMismatch)
    e = err(grpc.StatusCode.NOT_FOUND, common_pb2.USER_NOT_FOUND, user="bob")
    assert isinstance(e, corral.UserNotFound) and isinstance(e, corral.NotFound) and e.user == "bob"
    e = err(grpc.StatusCode.ALREADY_EXISTS, common_pb2.ROLE_EXISTS, role="ops")
    assert isinstance(e, corral.RoleExists) and e.role == "ops"
    assert isinstance(err(grpc.StatusCode.NOT_FOUND, common_pb2.ROLE_NOT_FOUND), corral.RoleNotFound)
    assert isinstance(err(grpc.StatusCode.ALREADY_EXISTS, common_pb2.USER_EXISTS), corral.UserExists)
    assert isinstance(err(grpc.StatusCode.FAILED_PRECONDITION, common_pb2.ROOT_REQUIRED), corral.RootRequired)
