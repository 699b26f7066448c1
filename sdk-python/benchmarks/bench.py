"""Get and put throughput and latency of the Python client at 1 and 64 concurrent callers.

    python benchmarks/bench.py --endpoints 127.0.0.1:2479      # against a running cluster
    CORRAL_BIN=/path/to/corral python benchmarks/bench.py      # starts a single-node server

Sync callers are threads sharing one corral.Client; asyncio callers are tasks sharing one
corral.aio.Client. Each case runs for --seconds after a short warm-up; values are 64 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from typing import List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import corral  # noqa: E402
import corral.aio  # noqa: E402

VALUE = b"v" * 64


def report(mode: str, op: str, callers: int, latencies: List[float], elapsed: float) -> None:
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(
        f"{mode:5} {op:4} callers={callers:3}  {len(latencies) / elapsed:9.0f} ops/s  "
        f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  mean {statistics.mean(latencies) * 1000:7.2f} ms",
        flush=True,
    )


def run_sync(client: corral.Client, op: str, callers: int, seconds: float, show: bool = True) -> None:
    stop = time.monotonic() + seconds
    per_thread: List[List[float]] = [[] for _ in range(callers)]

    def call(i: int, n: int) -> None:
        path = f"/bench/k{(i * 1000 + n) % 1000}"
        if op == "get":
            client.get(path)
        else:
            client.put(path, VALUE)

    def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            call(i, n)
            per_thread[i].append(time.perf_counter() - t)
            n += 1

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if show:
        report("sync", op, callers, [x for xs in per_thread for x in xs], time.monotonic() - start)


async def run_aio(client: corral.aio.Client, op: str, callers: int, seconds: float, show: bool = True) -> None:
    stop = time.monotonic() + seconds
    latencies: List[float] = []

    async def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            path = f"/bench/k{(i * 1000 + n) % 1000}"
            t = time.perf_counter()
            if op == "get":
                await client.get(path)
            else:
                await client.put(path, VALUE)
            latencies.append(time.perf_counter() - t)
            n += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(callers)))
    if show:
        report("aio", op, callers, latencies, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", help="host:port,... (default: start a server from $CORRAL_BIN)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each case")
    parser.add_argument("--callers", default="1,64", help="concurrency levels")
    args = parser.parse_args()
    levels = [int(c) for c in args.callers.split(",")]

    cluster = None
    endpoints = args.endpoints
    if not endpoints:
        from cluster import Cluster

        cluster = Cluster(1).start()
        endpoints = ",".join(cluster.endpoints)
    try:
        with corral.Client(endpoints) as client:
            client.put("/bench", b"", create_if_missing=True)
            for k in range(1000):
                client.put(f"/bench/k{k}", VALUE, create_if_missing=True)
            cases: List[Tuple[str, int]] = [(op, c) for op in ("get", "put") for c in levels]
            run_sync(client, "get", 1, 0.5, show=False)  # warm-up
            for op, callers in cases:
                run_sync(client, op, callers, args.seconds)

        async def aio_cases() -> None:
            async with corral.aio.Client(endpoints) as aclient:
                await run_aio(aclient, "get", 1, 0.5, show=False)  # warm-up
                for op, callers in cases:
                    await run_aio(aclient, op, callers, args.seconds)

        asyncio.run(aio_cases())
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
