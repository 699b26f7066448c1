"""The calls of the sync client against a real single-node server."""

from __future__ import annotations

import os
import threading
from typing import List

import pytest
from cluster import Cluster

import corral
from corral import Compare, Op


@pytest.fixture
def client(server: Cluster):  # type: ignore[no-untyped-def]
    with corral.Client(",".join(server.endpoints), timeout=10) as c:
        yield c


def test_kv_round_trip_with_str_and_bytes(client: corral.Client) -> None:
    created = client.create("/kv/a", "héllo", create_parents=True)
    assert created.path == "/kv/a" and created.stat.version == 0
    node = client.get("/kv/a")
    assert node.data == "héllo".encode() and node.stat.data_length == len("héllo".encode())
    put = client.put("/kv/a", b"\x00\x01", expected_version=0, prev_node=True)
    assert put.stat.version == 1 and put.prev_node is not None and put.prev_node.data == "héllo".encode()
    with pytest.raises(corral.VersionMismatch) as e:
        client.put("/kv/a", b"x", expected_version=0)
    assert e.value.current == 1
    seq = client.create("/kv/s-", sequential=True)
    assert seq.path.startswith("/kv/s-") and len(seq.path) == len("/kv/s-") + 10
    assert [n.path for n in client.list("/kv").nodes] == ["/kv/a", seq.path]
    with pytest.raises(corral.NotEmpty):
        client.delete("/kv")
    assert client.delete("/kv", recursive=True).deleted == 3
    with pytest.raises(corral.NotFound):
        client.get("/kv/a")
    with pytest.raises(corral.ParentNotFound):
        client.create("/kv/x/y")
    assert client.exists("/kv") is None


def test_txn_compares_and_ops(client: corral.Client) -> None:
    client.create("/t", "1")
    result = client.txn(
        [Compare("/t", "version", "==", 0)],
        [Op.put("/t", "2"), Op.get("/t"), Op.create("/t/c")],
        [Op.get("/t")],
    )
    assert result.succeeded and isinstance(result.results[1], corral.Node) and result.results[1].data == b"2"
    result = client.txn([Compare("/t", "data", "==", "nope")], [], [Op.get("/missing")])
    assert not result.succeeded and result.results == [None]


def test_leases_and_ephemerals(client: corral.Client) -> None:
    lease = client.lease_grant(5)
    client.create("/eph", lease_id=lease.lease_id)
    ttl = client.lease_time_to_live(lease.lease_id, with_nodes=True)
    assert ttl.nodes == ["/eph"] and 0 < ttl.remaining <= 5
    assert client.lease_keep_alive(lease.lease_id) == 5
    assert lease.lease_id in [x.lease_id for x in client.lease_list()]
    assert client.lease_revoke(lease.lease_id) == 1
    assert client.exists("/eph") is None
    with pytest.raises(corral.LeaseNotFound):
        client.lease_keep_alive(lease.lease_id)


def test_lock_unlock_and_election_need_the_lease(client: corral.Client) -> None:
    with client.session(ttl=5) as s1, client.session(ttl=5) as s2:
        held = client.lock("/locks/e", s1.lease_id).acquire()
        with pytest.raises(corral.WaitTimeout):
            client.lock("/locks/e", s2.lease_id, timeout=0.3).acquire()
        assert client.children("/locks/e") == [held.key.rsplit("/", 1)[1]], "the contender left an entry"
        with pytest.raises(corral.NotEntryOwner):
            client.unlock(held.key, s2.lease_id)
        client.unlock(held.key, s1.lease_id)
        second = client.lock("/locks/e", s2.lease_id).acquire()
        assert second.fencing_token > held.fencing_token
        leader = client.campaign("/elect/e", "one", s1.lease_id)
        assert client.leader("/elect/e").value == b"one"
        with pytest.raises(corral.NotEntryOwner):
            client.proclaim(leader.key, "x", s2.lease_id)
        client.proclaim(leader.key, "two", s1.lease_id)
        observed = client.observe("/elect/e")
        first = next(observed)
        assert first is not None and first.value == b"two"
        client.resign(leader.key, s1.lease_id)
        assert next(observed) is None
        with pytest.raises(corral.NoLeader):
            client.leader("/elect/e")


def test_watch_batches_resume_revision_and_one_shot_helpers(client: corral.Client) -> None:
    client.create("/wt")
    start = client.get_with_header("/wt").header.revision + 1
    client.txn([], [Op.create("/wt/a"), Op.create("/wt/b")])
    client.put("/wt/a", "x")
    with client.watch("/wt", scope="subtree", start_revision=start) as w:
        batch = w.next_batch()
        assert batch is not None and len(batch.events) == 2 and batch.resume_revision == batch.revision + 1
        batch2 = w.next_batch()
        assert batch2 is not None and batch2.events[0].type is corral.EventType.UPDATED
        assert w.revision == batch2.revision
    assert corral.watch_once(client, "/wt/zz", timeout=0.3) is None
    seen: List[object] = []
    done = threading.Event()

    def on_data(data: object, stat: object) -> None:
        seen.append(data)
        if len(seen) == 3:
            done.set()

    dw = corral.DataWatch(client, "/wt/c", on_data)
    client.create("/wt/c", "1")
    client.delete("/wt/c")
    assert done.wait(10) and seen == [None, b"1", None]
    dw.stop()
    kids: List[List[str]] = []
    cw = corral.ChildrenWatch(client, "/wt", lambda c: kids.append(c) and None)
    client.create("/wt/d")
    for _ in range(100):
        if kids and "d" in kids[-1]:
            break
        threading.Event().wait(0.05)
    assert kids[0] == ["a", "b"] and kids[-1] == ["a", "b", "d"]
    cw.stop()


