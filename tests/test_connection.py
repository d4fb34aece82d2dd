"""WebSocket connection behaviour over trio.testing memory streams.

Timeouts run on the autojump clock: no real sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_ws import (
    ConnectionClosed,
    ConnectionTimeout,
    KeepaliveTimeout,
    LocalProtocolError,
    WebSocket,
    wrap_client_stream,
    wrap_server_stream,
)
from trio_ws._core._events import CloseReceived, Ping, TextMessage
from trio_ws._core._frames import Opcode
from trio_ws._core._protocol import Role

from .conftest import RawPeer


async def ws_pair(nursery: trio.Nursery, **options: Any) -> tuple[WebSocket, WebSocket]:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    result: dict[str, WebSocket] = {}

    async def server_side() -> None:
        result["server"] = await wrap_server_stream(nursery, server_stream, **options)

    async with trio.open_nursery() as handshake:
        handshake.start_soon(server_side)
        result["client"] = await wrap_client_stream(
            nursery, client_stream, "example.com", "/path?q=1", **options
        )
    return result["client"], result["server"]


async def raw_client_and_server(
    nursery: trio.Nursery, **options: Any
) -> tuple[RawPeer, WebSocket]:
    """A hand-driven client and a real server-side WebSocket."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    raw = RawPeer(client_stream, Role.CLIENT)
    result: list[WebSocket] = []

    async def server_side() -> None:
        result.append(await wrap_server_stream(nursery, server_stream, **options))

    async with trio.open_nursery() as handshake:
        handshake.start_soon(server_side)
        head = await raw.client_handshake()
        assert head.startswith(b"HTTP/1.1 101")
    return raw, result[0]


