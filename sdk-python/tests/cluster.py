"""Test harness: real `corral serve` processes ($CORRAL_BIN) on free 127.0.0.1 ports in
temp dirs, single node or 3 members; kill -9 and stop. Parallel-safe (every cluster
has its own ports and directories)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Dict, List, Optional


def corral_bin() -> str:
    path = os.environ.get("CORRAL_BIN")
    if not path:
        raise RuntimeError("set CORRAL_BIN to the corral server binary")
    return path


def free_ports(n: int) -> List[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Cluster:
    """``size`` members; ``endpoints`` are their client addresses."""

    def __init__(self, size: int = 1) -> None:
        self.size = size
        self.dir = tempfile.mkdtemp(prefix="corral-py-")
        ports = free_ports(3 * size)
        self.client_ports = ports[0:size]
        self.peer_ports = ports[size : 2 * size]
        self.http_ports = ports[2 * size : 3 * size]
        self.procs: Dict[int, Optional[subprocess.Popen[bytes]]] = {}
        self.initial = ",".join(f"{i + 1}=127.0.0.1:{self.peer_ports[i]}" for i in range(size))

    @property
    def endpoints(self) -> List[str]:
        return [f"127.0.0.1:{p}" for p in self.client_ports]

    def endpoint(self, node: int) -> str:
        return f"127.0.0.1:{self.client_ports[node - 1]}"

    def start(self, node: Optional[int] = None) -> "Cluster":
        nodes = [node] if node else list(range(1, self.size + 1))
        for n in nodes:
            i = n - 1
            log = open(os.path.join(self.dir, f"node{n}.log"), "ab")
            self.procs[n] = subprocess.Popen(
                [
                    corral_bin(),
                    "serve",
                    "--node-id",
                    str(n),
                    "--data-dir",
                    os.path.join(self.dir, f"data{n}"),
                    "--client-addr",
                    f"127.0.0.1:{self.client_ports[i]}",
                    "--peer-addr",
                    f"127.0.0.1:{self.peer_ports[i]}",
                    "--http-addr",
                    f"127.0.0.1:{self.http_ports[i]}",
                    "--initial-cluster",
                    self.initial,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for n in nodes:
            self.wait_ready(n)
        return self

    def wait_ready(self, node: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.http_ports[node - 1]}/readyz"
        while True:
            proc = self.procs.get(node)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"member {node} exited: see {self.dir}/node{node}.log")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"member {node} not ready in {timeout} s")
            time.sleep(0.1)

    def kill(self, node: int) -> None:
        """kill -9."""
        proc = self.procs.get(node)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.procs[node] = None

    def node_of(self, endpoint: str) -> int:
        return self.endpoints.index(endpoint) + 1

    def stop(self) -> None:
        for proc in list(self.procs.values()):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
