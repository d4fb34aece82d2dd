"""serve_websocket(reuse_port=True): several servers share one port (SO_REUSEPORT)."""

from __future__ import annotations

import errno
import functools
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from trio_ws import (
    ReusePortUnavailable,
    WebSocket,
    WebSocketServer,
    open_reuse_port_listeners,
    open_websocket_url,
    serve_websocket,
)

from .conftest import TEST_TIMEOUT, echo_handler

needs_reuse_port = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or sys.platform == "win32",
    reason="this platform has no SO_REUSEPORT",
)

# Connections tried before concluding the kernel never picked one of two
# servers; each lands on either with probability ~1/2 on Linux.
MAX_ATTEMPTS = 64


Handler = Callable[[WebSocket], Awaitable[None]]


def named_handler(name: str) -> Handler:
    async def handler(ws: WebSocket) -> None:
        await ws.send(name)

    return handler


async def start(
    nursery: trio.Nursery, handler: Handler, port: int, **kwargs: Any
) -> WebSocketServer:
    server: WebSocketServer = await nursery.start(
        functools.partial(serve_websocket, handler, port, host="127.0.0.1", **kwargs)
    )
    return server


@needs_reuse_port
async def test_two_servers_share_a_port_and_both_accept(nursery: trio.Nursery) -> None:
    first = await start(nursery, named_handler("first"), 0, reuse_port=True)
    second = await start(nursery, named_handler("second"), first.port, reuse_port=True)
    assert second.port == first.port
    for server in (first, second):
        (listener,) = server.listeners
        assert isinstance(listener, trio.SocketListener)
        sock = listener.socket
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    seen: set[str] = set()
    with trio.fail_after(TEST_TIMEOUT):
        for _ in range(MAX_ATTEMPTS):
            async with open_websocket_url(f"ws://127.0.0.1:{first.port}/") as ws:
                seen.add(str(await ws.receive()))
            if len(seen) == 2:
                break
    assert seen == {"first", "second"}
    await first.aclose()
    await second.aclose()


@needs_reuse_port
async def test_without_reuse_port_the_second_bind_fails(nursery: trio.Nursery) -> None:
    first = await start(nursery, echo_handler, 0, reuse_port=True)
    with pytest.raises(OSError) as info:
        await start(nursery, echo_handler, first.port)
    assert info.value.errno == errno.EADDRINUSE
    # ...and the other way round: a plain listener holds the port for itself.
    plain = await start(nursery, echo_handler, 0)
    with pytest.raises(OSError) as info:
        await start(nursery, echo_handler, plain.port, reuse_port=True)
    assert info.value.errno == errno.EADDRINUSE
    await first.aclose()
    await plain.aclose()


async def test_platform_without_so_reuseport_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)
    with pytest.raises(ReusePortUnavailable) as info:
        await serve_websocket(echo_handler, 0, host="127.0.0.1", reuse_port=True)
    assert isinstance(info.value, NotImplementedError)
    message = str(info.value)
    assert "SO_REUSEPORT" in message
    assert sys.platform in message


async def test_reuse_port_with_listeners_is_a_type_error() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    try:
        with pytest.raises(TypeError, match="reuse_port"):
            await serve_websocket(
                echo_handler, None, listeners=listeners, reuse_port=True
            )
    finally:
        for listener in listeners:
            await listener.aclose()


@needs_reuse_port
@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
async def test_every_interface_means_ipv4_and_ipv6_on_one_port() -> None:
    try:
        listeners = await open_reuse_port_listeners(0)
    except OSError as exc:  # IPv6 compiled in but disabled in the kernel
        pytest.skip(f"cannot bind both families: {exc}")
    try:
        families = {listener.socket.family for listener in listeners}
        ports = {listener.socket.getsockname()[1] for listener in listeners}
        assert families == {socket.AF_INET, socket.AF_INET6}
        assert len(ports) == 1
        for listener in listeners:
            if listener.socket.family == socket.AF_INET6:
                v6only = socket.IPPROTO_IPV6, socket.IPV6_V6ONLY
                assert listener.socket.getsockopt(*v6only) == 1
        # The same port again: a second worker joins both groups.
        again = await open_reuse_port_listeners(ports.pop())
        for listener in again:
            await listener.aclose()
    finally:
        for listener in listeners:
            await listener.aclose()
