"""ws.statistics(): counters that follow what actually happened."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trio_ws import WebSocketStatistics
from trio_ws._core._events import Ping

from .test_connection import raw_client_and_server, ws_pair


async def test_counts_messages_bytes_and_frames(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery, compression=None)
    before = server.statistics()
    assert isinstance(before, WebSocketStatistics)
    assert before.state == "open" and before.close_reason is None
    assert before.messages_received == before.frames_received == 0

    await client.send("héllo")  # 6 bytes of UTF-8
    await client.send([b"ab", b"cd", b"e"])  # one message, three frames
    assert await server.receive() == "héllo"
    assert await server.receive() == b"abcde"
    await server.send(b"12345678")
    assert await client.receive() == b"12345678"

    stats = server.statistics()
    assert stats.messages_received == 2
    assert stats.bytes_received == 6 + 5
    assert stats.frames_received == 4
    # Client frames carry a 2-byte header and a 4-byte mask: 6 bytes each.
    assert stats.wire_bytes_received == 4 * 6 + 11
    assert stats.messages_sent == 1 and stats.bytes_sent == 8
    assert stats.frames_sent == 1 and stats.wire_bytes_sent == 2 + 8
    client_stats = client.statistics()
    assert client_stats.messages_sent == 2 and client_stats.frames_sent == 4
    assert client_stats.wire_bytes_sent == stats.wire_bytes_received
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.messages_sent = 0  # type: ignore[misc]


async def test_compression_counts_payload_and_wire_separately(
    nursery: trio.Nursery,
) -> None:
    client, server = await ws_pair(nursery)  # deflate negotiated by default
    await client.send("a" * 10_000)
    assert await server.receive() == "a" * 10_000
    stats = server.statistics()
    assert stats.bytes_received == 10_000
    assert stats.wire_bytes_received < 1_000


async def test_pings_and_latency(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    raw, server = await raw_client_and_server(nursery, ping_interval=None)
    assert server.statistics().last_ping_rtt is None
    results: list[float] = []

    async def ping() -> None:
        results.append(await server.ping(b"p1"))

    nursery.start_soon(ping)
    assert await raw.next_event() == Ping(b"p1")  # our raw peer does not answer
    stats = server.statistics()
    assert stats.pings_sent == 1 and stats.pongs_received == 0
    await trio.sleep(0.5)  # autojump: half a second of "network"
    raw.protocol.send_pong(b"p1")
    await raw.flush()
    await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert stats.pongs_received == 1
    assert stats.last_ping_rtt == results[0] == pytest.approx(0.5)


async def test_queue_fill_and_close_state(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery, message_queue_size=4)
    for i in range(3):
        await client.send(str(i))
    await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert stats.queued_messages == 3 and stats.queue_capacity == 4
    await server.receive()
    assert server.statistics().queued_messages == 2
    await client.aclose(1001, "bye")
    stats = client.statistics()
    assert stats.state == "closed"
    assert stats.close_reason is not None and stats.close_reason.code == 1001
