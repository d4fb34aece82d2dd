"""Slow peers: a handshake sent byte by byte, a peer that never reads.

Slowloris runs on in-memory streams under the autojump clock (the bytes
trickle at one a second of virtual time); the peer that never reads runs over
loopback, where the kernel's buffers fill for real, next to a connection that
must stay responsive meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import Any

import pytest
import trio
import trio.testing
import trustme

from trio_ws import (
    ConnectionClosed,
    ConnectionTimeout,
    KeepaliveTimeout,
    WebSocket,
    WriteTimeout,
    open_websocket_url,
    wrap_server_stream,
)
from trio_ws._core import _handshake as hs

from .conftest import TEST_TIMEOUT, RawPeer, start_memory_server, start_server
from .core.test_hixie76_handshake import EXAMPLE_HEAD, KEY3

# Virtual seconds (autojump clock) for the slowloris tests.
OPEN_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def upgrade_request() -> bytes:
    url = hs.WebSocketURL(
        scheme="ws", host="localhost", port=80, resource="/", secure=False
    )
    return hs.build_request(url, hs.generate_key())


def client_hello(context: ssl.SSLContext) -> bytes:
    """The first flight of a TLS client (its ClientHello), as bytes."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# ---------------------------------------------------------------- slowloris


@pytest.mark.parametrize("kind", ["http-head", "tls-hello", "draft76-key3"])
async def test_slowloris_is_dropped_after_open_timeout(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    kind: str,
) -> None:
    # A client that sends its opening bytes one a second. open_timeout on
    # the server bounds TLS + the request head + (draft-76) key3 together.
    handled: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        handled.append(ws)

    kwargs: dict[str, Any] = {}
    at_once, trickle = b"", upgrade_request()
    if kind == "tls-hello":
        kwargs["ssl_context"] = server_context
        trickle = client_hello(client_context)
    elif kind == "draft76-key3":
        kwargs["draft76"] = True
        at_once, trickle = EXAMPLE_HEAD, KEY3  # the head whole, key3 slowly
    server, listener = await start_memory_server(
        nursery, handler, open_timeout=OPEN_TIMEOUT, **kwargs
    )
    client = await listener.connect()
    start = trio.current_time()
    sent = 0
    with trio.fail_after(10 * OPEN_TIMEOUT):
        await client.send_all(at_once)
        assert server.active_connections == 1
        with pytest.raises(trio.BrokenResourceError):  # the server hung up
            for byte in trickle:
                await client.send_all(bytes([byte]))
                sent += 1
                await trio.sleep(1)
        dropped = trio.current_time() - start
        assert await client.receive_some() == b""  # not a byte of answer
    assert OPEN_TIMEOUT <= dropped <= OPEN_TIMEOUT + 1
    assert 0 < sent < len(trickle)
    assert handled == []
    await trio.testing.wait_all_tasks_blocked()
    assert server.active_connections == 0


