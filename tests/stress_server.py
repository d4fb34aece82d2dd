"""The server half of tests/test_stress.py, run as its own process.

It serves idle WebSocket connections (the handler only waits for messages)
with the default options, prints ``port <n>`` and then answers commands read
from standard input, one per line:

- ``rss``: prints ``rss <KiB> connections <n>`` (after a garbage
  collection): the resident set size of this process and its open
  WebSockets;
- ``close``: runs ``server.aclose()`` and prints ``closed <seconds>``, then
  exits.

A separate process, so that its memory is the server's alone.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import AsyncIterator

import trio

from trio_ws import WebSocket, WebSocketServer, serve_websocket


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def idle(ws: WebSocket) -> None:
    async for _ in ws:
        pass


async def lines(stream: trio.abc.ReceiveStream) -> AsyncIterator[str]:
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode().strip()
        data = await stream.receive_some()
        if not data:
            return
        buffer += data


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server: WebSocketServer = await nursery.start(
            functools.partial(serve_websocket, idle, 0, host="127.0.0.1")
        )
        say(f"port {server.port}")
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        async for command in lines(stdin):
            if command == "rss":
                gc.collect()
                say(f"rss {rss_kib()} connections {server.active_connections}")
            elif command == "close":
                start = trio.current_time()
                await server.aclose()
                say(f"closed {trio.current_time() - start:.3f}")
                break
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
