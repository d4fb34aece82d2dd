"""server.statistics(): the server-wide counters follow what happened.

Each counter is driven by the path that bumps it (a handshake answered or
not, each way a connection ends, a protocol error, a keepalive timeout) on a
server whose connections are in-memory streams, under the autojump clock.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from trio_ws import (
    ConnectionClosed,
    Request,
    Response,
    ServerStatistics,
    WebSocket,
    WebSocketServer,
    wrap_client_stream,
)
from trio_ws._core._events import CloseReceived, ConnectionLost
from trio_ws.server._metrics import HANDSHAKE_LATENCY_BUCKETS

from .conftest import RawPeer, echo_handler, start_memory_server

UPGRADE = (
    b"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def upgrade(path: str = "/") -> bytes:
    return UPGRADE.replace(b"{path}", path.encode())


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def exchange(listener: Any, request: bytes) -> bytes:
    """Send ``request`` on a new connection; everything until the server hangs up."""
    stream = await listener.connect()
    await stream.send_all(request)
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    await stream.aclose()
    return data


async def client(
    nursery: trio.Nursery, listener: Any, path: str = "/", **options: Any
) -> WebSocket:
    stream = await listener.connect()
    return await wrap_client_stream(nursery, stream, "test", path, **options)


async def raw_client(listener: Any) -> RawPeer:
    peer = RawPeer(await listener.connect())
    head = await peer.client_handshake()
    assert head.startswith(b"HTTP/1.1 101")
    return peer


async def until_closed(peer: RawPeer) -> None:
    """Read until the server's close frame or end of stream; then hang up."""
    event = await peer.next_event()
    while not isinstance(event, CloseReceived | ConnectionLost):
        event = await peer.next_event()
    await peer.stream.aclose()


