"""Interoperability with the ``websockets`` library (its threading-based sync API).

(a) our client against a ``websockets`` server running in a plain thread;
(b) a ``websockets`` client, run with ``trio.to_thread.run_sync``, against our
server. Everything is on loopback, every blocking call has a timeout, and every
server and thread is shut down before a test returns.
"""

from __future__ import annotations

import functools
import inspect
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from websockets.exceptions import ConnectionClosed as TheirConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as their_connect
from websockets.sync.server import ServerConnection
from websockets.sync.server import serve as their_serve

from trio_ws import (
    ConnectionClosed,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)

MIB = 1024 * 1024
TIMEOUT = 10  # bound on the trio part of every test
SYNC_TIMEOUT = 5  # bound on every blocking call made in a thread

TEXT = "héllo wörld ✓ 🚀 日本語"
BINARY = bytes(range(256)) * 4

# websockets >= 15 reads proxy settings from the environment; never use a proxy.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(their_connect).parameters else {}
)


# --------------------------------------------------------------------- helpers


@asynccontextmanager
async def their_server(
    handler: Callable[[ServerConnection], None], **kwargs: Any
) -> AsyncIterator[int]:
    """Run a ``websockets`` sync server in a thread; yield its port."""
    server = their_serve(
        handler,
        "127.0.0.1",
        0,
        open_timeout=SYNC_TIMEOUT,
        close_timeout=2,
        ping_interval=None,
        max_size=2 * MIB,
        **kwargs,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        with trio.CancelScope(shield=True):
            # shutdown() closes open connections and waits for the handlers.
            await trio.to_thread.run_sync(server.shutdown)
            await trio.to_thread.run_sync(thread.join, SYNC_TIMEOUT)
        assert not thread.is_alive(), "the websockets server thread did not stop"


def their_echo(ws: ServerConnection) -> None:
    for message in ws:
        ws.send(message)


def connect_theirs(port: int, path: str = "/", **kwargs: Any) -> ClientConnection:
    return their_connect(
        f"ws://127.0.0.1:{port}{path}",
        open_timeout=SYNC_TIMEOUT,
        close_timeout=2,
        ping_interval=None,
        max_size=2 * MIB,
        **_NO_PROXY,
        **kwargs,
    )


async def run_our_server(
    nursery: trio.Nursery,
    handler: Callable[[WebSocket], Awaitable[None]],
    **options: Any,
) -> WebSocketServer:
    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket, handler, 0, host="127.0.0.1", close_timeout=2, **options
        )
    )
    return server


