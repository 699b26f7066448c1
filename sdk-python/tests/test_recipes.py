"""Recipes against a real server."""

from __future__ import annotations

import threading
import time
from typing import Dict, List

import pytest
from cluster import Cluster

import corral
from corral import recipes


@pytest.fixture
def client(server: Cluster):  # type: ignore[no-untyped-def]
    with corral.Client(server.endpoints, timeout=10) as c:
        yield c


def test_election_recipe_passes_leadership_in_order(client: corral.Client) -> None:
    with client.session(ttl=5) as s1, client.session(ttl=5) as s2:
        first = recipes.Election(s1, "/r/elect", "a")
        with first as leader:
            assert leader.value == b"a" and first.is_leader()
            first.proclaim("a2")
            assert client.leader("/r/elect").value == b"a2"
            with pytest.raises(corral.WaitTimeout):
                recipes.Election(s2, "/r/elect", "b", timeout=0.3).campaign()
        with recipes.Election(s2, "/r/elect", "b") as leader2:
            assert leader2.create_revision > leader.create_revision


def test_counter_adds_atomically_from_threads(client: corral.Client) -> None:
    counter = recipes.Counter(client, "/r/counter")

    def work() -> None:
        for _ in range(10):
            counter.add(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 40


def test_barrier_releases_waiters_when_removed(client: corral.Client) -> None:
    barrier = recipes.Barrier(client, "/r/barrier")
    barrier.create()
    assert not barrier.wait(timeout=0.3)
    threading.Timer(0.2, barrier.remove).start()
    assert barrier.wait(timeout=10)


def test_queue_is_fifo_and_each_item_goes_once(client: corral.Client) -> None:
    q = recipes.Queue(client, "/r/queue")
    for i in range(5):
        q.put(f"item{i}")
    assert len(q) == 5
    assert [q.get() for _ in range(6)] == [b"item0", b"item1", b"item2", b"item3", b"item4", None]


def test_locking_queue_redelivers_the_items_of_a_dead_consumer(client: corral.Client) -> None:
    with client.session(ttl=2) as producer:
        q = recipes.LockingQueue(producer, "/r/lq")
        q.put("job1")
        q.put("job2")
    dying = client.session(ttl=1)
    item = recipes.LockingQueue(dying, "/r/lq").get()
    assert item is not None and item.data == b"job1"
    dying.orphan()  # the consumer "dies": its claim goes with its lease
    with client.session(ttl=5) as s:
        q = recipes.LockingQueue(s, "/r/lq")
        second = q.get()
        assert second is not None and second.data == b"job2"
        second.consume()
        again = q.get(timeout=15)
        assert again is not None and again.data == b"job1"
        again.consume()
        assert q.get() is None and len(q) == 0


def test_read_write_lock_shares_readers_and_excludes_writers(client: corral.Client) -> None:
    with client.session(ttl=5) as s1, client.session(ttl=5) as s2:
        rw1 = recipes.ReadWriteLock(s1, "/r/rw")
        rw2 = recipes.ReadWriteLock(s2, "/r/rw")
        with rw1.read_lock():
            with rw2.read_lock(timeout=5):
                pass
            with pytest.raises(corral.WaitTimeout):
                with rw2.write_lock(timeout=0.3):
                    pass
        with rw2.write_lock(timeout=5) as held:
            assert held.is_valid()
            with pytest.raises(corral.WaitTimeout):
                with rw1.read_lock(timeout=0.3):
                    pass
        assert client.children("/r/rw") == []


def test_semaphore_admits_at_most_n(client: corral.Client) -> None:
    sessions = [client.session(ttl=5) for _ in range(3)]
    try:
        a = recipes.Semaphore(sessions[0], "/r/sem", 2)
        b = recipes.Semaphore(sessions[1], "/r/sem", 2)
        c = recipes.Semaphore(sessions[2], "/r/sem", 2, timeout=0.3)
        a.acquire()
        b.acquire()
        with pytest.raises(corral.WaitTimeout):
            c.acquire()
        a.release()
        with recipes.Semaphore(sessions[2], "/r/sem", 2, timeout=5):
            pass
        b.release()
    finally:
        for s in sessions:
            s.close()


def test_double_barrier_enters_and_leaves_together(client: corral.Client) -> None:
    order: List[str] = []
    errors: List[BaseException] = []

    def participant(name: str) -> None:
        try:
            with client.session(ttl=5) as s, recipes.DoubleBarrier(s, "/r/db", 3, name, timeout=20):
                order.append("in")
                time.sleep(0.05)
            order.append("out")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=participant, args=(f"p{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and order[:3] == ["in"] * 3 and order[3:] == ["out"] * 3


def test_tree_cache_and_config_watcher_follow_changes(client: corral.Client) -> None:
    client.create("/r/tree/a", "1", create_parents=True)
    with recipes.TreeCache(client, "/r/tree") as cache, recipes.ConfigWatcher(client, "/r/tree/a") as config:
        assert cache.children("/r/tree") == ["a"]
        changes: List[object] = []
        config.on_change(changes.append)
        w = client.create("/r/tree/b/c", "2", create_parents=True)
        assert cache.wait_for_revision(w.header.revision, 10)
        assert cache.get("/r/tree/b/c") is not None and cache.children("/r/tree") == ["a", "b"]
        p = client.put("/r/tree/a", "3")
        assert cache.wait_for_revision(p.header.revision, 10)
        for _ in range(100):
            if config.value == b"3":
                break
            time.sleep(0.05)
        assert config.value == b"3" and changes == [b"3"]


def test_registry_lists_and_deregisters(client: corral.Client) -> None:
    with client.session(ttl=5) as s:
        reg = recipes.ServiceRegistry(s, "/r/services/api")
        reg.register("a", "10.0.0.1:80")
        reg.register("b", "10.0.0.2:80")
        views: List[Dict[str, bytes]] = []
        reg.watch(views.append)
        reg.deregister("a")
        for _ in range(100):
            if views and views[-1] == {"b": b"10.0.0.2:80"}:
                break
            time.sleep(0.05)
        assert views[0] == {"a": b"10.0.0.1:80", "b": b"10.0.0.2:80"} and views[-1] == {"b": b"10.0.0.2:80"}
        reg.close()
