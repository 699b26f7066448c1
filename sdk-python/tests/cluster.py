"""Test harness: real `corral serve` processes ($CORRAL_BIN) on free 127.0.0.1 ports in
temp dirs, single node or 3 members; kill -9 and stop. Parallel-safe (every cluster
has its own ports and directories)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

if TYPE_CHECKING:
    from certs import ServerTLS


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


class FlagsRejected(RuntimeError):
    """The server binary does not know a flag it was started with (an older build)."""


class Cluster:
    """``size`` members; ``endpoints`` are their client addresses. ``args`` are added
    to every member's command line; ``tls`` starts them with a certificate (and the
    readiness probe speaks HTTPS)."""

    def __init__(self, size: int = 1, args: Sequence[str] = (), tls: "Optional[ServerTLS]" = None) -> None:
        self.size = size
        self.args = list(args) + (tls.args() if tls else [])
        self.tls = tls
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
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for n in nodes:
            self.wait_ready(n)
        return self

    def log_text(self, node: int) -> str:
        with open(os.path.join(self.dir, f"node{node}.log"), errors="replace") as f:
            return f.read()

    def _probe_context(self) -> Optional[ssl.SSLContext]:
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=self.tls.ca.file)
        if self.tls.client_ca is not None:
            probe = self.tls.client_ca.issue("readiness-probe")
            context.load_cert_chain(probe.cert_file, probe.key_file)
        return context

    def wait_ready(self, node: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        scheme = "https" if self.tls else "http"
        url = f"{scheme}://127.0.0.1:{self.http_ports[node - 1]}/readyz"
        context = self._probe_context()
        while True:
            proc = self.procs.get(node)
            if proc is not None and proc.poll() is not None:
                text = self.log_text(node)
                if "unexpected argument" in text:
                    raise FlagsRejected(f"member {node} refused its flags: {text.strip().splitlines()[0]}")
                raise RuntimeError(f"member {node} exited: see {self.dir}/node{node}.log")
            try:
                with urllib.request.urlopen(url, timeout=1, context=context) as r:
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
