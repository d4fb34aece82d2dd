"""The Writer under slow and stalled peers: write_timeout per 256 KiB, and a
write cut short (cancelled or timed out) ending the connection instead of
corrupting the stream. Lockstep streams (a write returns only once the peer
has read it all) under the autojump clock.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws import ConnectionClosed, WebSocket, WriteTimeout, wrap_server_stream
from trio_ws.connection._writer import WRITE_TIMEOUT_CHUNK

from .conftest import RawPeer


async def lockstep_server(
    nursery: trio.Nursery, **options: object
) -> tuple[WebSocket, RawPeer]:
    """A server WebSocket on a lockstep stream, and a raw client peer."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    peer = RawPeer(client_stream)
    nursery.start_soon(peer.client_handshake)
    ws = await wrap_server_stream(
        nursery,
        server_stream,
        compression=None,
        ping_interval=None,
        **options,  # type: ignore[arg-type]
    )
    return ws, peer


async def read_slowly(peer: RawPeer, size: int, every: float, total: int) -> int:
    """Read ``total`` bytes (or until EOF), ``size`` bytes every ``every`` s."""
    got = 0
    while got < total:
        data = await peer.stream.receive_some(min(size, total - got))
        if not data:
            break
        got += len(data)
        await trio.sleep(every)
    return got


async def test_a_send_cancelled_midway_ends_the_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # Part of the frame is on the wire when the send is cancelled: another
    # frame after it would be read as the rest of its payload. The
    # connection is aborted (1006) instead.
    ws, peer = await lockstep_server(nursery)
    nursery.start_soon(read_slowly, peer, 1000, 3600.0, 1000)  # then stops
    with trio.move_on_after(1) as scope:
        await ws.send(bytes(100_000))
    assert scope.cancelled_caught
    assert ws.closed is not None and ws.closed.code == 1006
    with pytest.raises(ConnectionClosed) as info:
        await ws.send("next")
    assert "cancelled midway" in str(info.value.__cause__)


async def test_write_timeout_is_per_256_kib_not_per_message(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # A peer reading 64 KiB every 0.1 s takes 1.6 s for a 1 MiB message:
    # longer than write_timeout, but every 256 KiB goes through within it.
    ws, peer = await lockstep_server(nursery, write_timeout=1.0)
    size = 4 * WRITE_TIMEOUT_CHUNK
    start = trio.current_time()
    async with trio.open_nursery() as reading:
        reading.start_soon(read_slowly, peer, 1 << 16, 0.1, size + 10)  # + header
        await ws.send(bytes(size))
    assert trio.current_time() - start > 1.0
    assert ws.closed is None


async def test_write_timeout_aborts_a_peer_that_stops_reading(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, peer = await lockstep_server(nursery, write_timeout=2.0)
    nursery.start_soon(read_slowly, peer, 1 << 16, 0.1, WRITE_TIMEOUT_CHUNK)
    start = trio.current_time()
    with pytest.raises(ConnectionClosed) as info:
        await ws.send(bytes(4 * WRITE_TIMEOUT_CHUNK))
    # The frame (a 10-byte header and 1 MiB) goes out as two writes: the
    # header with the first 64 KiB, then the rest of the payload, uncopied,
    # in WRITE_TIMEOUT_CHUNK pieces. The peer reads 256 KiB in ~0.4 s, then
    # nothing: the piece started at ~0.1 s times out write_timeout later.
    assert trio.current_time() - start == pytest.approx(0.1 + 2.0, abs=0.15)
    assert info.value.reason.code == 1006
    assert isinstance(info.value.__cause__, WriteTimeout)
    assert f"{65536 + 10} of 1048586 bytes written" in str(info.value.__cause__)
    assert ws.closed is not None and ws.closed.code == 1006
    # Whatever else was waiting to be written fails at once.
    with pytest.raises(ConnectionClosed):
        await ws.send("more")


async def test_a_small_write_times_out_too(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, _peer = await lockstep_server(nursery, write_timeout=3.0)
    start = trio.current_time()
    with pytest.raises(ConnectionClosed) as info:
        await ws.send("nobody reads this")
    assert trio.current_time() - start == pytest.approx(3.0)
    assert isinstance(info.value.__cause__, WriteTimeout)


async def test_a_send_cancelled_while_waiting_for_its_turn_is_not_sent(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, peer = await lockstep_server(nursery)
    nursery.start_soon(ws.send, "first")  # blocks: the peer does not read yet
    await trio.testing.wait_all_tasks_blocked()
    with trio.move_on_after(1) as scope:
        await ws.send("second")  # waits for its turn behind "first"
    assert scope.cancelled_caught
    received: list[object] = []

    async def read_two() -> None:
        for _ in range(2):
            received.append(await peer.next_event())

    async with trio.open_nursery() as reading:
        reading.start_soon(read_two)
        await ws.send("third")
    assert [getattr(event, "data", event) for event in received] == [
        "first",
        "third",
    ]


async def test_senders_waiting_for_their_turn_go_out_in_order_and_hold_no_frames(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, peer = await lockstep_server(nursery)
    nursery.start_soon(ws.send, "first")  # blocks: the peer does not read yet
    await trio.testing.wait_all_tasks_blocked()
    for name in ("a", "b", "c"):
        nursery.start_soon(ws.send, name)
        await trio.testing.wait_all_tasks_blocked()
    # Three senders wait for their turn; none has queued its frame yet.
    assert ws._protocol.bytes_to_send == 0
    received = [getattr(await peer.next_event(), "data", None) for _ in range(4)]
    assert received == ["first", "a", "b", "c"]


async def test_a_sender_waiting_for_its_turn_learns_that_the_connection_closed(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, peer = await lockstep_server(nursery, close_timeout=1.0)
    failures: dict[str, BaseException] = {}

    async def send(message: str) -> None:
        try:
            await ws.send(message)
        except ConnectionClosed as exc:
            failures[message] = exc

    nursery.start_soon(send, "first")  # blocks: the peer does not read yet
    await trio.testing.wait_all_tasks_blocked()
    nursery.start_soon(send, "second")  # waits for its turn
    await trio.testing.wait_all_tasks_blocked()
    await peer.stream.aclose()  # the peer goes away without reading
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(failures) == ["first", "second"]
    assert failures["second"].reason.code == 1006
    assert ws.closed is not None and ws.closed.code == 1006


async def test_a_send_in_a_cancelled_scope_sends_nothing_and_keeps_the_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws, peer = await lockstep_server(nursery)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.send("never")
    assert scope.cancelled_caught
    async with trio.open_nursery() as sending:
        sending.start_soon(ws.send, "after")
        event = await peer.next_event()
    assert getattr(event, "data", None) == "after"
    assert ws.closed is None
