"""Client-side benchmarks: a Trio client library against one fixed fast server.

Run by ``benchmarks/run.py`` as
``python benchmarks/clientbench.py --impl trio_ws --ws-port N --tcp-port M ...``
in its own process (pinned away from the server); prints one JSON object.

The fixed server is ``servers/echo_asyncio_ws.py`` (minimal WebSocket echo on
asyncio/uvloop) and, for the plain Trio TCP client that is the ceiling of any
Trio client, ``servers/echo_asyncio_tcp.py``. Workloads mirror the server side:
(a) ping-pong round trips of 32-byte text messages, (b) pipelined messages
with a bounded window, (e) connect + handshake + close. Every loop is bounded
by a count and a deadline.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

HOST = "127.0.0.1"
MESSAGE = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEF" * 2)[:32]
MAX_MESSAGE_SIZE = 4 * 1024 * 1024


class Conn:
    """The three calls a workload needs, whatever the library."""

    send: Callable[[str], Awaitable[None]]
    receive: Callable[[], Awaitable[Any]]
    # For plain TCP a receive may carry several messages: how many it held.
    count: Callable[[Any], int] = staticmethod(lambda _m: 1)  # type: ignore[assignment]


@asynccontextmanager
async def open_trio_ws(url: str, tcp_port: int) -> AsyncIterator[Conn]:
    import trio_ws

    async with trio_ws.open_websocket_url(
        url, ping_interval=None, max_message_size=MAX_MESSAGE_SIZE
    ) as ws:
        c = Conn()
        c.send, c.receive = ws.send, ws.receive
        yield c


@asynccontextmanager
async def open_trio_websocket(url: str, tcp_port: int) -> AsyncIterator[Conn]:
    import trio_websocket

    async with trio_websocket.open_websocket_url(
        url, max_message_size=MAX_MESSAGE_SIZE
    ) as ws:
        c = Conn()
        c.send, c.receive = ws.send_message, ws.get_message
        yield c


@asynccontextmanager
async def open_websockets_trio(url: str, tcp_port: int) -> AsyncIterator[Conn]:
    from websockets.trio.client import connect

    async with connect(
        url,
        compression=None,
        ping_interval=None,
        proxy=None,
        max_size=MAX_MESSAGE_SIZE,
    ) as ws:
        c = Conn()
        c.send, c.receive = ws.send, ws.recv
        yield c


@asynccontextmanager
async def open_plain_trio(url: str, tcp_port: int) -> AsyncIterator[Conn]:
    """Plain Trio TCP: send_all per message, receive_some counted in 32-byte units."""
    stream = await trio.open_tcp_stream(HOST, tcp_port)
    size = len(MESSAGE.encode())
    pending = [0]

    async def send(message: str) -> None:
        await stream.send_all(message.encode())

    async def receive() -> bytes:
        # Return whole messages only, like a WebSocket would.
        while True:
            data = await stream.receive_some(65536)
            if not data:
                raise EOFError("server closed")
            pending[0] += len(data)
            if pending[0] >= size:
                return data

    def count(_data: bytes) -> int:
        n, pending[0] = divmod(pending[0], size)
        return n

    c = Conn()
    c.send, c.receive, c.count = send, receive, count  # type: ignore[method-assign]
    try:
        yield c
    finally:
        await stream.aclose()


CLIENTS = {
    "trio_ws": open_trio_ws,
    "trio_websocket": open_trio_websocket,
    "websockets_trio": open_websockets_trio,
    "plain_trio": open_plain_trio,
}


async def pingpong(
    opener: Any, url: str, tcp_port: int, count: int, seconds: float
) -> dict[str, Any]:
    async with opener(url, tcp_port) as c:
        for _ in range(100):
            await c.send(MESSAGE)
            await c.receive()
        rtts = []
        clock = time.perf_counter_ns
        cpu0 = time.process_time()
        start = clock()
        deadline = start + int(seconds * 1e9)
        done = 0
        while done < count:
            t0 = clock()
            await c.send(MESSAGE)
            got = 0
            while got < 1:
                got += c.count(await c.receive())
            t1 = clock()
            rtts.append(t1 - t0)
            done += 1
            if t1 > deadline:
                break
        elapsed = (clock() - start) / 1e9
        cpu = time.process_time() - cpu0
    rtts.sort()
    return {
        "msgs_per_s": done / elapsed,
        "p50_us": rtts[len(rtts) // 2] / 1000,
        "p99_us": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] / 1000,
        "count": done,
        "elapsed": elapsed,
        **_cpu(cpu, done, elapsed),
    }


def _cpu(cpu: float, ops: int, elapsed: float) -> dict[str, float]:
    """This client process's CPU over the timed part (robust to a noisy machine)."""
    return {
        "client_cpu_s": cpu,
        "client_busy": cpu / elapsed,
        "client_cpu_us_per_op": cpu * 1e6 / max(ops, 1),
    }


async def pipeline(
    opener: Any, url: str, tcp_port: int, count: int, window: int, seconds: float
) -> dict[str, Any]:
    """One task: fill the window, then send one message per message received."""
    async with opener(url, tcp_port) as c:
        sent = received = 0
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while sent < min(window, count):
            await c.send(MESSAGE)
            sent += 1
        while received < sent:
            n = c.count(await c.receive())
            received += n
            if time.perf_counter() > deadline:
                count = sent  # stop sending; drain what is in flight
            for _ in range(min(n, count - sent)):
                await c.send(MESSAGE)
                sent += 1
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    return {
        "msgs_per_s": received / elapsed,
        "count": received,
        "elapsed": elapsed,
        **_cpu(cpu, received, elapsed),
    }


async def connect(
    opener: Any, url: str, tcp_port: int, count: int, seconds: float
) -> dict[str, Any]:
    for _ in range(10):
        async with opener(url, tcp_port):
            pass
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    done = 0
    while done < count:
        async with opener(url, tcp_port):
            pass
        done += 1
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {
        "conns_per_s": done / elapsed,
        "count": done,
        "elapsed": elapsed,
        **_cpu(cpu, done, elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--connect-count", type=int, default=2000)
    parser.add_argument("--workloads", default="a,b,e")
    args = parser.parse_args()
    opener = CLIENTS[args.impl]
    url = f"ws://{HOST}:{args.ws_port}/"
    results: dict[str, Any] = {}
    runs: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "a": lambda: pingpong(opener, url, args.tcp_port, args.count, args.seconds),
        "b": lambda: pipeline(
            opener, url, args.tcp_port, args.count, args.window, args.seconds
        ),
        "e": lambda: connect(
            opener, url, args.tcp_port, args.connect_count, args.seconds
        ),
    }
    for name in args.workloads.split(","):
        try:
            # A hard bound on each workload, whatever the library does.
            async def bounded(run=runs[name]) -> dict[str, Any]:
                with trio.fail_after(args.seconds * 5 + 30):
                    return await run()

            results[name] = trio.run(bounded)
        except BaseException as exc:  # report and go on with the next workload
            if isinstance(exc, KeyboardInterrupt):
                raise
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
