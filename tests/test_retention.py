"""A closed connection leaves nothing behind in the server (issue 18, item 2).

What a server holds must be bounded by its live connections, never by the
rate of past ones. For each way a connection can end (clean close, reset in
the middle of the handshake, reset in the middle of a message, keepalive
timeout, a handler that raises), N connections end one after the other on a
default server (keepalive on); then, with the server still running and no
connection open, no WebSocket object is left, the sweeper holds nothing, and
the number of objects the garbage collector tracks has not grown with N.
"""

from __future__ import annotations

import gc
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from tests.conftest import TEST_TIMEOUT, open_raw, start_server
from trio_ws import WebSocket, WebSocketServer, open_websocket_url
from trio_ws._core._events import CloseReceived, ConnectionLost

N = 60


def _reset(stream: trio.SocketStream) -> None:
    """Close with an RST instead of a FIN."""
    linger = struct.pack("ii", 1, 0)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    stream.socket.close()


async def clean_close(port: int) -> None:
    async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
        await ws.send("hello")
        assert await ws.receive() == "hello"


async def reset_mid_handshake(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
    _reset(stream)


async def reset_mid_message(port: int) -> None:
    peer = await open_raw(port)
    await peer.client_handshake()
    # A binary frame announcing 1000 bytes, of which only 10 arrive.
    await peer.send_raw(bytes([0x82, 0x80 | 126, 0x03, 0xE8]) + b"mask" + b"x" * 10)
    assert isinstance(peer.stream, trio.SocketStream)
    _reset(peer.stream)


async def keepalive_timeout(port: int) -> None:
    peer = await open_raw(port)
    await peer.client_handshake()
    # Never answer the server's pings: it closes with 1011 (or just drops).
    event = await peer.next_event()
    while not isinstance(event, CloseReceived | ConnectionLost):
        event = await peer.next_event()
    await peer.stream.aclose()


async def handler_raises(port: int) -> None:
    async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
        await ws.send("raise")
        with pytest.raises(Exception, match="1011"):
            await ws.receive()


async def handler(ws: WebSocket) -> None:
    async for message in ws:
        if message == "raise":
            raise RuntimeError("the handler failed (on purpose)")
        await ws.send(message)


WAYS: dict[str, tuple[Callable[[int], Awaitable[None]], dict[str, Any]]] = {
    "clean_close": (clean_close, {}),
    "reset_mid_handshake": (reset_mid_handshake, {}),
    "reset_mid_message": (reset_mid_message, {}),
    "keepalive_timeout": (
        keepalive_timeout,
        {"ping_interval": 0.05, "ping_timeout": 0.05},
    ),
    "handler_raises": (handler_raises, {}),
}


def tracked_objects() -> int:
    """Objects the garbage collector tracks, but for trio's deadline heap.

    (trio drops the entries of exited cancel scopes from its deadline heap
    lazily, when they outnumber the live ones by ~1000: bounded by trio,
    and not ours to count.)
    """
    gc.collect()
    count = 0
    for o in gc.get_objects():
        kind = type(o)
        if kind is trio.CancelScope or kind.__name__ == "CancelReason":
            continue
        if kind is tuple and any(type(x) is trio.CancelScope for x in o):
            continue
        count += 1
    return count


def live_websockets() -> int:
    gc.collect()
    # (Not isinstance(): WebSocket is an ABC, whose checks cache weakrefs.)
    return sum(1 for o in gc.get_objects() if WebSocket in type(o).__mro__)


async def settle(server: WebSocketServer) -> None:
    """Wait until the server has no connection left."""
    while server.active_connections:  # noqa: ASYNC110 (polls a counter)
        await trio.sleep(0.01)
    await trio.sleep(0.06)  # a sweep or two


@pytest.mark.parametrize("way", sorted(WAYS))
async def test_nothing_left_after_connections_end(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Log records of the failing handler hold its traceback, hence the
    # connection, wherever pytest keeps them: not the server's doing.
    monkeypatch.setattr(logging.getLogger("trio_ws"), "disabled", True)
    end_one, options = WAYS[way]
    with trio.fail_after(4 * TEST_TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, handler, **options)
            for _ in range(5):  # warm up: imports, caches, first-use objects
                await end_one(server.port)
            await settle(server)
            before = tracked_objects()
            websockets_before = live_websockets()  # (other tests' may linger)
            for _ in range(N):
                await end_one(server.port)
            await settle(server)
            left = live_websockets() - websockets_before
            assert left <= 0, f"{left} closed connections are still referenced"
            sweeper = server._sweeper
            assert sweeper.held() == 0, "the sweeper still holds closed connections"
            assert not server._connections
            growth = tracked_objects() - before
            # Bounded by live connections (none), not by the N that ended.
            assert growth < N, f"{growth} more objects after {N} closed connections"
            nursery.cancel_scope.cancel()