def test_compacted_watch_names_the_oldest_revision(client: corral.Client) -> None:
    client.create("/cp", "0")
    for i in range(3):
        client.put("/cp", str(i))
    rev = client.get_with_header("/cp").header.revision
    assert client.compact(rev) >= rev
    w = client.watch("/cp", start_revision=1)
    with pytest.raises(corral.Compacted) as e:
        w.next_batch()
    assert e.value.oldest_revision > 1


def test_status_members_and_snapshot(client: corral.Client, tmp_path: "os.PathLike[str]") -> None:
    status = client.status()
    assert status.leader_id == status.member_id and status.version
    assert len(client.member_list().members) == 1
    snap = client.snapshot(os.path.join(os.fspath(tmp_path), "backup.db"))
    assert snap.size > 0 and os.path.getsize(snap.path) == snap.size


@pytest.mark.parametrize(
    "call, exc, argument",
    [
        (lambda c: c.create("no-slash"), corral.InvalidArgument, "path"),
        (lambda c: c.create("/a/"), corral.InvalidArgument, "path"),
        (lambda c: c.create("/a/../b"), corral.InvalidArgument, "path"),
        (lambda c: c.create("/bad", 12), TypeError, "data"),
        (lambda c: c.put("/bad", None), TypeError, "data"),
        (lambda c: c.lease_grant(-1), corral.InvalidArgument, "ttl"),
        (lambda c: c.create("/bad", ttl=-5), corral.InvalidArgument, "ttl"),
        (lambda c: c.watch("/bad", scope="galaxy"), corral.InvalidArgument, "scope"),
        (lambda c: c.put("/bad", "x", expected_version=-1), corral.InvalidArgument, "expected_version"),
        (lambda c: c.get("/bad", timeout=-1), corral.InvalidArgument, "timeout"),
        (lambda c: c.lock("locks"), corral.InvalidArgument, "name"),
    ],
)
def test_bad_input_is_refused_naming_the_argument_and_changes_nothing(
    client: corral.Client,
    call,
    exc,
    argument,  # type: ignore[no-untyped-def]
) -> None:
    before = client.status().revision
    with pytest.raises(exc) as e:
        call(client)
    assert argument in str(e.value)
    assert client.status().revision == before


def test_server_refusals_are_typed(client: corral.Client) -> None:
    with pytest.raises(corral.InvalidArgument) as e:
        client.create("/big", b"x" * (2 * 1024 * 1024))
    assert e.value.reason == "DATA_TOO_LARGE"
    lease = client.lease_grant(2)
    client.create("/ep", lease_id=lease.lease_id)
    with pytest.raises(corral.EphemeralParent):
        client.create("/ep/child")


def test_many_threads_share_one_client(client: corral.Client) -> None:
    client.create("/threads")
    errors: List[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                client.create(f"/threads/t{i}-{j}")
                client.get(f"/threads/t{i}-{j}")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(client.children("/threads")) == 160


def test_threads_sharing_a_session_exclude_each_other_on_a_lock(client: corral.Client) -> None:
    inside = []
    overlap = []

    def work() -> None:
        for _ in range(10):
            with client.lock("/locks/threads"):
                inside.append(1)
                if len(inside) > 1:
                    overlap.append(1)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap


def test_session_lost_is_reported_to_lock_holder(client: corral.Client) -> None:
    states: List[corral.SessionState] = []
    session = client.session(ttl=2)
    with client.lock("/locks/lost", session=session) as held:
        held.on_session_change(states.append)
        assert held.is_valid()
        client.lease_revoke(session.lease_id)
        assert session.wait_lost(10)
        assert not held.is_valid() and states[-1] is corral.SessionState.LOST
    assert client.exists("/locks/lost") is None or client.children("/locks/lost") == []


def test_client_made_before_fork_refuses_in_the_child(server: Cluster) -> None:
    parent = corral.Client(server.endpoints)
    parent.get("/")
    pid = os.fork()
    if pid == 0:  # the child: the parent's client refuses, a new one works
        code = 1
        try:
            try:
                parent.get("/")
            except corral.ClientClosed:
                with corral.Client(server.endpoints) as fresh:
                    fresh.get("/")
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent.get("/")
    parent.close()


def test_a_contender_whose_session_is_lost_leaves_no_entry(client: corral.Client) -> None:
    with client.session(ttl=5) as holder:
        held = client.lock("/locks/orphan", session=holder).acquire()
        contender = client.session(ttl=5)
        failed: List[BaseException] = []

        def wait() -> None:
            try:
                client.lock("/locks/orphan", session=contender).acquire()
            except BaseException as e:  # noqa: BLE001
                failed.append(e)

        t = threading.Thread(target=wait)
        t.start()
        for _ in range(100):
            if len(client.children("/locks/orphan")) == 2:
                break
            threading.Event().wait(0.05)
        client.lease_revoke(contender.lease_id)
        t.join(20)
        assert not t.is_alive() and failed and isinstance(failed[0], corral.CorralError)
        assert client.children("/locks/orphan") == [held.key.rsplit("/", 1)[1]]
        client.unlock(held.key, holder.lease_id)
