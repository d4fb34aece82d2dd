"""Server connections read inline (one task on the hot path) and hand over
to a reader task when the handler is away; keepalive by the server's sweeper.

Real loopback sockets, real (short) time: every wait is bounded.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws import WebSocket, open_websocket_url
from trio_ws._core._events import CloseReceived, Ping
from trio_ws.connection._reader import Reader
from trio_ws.connection._sweeper import READER_HANDOFF_DELAY
from trio_ws.connection._who_reads import MAY_READ_INLINE

from .conftest import TEST_TIMEOUT, open_raw, start_server


async def test_echo_runs_on_the_handler_task_alone(nursery: trio.Nursery) -> None:
    seen: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws)
        async for message in ws:
            await ws.send(message)

    server = await start_server(nursery, handler, ping_interval=None)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            for i in range(50):
                await ws.send(f"m{i}")
                assert await ws.receive() == f"m{i}"
            # No reader task was needed: the handler read the socket itself.
            assert seen[0]._reader.state in MAY_READ_INLINE  # no reader task started
    await server.aclose()


async def test_a_burst_larger_than_the_queue_arrives_in_order(
    nursery: trio.Nursery,
) -> None:
    got: list[str | bytes] = []
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        for _ in range(300):
            got.append(await ws.receive())
        done.set()

    server = await start_server(nursery, handler, message_queue_size=2)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            for i in range(300):  # sent in a burst, read in a few big reads
                await ws.send(str(i))
            await done.wait()
    assert got == [str(i) for i in range(300)]
    await server.aclose()


async def test_send_only_handler_still_answers_pings_and_close(
    nursery: trio.Nursery,
) -> None:
    # The handler never calls receive(): the sweeper starts a reader task.
    release = trio.Event()

    async def handler(ws: WebSocket) -> None:
        await ws.send("tick")
        await release.wait()

    server = await start_server(nursery, handler, close_timeout=5)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/", close_timeout=5
        ) as ws:
            assert await ws.receive() == "tick"
            await trio.sleep(READER_HANDOFF_DELAY * 4)
            assert await ws.ping() >= 0  # answered by the server's reader task
        # Our close frame was answered (not a 1006 after close_timeout).
        assert ws.closed is not None and ws.closed.code == 1000
    release.set()
    await server.aclose()


async def test_busy_handler_does_not_stall_the_peer_close(
    nursery: trio.Nursery,
) -> None:
    release = trio.Event()

    async def handler(ws: WebSocket) -> None:
        assert await ws.receive() == "work"
        await release.wait()  # busy for as long as the client likes

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/", close_timeout=5
        ) as ws:
            await ws.send("work")
        assert ws.closed is not None and ws.closed.code == 1000
    release.set()
    await server.aclose()


async def test_two_tasks_receiving_on_one_connection(nursery: trio.Nursery) -> None:
    got: list[str | bytes] = []
    done = trio.Event()

    async def handler(ws: WebSocket) -> None:
        async def take() -> None:
            while len(got) < 20:
                got.append(await ws.receive())
            done.set()

        async with trio.open_nursery() as both:
            both.start_soon(take)
            both.start_soon(take)
            await done.wait()
            both.cancel_scope.cancel()

    server = await start_server(nursery, handler)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            for i in range(20):
                await ws.send(str(i))
                await trio.sleep(0.001)
            await done.wait()
    assert sorted(got, key=int) == [str(i) for i in range(20)]
    await server.aclose()


async def test_sweeper_keepalive_closes_a_silent_peer_with_1011(
    nursery: trio.Nursery,
) -> None:
    async def handler(ws: WebSocket) -> None:
        async for _ in ws:
            pass

    server = await start_server(nursery, handler, ping_interval=0.2, ping_timeout=0.2)
    raw = await open_raw(server.port)
    with trio.fail_after(TEST_TIMEOUT):
        await raw.client_handshake()
        event = await raw.next_event()
        assert isinstance(event, Ping)  # and our raw peer never answers it
        event = await raw.next_event()
        assert isinstance(event, CloseReceived)
        assert event.reason.code == 1011
    await server.aclose()


async def test_sweeper_keepalive_keeps_an_answering_peer(nursery: trio.Nursery) -> None:
    seen: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws)
        async for message in ws:
            await ws.send(message)

    server = await start_server(nursery, handler, ping_interval=0.1, ping_timeout=0.5)
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/", ping_interval=None
        ) as ws:
            await trio.sleep(0.6)
            await ws.send("still here")
            assert await ws.receive() == "still here"
            stats = seen[0].statistics()
            assert stats.pings_sent >= 3
            assert stats.pongs_received >= stats.pings_sent - 1
            assert stats.state == "open"
    await server.aclose()


async def test_large_messages_are_read_straight_into_their_payload(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On plain sockets both sides read a large frame's payload with
    # recv_into (Protocol.received_into), the server inline and the client
    # in its reader task; the messages come out whole and in order. (Counted
    # at the Reader, which hands the count on: Protocol may be a compiled
    # class, whose methods cannot be patched.)
    reads = {"server": 0, "client": 0}
    original = Reader._took

    def counting(self: Reader, received: bytes | bytearray | int) -> bool:
        if isinstance(received, int) and received:
            reads[self._protocol.role.name.lower()] += 1
        return original(self, received)

    monkeypatch.setattr(Reader, "_took", counting)

    async def handler(ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    # (No compression: these messages would shrink to small frames.)
    options = {"max_message_size": 4 << 20, "compression": None}
    server = await start_server(nursery, handler, **options)
    binary = bytes(range(251)) * 8000 + b"end"  # ~2 MB, not a multiple of 4
    text = "κόσμε " * 50_000  # 550 KB of UTF-8
    with trio.fail_after(TEST_TIMEOUT):
        async with open_websocket_url(
            f"ws://127.0.0.1:{server.port}/", **options
        ) as ws:
            for message in (binary, text, "small", binary):
                await ws.send(message)
            assert await ws.receive() == binary
            assert await ws.receive() == text
            assert await ws.receive() == "small"
            assert await ws.receive() == binary
    assert reads["server"] > 0 and reads["client"] > 0
    await server.aclose()
