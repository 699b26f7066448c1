"""The examples of docs/python-client.md run against a real server, and the quick start
works from a fresh virtualenv after `pip install ./sdk-python`."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from typing import Dict, List

import pytest
from cluster import Cluster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "python-client.md")
PLACEHOLDER = "127.0.0.1:2479"


def examples() -> List[str]:
    with open(DOC) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_every_example_of_the_doc_runs(server: Cluster) -> None:
    blocks = examples()
    assert len(blocks) >= 8
    namespace: Dict[str, object] = {}
    for i, block in enumerate(blocks):
        code = compile(block.replace(PLACEHOLDER, server.endpoints[0]), f"{DOC}[example {i}]", "exec")
        exec(code, namespace)  # noqa: S102 - the doc's own examples


@pytest.mark.skipif(os.environ.get("CORRAL_SKIP_INSTALL") == "1", reason="CORRAL_SKIP_INSTALL=1")
def test_quick_start_works_after_pip_install_in_a_fresh_venv(server: Cluster, tmp_path: "os.PathLike[str]") -> None:
    env_dir = os.path.join(os.fspath(tmp_path), "venv")
    venv.create(env_dir, with_pip=True)
    python = os.path.join(env_dir, "bin", "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", os.path.join(ROOT, "sdk-python")],
        check=True,
        timeout=600,
    )
    quick_start = examples()[0].replace(PLACEHOLDER, server.endpoints[0])
    # Run outside the source tree so the installed package, not src/, is imported.
    out = subprocess.run(
        [python, "-c", quick_start], check=True, capture_output=True, text=True, cwd=os.fspath(tmp_path), timeout=120
    )
    assert "/app b'hello' 0" in out.stdout and "fencing token" in out.stdout
    where = subprocess.run(
        [python, "-c", "import corral, corral.v1.kv_pb2; print(corral.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.fspath(tmp_path),
    )
    assert env_dir in where.stdout
