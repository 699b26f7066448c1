"""Auth with the asyncio client against a real server with 2 s tokens: the same
behaviour as the sync client (test_auth.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator, List

import pytest
from cluster import Cluster
from test_auth import ROOT_PASSWORD, TOKEN_TTL_MS, Refusals, unique

import corral
import corral.aio
from corral import AclEntry, Permission


@pytest.fixture(scope="module")
def auth_server() -> Iterator[Cluster]:
    cluster = Cluster(1, args=["--auth-token-ttl-ms", str(TOKEN_TTL_MS)])
    try:
        cluster.start()
        with corral.Client(cluster.endpoints, timeout=10) as anonymous:
            anonymous.auth.user_add("root", ROOT_PASSWORD)
            anonymous.auth.enable()
        yield cluster
    finally:
        cluster.stop()


async def test_auth_calls_errors_and_acls(auth_server: Cluster) -> None:
    user, path = unique("aio-user"), "/" + unique("aio")
    async with corral.aio.Client(auth_server.endpoints, credentials=("root", ROOT_PASSWORD), timeout=10) as root:
        assert (await root.auth.status()).user == "root"
        await root.auth.user_add(user, "pw")
        with pytest.raises(corral.UserExists):
            await root.auth.user_add(user, "pw")
        await root.create(path, "v0", acl=[AclEntry.user(user, {Permission.READ})])
        assert (await root.get_acl(path)).acl == [AclEntry.user(user, "read")]
        async with corral.aio.Client(auth_server.endpoints, credentials=(user, "pw"), timeout=10) as c:
            assert (await c.get(path)).data == b"v0"
            with pytest.raises(corral.PermissionDeniedError) as e:
                await c.put(path, "v1")
            assert (e.value.path, e.value.permission, e.value.user) == (path, "write", user)
            with pytest.raises(corral.PermissionDenied) as e:
                await c.set_acl(path, [AclEntry.anyone()])
            assert e.value.permission == "admin"
        await root.set_acl(path, [AclEntry.user(user)], expected_acl_version=0)
        with pytest.raises(corral.AclVersionMismatch) as e2:
            await root.set_acl(path, [AclEntry.user(user)], expected_acl_version=0)
        assert e2.value.current == 1
        token = await root.auth.authenticate(user, "pw")
        assert user in [u.name for u in await root.auth.user_list()]
    async with corral.aio.Client(auth_server.endpoints, timeout=10) as anonymous:
        with pytest.raises(corral.UnauthenticatedError) as e3:
            await anonymous.get(path)
        assert e3.value.reason == "AUTH_REQUIRED"
    async with corral.aio.Client(auth_server.endpoints, token=token.token, timeout=10) as with_token:
        assert (await with_token.auth.status()).user == user


async def test_tokens_refresh_and_a_watch_keeps_delivering(
    auth_server: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, path = unique("aio-watcher"), "/" + unique("aio-watched")
    async with corral.aio.Client(auth_server.endpoints, credentials=("root", ROOT_PASSWORD), timeout=10) as root:
        await root.auth.user_add(user, "pw")
        await root.create(path, acl=[AclEntry.user(user)])
        refusals = Refusals(monkeypatch)
        async with corral.aio.Client(auth_server.endpoints, credentials=(user, "pw"), timeout=10) as c:
            watcher = await c.watch(path)
            seen: List[bytes] = []

            async def read() -> None:
                async for event in watcher:
                    seen.append(event.node.data)
                    if len(seen) == 25:
                        return

            reader = asyncio.ensure_future(read())
            start = time.monotonic()
            for i in range(25):
                # The watcher's own client writes too: its calls refresh the token.
                await c.put(path, str(i))
                await asyncio.sleep(0.2)
            await asyncio.wait_for(reader, 10)
            await watcher.close()
            assert time.monotonic() - start > 2 * TOKEN_TTL_MS / 1000
    assert seen == [str(i).encode() for i in range(25)]
    assert refusals.reasons() == []


async def test_own_password_change_recovers_and_old_password_does_not(auth_server: Cluster) -> None:
    user = unique("aio-changer")
    async with corral.aio.Client(auth_server.endpoints, credentials=("root", ROOT_PASSWORD), timeout=10) as root:
        await root.auth.user_add(user, "pw-1")
    async with (
        corral.aio.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as old,
        corral.aio.Client(auth_server.endpoints, credentials=(user, "pw-1"), timeout=10) as changer,
    ):
        assert (await old.auth.status()).user == user
        await changer.auth.user_change_password(user, "pw-2")
        assert (await changer.auth.status()).user == user
        with pytest.raises(corral.Unauthenticated) as e:
            await old.auth.status()
        assert e.value.reason == "BAD_CREDENTIALS"
