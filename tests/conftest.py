"""Shared fixtures: an echo server on loopback and a hand-driven raw peer."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

from trio_ws import WebSocket, WebSocketServer, serve_websocket
from trio_ws._core import _handshake as hs
from trio_ws._core._events import Event
from trio_ws._core._protocol import Protocol, Role

# Every network test is bounded: no single test may run longer than this.
TEST_TIMEOUT = 10


# The client honours proxy variables by default (HTTP_PROXY...): the tests
# run without them, so a developer's proxy settings cannot reroute their
# loopback connections; tests/test_proxy*.py set the ones they test.
PROXY_VARIABLES = [
    f"{name}_proxy" for name in ("http", "https", "ws", "wss", "all", "socks", "no")
]


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


async def echo_handler(ws: WebSocket) -> None:
    async for message in ws:
        await ws.send(message)


async def start_server(
    nursery: trio.Nursery,
    handler: Callable[[WebSocket], Awaitable[None]] = echo_handler,
    **kwargs: Any,
) -> WebSocketServer:
    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, handler, 0, host="127.0.0.1", **kwargs)
    )
    return server


@pytest.fixture
async def echo_server(nursery: trio.Nursery) -> AsyncIterator[WebSocketServer]:
    server = await start_server(nursery)
    yield server
    await server.aclose()


class RawPeer:
    """A WebSocket peer driven by hand: a stream plus a sans-I/O Protocol.

    It does exactly what a test tells it (for example: never answer pings,
    never answer a close frame), which a real client would not.
    """

    def __init__(self, stream: trio.abc.Stream, role: Role = Role.CLIENT) -> None:
        self.stream = stream
        self.protocol = Protocol(role, max_message_size=None)
        self.events: list[Event] = []

    async def client_handshake(self, resource: str = "/", extra: bytes = b"") -> bytes:
        """Send an upgrade request and return the raw response head."""
        url = hs.WebSocketURL(
            scheme="ws", host="test", port=80, resource=resource, secure=False
        )
        await self.stream.send_all(hs.build_request(url, hs.generate_key()) + extra)
        reader = hs.HeadReader()
        while not reader.feed(bytes(await self.stream.receive_some(65536))):
            pass
        if reader.trailing:
            self.protocol.receive_data(reader.trailing)
        return reader.head

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def flush(self) -> None:
        data = self.protocol.data_to_send()
        if data:
            await self.stream.send_all(data)

    async def next_event(self) -> Event:
        """Read until the protocol produces an event (pongs are NOT sent back)."""
        while not self.events:
            self.events.extend(self.protocol.events())
            if self.events:
                break
            data = await self.stream.receive_some(65536)
            self.protocol.receive_data(data)
            if not data:
                self.events.extend(self.protocol.events())
                break
        return self.events.pop(0)


async def open_raw(port: int) -> RawPeer:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    return RawPeer(stream)


async def http_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; return status, headers, body."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    response = hs.parse_response(head)
    headers = {name.lower(): value for name, value in response.headers}
    return response.status_code, headers, body


class MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener whose connections are in-memory stream pairs.

    ``serve_websocket(..., listeners=[listener])`` then serves connections
    made with :meth:`connect`, under the autojump clock, without sockets.
    """

    def __init__(
        self,
        pair: Callable[
            [], tuple[trio.abc.Stream, trio.abc.Stream]
        ] = trio.testing.memory_stream_pair,
    ) -> None:
        self._pair = pair
        self._send, self._receive = trio.open_memory_channel[trio.abc.Stream](1)

    async def connect(self) -> trio.abc.Stream:
        client, server = self._pair()
        await self._send.send(server)
        return client

    async def accept(self) -> trio.abc.Stream:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise trio.ClosedResourceError from None

    async def aclose(self) -> None:
        await self._receive.aclose()


async def start_memory_server(
    nursery: trio.Nursery,
    handler: Callable[[WebSocket], Awaitable[None]] = echo_handler,
    *,
    pair: Callable[
        [], tuple[trio.abc.Stream, trio.abc.Stream]
    ] = trio.testing.memory_stream_pair,
    **kwargs: Any,
) -> tuple[WebSocketServer, MemoryListener]:
    """serve_websocket on a MemoryListener (inline reading, the sweeper...)."""
    listener = MemoryListener(pair)
    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket, handler, None, listeners=[listener], **kwargs
        )
    )
    return server, listener