async def our_echo(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


def recording_echo(
    outcome: list[Any], done: trio.Event
) -> Callable[[WebSocket], Awaitable[None]]:
    """An echo handler that records how its ``async for`` loop ended.

    ``outcome`` gets the exception that left the loop, or ("ended", ws.closed)
    when the loop ended quietly; ``done`` is set either way.
    """

    async def handler(ws: WebSocket) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except BaseException as exc:
            outcome.append(exc)
            raise
        else:
            outcome.append(("ended", ws.closed))
        finally:
            done.set()

    return handler


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking client in a thread (always joined, bounded by its timeouts)."""
    return await trio.to_thread.run_sync(fn, *args)


# ------------------------------------------- (a) our client, their server


async def test_our_client_their_server_text_and_binary() -> None:
    async with their_server(their_echo) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send(TEXT)
                assert await ws.receive() == TEXT
                await ws.send("")
                assert await ws.receive() == ""
                await ws.send(BINARY)
                reply = await ws.receive()
                assert isinstance(reply, bytes)
                assert reply == BINARY
                await ws.send(b"")
                assert await ws.receive() == b""
                # Both sides have permessage-deflate on by default.
                assert ws.extensions is not None
                assert ws.extensions.startswith("permessage-deflate")
            assert ws.closed is not None
            assert ws.closed.code == 1000


async def test_our_client_their_server_one_mib_binary() -> None:
    payload = os.urandom(MIB)
    async with their_server(their_echo) as port:
        with trio.fail_after(TIMEOUT):
            # Our default max_message_size is exactly 1 MiB: the echo must fit.
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send(payload)
                reply = await ws.receive()
                assert len(reply) == MIB
                assert reply == payload


async def test_our_client_their_server_subprotocol() -> None:
    async with their_server(their_echo, subprotocols=["chat.v2", "chat.v1"]) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(
                f"ws://127.0.0.1:{port}/", subprotocols=["chat.v1"]
            ) as ws:
                assert ws.subprotocol == "chat.v1"
                await ws.send("x")
                assert await ws.receive() == "x"


async def test_our_client_pings_their_server_and_answers_its_pings() -> None:
    answered: queue.Queue[bool] = queue.Queue()

    def handler(ws: ServerConnection) -> None:
        # Their server pings us; our reader task must answer with a pong.
        answered.put(ws.ping(b"from-them").wait(SYNC_TIMEOUT))
        their_echo(ws)

    async with their_server(handler) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                latency = await ws.ping()
                assert isinstance(latency, float)
                assert 0 < latency < SYNC_TIMEOUT
                latency = await ws.ping(b"custom payload")
                assert 0 < latency < SYNC_TIMEOUT
                # the connection is still usable afterwards
                await ws.send("after ping")
                assert await ws.receive() == "after ping"
    assert answered.get_nowait() is True


async def test_our_client_close_code_reaches_their_server() -> None:
    seen: queue.Queue[tuple[int | None, str | None]] = queue.Queue()

    def handler(ws: ServerConnection) -> None:
        try:
            for message in ws:
                ws.send(message)
        except TheirConnectionClosed:
            pass  # 4001 is not a "normal" close for websockets
        seen.put((ws.close_code, ws.close_reason))

    async with their_server(handler) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("hi")
                assert await ws.receive() == "hi"
                await ws.aclose(4001, "bye")
                assert ws.closed is not None
                # the server echoes our close frame
                assert (ws.closed.code, ws.closed.reason) == (4001, "bye")
    assert seen.get_nowait() == (4001, "bye")


async def test_their_server_close_code_reaches_our_client() -> None:
    def handler(ws: ServerConnection) -> None:
        assert ws.recv(timeout=SYNC_TIMEOUT) == "close me"
        ws.close(4002, "server says bye")

    async with their_server(handler) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("close me")
                with pytest.raises(ConnectionClosed) as exc_info:
                    await ws.receive()
                assert exc_info.value.reason.code == 4002
                assert exc_info.value.reason.reason == "server says bye"
                assert ws.closed is not None
                assert ws.closed.code == 4002
                with pytest.raises(ConnectionClosed):
                    await ws.send("too late")


# ------------------------------------------- (b) their client, our server


async def test_their_client_our_server_text_binary_large(
    nursery: trio.Nursery,
) -> None:
    payload = os.urandom(MIB)

    def client(port: int) -> list[Any]:
        with connect_theirs(port) as ws:
            got = []
            for message in (TEXT, "", BINARY, b"", payload):
                ws.send(message)
                got.append(ws.recv(timeout=SYNC_TIMEOUT))
            # permessage-deflate was negotiated (on by default on both sides)
            got.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
            return got

    server = await run_our_server(nursery, our_echo, max_message_size=2 * MIB)
    try:
        with trio.fail_after(TIMEOUT):
            got = await in_thread(client, server.port)
    finally:
        await server.aclose()
    assert got[0] == TEXT
    assert got[1] == ""
    assert got[2] == BINARY
    assert isinstance(got[2], bytes)
    assert got[3] == b""
    assert got[4] == payload
    assert got[5].startswith("permessage-deflate")


async def test_their_client_our_server_default_limit_fits_one_mib(
    nursery: trio.Nursery,
) -> None:
    payload = b"\x00" * MIB  # exactly our default max_message_size

    def client(port: int) -> bytes:
        with connect_theirs(port) as ws:
            ws.send(payload)
            return ws.recv(timeout=SYNC_TIMEOUT)

    server = await run_our_server(nursery, our_echo)
    try:
        with trio.fail_after(TIMEOUT):
            assert await in_thread(client, server.port) == payload
    finally:
        await server.aclose()


async def test_their_client_our_server_subprotocol(nursery: trio.Nursery) -> None:
    def client(port: int) -> str | None:
        with connect_theirs(port, subprotocols=["b", "a"]) as ws:
            return ws.subprotocol

    server = await run_our_server(nursery, our_echo, subprotocols=["a", "b"])
    try:
        with trio.fail_after(TIMEOUT):
            assert await in_thread(client, server.port) == "a"
    finally:
        await server.aclose()


async def test_their_client_pings_our_server(nursery: trio.Nursery) -> None:
    latencies: list[float] = []

    async def handler(ws: WebSocket) -> None:
        latencies.append(await ws.ping())  # their client answers our ping
        await our_echo(ws)

    def client(port: int) -> tuple[bool, bool, str]:
        with connect_theirs(port) as ws:
            first = ws.ping(b"ping-1").wait(SYNC_TIMEOUT)
            second = ws.ping().wait(SYNC_TIMEOUT)
            ws.send("still open")
            return first, second, ws.recv(timeout=SYNC_TIMEOUT)

    server = await run_our_server(nursery, handler)
    try:
        with trio.fail_after(TIMEOUT):
            assert await in_thread(client, server.port) == (True, True, "still open")
    finally:
        await server.aclose()
    assert len(latencies) == 1
    assert 0 < latencies[0] < SYNC_TIMEOUT


async def test_their_client_normal_close_ends_our_loop_quietly(
    nursery: trio.Nursery,
) -> None:
    outcome: list[Any] = []
    done = trio.Event()

    def client(port: int) -> tuple[str, int | None]:
        with connect_theirs(port) as ws:
            ws.send("one")
            reply = ws.recv(timeout=SYNC_TIMEOUT)
        # leaving the block closed with 1000
        return reply, ws.close_code

    server = await run_our_server(nursery, recording_echo(outcome, done))
    try:
        with trio.fail_after(TIMEOUT):
            reply, their_close_code = await in_thread(client, server.port)
            await done.wait()
    finally:
        await server.aclose()
    assert reply == "one"
    assert their_close_code == 1000  # our server echoed their close frame
    assert len(outcome) == 1
    tag, closed = outcome[0]
    assert tag == "ended"
    assert closed is not None
    assert closed.code == 1000


async def test_their_client_abnormal_close_raises_in_our_loop(
    nursery: trio.Nursery,
) -> None:
    outcome: list[Any] = []
    done = trio.Event()

    def client(port: int) -> None:
        with connect_theirs(port) as ws:
            ws.close(4003, "client bye")

    server = await run_our_server(nursery, recording_echo(outcome, done))
    try:
        with trio.fail_after(TIMEOUT):
            await in_thread(client, server.port)
            await done.wait()
    finally:
        await server.aclose()
    assert isinstance(outcome[0], ConnectionClosed)
    assert outcome[0].reason.code == 4003
    assert outcome[0].reason.reason == "client bye"


async def test_our_server_close_code_reaches_their_client(
    nursery: trio.Nursery,
) -> None:
    async def handler(ws: WebSocket) -> None:
        assert await ws.receive() == "close me"
        await ws.aclose(4004, "server bye")

    def client(port: int) -> tuple[type[BaseException], int | None, str | None]:
        with connect_theirs(port) as ws:
            ws.send("close me")
            try:
                ws.recv(timeout=SYNC_TIMEOUT)
            except TheirConnectionClosed as exc:
                return type(exc), ws.close_code, ws.close_reason
            raise AssertionError("recv() returned instead of raising")

    server = await run_our_server(nursery, handler)
    try:
        with trio.fail_after(TIMEOUT):
            exc_type, code, reason = await in_thread(client, server.port)
    finally:
        await server.aclose()
    assert issubclass(exc_type, TheirConnectionClosed)
    assert (code, reason) == (4004, "server bye")


# ------------------------------------------------ compression, both ways

COMPRESSIBLE = ("all work and no play makes jack a dull boy. " * 30000)[: MIB - 100]


async def test_compressed_both_ways_our_client(nursery: trio.Nursery) -> None:
    seen: list[str | None] = []

    def handler(ws: ServerConnection) -> None:
        seen.append(
            ws.request.headers.get("Sec-WebSocket-Extensions") if ws.request else None
        )
        for message in ws:
            ws.send(message)

    async with their_server(handler) as port:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                assert ws.extensions is not None
                for _ in range(3):  # context takeover across messages
                    await ws.send(COMPRESSIBLE)
                    assert await ws.receive() == COMPRESSIBLE
                await ws.send(COMPRESSIBLE.encode(), compress=False)
                assert await ws.receive() == COMPRESSIBLE.encode()
                await ws.send(b"tiny")  # under the threshold: sent as is
                assert await ws.receive() == b"tiny"
    assert seen[0] is not None and "permessage-deflate" in seen[0]


async def test_compressed_both_ways_their_client(nursery: trio.Nursery) -> None:
    def client(port: int) -> list[Any]:
        with connect_theirs(port) as ws:
            got: list[Any] = [ws.response.headers.get("Sec-WebSocket-Extensions")]
            for message in (COMPRESSIBLE, COMPRESSIBLE, COMPRESSIBLE.encode(), "x"):
                ws.send(message)
                got.append(ws.recv(timeout=SYNC_TIMEOUT))
            return got

    server = await run_our_server(nursery, our_echo)
    try:
        with trio.fail_after(TIMEOUT):
            got = await in_thread(client, server.port)
    finally:
        await server.aclose()
    assert got[0].startswith("permessage-deflate")
    assert got[1:] == [COMPRESSIBLE, COMPRESSIBLE, COMPRESSIBLE.encode(), "x"]


async def test_compression_off_on_our_side(nursery: trio.Nursery) -> None:
    def client(port: int) -> list[Any]:
        with connect_theirs(port) as ws:
            ws.send(COMPRESSIBLE)
            return [
                ws.response.headers.get("Sec-WebSocket-Extensions"),
                ws.recv(SYNC_TIMEOUT),
            ]

    server = await run_our_server(nursery, our_echo, compression=None)
    try:
        with trio.fail_after(TIMEOUT):
            got = await in_thread(client, server.port)
    finally:
        await server.aclose()
    assert got == [None, COMPRESSIBLE]
