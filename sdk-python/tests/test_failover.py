"""Failover and exactly-once writes on a 3-member cluster."""

from __future__ import annotations

import grpc
import pytest
from cluster import Cluster

import corral
from corral._errors import REQUEST_ID_HEADER
from corral.v1 import kv_pb2, kv_pb2_grpc


def test_a_write_resent_with_its_request_id_is_applied_once(cluster3: Cluster) -> None:
    with grpc.insecure_channel(cluster3.endpoint(1)) as channel:
        stub = kv_pb2_grpc.KVStub(channel)
        request = kv_pb2.CreateRequest(path="/once", data=b"x")
        metadata = ((REQUEST_ID_HEADER, "py-test-exactly-once-0/1"),)
        first = stub.Create(request, metadata=metadata, timeout=10)
        again = stub.Create(request, metadata=metadata, timeout=10)  # a retry: same answer
        assert again.stat.create_revision == first.stat.create_revision


def test_calls_and_sessions_go_on_after_kill_of_the_member_in_use(cluster3: Cluster) -> None:
    with corral.Client(cluster3.endpoints, timeout=20) as client:
        client.create("/fo", "0")
        session = client.session(ttl=5)
        client.create("/fo/eph", lease_id=session.lease_id)
        victim = cluster3.node_of(client.current_endpoint)
        cluster3.kill(victim)
        for i in range(1, 20):
            client.put("/fo", str(i))
        assert client.get("/fo").data == b"19"
        assert client.current_endpoint != cluster3.endpoint(victim)
        assert not session.wait_lost(timeout=6), "the session was lost across the failover"
        assert client.exists("/fo/eph") is not None
        session.close()
        cluster3.start(victim)


def test_session_goes_suspended_then_lost_when_the_cluster_stops_answering() -> None:
    import signal

    from corral import SessionState

    with Cluster(1) as cluster, corral.Client(cluster.endpoints, timeout=5) as client:
        session = client.session(ttl=3)
        states: list = []
        with client.lock("/held", session=session) as held:
            held.on_session_change(states.append)
            proc = cluster.procs[1]
            assert proc is not None
            proc.send_signal(signal.SIGSTOP)  # frozen: keepalives get no answer
            try:
                assert session.wait_lost(30)
                assert not held.is_valid()
            finally:
                proc.send_signal(signal.SIGCONT)
        assert states[0] is SessionState.SUSPENDED and states[-1] is SessionState.LOST


@pytest.mark.slow
def test_watch_moves_on_when_its_member_freezes() -> None:
    import signal

    with Cluster(3) as cluster, corral.Client(cluster.endpoints, timeout=10) as client:
        client.create("/frozen")
        watcher = client.watch("/frozen", scope="children")
        victim = cluster.node_of(client.current_endpoint)
        others = [e for e in cluster.endpoints if e != client.current_endpoint]
        proc = cluster.procs[victim]
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)
        try:
            with corral.Client(others, timeout=30) as writer:
                for i in range(50):
                    writer.create(f"/frozen/n{i:03d}")
            seen = []
            for event in watcher:  # the HTTP/2 pings notice the frozen member
                seen.append(event.node.name)
                if len(seen) == 50:
                    break
            assert seen == [f"n{i:03d}" for i in range(50)]
        finally:
            proc.send_signal(signal.SIGCONT)
            watcher.close()
