"""Worker processes of the scenario tests: `python workers.py KIND [--aio] ARGS...`.

write ENDPOINTS PREFIX COUNT          create PREFIX-00000.. one after another
lock ENDPOINTS NAME FILE ROUNDS       ROUNDS times: hold NAME, append start/end lines
register ENDPOINTS BASE INSTANCE TTL  register INSTANCE, print "ready", sleep forever
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import corral
import corral.aio


def append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def sync_main(kind: str, args: list) -> None:
    with corral.Client(args[0]) as client:
        if kind == "write":
            prefix, count = args[1], int(args[2])
            for i in range(count):
                client.create(f"{prefix}-{i:05d}", str(i))
        elif kind == "lock":
            name, path, rounds = args[1], args[2], int(args[3])
            for _ in range(rounds):
                with client.lock(name) as held:
                    append(path, f"start {held.fencing_token} {os.getpid()}")
                    time.sleep(0.001)
                    append(path, f"end {held.fencing_token} {os.getpid()}")
        elif kind == "register":
            base, instance, ttl = args[1], args[2], float(args[3])
            session = client.session(ttl=ttl)
            corral.recipes.ServiceRegistry(session, base).register(instance, f"pid={os.getpid()}")
            print("ready", flush=True)
            while True:
                time.sleep(3600)


async def aio_main(kind: str, args: list) -> None:
    async with corral.aio.Client(args[0]) as client:
        if kind == "write":
            prefix, count = args[1], int(args[2])
            for i in range(count):
                await client.create(f"{prefix}-{i:05d}", str(i))
        elif kind == "lock":
            name, path, rounds = args[1], args[2], int(args[3])
            for _ in range(rounds):
                async with client.lock(name) as held:
                    append(path, f"start {held.fencing_token} {os.getpid()}")
                    await asyncio.sleep(0.001)
                    append(path, f"end {held.fencing_token} {os.getpid()}")
        elif kind == "register":
            base, instance, ttl = args[1], args[2], float(args[3])
            session = await client.session(ttl=ttl)
            await corral.aio.ServiceRegistry(session, base).register(instance, f"pid={os.getpid()}")
            print("ready", flush=True)
            while True:
                await asyncio.sleep(3600)


if __name__ == "__main__":
    argv = sys.argv[1:]
    kind = argv.pop(0)
    if argv and argv[0] == "--aio":
        asyncio.run(aio_main(kind, argv[1:]))
    else:
        sync_main(kind, argv)