@pytest.mark.parametrize("kind", ["nothing", "http-head", "draft76-key3"])
async def test_slowloris_over_tcp_is_dropped_after_open_timeout(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    # Over a plain socket too: dropped at open_timeout, no answer, nothing
    # left behind, and no "connection lost" in the log.
    caplog.set_level(logging.DEBUG, logger="trio_ws")
    handled: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        handled.append(ws)

    at_once, trickle = b"", upgrade_request()
    if kind == "nothing":
        trickle = b""
    elif kind == "draft76-key3":
        at_once, trickle = EXAMPLE_HEAD, KEY3
    server = await start_server(
        nursery, handler, open_timeout=OPEN_TIMEOUT, draft76=True
    )
    client = await trio.open_tcp_stream("127.0.0.1", server.port)
    start = trio.current_time()
    with trio.fail_after(10 * OPEN_TIMEOUT):
        await client.send_all(at_once)
        with contextlib.suppress(trio.BrokenResourceError):
            for byte in trickle:
                await client.send_all(bytes([byte]))
                await trio.sleep(1)
        assert await client.receive_some() == b""  # not a byte of answer
        dropped = trio.current_time() - start
        while server.active_connections:  # noqa: ASYNC110 (polls a counter)
            await trio.sleep(0.01)
    assert dropped >= OPEN_TIMEOUT
    assert handled == []
    assert server.statistics().handshakes_unanswered == 1
    assert server._sweeper.held() == 0
    assert "connection lost" not in caplog.text
    await client.aclose()


async def test_slow_process_request_is_bounded_too(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def stuck(request: hs.Request) -> None:
        await trio.sleep_forever()

    server, listener = await start_memory_server(
        nursery, process_request=stuck, open_timeout=OPEN_TIMEOUT
    )
    client = await listener.connect()
    start = trio.current_time()
    with trio.fail_after(10 * OPEN_TIMEOUT):
        await client.send_all(upgrade_request())
        assert await client.receive_some() == b""
    assert trio.current_time() - start == pytest.approx(OPEN_TIMEOUT, abs=0.1)
    await trio.testing.wait_all_tasks_blocked()
    assert server.active_connections == 0


async def test_wrap_server_stream_applies_open_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # It had no timeout: a client that never sent its request held the
    # caller forever.
    client, server_stream = trio.testing.memory_stream_pair()
    await client.send_all(upgrade_request()[:20])
    start = trio.current_time()
    with trio.fail_after(10 * OPEN_TIMEOUT), pytest.raises(ConnectionTimeout):
        await wrap_server_stream(nursery, server_stream, open_timeout=OPEN_TIMEOUT)
    assert trio.current_time() - start == pytest.approx(OPEN_TIMEOUT)


# ------------------------------------------------------ a peer that never reads


async def connect_never_reading(port: int, resource: str) -> RawPeer:
    """A raw client with a tiny receive buffer that will never read."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    peer = RawPeer(trio.SocketStream(sock))
    head = await peer.client_handshake(resource)
    assert head.startswith(b"HTTP/1.1 101")
    return peer


async def test_peer_that_never_reads_is_dropped_after_write_timeout(
    nursery: trio.Nursery,
) -> None:
    # The handler streams to a peer that reads nothing; without keepalive
    # nothing else would ever notice. write_timeout aborts it (1006: no close
    # frame can reach a peer that does not read), while another connection
    # keeps its round trips short.
    write_timeout = 0.5
    outcome: dict[str, Any] = {}
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        assert ws.request is not None
        if ws.request.path != "/firehose":
            async for message in ws:
                await ws.send(message)
            return
        last_write = trio.current_time()
        try:
            while True:
                await ws.send(bytes(1 << 16))
                last_write = trio.current_time()
        except ConnectionClosed as exc:
            outcome["stalled"] = trio.current_time() - last_write
            outcome["error"] = exc
            done.set()

    server = await start_server(
        nursery,
        handler,
        write_timeout=write_timeout,
        ping_interval=None,
        compression=None,
    )
    rtts: list[float] = []
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/echo", ping_interval=None
        ) as other:
            silent = await connect_never_reading(server.port, "/firehose")
            while not done.is_set():
                start = trio.current_time()
                await other.send("still there?")
                assert await other.receive() == "still there?"
                await other.ping()
                rtts.append(trio.current_time() - start)
                await trio.sleep(0.02)
            await silent.stream.aclose()
    error = outcome["error"]
    assert error.reason.code == 1006
    assert isinstance(error.__cause__, WriteTimeout)
    assert write_timeout <= outcome["stalled"] < write_timeout + 2
    # The other connection was served all along (one write timed out, not
    # the server).
    assert len(rtts) >= 5
    assert max(rtts) < write_timeout


# Keepalive timings for the tests where it catches a peer that never reads.
PING_INTERVAL, PING_TIMEOUT, CLOSE_TIMEOUT = 0.2, 0.3, 0.5


async def stream_to_a_peer_that_never_reads(nursery: trio.Nursery) -> dict[str, Any]:
    """The default write_timeout (None), short keepalive timings: how the
    handler's endless send ended, and after how long."""
    outcome: dict[str, Any] = {}
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        start = trio.current_time()
        try:
            while True:
                await ws.send(bytes(1 << 16))
        except ConnectionClosed as exc:
            outcome["elapsed"] = trio.current_time() - start
            outcome["error"] = exc
            done.set()

    server = await start_server(
        nursery,
        handler,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        close_timeout=CLOSE_TIMEOUT,
        compression=None,
    )
    with trio.fail_after(TEST_TIMEOUT):
        silent = await connect_never_reading(server.port, "/")
        await done.wait()
        await silent.stream.aclose()
    return outcome


async def test_by_default_keepalive_drops_a_peer_that_never_reads(
    nursery: trio.Nursery,
) -> None:
    # write_timeout is None by default: the keepalive ping cannot reach a
    # peer that does not read, its pong never comes, and the connection is
    # failed (1011) and released within ping_interval + ping_timeout +
    # close_timeout, the stuck write included.
    outcome = await stream_to_a_peer_that_never_reads(nursery)
    assert outcome["error"].reason.code == 1011
    assert outcome["elapsed"] < PING_INTERVAL + PING_TIMEOUT + CLOSE_TIMEOUT + 1


async def test_a_send_cut_short_by_keepalive_says_why(nursery: trio.Nursery) -> None:
    outcome = await stream_to_a_peer_that_never_reads(nursery)
    assert isinstance(outcome["error"].__cause__, KeepaliveTimeout)


async def test_keepalive_of_others_goes_on_while_a_write_is_stuck(
    nursery: trio.Nursery,
) -> None:
    # Server-side keepalive pings every 0.1 s. One connection's handler is
    # stuck writing to a peer that does not read; the other connection is
    # still pinged, and answers.
    write_timeout = 1.0
    server_side: dict[str, WebSocket] = {}
    stuck_done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        assert ws.request is not None
        server_side[ws.request.path] = ws
        if ws.request.path == "/stuck":
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await ws.send(bytes(1 << 16))
            stuck_done.set()
            return
        async for message in ws:
            await ws.send(message)

    server = await start_server(
        nursery,
        handler,
        write_timeout=write_timeout,
        ping_interval=0.1,
        ping_timeout=5,
        compression=None,
    )
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/live", ping_interval=None
        ) as live:
            silent = await connect_never_reading(server.port, "/stuck")
            before = server_side["/live"].statistics().pongs_received
            # Reading keeps the client answering the server's pings.
            with trio.move_on_after(write_timeout + 0.5):
                await live.receive()
            await stuck_done.wait()
            stats = server_side["/live"].statistics()
            assert stats.state == "open"
            assert stats.pongs_received - before >= 5
            await silent.stream.aclose()
    assert server_side["/stuck"].closed is not None
    assert server_side["/stuck"].closed.code == 1006
