"""Cross-SDK: what the Go SDK writes, the Python and Rust clients read byte for byte, and
a lock the Go SDK holds blocks a Python and a Rust contender (issue 16). The Go side is
sdk-go/internal/crosssdk (run with `go run`); the Rust side is `corralctl`, which is
built on the Rust client, found next to $CORRAL_BIN (or at $CORRALCTL_BIN)."""

import os
import shutil
import subprocess

import pytest
from cluster import Cluster

import corral

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def corralctl_bin() -> str:
    explicit = os.environ.get("CORRALCTL_BIN")
    if explicit:
        return explicit
    return os.path.join(os.path.dirname(os.environ.get("CORRAL_BIN", "")), "corralctl")


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")
def test_go_writes_python_and_rust_read_and_a_go_lock_blocks_both() -> None:
    ctl = corralctl_bin()
    if not os.access(ctl, os.X_OK):
        pytest.skip(f"no corralctl at {ctl}")
    value = bytes(range(256))
    with Cluster(1) as cluster:
        endpoints = ",".join(cluster.endpoints)
        go = subprocess.Popen(
            ["go", "run", "./internal/crosssdk", "-endpoints", endpoints]
            + ["-path", "/cross/value", "-lock", "/locks/cross"],
            cwd=os.path.join(ROOT, "sdk-go"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")},
        )
        try:
            assert go.stdout is not None
            line = go.stdout.readline().decode()
            assert line.startswith("LOCKED "), f"the Go side did not lock: {line!r}"
            go_token = int(line.split()[1])

            # Written by Go, read by Python and by Rust, byte for byte.
            with corral.Client(cluster.endpoints) as client:
                assert client.get("/cross/value").data == value
                rust = subprocess.run(
                    [ctl, "--endpoints", endpoints, "get", "--raw", "/cross/value"],
                    capture_output=True,
                    timeout=60,
                )
                assert rust.returncode == 0, rust.stderr
                assert rust.stdout == value

                # Held by Go: a Python and a Rust contender both give up.
                with pytest.raises(corral.WaitTimeout):
                    with client.lock("/locks/cross", timeout=1.0):
                        pass
                rust = subprocess.run(
                    [ctl, "--endpoints", endpoints, "lock", "/locks/cross", "--wait", "1s", "--", "true"],
                    capture_output=True,
                    timeout=60,
                )
                assert rust.returncode == 5, (rust.returncode, rust.stderr)

                # Once Go releases it, Python gets it, with a higher fencing token.
                assert go.stdin is not None
                go.stdin.close()
                assert go.wait(timeout=60) == 0
                with client.lock("/locks/cross", timeout=30.0) as held:
                    assert held.fencing_token > go_token
        finally:
            if go.poll() is None:
                go.kill()
                go.wait()
