"""The asyncio client against a real server: the same calls, results and errors."""

from __future__ import annotations

import asyncio
from typing import List, Optional

import pytest
from cluster import Cluster

import corral
import corral.aio
from corral import Compare, Op


async def test_kv_txn_and_errors(server: Cluster) -> None:
    async with corral.aio.Client(server.endpoints, timeout=10) as client:
        created = await client.create("/aio/a", "x", create_parents=True)
        assert created.path == "/aio/a"
        assert (await client.get("/aio/a")).data == b"x"
        with pytest.raises(corral.VersionMismatch) as e:
            await client.put("/aio/a", "y", expected_version=3)
        assert e.value.current == 0
        with pytest.raises(corral.AlreadyExists):
            await client.create("/aio/a")
        with pytest.raises(corral.InvalidArgument):
            await client.create("relative")
        with pytest.raises(TypeError):
            await client.create("/aio/b", 3.5)  # type: ignore[arg-type]
        result = await client.txn([Compare("/aio/a", "exists", "==", True)], [Op.get("/aio/a")])
        assert result.succeeded and isinstance(result.results[0], corral.Node)
        assert [n.name for n in await client.list_all("/aio")] == ["a"]
        assert (await client.delete("/aio", recursive=True)).deleted == 2
        assert await client.exists("/aio") is None
        status = await client.status()
        assert status.revision > 0 and len((await client.member_list()).members) == 1


async def test_watch_lease_lock_election(server: Cluster) -> None:
    async with corral.aio.Client(server.endpoints, timeout=10) as client:
        await client.create("/aw")
        watcher = await client.watch("/aw", scope="children")
        await client.create("/aw/x", "1")
        await client.delete("/aw/x")
        events = []
        async for event in watcher:
            events.append(event.type)
            if len(events) == 2:
                break
        await watcher.close()
        assert events == [corral.EventType.CREATED, corral.EventType.DELETED]

        lease = await client.lease_grant(5)
        assert (await client.lease_time_to_live(lease.lease_id)).ttl == 5
        assert await client.lease_keep_alive(lease.lease_id) == 5
        async with client.lock("/aw/lock") as held:
            assert held.fencing_token > 0 and held.is_valid()
        with pytest.raises(corral.WaitTimeout):
            other = await client.lease_grant(5)
            key = (await client.lock("/aw/l2", lease.lease_id).acquire()).key
            await client.lock("/aw/l2", other.lease_id, timeout=0.3).acquire()
        await client.unlock(key, lease.lease_id)

        session = await client.session(ttl=3)
        async with corral.aio.Election(session, "/aw/elect", "me") as leader:
            assert (await client.leader("/aw/elect")).value == b"me"
            observed = client.observe("/aw/elect")
            first: Optional[corral.LeaderKey] = await anext(observed)
            assert first is not None and first.key == leader.key
            await observed.aclose()
        states: List[corral.SessionState] = []
        session.add_listener(states.append)
        await client.lease_revoke(session.lease_id)
        await asyncio.wait_for(session.wait_lost(), 10)
        assert states == [corral.SessionState.LOST]
        assert await client.lease_revoke(lease.lease_id) == 0


async def test_aio_contender_whose_session_is_lost_stops_waiting_and_leaves_no_entry(server: Cluster) -> None:
    async with corral.aio.Client(server.endpoints, timeout=10) as client:
        holder = await client.session(ttl=5)
        contender = await client.session(ttl=3)
        held = await client.lock("/aw/orphan", session=holder).acquire()
        waiting = asyncio.ensure_future(client.lock("/aw/orphan", session=contender).acquire())
        for _ in range(100):
            if len(await client.children("/aw/orphan")) == 2:
                break
            await asyncio.sleep(0.05)
        await client.lease_revoke(contender.lease_id)
        with pytest.raises(corral.CorralError):
            await asyncio.wait_for(waiting, 20)
        assert await client.children("/aw/orphan") == [held.key.rsplit("/", 1)[1]]
        await holder.close()


async def test_aio_counter_barrier_and_queue(server: Cluster) -> None:
    async with corral.aio.Client(server.endpoints, timeout=10) as client:
        counter = corral.aio.Counter(client, "/ar/counter")
        await asyncio.gather(*(counter.add(1) for _ in range(10)))
        assert await counter.value() == 10
        barrier = corral.aio.Barrier(client, "/ar/barrier")
        await barrier.create()
        waiting = asyncio.ensure_future(barrier.wait())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await barrier.remove()
        await asyncio.wait_for(waiting, 10)
        queue = corral.aio.Queue(client, "/ar/queue")
        for i in range(3):
            await queue.put(f"job{i}")
        assert [await queue.get() for _ in range(4)] == [b"job0", b"job1", b"job2", None]