async def test_messages_both_ways(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    assert client.is_client and not server.is_client
    assert server.request is not None and server.request.path == "/path"
    assert client.local is None  # not a socket
    await client.send("ping ☃")
    assert await server.receive() == "ping ☃"
    await server.send(bytearray(b"\x00pong"))
    assert await client.receive() == b"\x00pong"
    await client.aclose()
    assert client.closed is not None and client.closed.code == 1000
    with pytest.raises(ConnectionClosed) as info:
        await server.receive()
    assert info.value.reason.code == 1000


async def test_aliases_for_trio_websocket_users(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    await client.send_message("x")
    assert await server.get_message() == "x"
    await client.aclose()


async def test_send_rejects_other_types(nursery: trio.Nursery) -> None:
    client, _server = await ws_pair(nursery)
    with pytest.raises(TypeError):
        await client.send(42)  # type: ignore[arg-type]
    await client.aclose()


async def test_concurrent_senders_never_interleave(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery, message_queue_size=64)
    messages = {
        f"{task}:{i}:" + "x" * (i * 997 % 70000) for task in range(4) for i in range(8)
    }

    async def sender(task: int) -> None:
        for i in range(8):
            await client.send(f"{task}:{i}:" + "x" * (i * 997 % 70000))

    async with trio.open_nursery() as senders:
        for task in range(4):
            senders.start_soon(sender, task)
        received = {await server.receive() for _ in range(32)}
    assert received == messages
    await client.aclose()


async def test_async_for_ends_quietly_on_1001(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    await server.send("a")
    await server.send("b")
    nursery.start_soon(server.aclose, 1001, "going away")
    assert [m async for m in client] == ["a", "b"]
    assert client.closed is not None and client.closed.code == 1001
    assert client.closed.reason == "going away"


async def test_async_for_raises_on_error_codes(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    nursery.start_soon(server.aclose, 4000, "custom")
    with pytest.raises(ConnectionClosed) as info:
        async for _ in client:
            pass  # pragma: no cover
    assert (info.value.reason.code, info.value.reason.reason) == (4000, "custom")
    assert info.value.reason.name == "PRIVATE_USE"


async def test_send_after_close_raises_connection_closed(nursery: trio.Nursery) -> None:
    client, _server = await ws_pair(nursery)
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(ConnectionClosed):
        await client.send("late")
    with pytest.raises(ConnectionClosed):
        await client.ping()
    with pytest.raises(ConnectionClosed):
        await client.receive()


async def test_aclose_validates_code_and_reason(nursery: trio.Nursery) -> None:
    client, _server = await ws_pair(nursery)
    with pytest.raises(LocalProtocolError):
        await client.aclose(1006)
    # The stream is released even though the close frame could not be sent.
    with pytest.raises(ConnectionClosed):
        await client.send("x")


async def test_ping_returns_latency_and_pong_is_unsolicited(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery)

    async def answer_one_ping() -> None:
        event = await raw.next_event()
        assert isinstance(event, Ping)
        await trio.sleep(0.25)  # autojump: a quarter second of "network"
        await raw.flush()  # the protocol queued the pong

    async with trio.open_nursery() as inner:
        inner.start_soon(answer_one_ping)
        latency = await server.ping(b"hello")
    assert latency == pytest.approx(0.25, abs=0.01)
    await server.pong(b"heartbeat")
    event = await raw.next_event()
    assert event.__class__.__name__ == "Pong"
    assert event.payload == b"heartbeat"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        await server.ping(bytes(126))
    await server.aclose()


async def test_keepalive_timeout_closes_with_1011(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery, ping_interval=5, ping_timeout=3)
    # The raw peer reads the ping but never answers it.
    event = await raw.next_event()
    assert isinstance(event, Ping)
    start = trio.current_time()
    event = await raw.next_event()
    assert isinstance(event, CloseReceived)
    assert event.reason == event.reason.__class__(1011, "keepalive ping timeout")
    assert trio.current_time() - start == pytest.approx(3, abs=0.1)
    with pytest.raises(ConnectionClosed) as info:
        await server.receive()
    assert info.value.reason.code == 1011
    assert isinstance(info.value.__cause__, KeepaliveTimeout)


async def test_keepalive_keeps_an_answering_connection_open(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client, server = await ws_pair(nursery, ping_interval=1, ping_timeout=1)
    await trio.sleep(30)  # 30 keepalive rounds each way
    assert client.closed is None and server.closed is None
    await client.send("still open")
    assert await server.receive() == "still open"
    await client.aclose()


async def test_close_timeout_when_peer_never_answers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery, close_timeout=4)
    start = trio.current_time()
    await server.aclose()
    assert trio.current_time() - start == pytest.approx(4, abs=0.1)
    assert server.closed is not None and server.closed.code == 1006
    event = await raw.next_event()  # our close frame was sent nonetheless
    assert isinstance(event, CloseReceived) and event.reason.code == 1000


async def test_aclose_when_cancelled_still_releases_the_stream(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery, close_timeout=100)
    with trio.move_on_after(1):
        await server.aclose()
    assert server.closed is not None
    await raw.next_event()  # the close frame
    assert await raw.stream.receive_some(10) == b""  # and then EOF


async def test_client_open_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, _silent_server = trio.testing.memory_stream_pair()
    start = trio.current_time()
    with pytest.raises(ConnectionTimeout):
        await wrap_client_stream(nursery, client_stream, "h", "/", open_timeout=7)
    assert trio.current_time() - start == pytest.approx(7)


async def test_backpressure_stops_reading_when_the_queue_is_full(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    raw = RawPeer(client_stream, Role.CLIENT)
    servers: list[WebSocket] = []

    async def server_side() -> None:
        servers.append(
            await wrap_server_stream(
                nursery, server_stream, message_queue_size=2, receive_size=16
            )
        )

    async with trio.open_nursery() as handshake:
        handshake.start_soon(server_side)
        await raw.client_handshake()
    server = servers[0]
    sent = 0
    with trio.move_on_after(5):
        for i in range(10):
            raw.protocol.send_text(f"message {i}")
            await raw.flush()
            sent += 1
    # Two messages fit in the queue, one is held by the reader: the peer's
    # writes block after that (lockstep streams have no buffer).
    assert sent < 10
    assert [await server.receive() for _ in range(sent)] == [
        f"message {i}" for i in range(sent)
    ]


async def test_protocol_error_from_peer_chains_the_cause(nursery: trio.Nursery) -> None:
    raw, server = await raw_client_and_server(nursery)
    raw.protocol.send_frame(Opcode.CONTINUATION, b"orphan")
    await raw.flush()
    with pytest.raises(ConnectionClosed) as info:
        await server.receive()
    assert info.value.reason.code == 1002
    assert "continuation" in str(info.value.__cause__)
    event = await raw.next_event()
    assert isinstance(event, CloseReceived) and event.reason.code == 1002


async def test_messages_before_a_close_are_still_delivered(
    nursery: trio.Nursery,
) -> None:
    raw, server = await raw_client_and_server(nursery)
    raw.protocol.send_text("one")
    raw.protocol.send_text("two")
    raw.protocol.send_close(1000, "done")
    await raw.flush()
    assert [m async for m in server] == ["one", "two"]
    assert server.closed is not None and server.closed.reason == "done"
    assert await raw.next_event() == CloseReceived(server.closed.__class__(1000))
    assert await raw.stream.receive_some(10) == b""  # the server closed TCP


async def test_replies_to_messages_before_a_fault_go_out_before_the_close(
    nursery: trio.Nursery,
) -> None:
    raw, server = await raw_client_and_server(nursery)
    raw.protocol.send_text("first")
    raw.protocol.send_frame(Opcode.CONTINUATION, b"orphan")  # the fault
    await raw.flush()  # both frames arrive in one read

    async def echo() -> None:
        async for message in server:
            await server.send(message)  # pragma: no branch

    with pytest.raises(ConnectionClosed) as info:
        await echo()
    assert info.value.reason.code == 1002
    assert await raw.next_event() == TextMessage("first")  # the echo, then the close
    event = await raw.next_event()
    assert isinstance(event, CloseReceived) and event.reason.code == 1002


async def test_fault_fails_after_close_timeout_if_the_user_never_receives(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery, close_timeout=2)
    raw.protocol.send_text("unread")
    raw.protocol.send_frame(Opcode.CONTINUATION, b"orphan")
    await raw.flush()
    start = trio.current_time()
    event = await raw.next_event()
    assert isinstance(event, CloseReceived) and event.reason.code == 1002
    assert trio.current_time() - start == pytest.approx(2, abs=0.1)
    assert await server.receive() == "unread"  # still delivered, then the close
    with pytest.raises(ConnectionClosed):
        await server.receive()


class CountingStream(trio.abc.Stream):
    """Wraps a stream and counts send_all() calls."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_replies_to_a_burst_share_writes_and_keep_their_order(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    counting = CountingStream(server_stream)
    raw = RawPeer(client_stream, Role.CLIENT)
    servers: list[WebSocket] = []

    async def server_side() -> None:
        servers.append(
            await wrap_server_stream(nursery, counting, message_queue_size=256)
        )

    async with trio.open_nursery() as handshake:
        handshake.start_soon(server_side)
        await raw.client_handshake()
    server = servers[0]
    for i in range(200):
        raw.protocol.send_text(f"m{i}")
    await raw.flush()  # 200 messages in one write
    writes_before = counting.writes
    for i in range(200):
        message = await server.receive()
        assert message == f"m{i}"
        await server.send(message)
    received = [await raw.next_event() for _ in range(200)]
    assert received == [TextMessage(f"m{i}") for i in range(200)]
    # Far fewer writes than messages: replies were batched.
    assert counting.writes - writes_before < 50
    await server.aclose()


async def test_receive_with_queued_messages_still_honours_cancellation(
    nursery: trio.Nursery,
) -> None:
    raw, server = await raw_client_and_server(nursery, message_queue_size=64)
    for i in range(50):
        raw.protocol.send_text(str(i))
    await raw.flush()
    assert await server.receive() == "0"  # the rest are queued now
    with trio.CancelScope() as scope:
        scope.cancel()
        await server.receive()
    assert scope.cancelled_caught
    assert await server.receive() == "1"  # nothing was lost to the cancellation
