"""The must-show scenarios, sync and asyncio: a watch that survives kill -9 of its member
while another process writes 2,000 znodes; two processes taking one lock 200 times each;
a service registry whose killed instance vanishes within its session TTL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List

import pytest
from cluster import Cluster

import corral
import corral.aio

WORKERS = os.path.join(os.path.dirname(__file__), "workers.py")
COUNT = 2000


def worker(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen([sys.executable, WORKERS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_watch_events(paths: List[str], revisions: List[int]) -> None:
    expected = [f"/w/n-{i:05d}" for i in range(COUNT)]
    assert len(paths) == COUNT, f"{len(paths)} events"
    assert paths == expected, "events missing, repeated or out of order"
    assert all(a < b for a, b in zip(revisions, revisions[1:])), "revisions not increasing"


def test_watch_survives_kill_of_its_member_while_2000_znodes_are_written() -> None:
    with Cluster(3) as cluster, corral.Client(cluster.endpoints) as client:
        client.create("/w")
        watcher = client.watch("/w", scope="children")
        victim = cluster.node_of(client.current_endpoint)
        others = [e for e in cluster.endpoints if e != client.current_endpoint]
        writer = worker("write", ",".join(others + [client.current_endpoint]), "/w/n", str(COUNT))
        paths: List[str] = []
        revisions: List[int] = []
        try:
            for event in watcher:
                assert event.type is corral.EventType.CREATED
                paths.append(event.node.path)
                revisions.append(event.revision)
                if len(paths) == COUNT // 4:
                    cluster.kill(victim)
                if len(paths) == COUNT:
                    break
        finally:
            watcher.close()
            out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert client.current_endpoint != cluster.endpoint(victim)
        check_watch_events(paths, revisions)


def test_aio_watch_survives_kill_of_its_member_while_2000_znodes_are_written() -> None:
    async def main() -> None:
        with Cluster(3) as cluster:
            async with corral.aio.Client(cluster.endpoints) as client:
                await client.create("/w")
                watcher = await client.watch("/w", scope="children")
                victim_endpoint = cluster.endpoints[client._members.current()[0]]
                others = [e for e in cluster.endpoints if e != victim_endpoint]
                writer = worker("write", "--aio", ",".join(others + [victim_endpoint]), "/w/n", str(COUNT))
                paths: List[str] = []
                revisions: List[int] = []
                try:
                    async for event in watcher:
                        paths.append(event.node.path)
                        revisions.append(event.revision)
                        if len(paths) == COUNT // 4:
                            cluster.kill(cluster.node_of(victim_endpoint))
                        if len(paths) == COUNT:
                            break
                finally:
                    await watcher.close()
                    out, err = await asyncio.to_thread(writer.communicate, timeout=120)
                assert writer.returncode == 0, err
                check_watch_events(paths, revisions)

    asyncio.run(main())


def check_lock_file(path: str, rounds: int) -> None:
    with open(path) as f:
        lines = [line.split() for line in f.read().splitlines()]
    assert len(lines) == 2 * 2 * rounds
    tokens = []
    for start, end in zip(lines[0::2], lines[1::2]):
        assert start[0] == "start" and end[0] == "end", "two holders overlapped"
        assert start[1:] == end[1:], "a hold was interleaved with another"
        tokens.append(int(start[1]))
    assert all(a < b for a, b in zip(tokens, tokens[1:])), "fencing tokens not strictly increasing"
    assert len({line[2] for line in lines}) == 2


@pytest.mark.parametrize("mode", ["sync", "aio"])
def test_two_processes_take_one_lock_200_times_without_overlap(
    server: Cluster, tmp_path: "os.PathLike[str]", mode: str
) -> None:
    rounds = 200
    out = os.path.join(os.fspath(tmp_path), "held.txt")
    flag = ["--aio"] if mode == "aio" else []
    procs = [worker("lock", *flag, ",".join(server.endpoints), f"/locks/L-{mode}", out, str(rounds)) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    check_lock_file(out, rounds)


TTL = 3.0


def start_instances(cluster: Cluster, base: str, aio: bool) -> List["subprocess.Popen[str]"]:
    flag = ["--aio"] if aio else []
    procs = [worker("register", *flag, ",".join(cluster.endpoints), base, f"i{i}", str(TTL)) for i in range(5)]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    return procs


def test_registry_watcher_sees_a_killed_instance_vanish_within_its_ttl(server: Cluster) -> None:
    base = "/services/sync"
    procs = start_instances(server, base, aio=False)
    seen: List[Dict[str, bytes]] = []
    changed = threading.Condition()

    def on_change(instances: Dict[str, bytes]) -> None:
        with changed:
            seen.append(instances)
            changed.notify_all()

    try:
        with corral.Client(server.endpoints) as client, client.session(ttl=TTL) as session:
            registry = corral.recipes.ServiceRegistry(session, base)
            registry.watch(on_change)
            with changed:
                assert changed.wait_for(lambda: seen and len(seen[-1]) == 5, 10)
            procs[2].kill()
            killed = time.monotonic()
            with changed:
                # The lease is reaped by the leader after its TTL; allow its clock's slack.
                assert changed.wait_for(lambda: "i2" not in seen[-1], TTL + 5), seen[-1]
            elapsed = time.monotonic() - killed
            assert sorted(seen[-1]) == ["i0", "i1", "i3", "i4"]
            print(f"instance vanished {elapsed:.2f} s after kill -9 (TTL {TTL} s)")
            registry.close()
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_aio_registry_watcher_sees_a_killed_instance_vanish_within_its_ttl(server: Cluster) -> None:
    base = "/services/aio"
    procs = start_instances(server, base, aio=True)

    async def main() -> None:
        async with corral.aio.Client(server.endpoints) as client:
            session = await client.session(ttl=TTL)
            registry = corral.aio.ServiceRegistry(session, base)
            views = registry.watch()
            first = await anext(views)
            while len(first) < 5:
                first = await anext(views)
            procs[2].kill()

            async def until_gone() -> Dict[str, bytes]:
                async for view in views:
                    if "i2" not in view:
                        return view
                raise AssertionError("watch ended")

            view = await asyncio.wait_for(until_gone(), TTL + 5)
            assert sorted(view) == ["i0", "i1", "i3", "i4"]
            await views.aclose()
            await session.close()

    try:
        asyncio.run(main())
    finally:
        for p in procs:
            p.kill()
            p.wait()
