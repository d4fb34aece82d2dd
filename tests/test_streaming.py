"""Streaming over real connections (memory streams): receive_stream() and
send() with iterables, with and without permessage-deflate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio
import trio.lowlevel

from trio_ws import ConnectionClosed, MessageStream
from trio_ws._core._frames import Opcode

from .test_connection import raw_client_and_server, ws_pair

COMPRESSION = pytest.mark.parametrize(
    "compression", ["deflate", None], ids=["deflate", "plain"]
)


async def collect(stream: MessageStream) -> list[str | bytes]:
    return [chunk async for chunk in stream]


@COMPRESSION
async def test_stream_a_message_bigger_than_max_message_size(
    nursery: trio.Nursery, compression: str | None
) -> None:
    client, server = await ws_pair(
        nursery, max_message_size=1000, compression=compression
    )
    parts = [bytes([i]) * 800 for i in range(10)]  # 8,000 bytes in all

    async def sender() -> None:
        await client.send(iter(parts))

    nursery.start_soon(sender)
    stream = await server.receive_stream()
    assert not stream.is_text
    chunks = await collect(stream)
    assert chunks == parts  # one chunk per frame, in order
    # The connection goes on normally afterwards.
    await client.send("after")
    assert await server.receive() == "after"


@COMPRESSION
async def test_async_iterable_of_text_received_whole(
    nursery: trio.Nursery, compression: str | None
) -> None:
    client, server = await ws_pair(nursery, compression=compression)

    async def produce() -> AsyncIterator[str]:
        for word in ["snow", "man ", "☃"]:
            await trio.lowlevel.checkpoint()
            yield word

    nursery.start_soon(client.send, produce())
    assert await server.receive() == "snowman ☃"
    assert server.statistics().messages_received == 1


async def test_whole_receive_of_a_fragmented_message_keeps_the_size_limit(
    nursery: trio.Nursery,
) -> None:
    client, server = await ws_pair(nursery, max_message_size=1000)
    nursery.start_soon(client.send, [b"x" * 600, b"y" * 600])
    with pytest.raises(ConnectionClosed) as info:
        await server.receive()
    assert info.value.reason.code == 1009


async def test_receive_stream_of_a_single_frame_message(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    await client.send("one frame")
    stream = await server.receive_stream()
    assert stream.is_text
    assert await stream.read() == "one frame"
    await client.send(b"")
    assert await collect(await server.receive_stream()) == []  # empty message


async def test_abandoned_stream_is_skipped_and_goes_stale(
    nursery: trio.Nursery,
) -> None:
    client, server = await ws_pair(nursery)
    await client.send(["a", "b", "c"])
    await client.send("next")
    stream = await server.receive_stream()
    assert await stream.__anext__() == "a"
    assert await server.receive() == "next"  # "b", "c" are skipped
    with pytest.raises(RuntimeError):
        await stream.__anext__()


async def test_stream_raises_when_the_connection_closes_mid_message(
    nursery: trio.Nursery,
) -> None:
    raw, server = await raw_client_and_server(nursery)
    raw.protocol.send_frame(Opcode.BINARY, b"part", fin=False)
    await raw.flush()
    stream = await server.receive_stream()
    assert await stream.__anext__() == b"part"
    raw.protocol.send_close(1000)
    await raw.flush()
    with pytest.raises(ConnectionClosed):
        await stream.__anext__()


async def test_sender_error_mid_message_closes_with_1011(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)

    def broken(sent: int) -> Iterator[bytes]:
        for _ in range(sent):
            yield b"part"
        raise ValueError("disk on fire")

    # Failing before the first frame is out sends nothing and closes nothing.
    with pytest.raises(ValueError, match="disk on fire"):
        await client.send(broken(1))
    await client.send("intact")
    assert await server.receive() == "intact"
    # Failing after it leaves a message that cannot be finished.
    with pytest.raises(ValueError, match="disk on fire"):
        await client.send(broken(2))
    stream = await server.receive_stream()
    with pytest.raises(ConnectionClosed) as info:
        await collect(stream)
    assert info.value.reason.code == 1011
    assert client.closed is not None and client.closed.code == 1011


async def test_other_senders_wait_for_a_fragmented_message(
    nursery: trio.Nursery,
) -> None:
    client, server = await ws_pair(nursery)
    release = trio.Event()

    async def slow() -> AsyncIterator[str]:
        yield "frag1-"
        await release.wait()
        yield "frag2"

    nursery.start_soon(client.send, slow())
    await trio.testing.wait_all_tasks_blocked()
    nursery.start_soon(client.send, "other")
    await trio.testing.wait_all_tasks_blocked()
    release.set()
    assert await server.receive() == "frag1-frag2"
    assert await server.receive() == "other"


async def test_fragment_type_errors(nursery: trio.Nursery) -> None:
    client, server = await ws_pair(nursery)
    with pytest.raises(TypeError):
        await client.send([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        await client.send(42)  # type: ignore[arg-type]
    await client.send([])  # nothing at all is sent
    await client.send("still open")
    assert await server.receive() == "still open"


async def test_aclose_while_a_fragmented_message_waits_for_the_user(
    nursery: trio.Nursery,
) -> None:
    client, server = await ws_pair(nursery, close_timeout=5)
    await client.send(["never", " read"])
    await trio.testing.wait_all_tasks_blocked()
    with trio.fail_after(5):
        await server.aclose()
    assert server.closed is not None and server.closed.code == 1000


async def test_many_fragments_through_a_small_queue(nursery: trio.Nursery) -> None:
    # Backpressure: 500 chunks through a queue of 2 arrive complete and in order.
    options: dict[str, Any] = {"message_queue_size": 2}
    client, server = await ws_pair(nursery, **options)
    parts = [f"{i:04d}" for i in range(500)]
    nursery.start_soon(client.send, parts)
    stream = await server.receive_stream()
    assert "".join(await collect(stream)) == "".join(parts)
    assert server.statistics().queued_messages <= 2
