"""Streaming: receive one message chunk by chunk, send one in fragments.

Receiving. The reader task does not know, when a fragmented message starts,
whether the user will ``receive()`` it whole or ``receive_stream()`` it, so
the protocol stops at the message's first frame (``pause_fragmented``) and
the reader queues an :class:`Incoming` marker in its place. The user's next
call decides: ``receive()`` asks for the whole message (limited by
``max_message_size``), ``receive_stream()`` for :class:`MessageChunk` items
(each frame limited by ``max_message_size``, the message not). Messages in
one frame arrive whole either way, and :class:`MessageStream` hands them out
as one chunk.

Sending. ``send()`` given an iterable or async iterable sends one message
with a frame per item; see :func:`fragments_of`.
"""

from __future__ import annotations

import enum
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)

import trio

from .._core._events import MessageChunk

__all__ = [
    "Fragments",
    "Incoming",
    "MessageStream",
    "Mode",
    "QueueItem",
    "fragments_of",
]

Fragments = Iterable[str] | Iterable[bytes] | AsyncIterable[str] | AsyncIterable[bytes]


class Mode(enum.Enum):
    """How the user receives a fragmented message."""

    WHOLE = "whole"
    STREAM = "stream"
    DISCARD = "discard"  # the connection is closing: nobody will read it


class Incoming:
    """A fragmented message waiting in the queue for the user to pick a mode."""

    __slots__ = ("_decided", "is_text", "mode")

    def __init__(self, is_text: bool) -> None:
        self.is_text = is_text
        self.mode: Mode | None = None
        self._decided = trio.Event()

    def decide(self, mode: Mode) -> None:
        """Set the mode (the first decision wins) and wake the reader."""
        if self.mode is None:
            self.mode = mode
            self._decided.set()

    async def wait(self) -> Mode:
        """Wait for the decision."""
        await self._decided.wait()
        assert self.mode is not None
        return self.mode


# What the reader puts in the queue: whole messages, the chunks of a
# streamed message, markers of fragmented messages, and None where the peer
# broke the protocol.
QueueItem = str | bytes | MessageChunk | Incoming | None


class MessageStream:
    """One incoming message, chunk by chunk: ``async for chunk in stream``.

    Get it from ``await ws.receive_stream()``. Chunks are ``str`` for a text
    message (whole characters: UTF-8 is validated and decoded incrementally)
    and ``bytes`` for a binary one, one per frame as it arrives, never empty.
    Memory stays bounded whatever the message's size: each frame is limited
    by ``max_message_size`` and at most ``message_queue_size`` chunks wait.

    The stream is valid until the next ``receive()`` or ``receive_stream()``
    call; chunks left unread then are skipped.

    Attributes:
        is_text: True for a text message, False for a binary one.

    Raises (while iterating):
        ConnectionClosed: the connection closed before the message ended.
    """

    __slots__ = ("_done", "_generation", "_next", "_single", "is_text")

    def __init__(
        self,
        next_chunk: Callable[[int], Awaitable[MessageChunk]],
        generation: int,
        *,
        is_text: bool,
        single: str | bytes | None = None,
    ) -> None:
        self._next = next_chunk
        self._generation = generation
        self._single = single
        self._done = False
        self.is_text = is_text

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> str | bytes:
        single = self._single
        if single is not None:
            self._single = None
            self._done = True
            if single:
                return single
        while not self._done:
            chunk = await self._next(self._generation)
            self._done = chunk.final
            if chunk.data:
                return chunk.data
        raise StopAsyncIteration

    async def read(self) -> str | bytes:
        """Join the remaining chunks (unbounded: the caller knows the size)."""
        parts = [chunk async for chunk in self]
        empty: str | bytes = "" if self.is_text else b""
        return empty.join(parts)  # type: ignore[arg-type]


async def fragments_of(
    fragments: Fragments,
) -> AsyncGenerator[str | bytes, None]:
    """Iterate a sync or async iterable of fragments, checking their types.

    Raises:
        TypeError: an item is not ``str`` or bytes-like, or the items mix
            text and bytes.
    """
    kind: type | None = None

    def checked(item: object) -> str | bytes:
        nonlocal kind
        if isinstance(item, str):
            data: str | bytes = item
        elif isinstance(item, bytes | bytearray | memoryview):
            data = bytes(item)
        else:
            raise TypeError(
                f"message fragments must be str or bytes-like, not "
                f"{type(item).__name__}"
            )
        if kind is None:
            kind = type(data)
        elif type(data) is not kind:
            raise TypeError("message fragments must be all str or all bytes")
        return data

    if isinstance(fragments, AsyncIterable):
        async for item in fragments:
            yield checked(item)
    else:
        for item in fragments:
            yield checked(item)
