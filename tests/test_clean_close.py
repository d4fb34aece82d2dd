"""A clean close loses nothing: every message sent before aclose() arrives,
whole and in order, before the close frame.

A Hypothesis property over message kinds, sizes and fragmentations (send()
takes a list of fragments: one message, one frame per item), under the
strongest backpressure there is: lockstep streams (a write waits until the
peer reads it), a receive queue of one or two messages, and a receiver that
sleeps between messages (autojump clock). With and without deflate; the
server is the sender (its receiver is a client with a reader task) or the
receiver (it reads inline in its handler's task).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_ws import WebSocket, wrap_client_stream

from .conftest import start_memory_server

Message = str | bytes | list[str] | list[bytes]

TEXT_UNIT = "héllo ☃ wörld, "  # 1-, 2- and 3-byte characters


def make_message(is_text: bool, size: int, cuts: list[int]) -> Message:
    """A message of ``size`` characters (or bytes), cut into fragments at
    ``cuts`` (an empty cut list: sent whole)."""
    if is_text:
        data: Any = (TEXT_UNIT * (size // len(TEXT_UNIT) + 1))[:size]
    else:
        data = bytes(i * 7 % 251 for i in range(size))
    if not cuts:
        return data  # type: ignore[no-any-return]
    bounds = [0, *sorted(min(cut, size) for cut in cuts), size]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def whole(message: Message) -> str | bytes:
    if isinstance(message, list):
        return ("" if isinstance(message[0], str) else b"").join(message)  # type: ignore[arg-type]
    return message


messages_strategy = st.lists(
    st.builds(
        make_message,
        st.booleans(),
        # Mostly small, some over the 64 KiB deferred-write bound and the
        # 128-byte compression threshold.
        st.one_of(st.integers(0, 300), st.integers(0, 200_000)),
        st.lists(st.integers(0, 200_000), max_size=4),
    ),
    max_size=10,
)


async def exchange(
    messages: list[Message], *, server_sends: bool, compression: str | None, queue: int
) -> tuple[list[str | bytes], int]:
    """Send ``messages`` then aclose(); return what the other side received
    and the close code it saw."""
    received: list[str | bytes] = []
    codes: list[int] = []
    receiver_done = trio.Event()

    async def send_all_then_close(ws: WebSocket) -> None:
        for message in messages:
            await ws.send(message)
        await ws.aclose()

    async def receive_slowly(ws: WebSocket) -> None:
        async for message in ws:  # ends quietly on 1000
            received.append(message)
            await trio.sleep(0.01)  # a slow reader: the queue stays full
        assert ws.closed is not None
        codes.append(ws.closed.code)
        receiver_done.set()

    options: dict[str, Any] = {"compression": compression, "message_queue_size": queue}
    async with trio.open_nursery() as nursery:
        handler = send_all_then_close if server_sends else receive_slowly
        _, listener = await start_memory_server(
            nursery, handler, pair=trio.testing.lockstep_stream_pair, **options
        )
        stream = await listener.connect()
        client = await wrap_client_stream(nursery, stream, "test", "/", **options)
        if server_sends:
            await receive_slowly(client)
        else:
            await send_all_then_close(client)
        with trio.fail_after(60):
            await receiver_done.wait()
        nursery.cancel_scope.cancel()
    return received, codes[0]


@pytest.mark.parametrize("server_sends", [True, False], ids=["server", "client"])
@pytest.mark.parametrize("compression", ["deflate", None], ids=["deflate", "plain"])
@settings(max_examples=40, deadline=None)
@given(messages=messages_strategy, queue=st.integers(1, 2))
def test_every_message_sent_before_aclose_arrives_before_the_close(
    server_sends: bool, compression: str | None, messages: list[Message], queue: int
) -> None:
    received, code = trio.run(
        functools.partial(
            exchange,
            messages,
            server_sends=server_sends,
            compression=compression,
            queue=queue,
        ),
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    assert code == 1000
    assert received == [whole(m) for m in messages if m != []]
