"""wss:// with certificates from ``trustme``: success, verification failure, and a
plain ws:// client talking to the TLS port."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trustme

from trio_ws import (
    HandshakeError,
    InvalidHandshake,
    WebSocket,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)

TIMEOUT = 10
OPEN_TIMEOUT = 2


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def handled() -> list[WebSocket]:
    """Server-side WebSockets seen by the echo handler."""
    return []


@pytest.fixture
async def tls_server(
    nursery: trio.Nursery, server_context: ssl.SSLContext, handled: list[WebSocket]
) -> AsyncIterator[WebSocketServer]:
    async def echo(ws: WebSocket) -> None:
        handled.append(ws)
        async for message in ws:
            await ws.send(message)

    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve_websocket,
            echo,
            0,
            host="127.0.0.1",
            ssl_context=server_context,
            open_timeout=OPEN_TIMEOUT,
            close_timeout=2,
        )
    )
    yield server
    await server.aclose()


async def echo_once(url: str, message: str, **kwargs: Any) -> str | bytes:
    async with open_websocket_url(url, open_timeout=OPEN_TIMEOUT, **kwargs) as ws:
        await ws.send(message)
        return await ws.receive()


async def test_wss_echo_and_endpoints(
    tls_server: WebSocketServer,
    client_context: ssl.SSLContext,
    handled: list[WebSocket],
) -> None:
    port = tls_server.port
    with trio.fail_after(TIMEOUT):
        async with open_websocket_url(
            f"wss://localhost:{port}/", ssl_context=client_context
        ) as ws:
            await ws.send("héllo over TLS")
            assert await ws.receive() == "héllo over TLS"
            await ws.send(b"\x00\xff" * 1000)
            assert await ws.receive() == b"\x00\xff" * 1000
            assert ws.remote is not None
            assert ws.local is not None
            assert ws.remote.is_ssl is True
            assert ws.local.is_ssl is True
            assert ws.remote.port == port
            assert ws.remote.address == "127.0.0.1"
            assert str(ws.remote) == f"wss://127.0.0.1:{port}"
        assert ws.closed is not None
        assert ws.closed.code == 1000
    assert len(handled) == 1
    server_side = handled[0]
    assert server_side.local is not None
    assert server_side.local.is_ssl is True
    assert server_side.local.port == port


async def test_wss_large_messages_both_ways(
    tls_server: WebSocketServer, client_context: ssl.SSLContext
) -> None:
    # Over TLS the transport is not a plain socket: large payloads are fed to
    # the protocol read by read (no recv_into) and must come out the same.
    port = tls_server.port
    binary = bytes(range(256)) * 3000 + b"tail"  # 768 KB, not a multiple of 4
    text = "ünïcödé " * 40_000  # 440 KB of UTF-8 in one frame
    with trio.fail_after(TIMEOUT):
        async with open_websocket_url(
            f"wss://localhost:{port}/", ssl_context=client_context, compression=None
        ) as ws:
            await ws.send(binary)
            await ws.send(text)
            assert await ws.receive() == binary
            assert await ws.receive() == text


async def test_wss_by_ip_address(
    tls_server: WebSocketServer, client_context: ssl.SSLContext
) -> None:
    # The certificate also covers the IP address (checked against the SAN).
    with trio.fail_after(TIMEOUT):
        reply = await echo_once(
            f"wss://127.0.0.1:{tls_server.port}/", "by ip", ssl_context=client_context
        )
    assert reply == "by ip"


@pytest.mark.parametrize("explicit", [False, True], ids=["no-context", "default"])
async def test_untrusted_certificate_fails_then_server_keeps_serving(
    tls_server: WebSocketServer,
    client_context: ssl.SSLContext,
    explicit: bool,
) -> None:
    url = f"wss://localhost:{tls_server.port}/"
    # No ssl_context: the library's default verifying context; or an explicit
    # default context. Neither trusts the test CA.
    kwargs = {"ssl_context": ssl.create_default_context()} if explicit else {}
    with trio.fail_after(TIMEOUT):
        with pytest.raises(ssl.SSLCertVerificationError) as exc_info:
            await echo_once(url, "never sent", **kwargs)
        assert isinstance(exc_info.value, OSError)
        assert not isinstance(exc_info.value, HandshakeError)
        assert exc_info.value.verify_code == 20  # unable to get local issuer

        # The failed handshake did not hurt the server.
        assert await echo_once(url, "still here", ssl_context=client_context) == (
            "still here"
        )
        assert await echo_once(url, "and here", ssl_context=client_context) == (
            "and here"
        )


async def test_plain_client_on_tls_port_fails_fast(
    tls_server: WebSocketServer, client_context: ssl.SSLContext
) -> None:
    url_plain = f"ws://localhost:{tls_server.port}/"
    with trio.fail_after(TIMEOUT):
        start = trio.current_time()
        # The server's TLS layer cannot parse an HTTP request and drops the
        # connection: the client sees the server hang up during the handshake.
        with pytest.raises(InvalidHandshake, match="closed the connection"):
            await echo_once(url_plain, "never echoed")
        assert trio.current_time() - start < OPEN_TIMEOUT

        url_tls = f"wss://localhost:{tls_server.port}/"
        assert await echo_once(url_tls, "after", ssl_context=client_context) == (
            "after"
        )
