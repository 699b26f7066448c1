"""Auth against a real server: tokens (lazy, refreshed before they expire, replaced once
when refused), typed errors, the auth management calls and ACLs. The module's server
issues tokens that live 2 s, so every test also runs across token refreshes."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

import pytest
from cluster import Cluster

import corral
from corral import AclEntry, Permission
from corral._retry import CallAttempts

ROOT_PASSWORD = "root-secret"
TOKEN_TTL_MS = 2000
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[Cluster]:
    """A server with auth enabled (user root) and 2 s tokens."""
    cluster = Cluster(1, args=["--auth-token-ttl-ms", str(TOKEN_TTL_MS)])
    try:
        cluster.start()
        with corral.Client(cluster.endpoints, timeout=10) as anonymous:
            anonymous.auth.user_add("root", ROOT_PASSWORD)
            anonymous.auth.enable()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def root(auth_server: Cluster) -> Iterator[corral.Client]:
    with corral.Client(auth_server.endpoints, credentials=("root", ROOT_PASSWORD), timeout=10) as c:
        yield c


def add_user(root: corral.Client, prefix: str, password: str = "pw-1") -> str:
    name = unique(prefix)
    root.auth.user_add(name, password)
    return name


class Refusals:
    """Records the errors of failed call attempts (every client of the test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.errors: List[corral.CorralError] = []
        original = CallAttempts.failed

        def spy(attempts: CallAttempts, error: corral.CorralError, index: int) -> float:
            self.errors.append(error)
            return original(attempts, error, index)

        monkeypatch.setattr(CallAttempts, "failed", spy)

    def reasons(self) -> List[Optional[str]]:
        return [e.reason for e in self.errors]


def count_authenticates(client: Any) -> List[float]:
    """Wraps the client's Authenticate; returns the list of times it was called."""
    calls: List[float] = []
    original: Callable[..., Any] = client._authenticate

    def counting(*args: Any) -> Any:
        calls.append(time.monotonic())
        return original(*args)

    client._authenticate = counting
    return calls


def test_root_authenticates_and_status_names_it(root: corral.Client) -> None:
    status = root.auth.status()
    assert status.enabled and status.user == "root" and status.token_ttl == TOKEN_TTL_MS / 1000
    assert root.user == "root"


def test_anonymous_call_with_auth_on_is_unauthenticated(auth_server: Cluster) -> None:
    with corral.Client(auth_server.endpoints, timeout=10) as anonymous:
        with pytest.raises(corral.UnauthenticatedError) as e:
            anonymous.get("/")
    assert isinstance(e.value, corral.Unauthenticated) and e.value.reason == "AUTH_REQUIRED"
    assert not isinstance(e.value, corral.PermissionDenied)


def test_wrong_password_is_bad_credentials_and_not_echoed(auth_server: Cluster) -> None:
    with corral.Client(auth_server.endpoints, credentials=("root", "not-the-password"), timeout=10) as c:
        with pytest.raises(corral.Unauthenticated) as e:
            c.put("/x", "1", create_if_missing=True)
    assert e.value.reason == "BAD_CREDENTIALS" and e.value.user == "root"
    assert "not-the-password" not in str(e.value)


def test_permission_denied_is_typed_and_changes_nothing(root: corral.Client, auth_server: Cluster) -> None:
    alice = add_user(root, "alice")
    path = "/" + unique("pd")
    root.create(path, "v0", acl=[AclEntry.user(alice, {Permission.READ}), AclEntry.user("root")])
    with corral.Client(auth_server.endpoints, credentials=(alice, "pw-1"), timeout=10) as c:
        assert c.get(path).data == b"v0"
        with pytest.raises(corral.PermissionDeniedError) as e:
            c.put(path, "v1")
        assert (e.value.path, e.value.permission, e.value.user) == (path, "write", alice)
        assert isinstance(e.value, corral.PermissionDenied) and e.value.reason == "PERMISSION_DENIED"
        with pytest.raises(corral.PermissionDenied) as e:
            c.create(f"{path}/child")
        assert e.value.permission == "create"
        with pytest.raises(corral.PermissionDenied) as e:
            c.auth.user_list()
        assert e.value.permission == "root" and e.value.path is None
    node = root.get(path)
    assert node.data == b"v0" and node.stat.version == 0 and node.stat.num_children == 0


def test_acl_get_and_set_with_compare_and_set(root: corral.Client) -> None:
    path = "/" + unique("acl")
    acl = [AclEntry.role("readers", "read"), AclEntry("user:bob", {Permission.READ, Permission.WRITE})]
    root.create(path, acl=acl)
    got = root.get_acl(path)
    assert got.acl == acl and got.version == 0 and got.stat.acl_version == 0
    # A child created without an ACL gets its parent's.
    root.create(f"{path}/child")
    assert root.get_acl(f"{path}/child").acl == acl

    new = [AclEntry.anyone({Permission.READ}), AclEntry.user("bob")]
    result = root.set_acl(path, new, expected_acl_version=0)
    assert result.stat.acl_version == 1
    with pytest.raises(corral.AclVersionMismatch) as e:
        root.set_acl(path, acl, expected_acl_version=0)
    assert (e.value.expected, e.value.current, e.value.path) == (0, 1, path)
    after = root.get_acl(path)
    assert after.acl == new and after.version == 1
    assert after.acl[1].permissions == corral.ALL_PERMISSIONS
    # Without an expected version it always applies.
    assert root.set_acl(path, acl).stat.acl_version == 2
    with pytest.raises(corral.NotFound):
        root.get_acl(f"{path}/missing")


def test_tokens_are_refreshed_before_they_expire(
    root: corral.Client, auth_server: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = add_user(root, "busy")
    path = "/" + unique("busy")
    root.create(path, acl=[AclEntry.user(user)])
    refusals = Refusals(monkeypatch)
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        authenticates = count_authenticates(c)
        with c.session(ttl=2) as session:
            start = time.monotonic()
            n = 0
            # 5 s of calls with 2 s tokens: refreshed at 80% of their life, so no call
            # is ever refused for an expired token.
            while time.monotonic() - start < 5:
                c.put(path, str(n))
                assert c.get(path).data == str(n).encode()
                n += 1
                time.sleep(0.05)
            assert session.state is corral.SessionState.CONNECTED
    assert n > 20
    assert refusals.reasons() == [], "a call was refused: the token was not refreshed in time"
    assert len(authenticates) >= 3, authenticates
    gaps = [b - a for a, b in zip(authenticates, authenticates[1:])]
    assert all(1.2 < g < TOKEN_TTL_MS / 1000 for g in gaps), gaps


def test_a_refused_token_is_replaced_once(
    root: corral.Client, auth_server: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = add_user(root, "refused")
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        c.auth.status()
        tokens = c._tokens
        assert tokens is not None
        token, _ = tokens.current(time.monotonic())
        assert token is not None
        # A token the server cannot verify (e.g. from another cluster).
        tokens.issued("v1.AAAA.BBBB", 3_600_000, time.monotonic())
        refusals = Refusals(monkeypatch)
        assert c.auth.status().user == user
    assert refusals.reasons() == ["INVALID_TOKEN"]


def test_token_revoked_by_a_password_change(root: corral.Client, auth_server: Cluster) -> None:
    user = add_user(root, "revoked")
    token = root.auth.authenticate(user, "pw-1")
    assert token.ttl == TOKEN_TTL_MS / 1000 and token.token not in repr(token)
    with (
        corral.Client(auth_server.endpoints, token=token.token, timeout=10) as with_token,
        corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as with_password,
        corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as changes_own,
    ):
        for c in (with_token, with_password, changes_own):
            assert c.auth.status().user == user
        changes_own.auth.user_change_password(user, "pw-2")
        # A ready token cannot be renewed: the revocation is the answer.
        with pytest.raises(corral.Unauthenticated) as e:
            with_token.auth.status()
        assert e.value.reason == "TOKEN_REVOKED" and e.value.user == user
        # The old password gets no new token.
        with pytest.raises(corral.Unauthenticated) as e:
            with_password.auth.status()
        assert e.value.reason == "BAD_CREDENTIALS"
        # The client that changed its own password goes on with the new one.
        assert changes_own.auth.status().user == user


def test_concurrent_calls_share_one_authenticate(root: corral.Client, auth_server: Cluster) -> None:
    user = add_user(root, "crowd")
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        calls = count_authenticates(c)
        barrier = threading.Barrier(8)
        users: List[str] = []

        def call() -> None:
            barrier.wait()
            users.append(c.auth.status().user)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert users == [user] * 8
    assert len(calls) == 1


def test_watch_keeps_delivering_across_token_refreshes(root: corral.Client, auth_server: Cluster) -> None:
    user = add_user(root, "watcher")
    path = "/" + unique("watched")
    root.create(path, acl=[AclEntry.user(user, "read"), AclEntry.user("root")])
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        seen: List[bytes] = []
        with c.watch(path, scope="subtree") as watcher:

            def read() -> None:
                for event in watcher:
                    seen.append(event.node.data)
                    if len(seen) == 25:
                        return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            # 5 s of writes: two and a half token lifetimes of the watcher.
            for i in range(25):
                root.put(path, str(i))
                time.sleep(0.2)
            reader.join(10)
    assert seen == [str(i).encode() for i in range(25)]


def test_observe_and_keepalive_carry_the_token(root: corral.Client, auth_server: Cluster) -> None:
    user = add_user(root, "observer")
    name = "/" + unique("election")
    root.create(name, acl=[AclEntry.user(user)])
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        lease = c.lease_grant(5)
        observed = c.observe(name)
        assert next(observed) is None
        c.campaign(name, "me", lease.lease_id)
        leader = next(observed)
        assert leader is not None and leader.value == b"me"
        time.sleep(2.5)  # past the first token's life
        assert c.lease_keep_alive(lease.lease_id) == 5
        c.resign(leader.key, lease.lease_id)
        assert next(observed) is None
        observed.close()  # type: ignore[attr-defined]


def test_users_and_roles(root: corral.Client) -> None:
    user, role = unique("member"), unique("team")
    root.auth.user_add(user, "pw-1")
    with pytest.raises(corral.UserExists) as e:
        root.auth.user_add(user, "pw-2")
    assert e.value.user == user
    root.auth.role_add(role)
    with pytest.raises(corral.RoleExists):
        root.auth.role_add(role)
    root.auth.user_grant_role(user, role)
    root.auth.user_grant_role(user, role)  # already has it: no error
    assert corral.User(user, [role]) in root.auth.user_list()
    assert role in root.auth.role_list()
    with pytest.raises(corral.RoleNotFound) as e2:
        root.auth.user_grant_role(user, unique("nope"))
    assert e2.value.role is not None
    root.auth.user_revoke_role(user, role)
    assert corral.User(user, []) in root.auth.user_list()
    root.auth.role_delete(role)
    assert role not in root.auth.role_list()
    root.auth.user_delete(user)
    with pytest.raises(corral.UserNotFound):
        root.auth.user_delete(user)
    assert user not in [u.name for u in root.auth.user_list()]
    with pytest.raises(corral.RootRequired):
        root.auth.user_delete("root")


def test_a_client_with_credentials_follows_auth_being_turned_on_and_off() -> None:
    # Its own server: auth starts off here.
    with Cluster(1) as cluster, corral.Client(cluster.endpoints, credentials=("root", "pw"), timeout=10) as c:
        # Auth off: no token to get, none needed.
        c.put("/before", "1", create_if_missing=True)
        status = c.auth.status()
        assert not status.enabled and status.user == "" and status.token_ttl == 300.0
        with pytest.raises(corral.RootRequired):
            c.auth.enable()
        c.auth.user_add("root", "pw")
        c.auth.enable()
        # It turned auth on itself: it authenticates before its next call.
        assert c.auth.status().user == "root"
        c.auth.disable()
        # Another client turns auth on: refused for want of a token, it authenticates.
        with corral.Client(cluster.endpoints, credentials=("root", "pw"), timeout=10) as other:
            assert other.get("/before").data == b"1" and not other.auth.status().enabled
            c.auth.enable()
            assert other.get("/before").data == b"1" and other.auth.status().user == "root"
        c.auth.disable()
        assert c.get("/before").data == b"1" and not c.auth.status().enabled


def test_a_watch_reopened_after_a_refused_token_carries_a_new_one(
    root: corral.Client, auth_server: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    user = add_user(root, "rewatcher")
    path = "/" + unique("rewatched")
    root.create(path, acl=[AclEntry.user(user, "read"), AclEntry.user("root")])
    with corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as c:
        watcher = c.watch(path)
        root.put(path, "before")
        assert next(iter(watcher)).node.data == b"before"
        tokens = c._tokens
        assert tokens is not None
        # The member restarts (the stream breaks) while the client holds a token the
        # server refuses: the watch is reopened, refused, and reopened with a new token.
        auth_server.kill(1)
        # Not due for a refresh before the reopen (an hour to live, as far as the
        # client knows): only the server's refusal can replace it.
        tokens.issued("v1.AAAA.BBBB", 3_600_000, time.monotonic())
        auth_server.start(1)
        caplog.set_level("INFO", logger="corral")
        root.put(path, "after")
        batch = watcher.next_batch()
        watcher.close()
    assert batch is not None and batch.events[0].node.data == b"after"
    assert any("reopening with a new token" in r.getMessage() for r in caplog.records)


def test_a_watch_ended_by_a_password_change_resumes_or_fails_typed(root: corral.Client, auth_server: Cluster) -> None:
    user = add_user(root, "changing")
    path = "/" + unique("changing")
    root.create(path, acl=[AclEntry.user(user, "read"), AclEntry.user("root")])
    with (
        corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as changer,
        corral.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as stale,
    ):
        resumed, ended = changer.watch(path), stale.watch(path)
        root.put(path, "1")
        assert [next(iter(w)).node.data for w in (resumed, ended)] == [b"1", b"1"]
        # The server ends both watches at their next event (their token is revoked);
        # the client that knows the new password resumes from that event, the other
        # cannot get a new token.
        changer.auth.user_change_password(user, "pw-2")
        root.put(path, "2")
        batch = resumed.next_batch()
        assert batch is not None and [e.node.data for e in batch.events] == [b"2"]
        with pytest.raises(corral.Unauthenticated) as e:
            ended.next_batch()
        assert e.value.reason == "BAD_CREDENTIALS" and ended.closed
        resumed.close()