async def test_a_new_server_has_counted_nothing(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, _ = await start_memory_server(nursery)
    stats = server.statistics()
    assert isinstance(stats, ServerStatistics)
    assert stats.open_connections == stats.active_connections == 0
    assert stats.handshakes_accepted == stats.handshakes_unanswered == 0
    assert stats.handshakes_rejected == stats.closes == stats.protocol_errors == {}
    assert stats.messages_received == stats.wire_bytes_sent == 0
    assert stats.compression_ratio_received is None
    assert stats.handshake_latency.count == 0
    assert stats.handshake_latency.counts == (0,) * (len(HANDSHAKE_LATENCY_BUCKETS) + 1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.messages_sent = 1  # type: ignore[misc]


async def test_traffic_of_open_and_ended_connections(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Open connections count as they go; an ended one keeps its exact totals
    (close frames included), and the sum equals the connections' own
    ws.statistics()."""
    handled: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        handled.append(ws)
        await echo_handler(ws)

    server, listener = await start_memory_server(nursery, handler, compression=None)
    ws = await client(nursery, listener, compression=None)
    await ws.send("héllo")  # 6 bytes of UTF-8
    assert await ws.receive() == "héllo"
    await ws.send(b"abc")
    assert await ws.receive() == b"abc"
    await settle()
    stats = server.statistics()
    assert stats.open_connections == stats.active_connections == 1
    assert stats.handshakes_accepted == 1
    assert stats.messages_received == stats.messages_sent == 2
    assert stats.bytes_received == stats.bytes_sent == 6 + 3
    # Client frames: 2-byte header and 4-byte mask; the server's: 2 bytes.
    assert stats.wire_bytes_received == 2 * 6 + 9
    assert stats.wire_bytes_sent == 2 * 2 + 9
    assert stats.closes == {}

    await ws.aclose(1001)
    await settle()
    after = server.statistics()
    assert after.open_connections == after.active_connections == 0
    assert after.messages_received == after.messages_sent == 2
    # Plus the close frames: ours 2 + 4 + 2 (code) bytes, the echo 2 + 2.
    assert after.wire_bytes_received == stats.wire_bytes_received + 8
    assert after.wire_bytes_sent == stats.wire_bytes_sent + 4
    own = handled[0].statistics()
    assert (own.wire_bytes_received, own.wire_bytes_sent) == (
        after.wire_bytes_received,
        after.wire_bytes_sent,
    )
    assert after.closes == {(1001, "remote"): 1}
    assert after.deflate_bytes_received == 0  # no deflate on this one


async def test_closes_by_code_and_initiator(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def handler(ws: WebSocket) -> None:
        assert ws.request is not None
        if ws.request.path == "/bye":
            return  # closes with 1000
        if ws.request.path == "/raise":
            raise RuntimeError("on purpose: closes with 1011")
        await echo_handler(ws)

    server, listener = await start_memory_server(nursery, handler)
    # The client closes first.
    ws = await client(nursery, listener)
    await ws.aclose(4000, "done")
    # The handler returns, then raises: the server closes first.
    for path in ("/bye", "/raise"):
        ws = await client(nursery, listener, path)
        with pytest.raises(ConnectionClosed):
            await ws.receive()
        await ws.aclose()
    # The transport ends without a close frame either way.
    peer = await raw_client(listener)
    await peer.stream.aclose()
    await settle()

    stats = server.statistics()
    assert stats.closes == {
        (4000, "remote"): 1,
        (1000, "local"): 1,
        (1011, "local"): 1,
        (1006, "none"): 1,
    }
    assert stats.closes_by_initiator == {"remote": 1, "local": 2, "none": 1}
    assert stats.closes_by_code == {4000: 1, 1000: 1, 1011: 1, 1006: 1}
    assert stats.open_connections == 0 and stats.handshakes_accepted == 4
    assert stats.protocol_errors == {} and stats.keepalive_timeouts == 0


# A frame the server must refuse, and the close code it fails the connection with.
BAD_FRAMES = {
    "unmasked": (bytes([0x81, 2]) + b"hi", 1002),
    "reserved-opcode": (bytes([0x83, 0x80]) + b"mask", 1002),
    "invalid-utf8": (bytes([0x81, 0x81]) + b"\0\0\0\0" + b"\xff", 1007),
    "too-big": (bytes([0x82, 0x80 | 11]) + b"\0\0\0\0" + b"x" * 11, 1009),
}


@pytest.mark.parametrize("kind", BAD_FRAMES)
async def test_protocol_errors_by_close_code(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, kind: str
) -> None:
    frame, code = BAD_FRAMES[kind]
    server, listener = await start_memory_server(nursery, max_message_size=10)
    peer = await raw_client(listener)
    await peer.send_raw(frame)
    await until_closed(peer)
    await settle()
    stats = server.statistics()
    assert stats.protocol_errors == {code: 1}
    assert stats.closes == {(code, "local"): 1}
    assert stats.messages_received == 0


async def test_keepalive_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, listener = await start_memory_server(
        nursery, ping_interval=1.0, ping_timeout=1.0
    )
    answering = await client(nursery, listener)  # answers the pings
    silent = await raw_client(listener)  # never does
    await until_closed(silent)
    await settle()
    stats = server.statistics()
    assert stats.keepalive_timeouts == 1
    assert stats.closes == {(1011, "local"): 1}
    assert stats.open_connections == 1
    await answering.aclose()
    await settle()
    stats = server.statistics()
    assert stats.keepalive_timeouts == 1
    assert stats.closes == {(1011, "local"): 1, (1000, "remote"): 1}


async def test_rejected_and_unanswered_handshakes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    def process_request(request: Request) -> Response | None:
        if request.path == "/page":
            return Response(200, body="a page")
        if request.path == "/secret":
            return Response(403)
        if request.path == "/boom":
            raise RuntimeError("on purpose: answered 500")
        return None

    server, listener = await start_memory_server(
        nursery, process_request=process_request, open_timeout=5
    )
    plain = b"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"
    answers = [
        await exchange(listener, plain.replace(b"{path}", b"/page")),
        await exchange(listener, upgrade("/secret")),
        await exchange(listener, upgrade("/boom")),
        await exchange(listener, plain.replace(b"{path}", b"/other")),  # 426
        await exchange(listener, upgrade("/").replace(b"Sec-WebSocket-Key", b"X")),
        await exchange(listener, b"NOT HTTP\r\n\r\n"),
    ]
    statuses = [int(answer[9:12]) for answer in answers]
    assert statuses == [200, 403, 500, 426, 400, 400]
    # A client that leaves before its request; one that never finishes it.
    stream = await listener.connect()
    await stream.aclose()
    assert await exchange(listener, upgrade("/")[:30]) == b""  # open_timeout
    await settle()
    stats = server.statistics()
    assert stats.handshakes_rejected == {200: 1, 403: 1, 500: 1, 426: 1, 400: 2}
    assert stats.handshakes_unanswered == 2
    assert stats.handshakes_accepted == 0 and stats.handshake_latency.count == 0
    assert stats.closes == {} and stats.active_connections == 0


async def test_503_beyond_max_connections(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, listener = await start_memory_server(nursery, max_connections=1)
    ws = await client(nursery, listener)
    answer = await exchange(listener, upgrade("/"))
    assert answer.startswith(b"HTTP/1.1 503")
    await settle()
    stats = server.statistics()
    assert stats.handshakes_rejected == {503: 1}
    assert stats.handshakes_accepted == 1 and stats.open_connections == 1
    await ws.aclose()


async def test_handshake_latency_histogram(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, listener = await start_memory_server(nursery)
    for delay in (0.3, 0.3, 3.0, 30.0):  # 30 s: over open_timeout, dropped
        stream = await listener.connect()
        request = upgrade("/")
        await stream.send_all(request[:20])
        await trio.sleep(delay)  # the rest of the request comes later
        with pytest.raises(trio.BrokenResourceError) if delay > 10 else nullcontext():
            await stream.send_all(request[20:])
            assert (await stream.receive_some()).startswith(b"HTTP/1.1 101")
        await stream.aclose()
    await settle()
    latency = server.statistics().handshake_latency
    assert latency.bounds == HANDSHAKE_LATENCY_BUCKETS
    assert latency.count == 3 and sum(latency.counts) == 3
    assert latency.sum == pytest.approx(3.6, abs=0.01)
    expected = [0] * (len(HANDSHAKE_LATENCY_BUCKETS) + 1)
    expected[HANDSHAKE_LATENCY_BUCKETS.index(0.5)] = 2  # (0.25, 0.5]
    expected[HANDSHAKE_LATENCY_BUCKETS.index(5.0)] = 1  # (2.5, 5]
    assert list(latency.counts) == expected
    cumulative = dict(latency.cumulative)
    assert cumulative[0.25] == 0 and cumulative[0.5] == 2 and cumulative[5.0] == 3
    assert cumulative[math.inf] == 3
    assert server.statistics().handshakes_unanswered == 1


async def test_compression_ratio_counts_deflate_connections_only(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server, listener = await start_memory_server(nursery)
    deflated = await client(nursery, listener)  # permessage-deflate by default
    assert deflated.extensions is not None
    plain = await client(nursery, listener, compression=None)
    assert plain.extensions is None
    for ws in (deflated, plain):
        await ws.send("a" * 10_000)
        assert await ws.receive() == "a" * 10_000
    await settle()
    stats = server.statistics()
    assert stats.bytes_received == stats.bytes_sent == 20_000
    assert stats.deflate_bytes_received == stats.deflate_bytes_sent == 10_000
    assert stats.compression_ratio_received is not None
    assert stats.compression_ratio_sent is not None
    assert stats.compression_ratio_received > 10
    assert stats.compression_ratio_sent > 10
    await deflated.aclose()
    await plain.aclose()
    await settle()
    after = server.statistics()
    assert after.deflate_bytes_received == 10_000
    assert after.deflate_wire_bytes_received > stats.deflate_wire_bytes_received


async def test_server_aclose_counts_each_connection_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server: WebSocketServer
    server, listener = await start_memory_server(nursery)
    clients = [await client(nursery, listener) for _ in range(3)]
    for ws in clients:
        await ws.send("x")
        assert await ws.receive() == "x"
    await server.aclose()
    await settle()
    stats = server.statistics()
    assert stats.closes == {(1001, "local"): 3}
    assert stats.open_connections == 0
    assert stats.messages_received == stats.messages_sent == 3


async def test_draft76_connections_count_too(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    from .core.test_hixie76_handshake import EXAMPLE_HEAD, KEY3

    server, listener = await start_memory_server(nursery, draft76=True)
    stream = await listener.connect()
    await stream.send_all(EXAMPLE_HEAD + KEY3)
    await stream.send_all(b"\x00hello\xff")
    data = b""
    while not data.endswith(b"\x00hello\xff"):
        data += await stream.receive_some()
    await stream.send_all(b"\xff\x00")  # draft-76's close frame
    while await stream.receive_some():
        pass
    await stream.aclose()
    # And a draft-76 request when it is off: 400.
    plain, plain_listener = await start_memory_server(nursery)
    answer = await exchange(plain_listener, EXAMPLE_HEAD + KEY3)
    assert answer.startswith(b"HTTP/1.1 400")
    await settle()
    stats = server.statistics()
    assert stats.handshakes_accepted == 1
    assert stats.messages_received == stats.messages_sent == 1
    assert stats.bytes_received == 5
    assert stats.closes == {(1000, "remote"): 1}
    assert plain.statistics().handshakes_rejected == {400: 1}
